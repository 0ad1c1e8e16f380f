"""Model probabilities -> labelled predictions (V1, the batch script, and its --url client)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from service.errors import InvalidInput, shown
from service.registry import LoadedModel


def class_count(model: LoadedModel) -> int:
    return len(model.config.labels) or int(model.config.outputs[0].shape[-1])


def resolve_top_k(model: LoadedModel, requested: Any, default: int) -> int:
    classes = class_count(model)
    if requested is None:
        return min(model.config.top_k, default, classes)
    k = _whole_number(requested)
    if k is None:
        raise InvalidInput(f"top_k must be a whole number, got {shown(requested)}")
    if not 1 <= k <= classes:
        raise InvalidInput(f"top_k must be between 1 and {classes}, got {k}")
    return k


def _whole_number(value: Any) -> int | None:
    """A JSON integer or a query string of ASCII digits; not 2.7, true, Infinity or "٣"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and 0 < len(value) <= 9 and value.isascii() and value.isdigit():
        return int(value)
    return None


@dataclass(frozen=True)
class Labeller:
    """Probabilities -> a labelled prediction, for one model and k. Plain data, so the batch
    script can hand it to its writer process (and its --url client can build one from metadata)."""

    labels: Sequence[str]
    task: str
    k: int

    @classmethod
    def of(cls, model: LoadedModel, k: int) -> "Labeller":
        return cls(model.config.labels, model.config.task, k)

    def __call__(self, probabilities: np.ndarray) -> dict[str, Any]:
        return labelled(self.labels, self.task, probabilities, self.k)


def labelled(labels: Sequence[str], task: str, probabilities: np.ndarray, k: int) -> dict[str, Any]:
    """Image models: the best class and the top-k. Text models: the label and every class's probability."""
    name = lambda i: labels[i] if i < len(labels) else str(i)  # noqa: E731
    if task == "text_classification":  # few classes: every one is reported, no sort needed
        values = [round(p, 6) for p in probabilities.tolist()]
        best = int(np.argmax(probabilities))
        return {"label": name(best), "class_id": best, "probability": values[best],
                "probabilities": {name(i): p for i, p in enumerate(values)}}
    # Only the top k are rounded: rounding all 1,000 ImageNet classes cost 0.35 ms an image.
    order = np.argsort(-probabilities, kind="stable")[:k].tolist()
    top = [{"label": name(i), "class_id": i, "probability": round(float(probabilities[i]), 6)} for i in order]
    return {**top[0], "top_k": top}
