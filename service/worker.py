"""Axon's default gunicorn worker: gunicorn's sync worker, which also serves what is already queued
when it is told to stop.

A sync worker serves one request at a time and queues the rest in the kernel's listen backlog, where
they cost nothing. Measured on the MNIST CNN (2 workers, 2 cores, wrk): the bare Flask app serves
1,511 req/s at 8 clients under sync workers and 1,158 under gthread (p99 8 ms against 21 ms): gthread
hands each request from its poller thread to a pool thread and back, and every hand-off waits for the
GIL. But a stopping sync worker leaves the connections that were queued for it to be reset when its
listening socket closes: a rolling update would lose them. This worker, once told to stop (SIGTERM),
accepts and serves every connection already queued, then exits.

And a client that connects and then sends nothing (or stops reading the answer) would hold a sync
worker until gunicorn's timeout killed it: two such connections would stop a 2-worker server for a
minute. Here a connection that stays silent for AXON_CLIENT_TIMEOUT_S (10 s) is closed, and logged.

And gunicorn 27 closes every connection by lingering (util.close_graceful): it half-closes, then waits
for the client to close its side, up to 2 s, so that request bytes still unread cannot make the kernel
reset the connection and cut the answer short. A sync worker serves nobody while it waits: one round
trip to the client per request, and 2 s for a client that keeps its connection open. Like nginx's
lingering_close, this worker lingers only when the request may have left bytes unread: when its body
was not read to the end (a 413, say, or a chunked body) or the kernel holds more. Otherwise it closes at
once: the kernel still delivers the answer and then its FIN. Measured on the MNIST V1 PNG (2 workers,
wrk, 8 and 32 clients, one A/B run): 7% and 12% more requests a second, 11% less server CPU a request.
"""
from __future__ import annotations

import errno
import logging
import os
import socket

from gunicorn import util
from gunicorn.http.body import LengthReader
from gunicorn.workers.sync import SyncWorker

GONE = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)
log = logging.getLogger("gunicorn.error")
lingering_close = util.close_graceful  # gunicorn's own


def client_timeout_s() -> float:
    value = float(os.environ.get("AXON_CLIENT_TIMEOUT_S") or 10)
    if value <= 0:
        raise ValueError(f"AXON_CLIENT_TIMEOUT_S must be > 0, got {value}")
    return value


class ClientSocket(socket.socket):
    """A client connection whose reads and writes give up after `limit_s` of silence: the worker then
    closes it as it closes a connection the client reset (no traceback), and says so. The shorter
    timeouts gunicorn sets itself (lingering before a close) keep their own handling."""

    limit_s: float = 10.0
    request_read: bool = False  # the last request was read to its end (DrainingSyncWorker.handle_request)

    def _too_slow(self, doing: str) -> ConnectionResetError:
        try:
            peer = "%s:%s" % self.getpeername()[:2]
        except OSError:
            peer = "a client"
        log.warning("closed the connection of %s: nothing %s for %gs (AXON_CLIENT_TIMEOUT_S)", peer, doing, self.limit_s)
        return ConnectionResetError(errno.ECONNRESET, "the client was too slow")

    def _within_limit(self, call, doing: str, *args):
        try:
            return call(*args)
        except TimeoutError:
            if self.gettimeout() != self.limit_s:
                raise
            raise self._too_slow(doing) from None

    def recv(self, *args):  # gunicorn reads requests with recv()
        return self._within_limit(super().recv, "received", *args)

    def sendall(self, *args):  # and writes answers with sendall()
        return self._within_limit(super().sendall, "read by the client", *args)


def close_after_answer(sock: socket.socket, timeout: float = 2.0, max_drain: int = 65536) -> None:
    """gunicorn's util.close_graceful in this worker: close at once when the request was read to its end
    and the kernel holds nothing more from the client; else linger as gunicorn does."""
    if getattr(sock, "request_read", False) and nothing_unread(sock):
        util.close(sock)
    else:
        lingering_close(sock, timeout, max_drain)


def nothing_unread(sock: socket.socket) -> bool:
    timeout = sock.gettimeout()
    try:
        sock.setblocking(False)
        return not sock.recv(1, socket.MSG_PEEK)  # b"": the client has closed its side already
    except OSError:  # nothing waiting (EAGAIN), or reset by the client: nothing an answer could be cut by
        return True
    finally:
        try:
            sock.settimeout(timeout)
        except OSError:
            pass


def read_to_its_end(request) -> bool:
    """A body with a length, read whole (a request without a body has length 0); a chunked body, or a
    request that never parsed, counts as not read."""
    body = getattr(request, "body", None)
    return body is not None and isinstance(body.reader, LengthReader) and body.reader.length == 0


class DrainingSyncWorker(SyncWorker):
    def init_process(self) -> None:
        self.client_timeout_s = client_timeout_s()
        util.close_graceful = close_after_answer  # this process's sync worker closes this way
        super().init_process()

    def handle_request(self, listener, req, client, addr) -> None:
        try:
            super().handle_request(listener, req, client, addr)
        finally:
            client.request_read = read_to_its_end(req)

    def accept(self, listener) -> None:
        client, addr = listener.accept()
        client = ClientSocket(client.family, client.type, client.proto, fileno=client.detach())
        client.limit_s = self.client_timeout_s
        client.settimeout(self.client_timeout_s)
        util.close_on_exec(client)
        self.handle(listener, client, addr)

    def run(self) -> None:
        super().run()  # returns once told to stop (or when the master is gone)
        if self.is_parent_alive():
            self.drain()

    def drain(self) -> None:
        """Serve the connections already waiting in the backlog (non-blocking accept until none)."""
        served = 0
        for listener in self.sockets:
            while True:
                self.notify()
                try:
                    self.accept(listener)
                except OSError as exc:
                    if exc.errno in GONE:
                        break
                    raise
                served += 1
        if served:
            self.log.info("served %d queued connection(s) before stopping", served)
