"""The batch loop, as a pipeline over the machine's cores: decode workers prepare chunks of items
(processes), this process infers each chunk batch by batch, and a writer process labels the
results and appends them to the output. On 2 cores: one for onnxruntime, one for the rest.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from service.batch.backends import BatchRejected, describe_error
from service.batch.decoding import Decoded, DecodeWorkers, item_bytes, joined
from service.batch.items import Item
from service.batch.output import WriterProcess
from service.batch.progress import Progress

CHUNK_ITEMS = 256  # items per chunk at most: a few pipe messages per 256 items, whatever the batch size
CHUNK_BYTES = 8 << 20  # and at most this much decoded input (unless one batch is larger)
UNKNOWN_ITEM_BYTES = 64 << 10  # an item whose size is not fixed by the model (--url): a guess


@contextlib.contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """Ctrl-C or SIGTERM (Kubernetes stopping the pod) sets the event: the run finishes and writes
    the chunk in hand, then stops. A second signal stops at once."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handle(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class Summary:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    startup_s: float = 0.0  # until the first chunk was decoded: starting the worker processes, mostly

    @property
    def throughput(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def running_throughput(self) -> float:
        """Items/s once the pipeline runs (what a long job sees): the startup left out."""
        running = self.elapsed_s - self.startup_s
        return self.done / running if running > 0 else 0.0

    def line(self) -> str:
        return (f"summary{' (interrupted)' if self.interrupted else ''}: {self.done} done ({self.failed} failed), {self.skipped} skipped (already in the output), "
                f"{self.total} in this shard, {self.elapsed_s:.1f}s ({self.startup_s:.1f}s starting), "
                f"{self.throughput:.1f} items/s")


def chunk_size(batch_size: int, preparer: Any) -> int:
    """A whole number of batches, so every onnxruntime call but the last gets batch_size items."""
    size = item_bytes(preparer) or UNKNOWN_ITEM_BYTES
    return batch_size * max(1, min(CHUNK_ITEMS // batch_size, CHUNK_BYTES // (batch_size * size)))


def run(backend: Any, items: list[Item], output: Path, fmt: str, done: set[str], batch_size: int, workers: int,
        progress: Progress | None = None) -> Summary:
    todo = [item for item in items if item.id not in done]
    summary = Summary(total=len(items), skipped=len(items) - len(todo))
    started = time.perf_counter()
    size = chunk_size(batch_size, backend.preparer)
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    writer = WriterProcess(output, fmt, {"model": backend.name, "version": backend.version}, backend.labeller)
    try:
        group_size = min(batch_size, backend.preparer.group_size)
        with stop_requests() as stop, DecodeWorkers(backend.preparer, workers, size, group_size) as decoders:
            for decoded in decoders.decoded(chunks):
                summary.startup_s = summary.startup_s or time.perf_counter() - started
                positions, probabilities, errors, notes = infer_chunk(backend, decoded, batch_size)
                writer.write([item.id for item in decoded.chunk], positions, probabilities, errors, notes)
                summary.failed += len(errors)
                if progress:
                    progress.update(len(decoded.chunk), len(errors))
                if stop.is_set():
                    summary.interrupted = True
                    break
    except BaseException:
        with contextlib.suppress(RuntimeError):
            writer.finish()  # keep what was inferred: write it before giving up
        raise
    summary.done = writer.finish()
    summary.elapsed_s = time.perf_counter() - started
    return summary


def infer_chunk(backend: Any, decoded: Decoded,
                batch_size: int) -> tuple[list[int], Any, dict[int, str], dict[int, dict]]:
    """(positions inferred, their results, errors by position, notes by position: a text that was
    cut) for one decoded chunk."""
    errors = dict(decoded.errors)
    if not decoded.positions:
        return [], None, errors, {}
    positions, outputs, notes = [], [], {}

    def infer(start: int, stop: int) -> None:
        results, batch_notes = backend.infer(decoded.batch(start, stop))
        outputs.append(results)
        positions.extend(decoded.positions[start:stop])
        notes.update((p, n) for p, n in zip(decoded.positions[start:stop], batch_notes) if n)

    for start in range(0, len(decoded.positions), batch_size):
        try:
            infer(start, start + batch_size)
        except BatchRejected:  # the server refused the batch: one call per item, so only the bad ones fail
            for index in range(start, min(start + batch_size, len(decoded.positions))):
                try:
                    infer(index, index + 1)
                except BatchRejected as exc:
                    errors[decoded.positions[index]] = describe_error(exc)
    return positions, joined(outputs), errors, notes
