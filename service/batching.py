"""Opt-in dynamic batching: concurrent requests to one model version, inside one worker, merged into
one onnxruntime call (Triton's dynamic_batching, configured in models/<name>/config.json).

Requests are validated before they queue, so a bad request never enters a batch; if a merged run
still fails, each request of the batch is run alone so that only the guilty one fails.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from service.errors import Overloaded, Timeout

log = logging.getLogger(__name__)
POLL_S = 0.0002  # how often a waiting batch re-checks whether anyone is still on the way


@dataclass(frozen=True)
class BatchingConfig:
    max_batch_size: int = 16
    max_queue_delay_ms: float = 2.0
    max_queue_size: int = 64

    @classmethod
    def from_json(cls, raw: dict) -> "BatchingConfig":
        config = cls(int(raw.get("max_batch_size", 16)), float(raw.get("max_queue_delay_ms", 2.0)),
                     int(raw.get("max_queue_size", 64)))
        if config.max_batch_size < 1 or config.max_queue_delay_ms < 0 or config.max_queue_size < 1:
            raise ValueError(f"invalid dynamic_batching settings: {raw}")
        return config


@dataclass
class _Pending:
    batch: np.ndarray
    enqueued: float = field(default_factory=time.perf_counter)
    future: Future = field(default_factory=Future)


class Batcher:
    """One queue and one thread per model version in a worker.

    Closing (the version was retired by a reload) lets the thread finish what is queued and stop;
    a request that submits after that runs alone in its own thread, so none waits on a queue that
    nobody reads."""

    def __init__(self, name: str, run: Callable[[np.ndarray], Any], config: BatchingConfig,
                 observe: Callable[[int, list[float], int], None] | None = None):
        self.name = name
        self.run = run
        self.config = config
        # observe(rows in the merged batch, each request's queue wait in seconds, queue depth left)
        self.observe = observe or (lambda rows, waits, depth: None)
        self.queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=config.max_queue_size)
        self.carry: _Pending | None = None
        self.coming = 0  # requests being decoded that will submit soon: worth waiting for
        self.coming_lock = threading.Lock()
        self.closed = False
        self.closing_lock = threading.Lock()  # a submit is queued before the close, or sees it
        self.thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self.thread.start()

    @contextmanager
    def expecting(self) -> Iterator[None]:
        """Wrap a request's decoding: while any request is inside, the batcher waits for it
        (up to max_queue_delay_ms); when none is, a lone request runs at once instead of waiting."""
        with self.coming_lock:
            self.coming += 1
        try:
            yield
        finally:
            with self.coming_lock:
                self.coming -= 1

    def submit(self, batch: np.ndarray, timeout_s: float) -> Any:
        pending = _Pending(batch)
        with self.closing_lock:
            closed = self.closed
            if not closed:
                try:
                    self.queue.put_nowait(pending)
                except queue.Full:
                    raise Overloaded(f"model '{self.name}' has {self.config.max_queue_size} requests queued; "
                                     "retry shortly") from None
        if closed:
            return self.run(batch)
        try:
            return pending.future.result(timeout=timeout_s)
        except FutureTimeout:
            pending.future.cancel()
            raise Timeout(f"model '{self.name}' did not answer within {timeout_s:g}s") from None

    def close(self) -> None:
        """Answer everything already queued, then stop the thread."""
        with self.closing_lock:
            if self.closed:
                return
            self.closed = True
        self.queue.put(None)  # behind every request queued before the close
        self.thread.join(timeout=5)

    def _collect(self) -> list[_Pending] | None:
        first = self.carry or self.queue.get()
        self.carry = None
        if first is None:
            return None
        batch, rows = [first], len(first.batch)
        deadline = time.perf_counter() + self.config.max_queue_delay_ms / 1000
        while rows < self.config.max_batch_size:
            remaining = deadline - time.perf_counter()
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                if remaining <= 0 or self.coming == 0:
                    break  # nobody else is on the way: do not make this batch wait
                try:
                    item = self.queue.get(timeout=min(remaining, POLL_S))
                except queue.Empty:
                    continue
            if item is None:
                self.queue.put(None)
                break
            if rows + len(item.batch) > self.config.max_batch_size:
                self.carry = item  # first in the next batch
                break
            batch.append(item)
            rows += len(item.batch)
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            live = [p for p in batch if p.future.set_running_or_notify_cancel()]
            if live:
                now = time.perf_counter()
                self.observe(sum(len(p.batch) for p in live), [now - p.enqueued for p in live], self.queue.qsize())
                self._run(live)

    def _run(self, batch: list[_Pending]) -> None:
        try:
            outputs = self.run(merged([p.batch for p in batch]))
        except Exception:  # noqa: BLE001 - isolate the request that broke the merged run
            log.exception("merged run of %d requests failed on %s; running them one by one", len(batch), self.name)
            for pending in batch:
                try:
                    pending.future.set_result(self.run(pending.batch))
                except Exception as exc:  # noqa: BLE001 - delivered to its own request only
                    pending.future.set_exception(exc)
            return
        start = 0
        for pending in batch:
            pending.future.set_result(_rows(outputs, start, start + len(pending.batch)))
            start += len(pending.batch)


def merged(batches: list[np.ndarray]) -> np.ndarray:
    """Requests' batches as one. Token ids of different lengths (a transformer's [N, L]) are padded
    with 0, the padding id the graph masks out; fixed-size inputs are simply stacked."""
    widths = {b.shape[1:] for b in batches}
    if len(widths) == 1:
        return np.concatenate(batches)
    shape = [max(sizes) for sizes in zip(*widths)]
    out = np.zeros((sum(len(b) for b in batches), *shape), dtype=batches[0].dtype)
    start = 0
    for b in batches:
        out[(slice(start, start + len(b)), *(slice(0, d) for d in b.shape[1:]))] = b
        start += len(b)
    return out


def _rows(outputs: Any, start: int, stop: int) -> Any:
    """Rows start:stop of a merged run's outputs: one array, or a model's outputs by name."""
    if isinstance(outputs, Mapping):
        return {name: value[start:stop] for name, value in outputs.items()}
    return outputs[start:stop]
