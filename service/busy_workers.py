"""How many requests the server's workers are serving right now, in memory that the gunicorn master
shares with every worker it forks. A slow model runs on every core while no other request is being
served, and on one core while one is (runtime.OnnxModel): measured on 2 cores, two processes running
ResNet50 fp32 back to back made 19.9 runs/s with two threads each and 23.9 with one.

The master makes the table before its first fork (share, from gunicorn.conf.py), gives each new worker a
free slot (free_slot) and clears a slot when its worker exits (clear), even a worker killed in the middle
of a request. A worker counts its requests in flight in its own slot (serving). Without the table (the
batch script, the app in-process) no other request is ever being served.
"""
from __future__ import annotations

import mmap
import threading
from collections.abc import Iterable

SLOTS = 256  # more workers than any machine has cores; a slot is 4 bytes
_table: memoryview | None = None  # one int per slot: that worker's requests in flight
_slot: int | None = None  # this worker's slot
_slot_lock = threading.Lock()  # a gthread worker's threads update one slot


def share() -> None:
    """In the master, before it forks: an anonymous shared mapping, inherited by every worker."""
    global _table
    _table = memoryview(mmap.mmap(-1, SLOTS * 4)).cast("i")


def free_slot(taken: Iterable[int | None]) -> int | None:
    """In the master: the first slot no live worker holds (None when all are held: that worker's
    requests are not counted, and its own see no others)."""
    used = set(taken)
    return next((slot for slot in range(SLOTS) if slot not in used), None)


def clear(slot: int | None) -> None:
    """In the master, once a worker has exited: whatever it was serving is over."""
    if _table is not None and slot is not None:
        _table[slot] = 0


def take(slot: int | None) -> None:
    """In a new worker: count this worker's requests in this slot."""
    global _slot
    if _table is not None and slot is not None:
        _slot = slot
        _table[slot] = 0


class _Serving:
    """Counts one request in this worker's slot for as long as it is served."""

    def __enter__(self) -> None:
        if _slot is not None:
            with _slot_lock:
                _table[_slot] += 1

    def __exit__(self, *exc_info) -> None:
        if _slot is not None:
            with _slot_lock:
                _table[_slot] -= 1


_SERVING = _Serving()


def serving() -> _Serving:
    """Around one request (HTTP or gRPC): `with busy_workers.serving(): ...`."""
    return _SERVING


def others_busy() -> bool:
    """Whether a request other than the calling one is being served, by any worker."""
    return _slot is not None and sum(_table) > 1
