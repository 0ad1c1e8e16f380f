"""Two ways to run the batch: in-process (the service's own registry, codecs and runtime) or a
running server over the Open Inference Protocol (--url).

Each backend has three parts, so that the work can be spread over processes: a preparer (decoding
and validation, picklable, run in the decode workers), infer (the parent, a whole batch at once)
and a labeller (picklable, run in the writer process).
"""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any

import numpy as np

from service import inputs
from service.codecs.detections import DetectionFormatter
from service.codecs.predictions import Labeller
from service.dataplane import DataPlane
from service.errors import AxonError
from service.inputs import Prepared
from preprocessing.detection import Detections
from service.registry import LoadedModel, Registry
from service.repository import Repository
from service.settings import Settings
from service.tasks import EmbeddingFormatter, task_of


class BatchRejected(Exception):
    """The server refused a whole batch (a bad item inside): retry the items one by one."""


class LocalPreparer:
    """Decoding and validation for one model, as the server does it. It holds the model without
    its onnxruntime session (decoding needs only the config and tokenizer), so it is cheap to send
    to a decode worker."""

    def __init__(self, model: LoadedModel, settings: Settings):
        self.model = replace(model, runtime=None, batcher=None)
        self.settings = settings
        self.group_size = inputs.batch_limit(model, settings)
        spec = model.input
        shape = tuple(spec.shape[1:])
        self.item_shape = shape if all(size > 0 for size in shape) else None  # None: sizes vary
        self.dtype = spec.dtype

    def prepare(self, value: Any) -> Prepared:
        try:
            return inputs.prepare(self.model, [value], self.settings)
        except AxonError as exc:
            exc.message = exc.message.removeprefix("instance 0: ")  # one item at a time: no index to give
            raise

    def prepare_many(self, values: list[Any]) -> Prepared:
        return inputs.prepare(self.model, values, self.settings)


class LocalBackend:
    def __init__(self, settings: Settings, name: str, version: str | None, threads: int,
                 given: dict[str, Any] | None = None):
        registry = Registry(Repository.at(settings.model_dir, settings.model_name), threads, only={name})
        registry.load_all()
        self.model = registry.get(name, version)  # ModelNotFound / ModelNotReady: reported by the CLI
        self.dataplane = DataPlane(registry, settings)
        self.name, self.version = self.model.name, str(self.model.version)
        self.preparer = LocalPreparer(self.model, settings)
        self.task = task_of(self.model)
        self.options = self.task.options(self.model, given or {}, settings)  # top_k; detection thresholds
        self.labeller = self.task.formatter(self.model, self.options)

    def infer(self, prepared: Prepared) -> tuple[Any, list[dict]]:
        """Each item's result (probabilities, detections in its image's pixels, an embedding) and
        its notes (a text cut to the model's length)."""
        outputs = self.dataplane.infer_now(self.model, prepared.batch)
        results = self.task.results(self.model, outputs, prepared, self.options)
        return results, [prepared.note(i) for i in range(len(prepared))]


class HttpPreparer:
    """Values as the V2 protocol carries them: the server decodes."""

    group_size = 1 << 30  # the server says if a batch is too large
    item_shape = dtype = None

    def prepare(self, value: Any) -> list[Any]:
        if isinstance(value, bytes):
            return [base64.b64encode(value).decode()]
        if isinstance(value, np.ndarray):
            return [value.ravel().tolist()]  # its own numbers: the server checks them against the datatype
        return [value]

    def prepare_many(self, values: list[Any]) -> list[Any]:
        return [prepared for value in values for prepared in self.prepare(value)]


class HttpBackend:
    """The same work sent to a running Axon (or any V2 server that takes these inputs). Everything
    a local run takes from the model (input names and datatype, labels, the default top-k, the
    detection defaults) is read from the server's model metadata, so that both runs write the same
    records."""

    def __init__(self, url: str, name: str, version: str | None, given: dict[str, Any] | None = None,
                 timeout_s: float = 120):
        self.base = url.rstrip("/")
        self.timeout_s = timeout_s
        path = f"/v2/models/{name}" + (f"/versions/{version}" if version else "")
        metadata = self._call("GET", path)
        parameters = metadata.get("parameters", {})
        self.name, self.version = name, parameters.get("version", version or "")
        self.infer_path = f"/v2/models/{name}/versions/{self.version}/infer"
        labels = parameters.get("labels", [])
        given = {key: value for key, value in (given or {}).items() if value is not None}
        self.detector = parameters.get("task") == "object_detection"
        self.parameters = {k: v for k, v in given.items() if k != "top_k"} if self.detector else {}
        if self.detector:
            self.labeller: Any = DetectionFormatter(labels)
        elif parameters.get("task") == "sentence_embedding":
            self.labeller = EmbeddingFormatter()
        else:
            classes = len(labels) or int(metadata["outputs"][0]["shape"][-1])
            k = given.get("top_k", int(parameters.get("top_k", 5)))
            if not 1 <= k <= classes:
                raise RuntimeError(f"--top-k must be between 1 and {classes}, got {k}")
            self.labeller = Labeller(labels, parameters.get("task", ""), k)
        self.input = metadata["inputs"][0]
        self.raw_input = parameters.get("raw_input", {}).get("name")
        self.preparer = HttpPreparer()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            message = json.loads(exc.read() or b"{}").get("error", exc.reason)
            if 400 <= exc.code < 500 and method == "POST":
                raise BatchRejected(message) from None
            raise RuntimeError(f"{method} {path}: {exc.code} {message}") from None
        except urllib.error.URLError as exc:
            raise RuntimeError(f"cannot reach {self.base}: {exc.reason}") from None

    def infer(self, prepared: list[Any]) -> tuple[Any, list[dict]]:
        """Each item's result and notes, as a local run gives them (probabilities, detections, an
        embedding; a text that was cut)."""
        if isinstance(prepared[0], list):  # arrays: the model's own tensor, its name and datatype
            shape = [len(prepared), *[d for d in self.input["shape"][1:]]]
            tensor = {"name": self.input["name"], "shape": shape, "datatype": self.input["datatype"],
                      "data": [v for row in prepared for v in row]}
        else:  # images (base64) and texts: the input the server decodes itself
            if self.raw_input is None:
                raise BatchRejected(f"model '{self.name}' takes only {self.input['datatype']} arrays")
            tensor = {"name": self.raw_input, "shape": [len(prepared)], "datatype": "BYTES", "data": prepared}
        body = {"inputs": [tensor], **({"parameters": self.parameters} if self.parameters else {})}
        response = self._call("POST", self.infer_path, body)
        outputs = {o["name"]: np.asarray(o["data"]).reshape(o["shape"]) for o in response["outputs"]}
        notes = truncation_notes(response.get("parameters", {}), len(prepared))
        if not self.detector:
            return next(iter(outputs.values())).astype(np.float32), notes
        return [Detections(outputs["boxes"][i, :count].astype(np.float64), outputs["scores"][i, :count].astype(np.float64),
                           outputs["classes"][i, :count].astype(np.int64)) for i, count in enumerate(outputs["count"])], notes


def truncation_notes(parameters: dict[str, Any], count: int) -> list[dict]:
    """A V2 response's parameters.truncated, as each item's note (what a local run writes)."""
    notes: list[dict] = [{} for _ in range(count)]
    cut = parameters.get("truncated") or {}
    for index, tokens in zip(cut.get("instances", []), cut.get("tokens", [])):
        notes[index] = {"truncated": {"tokens": tokens, "kept": cut.get("kept_tokens")}}
    return notes


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, AxonError):
        return exc.message
    if isinstance(exc, BatchRejected):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
