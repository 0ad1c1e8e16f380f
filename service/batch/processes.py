"""Helper processes of the batch script (decoders, the writer) that never outlive it.

They are spawned (not forked: the parent holds onnxruntime's threads), run at a lower priority than
the parent's inference, ignore Ctrl-C (the parent decides how to stop: it closes their pipes and
they finish), and on Linux are killed the moment the parent dies: an orphaned writer still
appending while a rerun resumes would duplicate records.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any, Callable

from service import host

PR_SET_PDEATHSIG = 1
NICENESS = 5  # inference is the bottleneck: on a busy core it goes first
CONTEXT = multiprocessing.get_context("spawn")


def _die_with(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(NICENESS)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def reuse_freed_memory(largest: int = 64 << 20) -> None:
    """Let glibc keep and reuse freed blocks up to `largest` bytes, instead of mapping each large
    array afresh and paying its page faults: decoding a 512x512 JPEG for EfficientNet-Lite0 took
    1.62 ms in a fresh worker, 1.34 ms with this. (One thread per decode process: nothing to
    fragment, unlike the server's threads, which get a small threshold: see gunicorn.conf.py.)"""
    host.set_malloc_mmap_threshold(largest, trim=4 * largest)


def _child(parent: int, target: Callable, connection: Connection, args: tuple) -> None:
    _die_with(parent)
    target(connection, *args)


def start(name: str, target: Callable[..., Any], *args: Any) -> tuple[multiprocessing.Process, Connection]:
    """Run target(connection, *args) in a child; returns it and the parent's end of a duplex pipe."""
    parent_end, child_end = CONTEXT.Pipe(duplex=True)
    process = CONTEXT.Process(target=_child, args=(os.getpid(), target, child_end, args), name=name, daemon=True)
    process.start()
    child_end.close()  # so the parent sees EOF (not a hang) if the child dies
    return process, parent_end


# What a pipe raises when the process at its other end has gone (or closed it).
GONE = (EOFError, BrokenPipeError, ConnectionResetError)


def died(process: multiprocessing.Process) -> str:
    """What to tell the user about a helper that went away (its exit code, once it has one)."""
    process.join(1)
    return f"{process.name} died (exit code {process.exitcode})"


def stop(process: multiprocessing.Process, timeout_s: float = 10.0) -> None:
    process.join(timeout_s)
    if process.is_alive():
        process.kill()
        process.join()
