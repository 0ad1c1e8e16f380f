"""python -m training.cards [--models models] [--missing-only]: a model card for every built version.

Each version directory gets card.md (Markdown, its plots in card/) and card.html (one page, the
plots inline), from its metadata.json: data and licence, split sizes, training curves, confusion
matrix and per-class figures, reliability diagram, export parity and int8 agreement, latency, known
limits, provenance. Training writes them with every version (training/export.py write_version);
this command adds them to versions built before cards existed. The server shows card.html at
/v2/models/<name>/versions/<version>/card.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from preprocessing.onnx_session import cpu_session
from training import card_plots
from training.card_document import Card
from training.timing import median_call_seconds

IMAGES = "card"  # the plots' directory, beside card.md
# What a model cannot do, as its user should hear it before relying on it.
LIMITS = {
    "mnist": ["One centred handwritten digit, 0-9. There is no 'not a digit' answer: a letter, a printed number or "
              "several digits still get a digit, often confidently.",
              "The server frames and inverts a photo of a digit (dark ink on light paper) as MNIST's; a photo with "
              "clutter, shadows or ruled lines is out of what it saw."],
    "sentiment": ["Tweets to US airlines (2015), in English: other domains score lower (see the out-of-domain "
                  "figures), sarcasm and mixed feelings are often missed.",
                  "Three classes only, learnt in the tweets' proportions of them (the support column); where "
                  "texts come in other proportions, its confidence is not calibrated as the diagram shows."],
    "efficientnet_lite0": ["ImageNet's 1,000 classes only: anything else gets the nearest of them; there is no "
                           "'unknown' class.", "No ImageNet validation set is reachable offline: its accuracy is "
                           "the published one, not measured here."],
    "resnet50": ["ImageNet's 1,000 classes only: anything else gets the nearest of them.",
                 "No ImageNet validation set is reachable offline: its accuracy is not measured here."],
    "minilm": ["English sentences; at most 256 tokens are read (a longer text is cut, and the answer says so).",
               "Cosine similarities are not probabilities: compare them, do not read 0.5 as 'half similar'."],
    "yolov3": ["COCO's 80 classes. YOLOv3-tiny is weak on small and close-up objects (nothing found on the "
               "astronaut or the cat photo)."],
    "nanodet": ["COCO's 80 classes; the photo is letterboxed to 416x416, so small objects in a large photo are missed."],
}


def version_directories(models: Path) -> Iterator[Path]:
    for metadata in sorted(models.glob("*/[0-9]*/metadata.json")):
        yield metadata.parent


def latency(onnx_path: Path) -> dict[str, Any]:
    """Batch of one, one onnxruntime thread, the session options as served: the median of repeated runs
    on a constant-filled input."""
    import onnxruntime as ort

    session = cpu_session(str(onnx_path), threads=1)
    feed = {}
    for spec in session.get_inputs():
        shape = [d if isinstance(d, int) else (1 if i == 0 else 32) for i, d in enumerate(spec.shape)]
        feed[spec.name] = (np.full(shape, 0.5, np.float32) if "float" in spec.type
                           else np.ones(shape, np.int64 if "int64" in spec.type else np.int32))
    run = lambda: session.run(None, feed)  # noqa: E731
    once = median_call_seconds(run, calls=1, repeats=3)
    calls = max(1, min(50, int(0.3 / max(once, 1e-6))))
    return {"batch_1_ms": round(median_call_seconds(run, calls=calls, repeats=5) * 1e3, 3), "threads": 1,
            "cpu": _cpu(), "onnxruntime": ort.__version__}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def figures(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested figures as ("a / b", leaf) rows: numbers and short texts only."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from figures(inner, f"{prefix} / {key}" if prefix else str(key))
    elif isinstance(value, (int, float, str, bool)) and not (isinstance(value, str) and len(value) > 160):
        yield prefix, value


def compose(metadata: dict[str, Any], config: dict[str, Any], measured: dict[str, Any]) -> tuple[Card, dict[str, Any]]:
    """The card, and the plots it needs: {file name: (plot function, its data)}."""
    name, version = metadata["name"], metadata["version"]
    card, plots = Card(f"{name} version {version}"), {}
    card.paragraph(config.get("description", ""))
    card.items([f"{key}: {metadata[key]}" for key in ("architecture", "precision", "weights", "weights_source",
                                                      "preprocessing", "decoding") if metadata.get(key)])
    if "random" in str(metadata.get("weights", "")):
        card.paragraph("RANDOM WEIGHTS: this version's predictions mean nothing. It exists to test the serving path.")

    dataset = metadata.get("dataset", {})
    card.heading("Data")
    card.paragraph(f"Source: {dataset.get('source', 'unknown')}. {dataset.get('description', '')}".strip())
    if dataset.get("sizes"):
        card.table(["split", "items"], [[split, f"{count:,}"] for split, count in dataset["sizes"].items()])
    if dataset.get("evaluated_on"):
        card.paragraph(f"Evaluated on: {dataset['evaluated_on']}.")

    card.heading("Training")
    history, training = metadata.get("history"), metadata.get("training")
    if training:
        card.table(["setting", "value"], [[k, v] for k, v in figures(training)])
    if history and any(history.get(k) for k in ("loss", "accuracy", "val_loss", "val_accuracy")):
        plots["curves.svg"] = (card_plots.training_curves, history)
        card.image("curves.svg", f"Loss and accuracy per epoch (validation: {history['validation']})")
    elif not training:
        card.paragraph("Not trained here: the weights are converted from a published model (above).")
    else:
        card.paragraph("No per-epoch history was recorded by this build.")

    card.heading("Evaluation")
    metrics = list(figures(metadata.get("metrics", {})))
    if metrics:
        card.table(["figure", "value"], metrics)
    evaluation = metadata.get("evaluation")
    if evaluation:
        card.paragraph(f"On the {evaluation['split']} split ({evaluation['items']:,} items, never trained on).")
        plots["confusion.svg"] = (card_plots.confusion_matrix, evaluation)
        card.image("confusion.svg", "Confusion matrix: rows are the true class, columns the predicted one")
        card.table(["class", "precision", "recall", "support"],
                   [[c["label"], c["precision"], c["recall"], c["support"]] for c in evaluation["per_class"]])
        plots["calibration.svg"] = (card_plots.reliability_diagram, evaluation["calibration"])
        card.image("calibration.svg", "Reliability diagram: accuracy per confidence bin against the diagonal")
    elif "test" in dataset.get("sizes", {}):
        card.paragraph("This build recorded no per-class evaluation: rebuild the model for its confusion matrix "
                       "and calibration.")
    else:
        card.paragraph("No labelled test split of this model's task is reachable offline, so no confusion "
                       "matrix or calibration is measured; what was checked is below.")

    card.heading("Export checks")
    checks = []
    if "parity_max_abs_diff" in metadata:
        checks.append(f"the ONNX export in onnxruntime against the model it was converted from, on "
                      f"{metadata.get('parity_inputs', '?')} inputs: max abs diff {metadata['parity_max_abs_diff']:.2e}")
    checks += [f"{key}: {value}" for key, value in figures({key: metadata.get(key) for key in
                                                           ("reference", "quantization", "int8")}) if value is not None]
    card.items(checks or ["none recorded"])
    if metadata.get("test_photos"):
        card.paragraph("Found on the test photos (score >= the default threshold):")
        card.items([f"{photo}: " + (", ".join(f"{d['label']} {d['score']:.2f}" for d in found) or "nothing")
                    for photo, found in metadata["test_photos"].items()])

    card.heading("Latency")
    card.paragraph(f"One item, {measured['threads']} onnxruntime thread ({measured['onnxruntime']}), {measured['cpu']}: "
                   f"median {measured['batch_1_ms']} ms per call. The server may use more threads for slow models "
                   "(docs/operations.md).")
    if metadata.get("latency_ms_1_thread"):
        card.table(["precision / items per call", "ms, 1 thread (at export)"],
                   [[key, value] for key, value in figures(metadata["latency_ms_1_thread"])])

    card.heading("Known limits")
    card.items(LIMITS.get(name, []) + ([f"int8: answers can differ from fp32 (agreement above)"]
                                       if metadata.get("precision") == "int8" else []) or ["none noted"])

    card.heading("Provenance")
    card.table(["field", "value"], [[k, metadata.get(k)] for k in ("sha256", "size_bytes", "created_at")] +
               [[f"tools / {k}", v] for k, v in metadata.get("tools", {}).items()])
    return card, plots


def write(directory: Path, metadata: dict[str, Any], config: dict[str, Any]) -> None:
    """card/ (the plots), card.html, then card.md: a version with card.md has its whole card."""
    measured = metadata.get("latency") or latency(directory / "model.onnx")
    card, plots = compose(metadata, config, measured)
    images = directory / IMAGES
    images.mkdir(exist_ok=True)
    for file, (draw, data) in plots.items():
        draw(data, images / file)
    (directory / "card.html").write_text(card.html(images))
    (directory / "card.md").write_text(card.markdown())


def model_config(version_directory: Path) -> dict[str, Any]:
    path = version_directory.parent / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.cards", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("AXON_MODEL_DIR", "models")))
    parser.add_argument("--missing-only", action="store_true", help="only versions without a card.md")
    args = parser.parse_args(argv)
    written = skipped = 0
    for directory in version_directories(args.models):
        if args.missing_only and (directory / "card.md").is_file():
            skipped += 1
            continue
        print(f"[cards] {directory}", flush=True)
        write(directory, json.loads((directory / "metadata.json").read_text()), model_config(directory))
        written += 1
    print(f"[cards] {written} written, {skipped} already had one", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
