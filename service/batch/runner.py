"""The batch loop: decode the next batch in a thread pool while the current one is inferred,
write each batch's records and flush them before moving on."""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from service.batch.backends import BatchRejected, describe_error
from service.batch.items import Item
from service.batch.output import ResultWriter
from service.batch.progress import Progress


@dataclass
class Summary:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0

    @property
    def throughput(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s else 0.0

    def line(self) -> str:
        return (f"summary: {self.done} done ({self.failed} failed), {self.skipped} skipped (already in the output), "
                f"{self.total} in this shard, {self.elapsed_s:.1f}s, {self.throughput:.1f} items/s")


def _prepare(backend: Any, item: Item) -> Any:
    return backend.prepare(item.value())


def run(backend: Any, items: list[Item], writer: ResultWriter, batch_size: int, workers: int,
        progress: Progress | None = None) -> Summary:
    todo = [item for item in items if item.id not in writer.done]
    summary = Summary(total=len(items), skipped=len(items) - len(todo))
    started = time.perf_counter()
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        submit = lambda batch: [pool.submit(_prepare, backend, item) for item in batch]  # noqa: E731
        upcoming = submit(batches[0]) if batches else []
        for index, batch in enumerate(batches):
            current = upcoming
            if index + 1 < len(batches):
                upcoming = submit(batches[index + 1])  # decode the next batch while this one runs
            records = _infer_batch(backend, batch, current)
            writer.write(records)
            failed = sum("error" in r for r in records)
            summary.done += len(records)
            summary.failed += failed
            if progress:
                progress.update(len(records), failed)
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _infer_batch(backend: Any, batch: list[Item], futures: list[Future]) -> list[dict[str, Any]]:
    head = {"model": backend.name, "version": backend.version}
    records: list[dict[str, Any] | None] = [None] * len(batch)
    ready: list[tuple[int, Any]] = []
    for position, (item, future) in enumerate(zip(batch, futures)):
        try:
            ready.append((position, future.result()))
        except Exception as exc:  # noqa: BLE001 - one bad item is a record, never the end of the run
            records[position] = {"id": item.id, **head, "error": describe_error(exc)}
    for position, probabilities in _infer(backend, ready):
        if isinstance(probabilities, BaseException):
            records[position] = {"id": batch[position].id, **head, "error": describe_error(probabilities)}
        else:
            records[position] = {"id": batch[position].id, **head, **backend.label(probabilities)}
    return [r for r in records if r is not None]


def _infer(backend: Any, ready: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """One call for the batch; if it is refused, one call per item so only the bad ones fail."""
    if not ready:
        return []
    try:
        outputs = backend.infer([prepared for _, prepared in ready])
        return [(position, outputs[i]) for i, (position, _) in enumerate(ready)]
    except BatchRejected:
        results = []
        for position, prepared in ready:
            try:
                results.append((position, backend.infer([prepared])[0]))
            except BatchRejected as exc:
                results.append((position, exc))
        return results
