"""What to predict: inputs on disk -> a deterministic, shardable list of items with stable ids.

Images: files in a directory (recursive) or matching a glob. Texts: .txt (one per line), .csv (a
named column), .jsonl (a named field). Arrays: .npy / .npz (one item per row) for tensor models.
"""
from __future__ import annotations

import csv
import glob
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


class InputError(ValueError):
    """Inputs that do not exist or cannot be read as the kind asked for."""


@dataclass(frozen=True)
class Item:
    id: str
    load: Any  # a Path (image file, read in a decode worker), a str (text) or an ndarray row


def read(load: Any) -> bytes | str | np.ndarray:
    """An item's value: a file's bytes are read only now (in a decode worker), the rest is at hand."""
    return load.read_bytes() if isinstance(load, Path) else load


def _image_files(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if path.is_file():
        return [path]
    matches = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    if not matches:
        raise InputError(f"no such file, directory or matching glob: {spec}")
    return matches


def _texts(path: Path, column: str, field: str) -> Iterator[Item]:
    suffix = path.suffix.lower()
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        if suffix == ".txt":
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield Item(f"{path}:{number}", line.rstrip("\r\n"))
        elif suffix == ".csv":
            reader = csv.DictReader(handle)
            if column not in (reader.fieldnames or []):
                raise InputError(f"{path} has no column {column!r} (columns: {reader.fieldnames}); use --column")
            for number, row in enumerate(reader, 2):
                yield Item(f"{path}:{number}", row[column] or "")
        else:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise InputError(f"{path}:{number} is not valid JSON") from None
                if not isinstance(record, dict) or field not in record:
                    raise InputError(f"{path}:{number} has no field {field!r}; use --field")
                yield Item(f"{path}:{number}", str(record[field]))


def _arrays(path: Path) -> Iterator[Item]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable .npy/.npz array: {exc}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            for key in loaded.files:
                for index, row in enumerate(loaded[key]):
                    yield Item(f"{path}:{key}:{index}", row)
    else:
        for index, row in enumerate(loaded):
            yield Item(f"{path}:{index}", row)


def collect(specs: list[str], column: str = "text", field: str = "text") -> list[Item]:
    """Every item of every input, in a stable order (the order of --input, then sorted files)."""
    items: list[Item] = []
    for spec in specs:
        path = Path(spec)
        suffix = path.suffix.lower()
        if path.is_file() and suffix in (".txt", ".csv", ".jsonl"):
            items.extend(_texts(path, column, field))
        elif path.is_file() and suffix in (".npy", ".npz"):
            items.extend(_arrays(path))
        else:
            items.extend(Item(str(p), p) for p in _image_files(spec))
    return items


def shard(items: list[Item], index: int, count: int) -> list[Item]:
    """A deterministic slice: every count-th item starting at index (shards are disjoint and cover all)."""
    if not 0 <= index < count:
        raise InputError(f"shard index {index} is not in 0..{count - 1}")
    return items[index::count]
