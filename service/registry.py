"""Loaded models by (name, version): load, warm up, look up, report readiness."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np

from preprocessing.text import Tokenizer
from preprocessing.transformer_text import TransformerTokenizer
from service import host
from service.batching import Batcher
from service.codecs.detections import Decoder
from service.errors import ModelNotFound, ModelNotReady
from service.repository import ModelConfig, Repository, RepositoryError, TensorSpec, VersionEntry, version_number
from service.runtime import OnnxModel

log = logging.getLogger(__name__)
MAX_TOKENS_PER_RUN = 4096  # a transformer's rows x tokens in one onnxruntime call (see OnnxModel)
# With threads chosen per model (AXON_ORT_THREADS=0, the default), a version whose single-row run
# takes this long with all the cores' threads keeps them, without spinning, for requests served while
# no other is; while others are, it runs a second session of one thread (service/busy_workers.py).
# Measured on 2 cores (ResNet50 fp32, 2 processes): a lone run 98 -> 54 ms; both busy, 19.9 runs/s with
# two threads each, 23.9 with one, 25.0 switching. A faster one (the MNIST CNN: 0.3 ms) gets one
# thread: waking a second thread for each of its layers would cost more than it saves.
WIDE_RUN_MS = 3.0
TYPICAL_TOKENS = 64  # the text length at which a transformer's run is timed
# Making a version's batcher and retiring the version exclude each other, so that no batcher is
# made for a retired version (its thread would never be stopped). Both are rare: one lock for all.
_batchers_lock = threading.Lock()


@dataclass
class LoadedModel:
    config: ModelConfig
    entry: VersionEntry
    runtime: OnnxModel
    tokenizer: Tokenizer | TransformerTokenizer | None = None  # text models: written beside model.onnx
    decoder: Decoder | None = None  # detectors: how their outputs decode (decoder.json beside model.onnx)
    batcher: Batcher | None = None  # set on first use when config.json asks for dynamic batching
    retired: bool = False  # no longer handed out; requests that hold it still finish

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def input(self) -> TensorSpec:
        """This version's own tensor input (versions of one model may differ: sentiment's Conv1D takes
        [N, 48] token ids, its transformer [N, L] WordPiece ids), batched as the server batches it."""
        return version_input(self.config, self.entry)

    @property
    def version(self) -> int:
        return self.entry.version

    @property
    def metadata(self) -> dict[str, Any]:
        return self.entry.metadata

    @cached_property
    def has_card(self) -> bool:
        """A model card beside model.onnx (training/cards.py). Its files are in the version's signature:
        a card written later reloads the version, so this holds for as long as this one is served."""
        return (self.entry.path / "card.html").is_file()

    @cached_property
    def labels(self) -> tuple[str, str]:
        """(name, version) as metric labels (asked for several times in every request)."""
        return self.name, str(self.version)

    def batcher_for(self, make: Callable[[], Batcher]) -> Batcher | None:
        """This version's batcher, made on first use; None once the version is retired: a request
        still holding it then runs alone."""
        if self.batcher is not None:  # every request after the first: no lock
            return self.batcher
        with _batchers_lock:
            if self.batcher is None and not self.retired:
                self.batcher = make()
            return self.batcher

    def retire(self) -> None:
        """Stop handing this version out. Its batcher answers what is queued and stops; requests that
        already hold the version and submit later run alone, so none waits for a timeout."""
        with _batchers_lock:
            self.retired = True
            batcher = self.batcher
        if batcher is not None:
            threading.Thread(target=batcher.close, name=f"close-{batcher.name}", daemon=True).start()

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
    failed: dict[int, tuple[str, tuple]] = field(default_factory=dict)  # version -> (why, files' signature)
    problem: str | None = None
    unloaded: bool = False  # by the repository API (POST /v2/repository/models/<name>/unload)

    def failures(self) -> dict[int, str]:
        return {version: why for version, (why, _) in self.failed.items()}

    @property
    def default_version(self) -> int | None:
        return max(self.versions) if self.versions else None


def version_input(config: ModelConfig, entry: VersionEntry) -> TensorSpec:
    """The input metadata.json records for the version (training writes it), else config.json's; the
    value range, a serving check, comes from config.json when the names agree."""
    recorded = (entry.metadata.get("inputs") or [None])[0]
    declared = config.inputs[0]
    if not isinstance(recorded, dict) or not recorded.get("name"):
        return declared
    shape = [-1, *[int(d) for d in recorded.get("shape", [])[1:]]]
    return TensorSpec(recorded["name"], recorded.get("datatype", declared.datatype), shape,
                      declared.range if declared.name == recorded["name"] else None)


def one_run_ms(runtime: OnnxModel, spec: TensorSpec, runs: int = 3) -> float:
    """Median milliseconds of one single-row run (a text of TYPICAL_TOKENS tokens for a transformer)."""
    shape = [1] + [d if d > 0 else TYPICAL_TOKENS for d in spec.shape[1:]]
    feed = {spec.name: np.zeros(shape, dtype=spec.dtype)}
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        runtime.run(feed)
        timings.append(time.perf_counter() - started)
    return 1e3 * sorted(timings)[runs // 2]


def warm_up(model: LoadedModel) -> None:
    """One inference on zeros of the version's input shape (batch 1, unknown sizes 1), in each session."""
    spec = model.input
    model.runtime.warm_up({spec.name: np.zeros([1 if d < 0 else d for d in spec.shape], dtype=spec.dtype)})


class Registry:
    """Served models by name and version. `refresh()` brings them in line with the repository on disk:
    new versions are loaded and warmed before they become visible, removed ones stop being handed
    out (requests already holding them finish, see LoadedModel.retire), broken ones are reported and
    never served.
    """

    def __init__(self, repository: Repository, threads: int = 1,
                 on_loaded: Callable[[LoadedModel, float], None] | None = None, only: set[str] | None = None):
        """threads: onnxruntime intra-op threads of every session; 0 chooses per model (WIDE_RUN_MS)."""
        self.repository = repository
        self.threads = threads
        self.wide_threads = host.available_cores()
        self.on_loaded = on_loaded
        self.only = only  # serve just these models (the batch script loads the one it needs)
        self.models: dict[str, ModelState] = {}
        self.unloaded: frozenset[str] = frozenset()  # models an operator unloaded: not served until loaded again
        self.loaded = False
        self._lock = threading.Lock()

    def load_all(self) -> None:
        """Load and warm every valid version of every model. Failures are reported, never half-loaded."""
        self.refresh()
        self.loaded = True
        log.info("models loaded: %s", {n: sorted(s.versions) for n, s in self.models.items()})

    def refresh(self) -> None:
        """One rescan. Nothing is retired until the new map is committed, and an error while reading
        one model (its directory vanishing mid-scan, a permission) leaves that model as it was."""
        with self._lock:
            try:
                names = {n for n in self.repository.model_names() if self.only is None or n in self.only}
            except OSError as exc:
                log.error("cannot read the model repository %s, serving what was loaded: %s",
                          self.repository.root, exc)
                return
            models: dict[str, ModelState] = {}
            retired: list[LoadedModel] = []
            for name in sorted(set(self.models) - names):
                log.info("model %s disappeared from the repository: unloading", name)
                retired += self.models[name].versions.values()
            for name in sorted(names):
                old = self.models.get(name)
                if name in self.unloaded:
                    if old is not None and not old.unloaded:
                        log.info("model %s unloaded by the repository API", name)
                    retired += old.versions.values() if old else []
                    models[name] = ModelState(config=old.config if old else None, unloaded=True,
                                              problem="unloaded by the repository API")
                    continue
                if old is not None and old.unloaded:
                    log.info("model %s loaded again by the repository API", name)
                    old = None
                try:
                    models[name], gone = self._refresh_model(name, old)
                except OSError as exc:
                    log.error("model %s: rescan failed, left as it was: %s", name, exc)
                    models[name], gone = old or ModelState(config=None, problem=f"cannot read it: {exc}"), []
                retired += gone
            self.models = models  # one assignment: readers see the old set or the new one
        for model in retired:
            model.retire()

    def _refresh_model(self, name: str, old: ModelState | None) -> tuple[ModelState, list[LoadedModel]]:
        """The model's new state, and the versions it no longer serves (retired once committed)."""
        try:
            signature = self.repository.config_signature(name)
            if old is not None and old.config is not None and old.config.signature == signature:
                config = old.config
            else:
                config = self.repository.config(name)
        except (RepositoryError, OSError) as exc:
            if old is None or old.problem != str(exc):
                log.error("model %s: %s", name, exc)
            if old is not None and old.versions:
                return old, []  # a broken edit of config.json leaves the served versions serving
            return ModelState(config=None, problem=str(exc)), []
        retired: list[LoadedModel] = []
        entries = {e.version: e for e in self.repository.versions(name)}
        if old is not None and old.config is not config:
            log.info("model %s: config.json changed, reloading its versions", name)
            retired += old.versions.values()
            old = None
        served = dict(old.versions) if old else {}
        failed = dict(old.failed) if old else {}
        wanted = config.version_policy.select(list(entries))

        for version in sorted(set(served)):
            entry = entries.get(version)
            if version not in wanted or entry is None or entry.signature != served[version].entry.signature:
                log.info("model %s version %d removed or replaced: unloading", name, version)
                retired.append(served.pop(version))
        for version in sorted(wanted - set(served)):
            entry = entries[version]
            if version in failed and failed[version][1] == entry.signature:
                continue  # same broken files as last time: already reported
            if entry.problem:
                log.error("model %s version %d not loaded: %s", name, version, entry.problem)
                failed[version] = (entry.problem, entry.signature)
                continue
            try:
                served[version] = self._load_version(config, entry)
                failed.pop(version, None)
            except Exception as exc:  # noqa: BLE001 - a broken file must not stop the others loading
                log.error("model %s version %d failed to load, not served: %s", name, version, exc)
                failed[version] = (f"failed to load: {exc}", entry.signature)
        failed = {v: why for v, why in failed.items() if v in entries}
        state = ModelState(config=config, versions=served, failed=failed)
        if not served and not failed:
            state.problem = f"no version built yet: run `python -m training {name}`"
            if old is None:
                log.warning("model %s: %s", name, state.problem)
        elif not served:
            state.problem = "no loadable version"
        return state, retired

    def _load_version(self, config: ModelConfig, entry: VersionEntry) -> LoadedModel:
        started = time.perf_counter()
        spec = version_input(config, entry)
        sequences = config.preprocessing == "text" and -1 in spec.shape[1:]  # a transformer's token ids
        max_tokens = MAX_TOKENS_PER_RUN if sequences else None
        choose = self.threads == 0 and self.wide_threads > 1  # per model: all the cores for a slow one
        if choose:
            runtime = OnnxModel(entry.model_path, self.wide_threads, max_tokens, spinning=False)
        else:
            runtime = OnnxModel(entry.model_path, self.threads or 1, max_tokens)
        expected = [spec.name]
        if runtime.input_names != expected:
            raise RepositoryError(f"ONNX inputs {runtime.input_names} do not match the version's {expected}")
        if choose and one_run_ms(runtime, spec) < WIDE_RUN_MS:
            runtime = OnnxModel(entry.model_path, 1, max_tokens)  # a fast model: small, cheap to make again
        elif choose:
            runtime.add_busy_session()  # a slow one: one thread while other requests are served
        tokenizer = load_tokenizer(entry.path) if config.preprocessing == "text" else None
        decoder = Decoder.load(entry.path / "decoder.json") if config.task == "object_detection" else None
        model = LoadedModel(config, entry, runtime, tokenizer, decoder)
        warm_up(model)
        seconds = time.perf_counter() - started
        log.info("loaded %s version %d in %.3fs, %d onnxruntime thread(s)%s (weights: %s)", config.name, entry.version,
                 seconds, runtime.threads, ", 1 while other requests are served" if runtime.busy_session else "",
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
            state.versions or state.unloaded or (state.config is not None and not state.failed)
            for state in self.models.values()
        )

    def set_unloaded(self, names: frozenset[str]) -> None:
        """Serve none of `names` (their versions are retired) and every other model again: one rescan."""
        self.unloaded = frozenset(names)
        self.refresh()

    def state(self, name: str) -> ModelState:
        state = self.models.get(name)
        if state is None:
            raise ModelNotFound(f"model '{name}' not found")
        return state

    def get(self, name: str, version: str | int | None = None) -> LoadedModel:
        """The requested version, or the default (highest loaded) one."""
        state = self.state(name)
        if state.unloaded:
            raise ModelNotReady(f"model '{name}' was unloaded (POST /v2/repository/models/{name}/load loads it again)")
        if version is None or version == "":
            if state.default_version is None:
                raise ModelNotReady(f"model '{name}' has no loaded version: {state.problem}")
            return state.versions[state.default_version]
        number = parse_version(version)
        if number in state.versions:
            return state.versions[number]
        if number in state.failed:
            raise ModelNotReady(f"model '{name}' version {number} is not available: {state.failed[number][0]}")
        raise ModelNotFound(f"model '{name}' has no version {version}")


def load_tokenizer(directory: Path) -> Tokenizer | TransformerTokenizer:
    """A version's own tokenizer: a transformer's tokenizer.json (Hugging Face tokenizers), or the
    word vocabulary (vocab.json) of the models trained here from scratch."""
    if (directory / "tokenizer.json").is_file():
        return TransformerTokenizer(directory / "tokenizer.json")
    return Tokenizer.load(directory / "vocab.json")


def parse_version(version: str | int) -> int:
    """A client's version: the same rule as the directories on disk (repository.version_number)."""
    number = version_number(str(version))
    if number is None:
        raise ModelNotFound(f"version '{version}' not found: versions are positive integers (1, 2, ...)")
    return number
