"""One validated settings object, read once from AXON_* environment variables."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

PREFIX = "AXON_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
POSITIVE = ("grpc_threads", "max_request_bytes", "max_image_pixels", "max_request_pixels", "max_decoding_pixels", "max_batch_size", "max_text_chars", "top_k",
            "request_timeout_s")


@dataclass(frozen=True)
class Settings:
    """Every setting, its default, and the environment variable that overrides it (AXON_<NAME>)."""

    model_dir: Path = Path("models")
    model_name: str = ""  # the name a single model's directory (model_dir/config.json, KServe's /mnt/models) is served as
    max_request_bytes: int = 10 * 1024 * 1024  # whole request body; over it: 413
    max_image_pixels: int = 40_000_000  # per decoded image (a model's config.json may lower it); over it: 413
    max_request_pixels: int = 100_000_000  # decoded pixels of all the images of one request; over it: 413
    max_decoding_pixels: int = 50_000_000  # pixels one worker decodes at once, over its threads; others wait
    max_batch_size: int = 64  # instances (images, texts, arrays) per request; over it: 413
    max_text_chars: int = 100_000  # per text; over it: 413. Within it, a text longer than the model reads is cut and said to be
    ort_threads: int = 0  # onnxruntime intra-op threads per session; 0: 1, or all cores for slow models, 1 while others are served (registry.WIDE_RUN_MS)
    top_k: int = 5  # labels returned per prediction on /v1 (capped at the model's class count)
    request_timeout_s: float = 30.0  # a request waiting longer than this for its batch: 504
    reload_interval_s: float = 10.0  # poll models/ for new or removed versions; 0 turns polling off
    api_keys: tuple[str, ...] = ()  # comma-separated; when set, inference and model routes need a Bearer key
    api_keys_file: Path | None = None  # one key per line, added to api_keys
    auth_ops: bool = False  # also require a key for health, metrics and docs
    admin_keys: tuple[str, ...] = ()  # comma-separated; the repository API's load and unload need one (off when unset)
    log_level: str = "INFO"
    grpc_port: int = 8081  # the V2 gRPC service, beside HTTP in every worker; 0 turns it off
    grpc_threads: int = 4  # gRPC calls one worker serves at once (more wait for a thread)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            variable = PREFIX + field.name.upper()
            raw = environ.get(variable)
            if raw is None or raw == "":
                continue
            parse = PARSERS[str(field.type)]
            try:
                values[field.name] = parse(raw)
            except ValueError:
                raise ValueError(f"{variable}={raw!r} is not a valid {field.type}") from None
        return cls(**values).validated()

    def validated(self) -> "Settings":
        for name in POSITIVE:
            if getattr(self, name) <= 0:
                raise ValueError(f"{PREFIX}{name.upper()} must be > 0, got {getattr(self, name)}")
        if self.ort_threads < 0:
            raise ValueError(f"{PREFIX}ORT_THREADS must be >= 0 (0: chosen per model), got {self.ort_threads}")
        if not 0 <= self.grpc_port <= 65535:
            raise ValueError(f"{PREFIX}GRPC_PORT must be a port number, or 0 for no gRPC, got {self.grpc_port}")
        if self.reload_interval_s < 0:
            raise ValueError(f"{PREFIX}RELOAD_INTERVAL_S must be >= 0, got {self.reload_interval_s}")
        level = self.log_level.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{PREFIX}LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        keys = self.api_keys
        if self.api_keys_file is not None:
            try:
                lines = self.api_keys_file.read_text().splitlines()
            except OSError as exc:
                raise ValueError(f"{PREFIX}API_KEYS_FILE: cannot read {self.api_keys_file}: {exc.strerror}") from None
            keys = keys + tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
        return replace(self, log_level=level, api_keys=keys, api_keys_file=None)

    @staticmethod
    def env_names() -> list[str]:
        return [PREFIX + field.name.upper() for field in fields(Settings)]


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


PARSERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "bool": _bool,
    "str": str,
    "Path": Path,
    "Path | None": Path,
    "tuple[str, ...]": lambda raw: tuple(key.strip() for key in raw.split(",") if key.strip()),
}
