"""Decoding in worker processes, so that it runs beside inference instead of fighting it for the GIL.

The parent cuts the items into chunks and deals them round robin to the workers; each worker reads,
decodes and validates its chunk with the backend's preparer and answers with the positions that
succeeded, the rows, and an error message for each item that did not. Results come back in chunk
order, since chunk c is always worker c % W's next answer.

Rows of a fixed shape go through shared memory: each worker owns two slots and decodes its next
chunk into one while the parent infers from the other (a 32-image chunk is 19 MB; through the pipe
it cost the parent 0.45 ms an image, 16% of EfficientNet-Lite0's inference). Anything else (the
--url client's base64 strings), or a /dev/shm too small for the slots, goes through the pipe.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Iterator

import numpy as np

from service.batch import processes
from service.batch.backends import describe_error
from service.batch.items import Item, read
from service.batching import merged
from service.inputs import Prepared

log = logging.getLogger(__name__)
SLOTS_PER_WORKER = 2
SHARED_MEMORY = "/dev/shm"


@dataclass
class Decoded:
    """One chunk, decoded: rows[i] is the prepared input of chunk[positions[i]], sizes[i] its image's
    upright size (None for texts and arrays), what a detector's boxes are given in."""

    chunk: list[Item]
    positions: list[int]
    rows: Any  # an ndarray [len(positions), ...], a list (--url), or None when nothing decoded
    errors: dict[int, str]
    sizes: list[Any] | None = None
    notes: list[dict] | None = None  # each row's notes (a text cut to the model's length)

    def batch(self, start: int, stop: int) -> Any:
        """Rows start:stop as the backend infers them: a Prepared batch, or the --url client's values."""
        if isinstance(self.rows, np.ndarray):
            sizes = self.sizes[start:stop] if self.sizes else [None] * len(self.rows[start:stop])
            return Prepared(self.rows[start:stop], sizes, self.notes[start:stop] if self.notes else None)
        return self.rows[start:stop]


def prepare_chunk(preparer: Any, loads: list[Any], group_size: int) -> tuple[list[int], list[Any], dict[int, str]]:
    """(positions prepared, their rows in parts, errors by position). A chunk is prepared group by
    group (one vectorised call each); a group with a bad item is prepared one item at a time, so
    that only the bad ones become errors."""
    positions: list[int] = []
    parts: list[Any] = []
    errors: dict[int, str] = {}
    for start in range(0, len(loads), group_size):
        values: dict[int, Any] = {}
        for position in range(start, min(start + group_size, len(loads))):
            try:
                values[position] = read(loads[position])
            except OSError as exc:
                errors[position] = describe_error(exc)
        if len(values) == min(group_size, len(loads) - start):
            try:
                parts.append(preparer.prepare_many(list(values.values())))
                positions.extend(values)
                continue
            except Exception:  # noqa: BLE001 - find the culprits below
                pass
        for position, value in values.items():
            try:
                parts.append(preparer.prepare(value))
                positions.append(position)
            except Exception as exc:  # noqa: BLE001 - delivered as this item's error record
                errors[position] = describe_error(exc)
    return positions, parts, errors


def joined(parts: list[Any]) -> Any:
    """Parts of a chunk as one: Prepared batches, arrays, or lists (the --url client's values, detections)."""
    if not parts:
        return None
    if isinstance(parts[0], Prepared):
        return Prepared(merged([p.batch for p in parts]), [size for p in parts for size in p.sizes],
                        [note for p in parts for note in (p.notes or [{}] * len(p))])
    return np.concatenate(parts) if isinstance(parts[0], np.ndarray) else [row for part in parts for row in part]


def _unpacked(prepared: Any) -> tuple[Any, list[Any] | None, list[dict] | None]:
    if isinstance(prepared, Prepared):
        return prepared.batch, prepared.sizes, prepared.notes
    return prepared, None, None


def item_bytes(preparer: Any) -> int | None:
    """Bytes of one prepared item, when the model fixes its shape (None: sizes vary)."""
    if preparer.item_shape is None:
        return None
    return int(np.prod(preparer.item_shape)) * preparer.dtype.itemsize


def _slot_view(memory: SharedMemory, capacity: int, preparer: Any) -> np.ndarray:
    return np.ndarray((capacity, *preparer.item_shape), dtype=preparer.dtype, buffer=memory.buf)


def _work(connection: Connection, preparer: Any, group_size: int, slot_names: list[str], capacity: int) -> None:
    """A decode worker: (slot, loads) in, (positions, errors, rows or None) out, until the pipe closes."""
    processes.reuse_freed_memory()
    memories = [SharedMemory(name) for name in slot_names]  # the parent's, unlinked by the parent
    views = [_slot_view(memory, capacity, preparer) for memory in memories]
    try:
        while (task := connection.recv()) is not None:
            slot, loads = task
            positions, parts, errors = prepare_chunk(preparer, loads, group_size)
            rows, sizes, notes = _unpacked(joined(parts))
            if views and isinstance(rows, np.ndarray):
                views[slot][: len(rows)] = rows
                connection.send((positions, errors, None, sizes, notes))
            else:
                connection.send((positions, errors, rows, sizes, notes))
    except processes.GONE:  # the parent is stopping (done, or interrupted)
        pass
    views.clear()
    for memory in memories:
        memory.close()


def _worker_died(process: Any) -> RuntimeError:
    return RuntimeError(f"decode worker {processes.died(process)}")


class DecodeWorkers:
    def __init__(self, preparer: Any, workers: int, chunk_size: int, group_size: int):
        self.memories: list[SharedMemory] = []
        if preparer.item_shape is not None:
            slot_bytes = chunk_size * item_bytes(preparer)
            needed = workers * SLOTS_PER_WORKER * slot_bytes
            if shutil.disk_usage(SHARED_MEMORY).free >= needed:
                self.memories = [SharedMemory(create=True, size=slot_bytes)
                                 for _ in range(workers * SLOTS_PER_WORKER)]
            else:
                log.warning("%s has less than the %d MB the decode workers' shared memory needs: "
                            "decoded inputs go through pipes (slower)", SHARED_MEMORY, needed >> 20)
        self.views = [_slot_view(memory, chunk_size, preparer) for memory in self.memories]
        self.workers = []
        for index in range(workers):
            own = self.memories[index * SLOTS_PER_WORKER : (index + 1) * SLOTS_PER_WORKER]
            names = [memory.name for memory in own]
            self.workers.append(processes.start(f"axon-decode-{index}", _work, preparer, group_size, names, chunk_size))

    def decoded(self, chunks: list[list[Item]]) -> Iterator[Decoded]:
        """Each chunk, decoded, in order. A chunk's rows are valid until the next one is asked for."""
        count = len(self.workers)
        for index in range(min(len(chunks), count * SLOTS_PER_WORKER)):
            self._send(chunks, index)
        for index, chunk in enumerate(chunks):
            process, connection = self.workers[index % count]
            try:
                positions, errors, rows, sizes, notes = connection.recv()
            except processes.GONE:
                raise _worker_died(process) from None
            if rows is None and positions:
                rows = self.views[self._slot(index)][: len(positions)]
            yield Decoded(chunk, positions, rows, errors, sizes, notes)
            if index + count * SLOTS_PER_WORKER < len(chunks):  # its slot is free again
                self._send(chunks, index + count * SLOTS_PER_WORKER)

    def _slot(self, index: int) -> int:
        """Chunk index -> its slot: worker index % W, that worker's (index // W) % 2nd slot."""
        count = len(self.workers)
        return (index % count) * SLOTS_PER_WORKER + (index // count) % SLOTS_PER_WORKER

    def _send(self, chunks: list[list[Item]], index: int) -> None:
        process, connection = self.workers[index % len(self.workers)]
        try:
            connection.send((self._slot(index) % SLOTS_PER_WORKER, [item.load for item in chunks[index]]))
        except processes.GONE:
            raise _worker_died(process) from None

    def close(self) -> None:
        for process, connection in self.workers:
            connection.close()  # EOF: the worker finishes its chunk and exits
        for process, _ in self.workers:
            processes.stop(process)
        self.views.clear()
        for memory in self.memories:
            try:
                memory.close()
            except BufferError:  # a caller still holds the last chunk's rows: freed when it lets go
                pass
            memory.unlink()

    def __enter__(self) -> DecodeWorkers:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
