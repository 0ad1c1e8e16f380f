"""Where results go: JSONL (default) or CSV, appended and flushed per batch, resumable.

Each batch is flushed to the operating system before the next starts (a killed process loses
nothing written), and fsynced at least every FSYNC_EVERY_S seconds (a crashed machine loses at most
that much; fsyncing every small batch cost 10% of the text throughput).
A run killed mid-write can leave a partial last line: resuming cuts it off, reads the ids already
written, and the run skips those items, so every item ends up in the output exactly once.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

FSYNC_EVERY_S = 1.0
CSV_FIELDS = ["id", "model", "version", "label", "class_id", "probability", "details", "error"]


def format_of(path: Path, requested: str | None) -> str:
    if requested:
        return requested
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


class ResultWriter:
    def __init__(self, path: Path, fmt: str, overwrite: bool):
        self.path = path
        self.format = fmt
        self.done: set[str] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        if overwrite or not path.exists():
            path.write_text(",".join(CSV_FIELDS) + "\n" if fmt == "csv" else "")
        else:
            self._resume()
        self.handle = open(path, "a", encoding="utf-8", newline="")
        self.synced = time.monotonic()

    def _resume(self) -> None:
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]  # drop a partial last line left by a kill
        if len(complete) != len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
        text = complete.decode("utf-8", errors="replace")
        if self.format == "csv":
            rows = csv.DictReader(io.StringIO(text))
            self.done = {row["id"] for row in rows if row.get("id")}
        else:
            for line in text.splitlines():
                try:
                    self.done.add(json.loads(line)["id"])
                except (ValueError, KeyError, TypeError):
                    continue

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append one batch of records and flush it to disk before the next batch starts."""
        if self.format == "csv":
            writer = csv.DictWriter(self.handle, fieldnames=CSV_FIELDS)
            for record in records:
                details = record.get("top_k") or record.get("probabilities")
                writer.writerow({**{k: record.get(k, "") for k in CSV_FIELDS if k != "details"},
                                 "details": json.dumps(details) if details else ""})
        else:
            for record in records:
                self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        if time.monotonic() - self.synced >= FSYNC_EVERY_S:
            os.fsync(self.handle.fileno())
            self.synced = time.monotonic()
        self.done.update(record["id"] for record in records)

    def close(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
