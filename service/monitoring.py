"""Prediction monitoring: per model and version, how sure the model is, which classes it predicts,
and how large the images it is sent are (Prometheus metrics, service/metrics.py).

Labels stay few: a class is a label value only for models with at most MAX_CLASS_LABELS classes
(MNIST's 10, sentiment's 3, COCO's 80); ImageNet's 1,000 are counted by class-id range ("0-99",
"100-199", ...: ten series per version, WordNet order keeps related classes together), and the
exact top classes of a day's traffic are the batch script's or the access log's to tell.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from service.metrics import Metrics
from service.registry import LoadedModel

MAX_CLASS_LABELS = 100
RANGE = 100  # class ids per counted range, for models with more classes than MAX_CLASS_LABELS


@dataclass(frozen=True)
class Observed:
    """What one batch's results say: a confidence and a class per item or box, boxes per image."""

    confidences: np.ndarray
    classes: np.ndarray
    per_image: list[int] | None = None  # detectors


def class_name(labels: Sequence[str], class_id: int) -> str:
    if len(labels) > MAX_CLASS_LABELS:
        low = class_id // RANGE * RANGE
        return f"{low}-{low + RANGE - 1}"
    return labels[class_id] if 0 <= class_id < len(labels) else str(class_id)


class PredictionMonitor:
    def __init__(self, metrics: Metrics):
        self.metrics = metrics
        self._children: dict[tuple, Any] = {}  # labelled children, kept: labels() costs more than an update

    def observe(self, model: LoadedModel, observed: Observed | None, sizes: Sequence[tuple[int, int] | None]) -> None:
        for size in sizes:
            if size is not None:
                self._child(self.metrics.input_pixels, model.labels).observe(size[0] * size[1])
        if observed is None:
            return
        confidence = self._child(self.metrics.prediction_confidence, model.labels)
        for value in observed.confidences.tolist():
            confidence.observe(value)
        for class_id in observed.classes.tolist():
            key = (*model.labels, class_id)
            counter = self._children.get(key)
            if counter is None:
                counter = self._children[key] = self.metrics.predicted_classes.labels(
                    *model.labels, class_name(model.config.labels, class_id))
            counter.inc()
        if observed.per_image is not None:
            boxes = self._child(self.metrics.detections_per_image, model.labels)
            for count in observed.per_image:
                boxes.observe(count)

    def _child(self, metric: Any, labels: tuple[str, str]) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child
