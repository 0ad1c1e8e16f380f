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


def _prepare_group(backend: Any, group: list[Item]) -> list[Any]:
    """Prepare several items in one call (vectorised checks, one tokenizer pass); if any of them is
    bad, prepare them one by one so that only the bad ones become errors."""
    values: list[Any] = []
    for item in group:
        try:
            values.append(item.value())
        except Exception as exc:  # noqa: BLE001 - an unreadable file is that item's error
            values.append(exc)
    if not any(isinstance(v, Exception) for v in values):
        try:
            return backend.prepare_many(values)
        except Exception:  # noqa: BLE001 - find the culprits below
            pass
    results: list[Any] = []
    for value in values:
        if isinstance(value, Exception):
            results.append(value)
            continue
        try:
            results.append(backend.prepare(value))
        except Exception as exc:  # noqa: BLE001 - delivered as this item's error record
            results.append(exc)
    return results


def _submit(pool: ThreadPoolExecutor, backend: Any, batch: list[Item], workers: int) -> list[Future]:
    """Split a batch into one group per decode thread, so images decode in parallel."""
    size = max(1, -(-len(batch) // workers))
    return [pool.submit(_prepare_group, backend, batch[i : i + size]) for i in range(0, len(batch), size)]


def run(backend: Any, items: list[Item], writer: ResultWriter, batch_size: int, workers: int,
        progress: Progress | None = None) -> Summary:
    todo = [item for item in items if item.id not in writer.done]
    summary = Summary(total=len(items), skipped=len(items) - len(todo))
    started = time.perf_counter()
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        upcoming = _submit(pool, backend, batches[0], workers) if batches else []
        for index, batch in enumerate(batches):
            current = upcoming
            if index + 1 < len(batches):
                upcoming = _submit(pool, backend, batches[index + 1], workers)  # decode it while this one runs
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
    prepared = [result for future in futures for result in future.result()]
    for position, (item, result) in enumerate(zip(batch, prepared)):
        if isinstance(result, Exception):  # one bad item is a record, never the end of the run
            records[position] = {"id": item.id, **head, "error": describe_error(result)}
        else:
            ready.append((position, result))
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
