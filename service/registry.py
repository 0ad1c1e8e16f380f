"""Loaded models by (name, version): load, warm up, look up, report readiness."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from preprocessing.text import Tokenizer
from service.batching import Batcher
from service.errors import ModelNotFound, ModelNotReady
from service.repository import ModelConfig, Repository, RepositoryError, VersionEntry
from service.runtime import OnnxModel

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    config: ModelConfig
    entry: VersionEntry
    runtime: OnnxModel
    tokenizer: Tokenizer | None = None  # text models: the vocabulary written beside model.onnx
    batcher: Batcher | None = None  # set on first use when config.json asks for dynamic batching

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def version(self) -> int:
        return self.entry.version

    @property
    def metadata(self) -> dict[str, Any]:
        return self.entry.metadata

    @property
    def warning(self) -> str | None:
        """Said with every answer about this model when its weights are not trained ones."""
        if self.metadata.get("weights") == "random":
            return f"model '{self.name}' version {self.version} has RANDOM weights: its predictions mean nothing"
        return None


@dataclass
class ModelState:
    """Everything known about one model: its config, served versions and the ones that failed."""

    config: ModelConfig | None
    versions: dict[int, LoadedModel] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def default_version(self) -> int | None:
        return max(self.versions) if self.versions else None


def warm_up(model: LoadedModel) -> None:
    """One inference on zeros of the declared input shape (batch 1)."""
    feeds = {}
    for spec in model.config.inputs:
        shape = [1 if d < 0 else d for d in spec.shape]
        feeds[spec.name] = np.zeros(shape, dtype=np.float32 if spec.datatype == "FP32" else np.int32)
    model.runtime.run(feeds)


class Registry:
    def __init__(self, repository: Repository, threads: int = 1,
                 on_loaded: Callable[[LoadedModel, float], None] | None = None):
        self.repository = repository
        self.threads = threads
        self.on_loaded = on_loaded
        self.models: dict[str, ModelState] = {}
        self.loaded = False

    def load_all(self) -> None:
        """Load and warm every valid version of every model. Failures are reported, never half-loaded."""
        for name in self.repository.model_names():
            self.models[name] = self._load_model(name)
        self.loaded = True
        served = {n: sorted(s.versions) for n, s in self.models.items()}
        log.info("models loaded: %s", served)

    def _load_model(self, name: str) -> ModelState:
        try:
            config = self.repository.config(name)
        except RepositoryError as exc:
            log.error("model %s: %s", name, exc)
            return ModelState(config=None, problem=str(exc))
        state = ModelState(config=config)
        for entry in self.repository.versions(name):
            if entry.problem:
                log.error("model %s version %d not loaded: %s", name, entry.version, entry.problem)
                state.failed[entry.version] = entry.problem
                continue
            try:
                state.versions[entry.version] = self._load_version(config, entry)
            except Exception as exc:  # noqa: BLE001 - a broken file must not stop the others loading
                log.error("model %s version %d failed to load: %s", name, entry.version, exc)
                state.failed[entry.version] = f"failed to load: {exc}"
        if not state.versions and not state.failed:
            state.problem = f"no version built yet: run `python -m training {name}`"
            log.warning("model %s: %s", name, state.problem)
        elif not state.versions:
            state.problem = "no loadable version"
            log.error("model %s has no loadable version", name)
        return state

    def _load_version(self, config: ModelConfig, entry: VersionEntry) -> LoadedModel:
        started = time.perf_counter()
        runtime = OnnxModel(entry.model_path, self.threads)
        expected = [spec.name for spec in config.inputs]
        if runtime.input_names != expected:
            raise RepositoryError(f"ONNX inputs {runtime.input_names} do not match config.json {expected}")
        tokenizer = Tokenizer.load(entry.path / "vocab.json") if config.preprocessing == "text" else None
        model = LoadedModel(config, entry, runtime, tokenizer)
        warm_up(model)
        seconds = time.perf_counter() - started
        log.info("loaded %s version %d in %.3fs (weights: %s)", config.name, entry.version, seconds,
                 entry.metadata.get("weights", "unknown"))
        if model.warning:
            log.warning(model.warning)
        if self.on_loaded:
            self.on_loaded(model, seconds)
        return model

    @property
    def ready(self) -> bool:
        """Ready once every model has been loaded and warmed.

        A model whose versions all failed, or whose config is broken, keeps the server not ready;
        a model that was never built (no version directory, e.g. resnet50 without weights) is
        reported but does not.
        """
        return self.loaded and all(
            state.versions or (state.config is not None and not state.failed)
            for state in self.models.values()
        )

    def state(self, name: str) -> ModelState:
        state = self.models.get(name)
        if state is None:
            raise ModelNotFound(f"model '{name}' not found")
        return state

    def get(self, name: str, version: str | int | None = None) -> LoadedModel:
        """The requested version, or the default (highest loaded) one."""
        state = self.state(name)
        if version is None or version == "":
            if state.default_version is None:
                raise ModelNotReady(f"model '{name}' has no loaded version: {state.problem}")
            return state.versions[state.default_version]
        number = parse_version(version)
        if number in state.versions:
            return state.versions[number]
        if number in state.failed:
            raise ModelNotReady(f"model '{name}' version {number} is not available: {state.failed[number]}")
        raise ModelNotFound(f"model '{name}' has no version {version}")


def parse_version(version: str | int) -> int:
    text = str(version)
    if not text.isdigit() or int(text) < 1:
        raise ModelNotFound(f"version '{text}' not found: versions are positive integers")
    return int(text)
