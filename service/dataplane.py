"""The business logic behind every route and the batch script: registry -> codecs -> runtime -> codecs.

Callable without Flask: `DataPlane(registry, settings).predict("mnist", None, [png_bytes])`.
"""
from __future__ import annotations

import time
import weakref
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Mapping, Sequence

import numpy as np

from service import inputs
from service.batching import Batcher
from service.codecs.image import DecodingGate, b64decode
from service.codecs.tensor import decode_bytes, decode_tensor
from service.errors import InvalidInput, ModelNotReady, shown
from service.inputs import Item, Prepared
from service.metrics import Metrics
from service.monitoring import PredictionMonitor
from service.protocol import InferenceRequest, InferenceResponse, RequestInput
from service.registry import LoadedModel, Registry
from service.settings import Settings
from service.tasks import task_of

SERVER_NAME = "axon"
SERVER_VERSION = "0.1.0"


class DataPlane:
    def __init__(self, registry: Registry, settings: Settings, metrics: Metrics | None = None):
        self.registry = registry
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.decoding = DecodingGate(settings.max_decoding_pixels)  # this worker's images, across its threads
        self.monitor = PredictionMonitor(self.metrics)

    # --- health and metadata -------------------------------------------------------------

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": ["binary_tensor_data"]}

    def ready(self) -> bool:
        return self.registry.ready

    def model_ready(self, name: str, version: str | None = None) -> bool:
        try:
            self.registry.get(name, version)
        except ModelNotReady:
            return False
        return True

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        model = self.registry.get(name, version)
        state = self.registry.state(name)
        config, task = model.config, task_of(model)
        return {
            "name": name,
            "versions": [str(v) for v in sorted(state.versions)],
            "platform": "onnxruntime_onnx",
            "inputs": [model.input.to_json()],  # this version's own
            "outputs": [spec.to_json() for spec in config.outputs],
            "parameters": {
                "version": str(model.version),
                "default_version": str(state.default_version),
                "task": config.task,
                "description": config.description,
                "labels": config.labels,
                "weights": model.metadata.get("weights", "unknown"),
                "metrics": model.metadata.get("metrics", {}),
                "dataset": model.metadata.get("dataset", {}),
                "failed_versions": {str(v): why for v, why in state.failures().items()},
                **task.describe(task.options(model, {}, self.settings)),  # what /v1 answers by default
                **({"raw_input": {**config.raw_input.to_json(), "content": config.raw_input.content}}
                   if config.raw_input else {}),
                **({"warning": model.warning} if model.warning else {}),
                **({"card": f"/v2/models/{name}/versions/{model.version}/card"} if model.has_card else {}),
            },
        }

    # --- inference -----------------------------------------------------------------------

    def expecting(self, model: LoadedModel) -> ContextManager:
        """Around a request's decoding, so that the model's batcher knows it is on the way."""
        batcher = self.batcher(model)
        return batcher.expecting() if batcher is not None else nullcontext()

    def run(self, model: LoadedModel, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs for a validated batch: through its batcher when it has dynamic batching."""
        batcher = self.batcher(model)
        if batcher is None:
            return self.infer_now(model, batch)
        return batcher.submit(batch, self.settings.request_timeout_s)

    def batcher(self, model: LoadedModel) -> Batcher | None:
        """The model's batcher when config.json asks for dynamic batching (None: run directly)."""
        config = model.config.dynamic_batching
        if config is None:
            return None
        plane, metrics = weakref.ref(self), self.metrics  # the batcher's thread must not keep the app alive

        def run(batch: np.ndarray) -> dict[str, np.ndarray]:
            alive = plane()
            if alive is None:
                raise RuntimeError("the app this batcher served is gone")
            return alive.infer_now(model, batch)

        return model.batcher_for(lambda: Batcher(
            f"{model.name}/{model.version}", run, config,
            lambda rows, waits, depth: metrics.observe_batch(*model.labels, rows, waits, depth)))

    def infer_now(self, model: LoadedModel, batch: np.ndarray) -> dict[str, np.ndarray]:
        """One onnxruntime call, timed and counted in one place: every output, by name."""
        started = time.perf_counter()
        outputs = model.runtime.run({model.input.name: batch})
        self.metrics.observe_inference(*model.labels, time.perf_counter() - started, len(batch))
        return outputs

    def infer(self, name: str, version: str | None, request: InferenceRequest) -> InferenceResponse:
        """Open Inference Protocol infer: one input tensor (numeric, or BYTES of encoded images or texts)."""
        model = self.registry.get(name, version)
        if len(request.inputs) != 1:
            raise InvalidInput(f"model '{name}' takes exactly one input, got {len(request.inputs)}")
        names = [spec.name for spec in model.config.outputs]
        unknown = [o for o in request.outputs or [] if o not in names]
        if unknown:
            raise InvalidInput(f"model '{name}' has no output {shown(unknown[0])}; its outputs: {', '.join(names)}")
        task = task_of(model)
        options = task.options(model, request.parameters, self.settings)
        with self.expecting(model):
            prepared = self._prepare_v2(model, request.inputs[0])
        results = task.results(model, self.run(model, prepared.batch), prepared, options)
        self.monitor.observe(model, task.observed(results), prepared.sizes)
        outputs = task.v2(model, results)
        if request.outputs:
            outputs = [output for output in outputs if output.name in request.outputs]
        parameters = {"warning": model.warning} if model.warning else {}
        cut = [i for i in range(len(prepared)) if prepared.note(i).get("truncated")]
        if cut:  # texts longer than the model reads: which ones, never silently
            parameters["truncated"] = {"instances": cut, "tokens": [prepared.note(i)["truncated"]["tokens"] for i in cut],
                                       "kept_tokens": model.tokenizer.max_length}
        return InferenceResponse(model_name=name, model_version=str(model.version), id=request.id,
                                 outputs=outputs, parameters=parameters)

    def _prepare_v2(self, model: LoadedModel, tensor: RequestInput) -> Prepared:
        expected, raw = model.input, model.config.raw_input
        if raw is not None and tensor.name == raw.name:
            elements = decode_bytes(tensor)
            if model.tokenizer is None:  # images: base64 in JSON, raw with the binary extension
                elements = [b if isinstance(b, bytes) else b64decode(b, f"input '{tensor.name}'") for b in elements]
            return inputs.prepare(model, elements, self.settings, self.decoding)
        if tensor.name != expected.name:
            raise InvalidInput(f"model '{model.name}' has no input '{tensor.name}'; its inputs: {_inputs_of(model)}")
        if tensor.datatype != expected.datatype:
            raise InvalidInput(f"input '{tensor.name}': model '{model.name}' takes {expected.datatype}, "
                               f"got {tensor.datatype}; its inputs: {_inputs_of(model)}")
        return Prepared.of_tensor(inputs.check_tensor(model, decode_tensor(tensor), self.settings))

    def predict(self, name: str, version: str | None, items: Sequence[Item],
                given: Mapping[str, Any] | None = None) -> Prediction:
        """TF Serving-style predict: items in, one result per item out (labelled predictions, or
        detections), with the options the request gave (top_k; detection thresholds)."""
        model = self.registry.get(name, version)
        task = task_of(model)
        options = task.options(model, given or {}, self.settings)
        with self.expecting(model):
            extra = task.extra_items(options)
            if extra:  # one batch: the texts and the candidates they are ranked against
                inputs.check_batch_size(model, len(items) + len(extra), self.settings,
                                        f"{len(items)} texts and {len(extra)} candidates")
            prepared = inputs.prepare(model, [*items, *extra], self.settings, self.decoding)
        results = task.results(model, self.run(model, prepared.batch), prepared, options)
        self.monitor.observe(model, task.observed(results), prepared.sizes[: len(items)])
        notes = prepared.notes[: len(items)] if prepared.notes else None
        return Prediction(model, results, task.formatter(model, options), notes)


@dataclass(frozen=True)
class Prediction:
    """What a V1 predict found: the model that ran, each item's result, and their formatter."""

    model: LoadedModel
    results: Any
    formatter: Callable[[Any], dict[str, Any]]
    notes: list[dict[str, Any]] | None = None  # per item, said beside its result (a text that was cut)

    def records(self) -> list[dict[str, Any]]:
        notes = self.notes or [{}] * len(self.results)
        return [{**self.formatter(result), **note} for result, note in zip(self.results, notes)]

    def body(self) -> dict[str, Any]:
        """The V1 answer's content: {"predictions": [...]}, or what the task answers instead."""
        return task_of(self.model).v1_body(self.records())


def _inputs_of(model: LoadedModel) -> str:
    """The inputs a request may send, as an error message lists them."""
    tensor, raw = model.input, model.config.raw_input
    described = f"'{tensor.name}' ({tensor.datatype} {tensor.shape})"
    if raw is not None:
        described += f" or '{raw.name}' (BYTES: {raw.content})"
    return described
