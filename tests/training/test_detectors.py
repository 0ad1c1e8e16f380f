"""The detectors' builds: Darknet files read exactly, exports held to their independent references."""
from __future__ import annotations

import json

import numpy as np
import pytest

from training import darknet
from training.sources import YOLOV3_TINY, fetch


@pytest.fixture(scope="module")
def tiny():
    files = fetch(YOLOV3_TINY)
    return darknet.parse_cfg(files["yolov3-tiny.cfg"].read_text()), darknet.read_weights(files["yolov3-tiny.weights"])


def test_the_tiny_cfg_parses_into_its_sections(tiny):
    sections, (header, weights) = tiny
    kinds = [s.kind for s in sections]
    assert kinds[0] == "net" and kinds.count("convolutional") == 13 and kinds.count("yolo") == 2
    assert header[:3] == (0, 2, 0) and len(weights) == 8_858_734


@pytest.mark.parametrize("change, words", [(lambda w: w[:-1], "ends at"), (lambda w: np.append(w, 0.0), "left over")])
def test_every_weight_is_consumed_exactly(tiny, change, words):
    pytest.importorskip("keras")
    sections, (_, weights) = tiny
    with pytest.raises(ValueError, match=words):
        darknet.build_keras(sections, change(weights))


@pytest.mark.parametrize("text, words", [("[convolutional]\nfilters=1", r"starts with a \[net\]"),
                                          ("[net]\nwidth=416\nnot a setting", "cannot read"),
                                          ("[net]\nwidth=416\nheight=416\n[dropout]\nprobability=.5", "unsupported")])
def test_what_the_builder_cannot_read_is_said(text, words):
    pytest.importorskip("keras")
    with pytest.raises(ValueError, match=words):
        darknet.build_keras(darknet.parse_cfg(text), np.zeros(0, np.float32))


@pytest.mark.parametrize("name", ["yolov3", "nanodet"])
def test_the_export_agrees_with_its_reference_and_says_so(built_models, name):
    version = built_models / name / "1"
    metadata = json.loads((version / "metadata.json").read_text())
    reference = metadata["reference"]
    assert reference["detections_matched"] == reference["detections_compared"] >= 20 and reference["photos"] >= 20
    assert metadata["parity_max_abs_diff"] <= 1e-4
    if name == "yolov3":
        assert "OpenCV" in reference["runtime"] and reference["raw_heads_max_abs_diff"] <= 1e-3
    else:
        assert "TensorFlow" in reference["runtime"] and reference["max_abs_diff"] <= 1e-4
    labels = {d["label"] for d in metadata["test_photos"]["bus.jpg"]}
    assert {"bus", "person"} <= labels
    decoder = json.loads((version / "decoder.json").read_text())
    assert decoder["kind"] == ("yolo" if name == "yolov3" else "gfl") and decoder["input_size"] == 416
