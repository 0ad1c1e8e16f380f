"""Axon's default gunicorn worker: gunicorn's sync worker, which also serves what is already queued
when it is told to stop.

A sync worker serves one request at a time and queues the rest in the kernel's listen backlog, where
they cost nothing. Measured on the MNIST CNN (2 workers, 2 cores, wrk): the bare Flask app serves
1,511 req/s at 8 clients under sync workers and 1,158 under gthread (p99 8 ms against 21 ms): gthread
hands each request from its poller thread to a pool thread and back, and every hand-off waits for the
GIL. But a stopping sync worker leaves the connections that were queued for it to be reset when its
listening socket closes: a rolling update would lose them. This worker, once told to stop (SIGTERM),
accepts and serves every connection already queued, then exits.
"""
from __future__ import annotations

import errno

from gunicorn.workers.sync import SyncWorker

GONE = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)


class DrainingSyncWorker(SyncWorker):
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
