"""One validated settings object, read once from AXON_* environment variables."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

PREFIX = "AXON_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    """Every setting, its default, and the environment variable that overrides it (AXON_<NAME>)."""

    model_dir: Path = Path("models")
    max_request_bytes: int = 10 * 1024 * 1024  # whole request body; over it: 413
    max_image_pixels: int = 40_000_000  # per decoded image; over it: 413 (decompression bombs)
    max_batch_size: int = 64  # instances (images, texts, arrays) per request; over it: 413
    max_text_chars: int = 5_000  # per text; over it: 413 (longer texts are not truncated silently)
    ort_threads: int = 1  # onnxruntime intra-op threads per worker: workers x threads <= cores
    top_k: int = 5  # labels returned per prediction on /v1 (capped at the model's class count)
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, field.type, raw)
        return cls(**values).validated()

    def validated(self) -> "Settings":
        for name in ("max_request_bytes", "max_image_pixels", "max_batch_size", "max_text_chars", "ort_threads", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{PREFIX}{name.upper()} must be >= 1, got {getattr(self, name)}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"{PREFIX}LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        return self

    @staticmethod
    def env_names() -> list[str]:
        return [PREFIX + field.name.upper() for field in fields(Settings)]


def _parse(name: str, kind: object, raw: str) -> object:
    kind = str(kind)
    try:
        if kind in ("int", "<class 'int'>"):
            return int(raw)
        if kind in ("Path", "<class 'pathlib.Path'>"):
            return Path(raw)
        return raw.upper() if name == "log_level" else raw
    except ValueError:
        raise ValueError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
