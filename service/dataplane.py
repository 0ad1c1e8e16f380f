"""The business logic behind every route and the batch script: registry -> codecs -> runtime -> codecs.

Callable without Flask: `DataPlane(registry, settings).predict("mnist", None, [png_bytes])`.
"""
from __future__ import annotations

import time
from typing import Any, Sequence, Union

import numpy as np

from service.codecs.image import b64decode, image_to_array
from service.codecs.tensor import decode_bytes, decode_tensor, encode_tensor
from service.errors import InvalidInput, ModelNotReady, PayloadTooLarge
from service.metrics import Metrics
from service.protocol import InferenceRequest, InferenceResponse
from service.registry import LoadedModel, Registry
from service.settings import Settings

SERVER_NAME = "axon"
SERVER_VERSION = "0.1.0"

# One item of a V1 request or a batch run: encoded image bytes, or an array-like of numbers.
Item = Union[bytes, np.ndarray, list]


class DataPlane:
    def __init__(self, registry: Registry, settings: Settings, metrics: Metrics | None = None):
        self.registry = registry
        self.settings = settings
        self.metrics = metrics or Metrics()

    # --- health and metadata -------------------------------------------------------------

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []}

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
                "failed_versions": {str(v): why for v, why in state.failed.items()},
                **({"warning": model.warning} if model.warning else {}),
            },
        }

    # --- inference -----------------------------------------------------------------------

    def run(self, model: LoadedModel, batch: np.ndarray) -> np.ndarray:
        """One onnxruntime call, timed and counted in one place."""
        labels = (model.name, str(model.version))
        started = time.perf_counter()
        outputs = model.runtime.run({model.config.inputs[0].name: batch})
        self.metrics.inference_seconds.labels(*labels).observe(time.perf_counter() - started)
        self.metrics.inference_items.labels(*labels).inc(len(batch))
        return outputs[model.config.outputs[0].name]

    def infer(self, name: str, version: str | None, request: InferenceRequest) -> InferenceResponse:
        """Open Inference Protocol infer: one input tensor (numeric, or BYTES of encoded images)."""
        model = self.registry.get(name, version)
        if len(request.inputs) != 1:
            raise InvalidInput(f"model '{name}' takes exactly one input, got {len(request.inputs)}")
        tensor = request.inputs[0]
        if tensor.datatype == "BYTES":
            images = [b if isinstance(b, bytes) else b64decode(b, f"input '{tensor.name}'")
                      for b in decode_bytes(tensor)]
            batch = self.prepare(model, images)
        else:
            expected = model.config.inputs[0]
            if tensor.datatype != expected.datatype:
                raise InvalidInput(f"input '{tensor.name}': model '{name}' takes {expected.datatype} "
                                   f"(or BYTES images), got {tensor.datatype}")
            batch = self.check_tensor(model, decode_tensor(tensor))
        probabilities = self.run(model, batch)
        output_name = model.config.outputs[0].name
        if request.outputs and any(o != output_name for o in request.outputs):
            raise InvalidInput(f"model '{name}' has one output, '{output_name}'; asked for {request.outputs}")
        return InferenceResponse(
            model_name=name, model_version=str(model.version), id=request.id,
            outputs=[encode_tensor(output_name, probabilities)],
            parameters={"warning": model.warning} if model.warning else {},
        )

    def predict(self, name: str, version: str | None, items: Sequence[Item],
                top_k: int | None = None) -> tuple[LoadedModel, list[dict[str, Any]]]:
        """TF Serving-style predict: items in, labelled top-k predictions out."""
        model = self.registry.get(name, version)
        k = self.top_k(model, top_k)
        probabilities = self.run(model, self.prepare(model, items))
        return model, [self.label(model, row, k) for row in probabilities]

    # --- input preparation ---------------------------------------------------------------

    def prepare(self, model: LoadedModel, items: Sequence[Item]) -> np.ndarray:
        """Items (encoded images or arrays) -> one validated batch for the model."""
        if not items:
            raise InvalidInput("no instances to predict")
        self.check_batch_size(model, len(items))
        spec = model.config.inputs[0]
        item_shape = tuple(spec.shape[1:])
        rows = []
        for index, item in enumerate(items):
            where = f"instance {index}"
            if isinstance(item, (bytes, bytearray)):
                if not model.config.preprocessing:
                    raise InvalidInput(f"{where}: model '{model.name}' does not take images")
                rows.append(image_to_array(bytes(item), model.config.preprocessing,
                                           self.settings.max_image_pixels, where))
            else:
                rows.append(self._item_array(item, item_shape, where))
        return self.check_tensor(model, np.stack(rows))

    @staticmethod
    def _item_array(item: Any, item_shape: tuple, where: str) -> np.ndarray:
        try:
            array = np.asarray(item, dtype=np.float32)
        except (ValueError, TypeError, OverflowError):
            raise InvalidInput(f"{where}: expected a (nested) list of numbers of shape "
                               f"{list(item_shape)}, or an encoded image") from None
        if array.shape != item_shape and array.size == int(np.prod(item_shape)) and array.ndim == 1:
            array = array.reshape(item_shape)
        if array.shape != item_shape:
            raise InvalidInput(f"{where}: expected shape {list(item_shape)} "
                               f"(or {int(np.prod(item_shape))} values flat), got {list(array.shape)}")
        return array

    def check_batch_size(self, model: LoadedModel, size: int) -> None:
        limit = min(self.settings.max_batch_size, model.config.max_batch_size)
        if size > limit:
            raise PayloadTooLarge(f"{size} instances in one request; the limit is {limit}")

    def check_tensor(self, model: LoadedModel, batch: np.ndarray) -> np.ndarray:
        """Shape [N, *item] (a flat [N, prod(item)] is reshaped), finite, within the declared range."""
        spec = model.config.inputs[0]
        item_shape = tuple(spec.shape[1:])
        if batch.ndim == 2 and batch.shape[1] == int(np.prod(item_shape)) and batch.shape[1:] != item_shape:
            batch = batch.reshape((batch.shape[0], *item_shape))
        if batch.shape[1:] != item_shape:
            raise InvalidInput(f"input '{spec.name}': expected shape [N, {', '.join(map(str, item_shape))}], "
                               f"got {list(batch.shape)}")
        if batch.shape[0] == 0:
            raise InvalidInput(f"input '{spec.name}': the batch is empty")
        self.check_batch_size(model, batch.shape[0])
        batch = batch.astype(np.float32, copy=False)
        if not np.isfinite(batch).all():
            raise InvalidInput(f"input '{spec.name}': values must be finite numbers (no NaN, null or infinity)")
        if spec.range is not None:
            low, high = spec.range
            slack = 1e-5 * (high - low)  # float32 rounding of the range's own end points
            if batch.min() < low - slack or batch.max() > high + slack:
                raise InvalidInput(f"input '{spec.name}': values must lie in [{low}, {high}], "
                                   f"got [{batch.min():.4g}, {batch.max():.4g}]")
        return np.ascontiguousarray(batch)

    # --- output --------------------------------------------------------------------------

    def top_k(self, model: LoadedModel, requested: Any) -> int:
        classes = len(model.config.labels) or int(model.config.outputs[0].shape[-1])
        if requested is None:
            return min(model.config.top_k, self.settings.top_k, classes)
        try:
            k = int(requested)
        except (TypeError, ValueError):
            raise InvalidInput(f"top_k must be an integer, got {requested!r}") from None
        if not 1 <= k <= classes:
            raise InvalidInput(f"top_k must be between 1 and {classes}, got {k}")
        return k

    @staticmethod
    def label(model: LoadedModel, probabilities: np.ndarray, k: int) -> dict[str, Any]:
        labels = model.config.labels
        order = np.argsort(-probabilities, kind="stable")[:k]
        top = [{"label": labels[i] if i < len(labels) else str(i), "class_id": int(i),
                "probability": round(float(probabilities[i]), 6)} for i in order]
        return {**top[0], "top_k": top}
