"""Where results go: JSONL (default) or CSV, appended and flushed per chunk, resumable.

The parent reads what an earlier run already wrote (`resume`); a writer process labels the
probabilities, formats and appends the records, so none of that competes with inference.
Each chunk is flushed to the operating system before the next (a killed process loses nothing
written), and fsynced at least every FSYNC_EVERY_S seconds (a crashed machine loses at most that
much; fsyncing every small batch cost 10% of the text throughput).
A run killed mid-write can leave a partial last line: resuming cuts it off, reads the ids already
written, and the run skips those items, so every item ends up in the output exactly once.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

import numpy as np

from service.batch import processes

FSYNC_EVERY_S = 1.0
CSV_FIELDS = ["id", "model", "version", "label", "class_id", "probability", "details", "error"]


def format_of(path: Path, requested: str | None) -> str:
    if requested:
        return requested
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def resume(path: Path, fmt: str, overwrite: bool) -> set[str]:
    """Start the output (or, with overwrite, start it over) or find the ids it already holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if overwrite or not path.exists():
        path.write_text(",".join(CSV_FIELDS) + "\n" if fmt == "csv" else "")
        return set()
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]  # drop a partial last line left by a kill
    if len(complete) != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(len(complete))
    text = complete.decode("utf-8", errors="replace")
    if fmt == "csv":
        return {row["id"] for row in csv.DictReader(io.StringIO(text)) if row.get("id")}
    done = set()
    for line in text.splitlines():
        try:
            done.add(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            continue
    return done


class ResultWriter:
    """Appends records to an output that `resume` has prepared."""

    def __init__(self, path: Path, fmt: str):
        self.format = fmt
        self.handle = open(path, "a", encoding="utf-8", newline="")
        self.synced = time.monotonic()

    def write(self, records: list[dict[str, Any]]) -> None:
        if self.format == "csv":
            writer = csv.DictWriter(self.handle, fieldnames=CSV_FIELDS)
            for record in records:
                details = record.get("top_k") or record.get("probabilities") or record.get("detections")
                writer.writerow({**{k: record.get(k, "") for k in CSV_FIELDS if k != "details"},
                                 "details": json.dumps(details) if details else ""})
        else:
            for record in records:
                self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        if time.monotonic() - self.synced >= FSYNC_EVERY_S:
            os.fsync(self.handle.fileno())
            self.synced = time.monotonic()

    def close(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()


def records(ids: list[str], head: dict[str, str], outputs: dict[int, Any], errors: dict[int, str],
            label: Callable[[np.ndarray], dict[str, Any]], notes: dict[int, dict] | None = None) -> list[dict[str, Any]]:
    """One chunk's records, in input order: a prediction (with its notes: a text that was cut) or the
    reason the item failed."""
    notes = notes or {}
    return [{"id": item_id, **head, "error": errors[position]} if position in errors
            else {"id": item_id, **head, **label(outputs[position]), **notes.get(position, {})}
            for position, item_id in enumerate(ids)]


def _write_chunks(connection: Connection, path: Path, fmt: str, head: dict[str, str],
                  label: Callable[[np.ndarray], dict[str, Any]]) -> None:
    """The writer process: chunks in until None, then the count written out (or why it stopped)."""
    written = 0
    try:
        writer = ResultWriter(path, fmt)
        try:
            while (chunk := connection.recv()) is not None:
                ids, positions, results, errors, notes = chunk
                writer.write(records(ids, head, dict(zip(positions, results)), errors, label, notes))
                written += len(ids)
        except EOFError:  # the parent closed the pipe without a word: keep what was written
            pass
        writer.close()
        answer: int | str = written
    except Exception as exc:  # noqa: BLE001 - a full disk, say: the parent stops and says why
        answer = f"the output writer stopped: {type(exc).__name__}: {exc}"
    with contextlib.suppress(*processes.GONE):
        connection.send(answer)


class WriterProcess:
    def __init__(self, path: Path, fmt: str, head: dict[str, str], label: Callable[[np.ndarray], dict[str, Any]]):
        self.process, self.connection = processes.start("axon-writer", _write_chunks, path, fmt, head, label)

    def write(self, ids: list[str], positions: list[int], results: Any, errors: dict[int, str],
              notes: dict[int, dict] | None = None) -> None:
        try:
            self.connection.send((ids, positions, results, errors, notes or {}))
        except processes.GONE:
            raise RuntimeError(self._why()) from None

    def finish(self) -> int:
        """Wait for every record to be written and synced; the number written."""
        try:
            self.connection.send(None)
        except processes.GONE:
            raise RuntimeError(self._why()) from None
        answer = self._answer()
        processes.stop(self.process)
        if not isinstance(answer, int):
            raise RuntimeError(answer or self._died())
        return answer

    def _died(self) -> str:
        return f"the output writer {processes.died(self.process)}"

    def _why(self) -> str:
        answer = self._answer()
        return answer if isinstance(answer, str) else self._died()

    def _answer(self) -> int | str | None:
        try:
            return self.connection.recv()
        except processes.GONE:
            return None


def write_npy(records_path: Path, ids: list[str], target: Path) -> int:
    """Embeddings from a finished JSONL run as one .npy [len(ids), width] in input order (rows of NaN
    for items that failed), and the ids beside it (<target>.ids.txt). Returns how many had one."""
    vectors: dict[str, list[float]] = {}
    for line in records_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "embedding" in record:
            vectors[record["id"]] = record["embedding"]
    if not vectors:
        raise ValueError(f"{records_path} has no embeddings: --npy is for embedding models")
    width = len(next(iter(vectors.values())))
    array = np.full((len(ids), width), np.nan, dtype=np.float32)
    for row, item_id in enumerate(ids):
        if item_id in vectors:
            array[row] = vectors[item_id]
    np.save(target, array)
    target.with_name(target.name + ".ids.txt").write_text("".join(f"{item_id}\n" for item_id in ids), encoding="utf-8")
    return sum(item_id in vectors for item_id in ids)
