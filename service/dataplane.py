"""The business logic behind every route and the batch script: registry -> codecs -> runtime -> codecs.

Callable without Flask: `DataPlane(registry, settings).predict("mnist", None, [png_bytes])`.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any, ContextManager, Sequence

import numpy as np

from service import inputs
from service.batching import Batcher
from service.codecs.image import DecodingGate, b64decode
from service.codecs.predictions import Labeller, resolve_top_k
from service.codecs.tensor import decode_bytes, decode_tensor, encode_tensor
from service.errors import InvalidInput, ModelNotReady
from service.inputs import Item
from service.metrics import Metrics
from service.protocol import InferenceRequest, InferenceResponse, RequestInput
from service.registry import LoadedModel, Registry
from service.settings import Settings

SERVER_NAME = "axon"
SERVER_VERSION = "0.1.0"


class DataPlane:
    def __init__(self, registry: Registry, settings: Settings, metrics: Metrics | None = None):
        self.registry = registry
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.decoding = DecodingGate(settings.max_decoding_pixels)  # this worker's images, across its threads

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
        config = model.config
        return {
            "name": name,
            "versions": [str(v) for v in sorted(state.versions)],
            "platform": "onnxruntime_onnx",
            "inputs": [spec.to_json() for spec in config.inputs],
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
                "top_k": resolve_top_k(model, None, self.settings.top_k),  # what /v1 answers by default
                **({"raw_input": {**config.raw_input.to_json(), "content": config.raw_input.content}}
                   if config.raw_input else {}),
                **({"warning": model.warning} if model.warning else {}),
            },
        }

    # --- inference -----------------------------------------------------------------------

    def expecting(self, model: LoadedModel) -> ContextManager:
        """Around a request's decoding, so that the model's batcher knows it is on the way."""
        batcher = self.batcher(model)
        return batcher.expecting() if batcher is not None else nullcontext()

    def run(self, model: LoadedModel, batch: np.ndarray) -> np.ndarray:
        """Probabilities for a validated batch: through the model's batcher when it has dynamic batching."""
        batcher = self.batcher(model)
        if batcher is None:
            return self.infer_now(model, batch)
        return batcher.submit(batch, self.settings.request_timeout_s)

    def batcher(self, model: LoadedModel) -> Batcher | None:
        """The model's batcher when config.json asks for dynamic batching (None: run directly)."""
        config = model.config.dynamic_batching
        if config is None:
            return None
        return model.batcher_for(lambda: Batcher(
            f"{model.name}/{model.version}", lambda batch: self.infer_now(model, batch), config,
            lambda rows, waits, depth: self.metrics.observe_batch(*model.labels, rows, waits, depth)))

    def infer_now(self, model: LoadedModel, batch: np.ndarray) -> np.ndarray:
        """One onnxruntime call, timed and counted in one place."""
        started = time.perf_counter()
        outputs = model.runtime.run({model.config.inputs[0].name: batch})
        self.metrics.inference_seconds.labels(*model.labels).observe(time.perf_counter() - started)
        self.metrics.inference_items.labels(*model.labels).inc(len(batch))
        return outputs[model.config.outputs[0].name]

    def infer(self, name: str, version: str | None, request: InferenceRequest) -> InferenceResponse:
        """Open Inference Protocol infer: one input tensor (numeric, or BYTES of encoded images)."""
        model = self.registry.get(name, version)
        if len(request.inputs) != 1:
            raise InvalidInput(f"model '{name}' takes exactly one input, got {len(request.inputs)}")
        output_name = model.config.outputs[0].name
        if request.outputs and any(o != output_name for o in request.outputs):
            raise InvalidInput(f"model '{name}' has one output, '{output_name}'; asked for {request.outputs}")
        with self.expecting(model):
            batch = self._prepare_v2(model, request.inputs[0])
        probabilities = self.run(model, batch)
        return InferenceResponse(
            model_name=name, model_version=str(model.version), id=request.id,
            outputs=[encode_tensor(output_name, probabilities)],
            parameters={"warning": model.warning} if model.warning else {},
        )

    def _prepare_v2(self, model: LoadedModel, tensor: RequestInput) -> np.ndarray:
        expected, raw = model.config.inputs[0], model.config.raw_input
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
        return inputs.check_tensor(model, decode_tensor(tensor), self.settings)

    def predict(self, name: str, version: str | None, items: Sequence[Item],
                top_k: Any = None) -> tuple[LoadedModel, list[dict[str, Any]]]:
        """TF Serving-style predict: items in, labelled predictions out."""
        model = self.registry.get(name, version)
        label = Labeller.of(model, resolve_top_k(model, top_k, self.settings.top_k))
        with self.expecting(model):
            batch = inputs.prepare(model, items, self.settings, self.decoding)
        probabilities = self.run(model, batch)
        return model, [label(row) for row in probabilities]


def _inputs_of(model: LoadedModel) -> str:
    """The inputs a request may send, as an error message lists them."""
    tensor, raw = model.config.inputs[0], model.config.raw_input
    described = f"'{tensor.name}' ({tensor.datatype} {tensor.shape})"
    if raw is not None:
        described += f" or '{raw.name}' (BYTES: {raw.content})"
    return described
