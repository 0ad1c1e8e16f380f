"""Where fetched sources are cached, and how they are checked."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """AXON_CACHE_DIR, else ~/.cache/axon."""
    root = Path(os.environ.get("AXON_CACHE_DIR", Path.home() / ".cache" / "axon"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected_sha256: str) -> None:
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise RuntimeError(
            f"{path} has sha256 {actual}, expected {expected_sha256}: "
            f"delete it and run again to fetch a fresh copy"
        )


def keras_path(name: str, version: int) -> Path:
    """Where a trained Keras model is kept for benchmarks and parity tests (outside models/: not served)."""
    return cache_dir() / "keras" / f"{name}-{version}.keras"


def save_keras(model: Any, name: str, version: int) -> None:
    path = keras_path(name, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
