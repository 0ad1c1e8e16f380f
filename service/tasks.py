"""What each kind of model does with its outputs: the one seam between the dataplane and a task.

A task turns a request's options into its own (top_k; detection thresholds), a batch's raw outputs
into per-item results, results into V2 tensors, and gives the per-item formatter that V1 and the
batch script share. A new task is a new class here and a codec, not a branch in every route.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Protocol

import numpy as np

from service.codecs.detections import DetectionFormatter, DetectionOptions, v2_outputs
from service.codecs.predictions import Labeller, resolve_top_k
from service.codecs.tensor import encode_tensor
from service.inputs import Prepared
from service.protocol import ResponseOutput
from service.registry import LoadedModel
from service.settings import Settings


class Task(Protocol):
    def options(self, model: LoadedModel, given: Mapping[str, Any], settings: Settings) -> Any: ...

    def results(self, model: LoadedModel, outputs: Mapping[str, np.ndarray], prepared: Prepared,
                options: Any) -> Any: ...

    def v2(self, model: LoadedModel, results: Any) -> list[ResponseOutput]: ...

    def formatter(self, model: LoadedModel, options: Any) -> Any: ...

    def describe(self, options: Any) -> dict[str, Any]: ...


class Classification:
    """Probabilities per class: V1 labels the top k (or every class of a text model)."""

    def options(self, model: LoadedModel, given: Mapping[str, Any], settings: Settings) -> int:
        return resolve_top_k(model, given.get("top_k"), settings.top_k)

    def results(self, model: LoadedModel, outputs: Mapping[str, np.ndarray], prepared: Prepared,
                options: Any) -> np.ndarray:
        return outputs[model.config.outputs[0].name]

    def v2(self, model: LoadedModel, results: np.ndarray) -> list[ResponseOutput]:
        return [encode_tensor(model.config.outputs[0].name, results)]

    def formatter(self, model: LoadedModel, k: int) -> Labeller:
        return Labeller.of(model, k)

    def describe(self, k: int) -> dict[str, Any]:
        return {"top_k": k}


class Detection:
    """Boxes in the original image's pixels, after decoding and class-wise NMS."""

    def options(self, model: LoadedModel, given: Mapping[str, Any], settings: Settings) -> DetectionOptions:
        return model.config.detection.given(given)

    def results(self, model: LoadedModel, outputs: Mapping[str, np.ndarray], prepared: Prepared,
                options: DetectionOptions) -> list:
        return model.decoder.detect(outputs, prepared.sizes, options)

    def v2(self, model: LoadedModel, results: list) -> list[ResponseOutput]:
        return v2_outputs(results)

    def formatter(self, model: LoadedModel, options: Any) -> DetectionFormatter:
        return DetectionFormatter(model.config.labels)

    def describe(self, options: DetectionOptions) -> dict[str, Any]:
        return {"detection": dataclasses.asdict(options)}


TASKS: dict[str, Task] = {
    "image_classification": Classification(),
    "text_classification": Classification(),
    "object_detection": Detection(),
}


def task_of(model: LoadedModel) -> Task:
    return TASKS[model.config.task]
