"""What a model card shows of a classifier, computed where it is trained: its curves per epoch, and
on its labelled test split the confusion matrix, per-class precision and recall, and calibration
(does 0.9 confidence mean right 9 times in 10?). Plain numbers, stored in metadata.json."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

CALIBRATION_BINS = 10


def curves(history: Mapping[str, Sequence[float]], validation: str) -> dict[str, Any]:
    """Keras' History.history (loss, accuracy, val_loss, val_accuracy per epoch), rounded; `validation`
    says what the val_ curves were measured on."""
    return {"validation": validation, **{name: [round(float(v), 4) for v in values] for name, values in history.items()}}


def classification(y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str], split: str) -> dict[str, Any]:
    y_true = np.asarray(y_true).astype(int)
    predicted = probabilities.argmax(1)
    confidence = probabilities.max(1)
    classes = len(labels)
    confusion = np.zeros((classes, classes), dtype=int)
    np.add.at(confusion, (y_true, predicted), 1)
    per_class = []
    for index, label in enumerate(labels):
        hits, said, actual = confusion[index, index], confusion[:, index].sum(), confusion[index].sum()
        per_class.append({"label": label, "precision": round(float(hits / said), 4) if said else None,
                          "recall": round(float(hits / actual), 4) if actual else None, "support": int(actual)})
    return {"split": split, "items": int(len(y_true)), "labels": list(labels), "confusion": confusion.tolist(),
            "per_class": per_class, "calibration": calibration(confidence, predicted == y_true)}


def calibration(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Equal-width confidence bins: how many items, their mean confidence, how many were right; and
    the expected calibration error (the bins' |accuracy - confidence|, weighted by their size)."""
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    bins, error = [], 0.0
    for index in range(CALIBRATION_BINS):
        inside = which == index
        count = int(inside.sum())
        if count:
            mean_confidence, accuracy = float(confidence[inside].mean()), float(correct[inside].mean())
            error += count / len(confidence) * abs(accuracy - mean_confidence)
        bins.append({"from": round(float(edges[index]), 2), "to": round(float(edges[index + 1]), 2), "count": count,
                     "confidence": round(mean_confidence, 4) if count else None,
                     "accuracy": round(accuracy, 4) if count else None})
    return {"bins": bins, "expected_calibration_error": round(error, 4)}
