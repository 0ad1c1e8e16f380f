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

from service.batching import BatchingConfig

log = logging.getLogger(__name__)


class RepositoryError(ValueError):
    """A config.json or version directory that cannot be used."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: list[int]
    range: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


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
    top_k: int = 5
    dynamic_batching: BatchingConfig | None = None  # opt-in, per model


@dataclass(frozen=True)
class VersionEntry:
    """One numeric version directory; `problem` says why it cannot be served, if it cannot."""

    version: int
    path: Path
    metadata: dict[str, Any]
    problem: str | None = None

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
    def __init__(self, root: Path):
        self.root = Path(root)

    def model_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "config.json").is_file())

    def config(self, name: str) -> ModelConfig:
        directory = self.root / name
        try:
            raw = json.loads((directory / "config.json").read_text())
            labels: list[str] = []
            if raw.get("labels"):
                labels = (directory / raw["labels"]).read_text().splitlines()
            return ModelConfig(
                name=raw.get("name", name),
                task=raw["task"],
                inputs=_specs(raw["inputs"], f"{name}: inputs"),
                outputs=_specs(raw["outputs"], f"{name}: outputs"),
                labels=labels,
                preprocessing=raw.get("preprocessing"),
                description=raw.get("description", ""),
                max_batch_size=int(raw.get("max_batch_size", 64)),
                top_k=int(raw.get("top_k", 5)),
                dynamic_batching=BatchingConfig.from_json(raw["dynamic_batching"]) if raw.get("dynamic_batching") else None,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RepositoryError(f"{directory / 'config.json'}: {exc}") from exc

    def versions(self, name: str) -> list[VersionEntry]:
        """Every positive-integer version directory, ascending, each with its problem if any."""
        directory = self.root / name
        entries = []
        for child in directory.iterdir():
            if not child.is_dir() or not child.name.isdigit() or int(child.name) < 1:
                continue
            entries.append(self._version(int(child.name), child))
        return sorted(entries, key=lambda e: e.version)

    @staticmethod
    def _version(version: int, path: Path) -> VersionEntry:
        if not (path / "model.onnx").is_file():
            return VersionEntry(version, path, {}, problem="no model.onnx in the version directory")
        try:
            metadata = json.loads((path / "metadata.json").read_text())
        except FileNotFoundError:
            metadata = {}
        except (OSError, ValueError) as exc:
            return VersionEntry(version, path, {}, problem=f"unreadable metadata.json: {exc}")
        return VersionEntry(version, path, metadata)
