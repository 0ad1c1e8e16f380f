"""The model repository on disk: models/<name>/config.json + models/<name>/<version>/model.onnx.

Data, not code (Triton-style). Reading it never loads a model; names and versions
from clients are only ever matched against what this scan found.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.batching import BatchingConfig
from service.codecs.detections import DetectionOptions
from service.codecs.image import PREPROCESSORS
from service.protocol import DATATYPES

log = logging.getLogger(__name__)
PREPROCESSING = {*PREPROCESSORS, "text"}  # config.json "preprocessing": an image transform, or the tokenizer
TASKS = ("image_classification", "text_classification", "object_detection", "sentence_embedding")  # service/tasks.py serves each


class RepositoryError(ValueError):
    """A config.json or version directory that cannot be used."""


MAX_VERSION_DIGITS = 18  # fits in int64; int() of thousands of digits is slow, and refused past 4,300


def version_number(text: str) -> int | None:
    """A version directory's name, or a client's version, as a number: a positive integer in ASCII
    digits without leading zeros ("2"; not "02", "²" or the Arabic-Indic "٢"). None if it is not one."""
    if not (0 < len(text) <= MAX_VERSION_DIGITS and text.isascii() and text.isdigit()) or text[0] == "0":
        return None
    return int(text)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: list[int]
    range: tuple[float, float] | None = None
    content: str = ""  # for BYTES inputs: what each element carries

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(DATATYPES[self.datatype])

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


@dataclass(frozen=True)
class VersionPolicy:
    """Which of the versions on disk are served (Triton / TF Serving): all, the latest N, or specific ones."""

    kind: str = "all"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, raw: dict | None) -> "VersionPolicy":
        if not raw:
            return cls()
        if not isinstance(raw, dict) or len(raw) != 1:
            raise RepositoryError(f"version_policy must be one of all, latest, specific: {raw!r}")
        kind, options = next(iter(raw.items()))
        options = options or {}
        if kind == "all":
            return cls()
        if kind == "latest" and int(options.get("num_versions", 1)) >= 1:
            return cls("latest", num_versions=int(options.get("num_versions", 1)))
        if kind == "specific" and options.get("versions"):
            return cls("specific", versions=tuple(int(v) for v in options["versions"]))
        raise RepositoryError(f"invalid version_policy {raw!r}")

    def select(self, available: list[int]) -> set[int]:
        if self.kind == "latest":
            return set(sorted(available)[-self.num_versions :])
        if self.kind == "specific":
            return set(available) & set(self.versions)
        return set(available)


@dataclass(frozen=True)
class ModelConfig:
    name: str
    task: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    labels: list[str] = field(default_factory=list)
    preprocessing: str | None = None
    description: str = ""
    max_batch_size: int = 64
    max_image_pixels: int | None = None  # per image, when the model needs fewer than the server allows
    top_k: int = 5
    dynamic_batching: BatchingConfig | None = None  # opt-in, per model
    detection: DetectionOptions = DetectionOptions()  # object detection: the request options' defaults
    version_policy: VersionPolicy = VersionPolicy()
    signature: tuple = ()  # config.json and labels file mtimes: a change reloads the model

    @property
    def raw_input(self) -> TensorSpec | None:
        """The BYTES input that a model with preprocessing takes besides its tensor: UTF-8 texts
        ("text") or encoded images ("image"), decoded by the server."""
        if self.preprocessing is None:
            return None
        if self.preprocessing == "text":
            return TensorSpec("text", "BYTES", [-1], content="UTF-8 texts")
        return TensorSpec("image", "BYTES", [-1], content="encoded images (JPEG, PNG, GIF, BMP, WebP, TIFF)")


@dataclass(frozen=True)
class VersionEntry:
    """One numeric version directory; `problem` says why it cannot be served, if it cannot."""

    version: int
    path: Path
    metadata: dict[str, Any]
    problem: str | None = None
    signature: tuple = ()  # files' (name, mtime, size): a change means a new build of this version

    @property
    def model_path(self) -> Path:
        return self.path / "model.onnx"


def _specs(items: Any, where: str) -> list[TensorSpec]:
    if not isinstance(items, list) or not items:
        raise RepositoryError(f"{where} must be a non-empty list")
    specs = []
    for item in items:
        value_range = item.get("range")
        specs.append(TensorSpec(item["name"], item["datatype"], list(item["shape"]),
                                tuple(value_range) if value_range else None))
    return specs


class Repository:
    """A directory of models (`<root>/<name>/config.json`), or one model's own directory
    (`<root>/config.json`, the layout KServe's storage initializer writes to /mnt/models), which is
    served under `single_name`."""

    def __init__(self, root: Path, single_name: str | None = None):
        self.root = Path(root)
        self.single_name = single_name
        # Version entries by directory: a rescan (every few seconds) re-reads a version's
        # metadata.json only when its files' signature changed.
        self._entries: dict[Path, VersionEntry] = {}
        self._unreadable: set[Path] = set()  # directories skipped (said once)

    @classmethod
    def at(cls, root: Path, model_name: str = "") -> "Repository":
        """The layout found at `root`: one model's directory is served as `model_name` (AXON_MODEL_NAME),
        else as the name in its config.json; a directory of models serves each under its own name."""
        if not (Path(root) / "config.json").is_file():
            return cls(root)
        if not model_name:
            try:
                model_name = str(json.loads((Path(root) / "config.json").read_text()).get("name") or "")
            except (OSError, ValueError, AttributeError):
                model_name = ""
        return cls(root, model_name or Path(root).resolve().name)

    def directory(self, name: str) -> Path:
        return self.root if self.single_name is not None else self.root / name

    def model_names(self) -> list[str]:
        if self.single_name is not None:
            return [self.single_name] if (self.root / "config.json").is_file() else []
        if not self.root.is_dir():
            return []
        names = []
        for path in self.root.iterdir():
            try:
                if (path / "config.json").is_file():
                    names.append(path.name)
            except OSError as exc:  # a directory we may not enter (lost+found on a volume): not a model
                if path not in self._unreadable:
                    self._unreadable.add(path)
                    log.warning("skipping %s: %s", path, exc)
        return sorted(names)

    def config(self, name: str) -> ModelConfig:
        directory = self.directory(name)
        try:
            raw = json.loads((directory / "config.json").read_text())
            labels: list[str] = []
            if raw.get("labels"):
                labels = (directory / raw["labels"]).read_text().splitlines()
            if raw["task"] not in TASKS:
                raise ValueError(f"unknown task {raw['task']!r}; one of {', '.join(TASKS)}")
            preprocessing = raw.get("preprocessing")
            if preprocessing is not None and preprocessing not in PREPROCESSING:
                raise ValueError(f"unknown preprocessing {preprocessing!r}; one of {', '.join(sorted(PREPROCESSING))}")
            return ModelConfig(
                name=name if self.single_name is not None else raw.get("name", name),
                task=raw["task"],
                inputs=_specs(raw["inputs"], f"{name}: inputs"),
                outputs=_specs(raw["outputs"], f"{name}: outputs"),
                labels=labels,
                preprocessing=preprocessing,
                description=raw.get("description", ""),
                max_batch_size=int(raw.get("max_batch_size", 64)),
                max_image_pixels=int(raw["max_image_pixels"]) if raw.get("max_image_pixels") else None,
                top_k=int(raw.get("top_k", 5)),
                dynamic_batching=BatchingConfig.from_json(raw["dynamic_batching"]) if raw.get("dynamic_batching") else None,
                version_policy=VersionPolicy.from_json(raw.get("version_policy")),
                detection=DetectionOptions.from_json(raw.get("detection")),
                signature=self.config_signature(name),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: a list for an object
            raise RepositoryError(f"{directory / 'config.json'}: {type(exc).__name__}: {exc}") from exc

    def config_signature(self, name: str) -> tuple:
        return _signature(self.directory(name))

    def versions(self, name: str) -> list[VersionEntry]:
        """Every positive-integer version directory, ascending, each with its problem if any.

        A version that cannot be read (permissions, an I/O error) is one with a problem: it never
        stops the others from being served. Only the model directory itself failing raises OSError."""
        directory = self.directory(name)
        entries = []
        for child in directory.iterdir():
            version = version_number(child.name)
            if version is None or not child.is_dir():
                continue
            try:
                signature = _signature(child)
                cached = self._entries.get(child)
                if cached is None or cached.signature != signature:
                    cached = self._entries[child] = self._version(version, child, signature)
            except OSError as exc:
                cached = VersionEntry(version, child, {}, f"cannot read the version directory: {exc}",
                                      ("unreadable", str(exc)))
            entries.append(cached)
        return sorted(entries, key=lambda e: e.version)

    @staticmethod
    def _version(version: int, path: Path, signature: tuple) -> VersionEntry:
        if not (path / "model.onnx").is_file():
            return VersionEntry(version, path, {}, "no model.onnx in the version directory", signature)
        try:
            metadata = json.loads((path / "metadata.json").read_text())
        except FileNotFoundError:
            metadata = {}
        except (OSError, ValueError) as exc:
            return VersionEntry(version, path, {}, f"unreadable metadata.json: {exc}", signature)
        if not isinstance(metadata, dict):
            return VersionEntry(version, path, {}, "metadata.json is not a JSON object", signature)
        return VersionEntry(version, path, metadata, None, signature)


def _signature(directory: Path) -> tuple:
    """The directory's files as (name, mtime, size): any change to them changes it."""
    return tuple(_stat(p) for p in sorted(directory.iterdir()) if p.is_file())


def _stat(path: Path) -> tuple:
    try:
        stat = path.stat()
    except OSError:
        return (path.name, 0, 0)
    return (path.name, stat.st_mtime_ns, stat.st_size)
