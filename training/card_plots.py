"""The model card's plots, small SVGs (text kept as text): training curves, a confusion matrix, a
reliability diagram. Deterministic output (no date, fixed ids), so a rebuild changes nothing it need not."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "axon-card", "font.size": 9})
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="svg", metadata={"Date": None})
    _pyplot().close(figure)
    svg = path.read_text()  # without its RDF block (creator, format): the drawing alone
    path.write_text(re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S))


def training_curves(history: dict[str, Any], path: Path) -> None:
    """Loss and accuracy per epoch: training solid, validation dashed (whichever were recorded)."""
    plt = _pyplot()
    panels = [name for name in ("loss", "accuracy") if name in history or f"val_{name}" in history]
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.6), squeeze=False)
    for axis, name in zip(axes[0], panels):
        for key, style, who in ((name, "-", "training"), (f"val_{name}", "--", "held-out")):
            values = history.get(key)
            if values:
                axis.plot(range(1, len(values) + 1), values, style, marker="o", markersize=3, label=who)
        axis.set_xlabel("epoch")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    _save(figure, path)


def confusion_matrix(evaluation: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    labels, matrix = evaluation["labels"], evaluation["confusion"]
    size = 1.2 + 0.32 * len(labels)
    figure, axis = plt.subplots(figsize=(size + 0.8, size))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=45 if max(map(len, labels)) > 2 else 0)
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    peak = max(max(row) for row in matrix)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                axis.text(j, i, str(count), ha="center", va="center", fontsize=7,
                          color="white" if count > peak / 2 else "black")
    figure.colorbar(image, ax=axis, shrink=0.8)
    _save(figure, path)


def reliability_diagram(calibration: dict[str, Any], path: Path) -> None:
    """Per confidence bin, how often the top class was right (bars) against the diagonal (perfect)."""
    plt = _pyplot()
    bins = [b for b in calibration["bins"] if b["count"]]
    figure, axis = plt.subplots(figsize=(3.4, 3.0))
    axis.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    axis.bar([(b["from"] + b["to"]) / 2 for b in bins], [b["accuracy"] for b in bins], width=0.09,
             edgecolor="black", label="accuracy in the bin")
    axis.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="#e6194b", markersize=3,
              label="mean confidence")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("confidence (top-class probability)")
    axis.set_ylabel("accuracy")
    axis.set_title(f"ECE {calibration['expected_calibration_error']:.3f}")
    axis.legend(fontsize=7, loc="upper left")
    _save(figure, path)
