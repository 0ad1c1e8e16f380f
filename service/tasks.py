"""What each kind of model does with its outputs: the one seam between the dataplane and a task.

A task turns a request's options into its own (top_k; detection thresholds), a batch's raw outputs
into per-item results, results into V2 tensors, and gives the per-item formatter that V1 and the
batch script share. A new task is a new class here and a codec, not a branch in every route.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import numpy as np

from service.codecs.detections import DetectionFormatter, DetectionOptions, v2_outputs
from service.codecs.predictions import Labeller, resolve_top_k
from service.codecs.tensor import encode_tensor
from service.errors import InvalidInput
from service.inputs import Prepared
from service.monitoring import Observed
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

    def extra_items(self, options: Any) -> list[Any]: ...  # items the task adds to a request (candidates)

    def v1_body(self, records: list[dict[str, Any]]) -> dict[str, Any]: ...

    def observed(self, results: Any) -> Observed | None: ...  # what prediction monitoring counts


class TaskBase:
    def extra_items(self, options: Any) -> list[Any]:
        return []

    def observed(self, results: Any) -> Observed | None:
        return None

    def v1_body(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"predictions": records}


class Classification(TaskBase):
    """Probabilities per class: V1 labels the top k (or every class of a text model)."""

    def options(self, model: LoadedModel, given: Mapping[str, Any], settings: Settings) -> int:
        return resolve_top_k(model, given.get("top_k"), settings.top_k)

    def results(self, model: LoadedModel, outputs: Mapping[str, np.ndarray], prepared: Prepared,
                options: Any) -> np.ndarray:
        return outputs[model.config.outputs[0].name]

    def v2(self, model: LoadedModel, results: np.ndarray) -> list[ResponseOutput]:
        return [encode_tensor(model.config.outputs[0].name, results)]

    def observed(self, results: np.ndarray) -> Observed:
        return Observed(results.max(axis=1), results.argmax(axis=1))

    def formatter(self, model: LoadedModel, k: int) -> Labeller:
        return Labeller.of(model, k)

    def describe(self, k: int) -> dict[str, Any]:
        return {"top_k": k}


class Detection(TaskBase):
    """Boxes in the original image's pixels, after decoding and class-wise NMS."""

    def options(self, model: LoadedModel, given: Mapping[str, Any], settings: Settings) -> DetectionOptions:
        return model.config.detection.given(given)

    def results(self, model: LoadedModel, outputs: Mapping[str, np.ndarray], prepared: Prepared,
                options: DetectionOptions) -> list:
        return model.decoder.detect(outputs, prepared.sizes, options)

    def v2(self, model: LoadedModel, results: list) -> list[ResponseOutput]:
        return v2_outputs(results)

    def observed(self, results: list) -> Observed:
        return Observed(np.concatenate([np.asarray(d.scores, np.float32).ravel() for d in results] or [np.zeros(0)]),
                        np.concatenate([np.asarray(d.classes, np.int64).ravel() for d in results] or [np.zeros(0, np.int64)]),
                        [len(d.scores) for d in results])

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


@dataclass(frozen=True)
class EmbeddingOptions:
    candidates: tuple[str, ...] = ()  # rank these by cosine similarity to each text


@dataclass(frozen=True)
class EmbeddingFormatter:
    """A unit vector -> {"embedding": [...]}; with candidates, a ranking -> {"ranked": [...]}."""

    candidates: tuple[str, ...] = ()

    def __call__(self, result: Any) -> dict[str, Any]:
        if not self.candidates:
            return {"embedding": [round(float(v), 6) for v in result]}
        order = np.argsort(-result, kind="stable")
        return {"ranked": [{"candidate": self.candidates[j], "index": int(j), "score": round(float(result[j]), 6)}
                           for j in order]}


class Embedding(TaskBase):
    """Sentence embeddings (unit vectors); with `candidates`, each text's candidates ranked by cosine."""

    def options(self, model: LoadedModel, given: Mapping[str, Any], settings: Settings) -> EmbeddingOptions:
        candidates = given.get("candidates")
        if candidates is None:
            return EmbeddingOptions()
        if not isinstance(candidates, list) or not candidates or not all(isinstance(c, str) for c in candidates):
            raise InvalidInput("candidates must be a non-empty list of texts")
        empty = [i for i, candidate in enumerate(candidates) if not candidate.strip()]
        if empty:
            raise InvalidInput(f"candidate {empty[0]} is empty")
        return EmbeddingOptions(tuple(candidates))

    def extra_items(self, options: EmbeddingOptions) -> list[str]:
        return list(options.candidates)

    def results(self, model: LoadedModel, outputs: Mapping[str, np.ndarray], prepared: Prepared,
                options: EmbeddingOptions) -> np.ndarray:
        vectors = outputs[model.config.outputs[0].name]
        if not options.candidates:
            return vectors
        texts, candidates = vectors[: -len(options.candidates)], vectors[-len(options.candidates):]
        return texts @ candidates.T  # unit vectors: cosine similarities [texts, candidates]

    def v2(self, model: LoadedModel, results: np.ndarray) -> list[ResponseOutput]:
        return [encode_tensor(model.config.outputs[0].name, results)]

    def formatter(self, model: LoadedModel, options: EmbeddingOptions) -> EmbeddingFormatter:
        return EmbeddingFormatter(options.candidates)

    def describe(self, options: EmbeddingOptions) -> dict[str, Any]:
        return {}

    def v1_body(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        if records and "embedding" in records[0]:
            body: dict[str, Any] = {"embeddings": [r["embedding"] for r in records]}
            cut = [i for i, r in enumerate(records) if r.get("truncated")]
            if cut:  # as V2 says it: which texts, their lengths, what the model read
                body["truncated"] = {"instances": cut, "tokens": [records[i]["truncated"]["tokens"] for i in cut],
                                     "kept_tokens": records[cut[0]]["truncated"]["kept"]}
            return body
        return {"predictions": records}


TASKS["sentence_embedding"] = Embedding()
