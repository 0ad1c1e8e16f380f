"""Model cards from a version's metadata: every section, the plots as SVG, the HTML self-contained."""
from __future__ import annotations

import json

import numpy as np

from training import cards, evaluation

LABELS = ["negative", "neutral", "positive"]


def metadata(rng) -> dict:
    y_true = rng.integers(0, 3, 300)
    probabilities = rng.dirichlet([1, 1, 1], 300)
    probabilities[np.arange(150), y_true[:150]] += 2  # half of them clearly right
    probabilities /= probabilities.sum(1, keepdims=True)
    return {
        "name": "sentiment", "version": 1, "architecture": "Conv1D", "weights": "trained here from scratch",
        "dataset": {"source": "tweets", "description": "CrowdFlower (MIT)", "sizes": {"train": 1000, "test": 300}},
        "training": {"epochs_run": 3, "seconds": 4.2},
        "metrics": {"test_accuracy": 0.7, "baseline": {"accuracy": 0.6}},
        "history": evaluation.curves({"loss": [1.0, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8],
                                      "val_loss": [0.9, 0.8, 0.8], "val_accuracy": [0.6, 0.7, 0.7]}, "validation split"),
        "evaluation": evaluation.classification(y_true, probabilities, LABELS, "test"),
        "parity_max_abs_diff": 1e-6, "parity_inputs": 300,
        "latency": {"batch_1_ms": 0.2, "threads": 1, "cpu": "test cpu", "onnxruntime": "1"},
        "sha256": "ab" * 32, "size_bytes": 10, "created_at": "2026-12-01T00:00:00+00:00", "tools": {"onnx": "1"},
    }


def test_the_evaluation_counts_and_calibrates():
    y_true = np.array([0, 0, 1, 2])
    probabilities = np.array([[0.9, 0.05, 0.05], [0.15, 0.75, 0.1], [0.1, 0.85, 0.05], [0.3, 0.3, 0.4]])
    found = evaluation.classification(y_true, probabilities, LABELS, "test")
    assert found["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert found["per_class"][1] == {"label": "neutral", "precision": 0.5, "recall": 1.0, "support": 1}
    bins = {b["from"]: b for b in found["calibration"]["bins"] if b["count"]}
    assert bins[0.4]["accuracy"] == 1.0 and bins[0.7]["accuracy"] == 0.0 and bins[0.8]["accuracy"] == 1.0
    assert sum(b["count"] for b in found["calibration"]["bins"]) == 4
    assert 0 < found["calibration"]["expected_calibration_error"] < 1


def test_a_card_has_every_section_and_its_plots(tmp_path):
    card_metadata = metadata(np.random.default_rng(0))
    (tmp_path / "config.json").write_text(json.dumps({"description": "Sentiment of tweets."}))
    version = tmp_path / "1"
    version.mkdir()
    cards.write(version, card_metadata, cards.model_config(version))
    markdown = (version / "card.md").read_text()
    for section in ("## Data", "## Training", "## Evaluation", "## Export checks", "## Latency", "## Known limits",
                    "## Provenance"):
        assert section in markdown
    for plot in ("curves.svg", "confusion.svg", "calibration.svg"):
        assert f"](card/{plot})" in markdown
        svg = (version / "card" / plot).read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and len(svg) < 150_000
    assert "Tweets to US airlines" in markdown and "| neutral |" in markdown and "| train | 1,000 |" in markdown
    page = (version / "card.html").read_text()
    assert page.count("<svg") >= 3 and "<img" not in page and "http" not in page.replace("http://www.w3.org", "")
    assert "Confusion matrix" in page and "<h2>Known limits</h2>" in page


def test_cards_are_deterministic(tmp_path):
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        cards.write(tmp_path / run, metadata(np.random.default_rng(0)), {})
    for file in ("card.md", "card.html", "card/curves.svg", "card/confusion.svg", "card/calibration.svg"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_every_built_version_has_its_card(built_models, test_models):
    directories = [*cards.version_directories(built_models), *cards.version_directories(test_models)]
    assert len(directories) >= 11
    for directory in directories:
        assert (directory / "card.md").is_file() and (directory / "card.html").is_file(), directory
        built = json.loads((directory / "metadata.json").read_text())
        assert built["latency"]["batch_1_ms"] > 0
        markdown = (directory / "card.md").read_text()
        assert f"median {built['latency']['batch_1_ms']} ms" in markdown
        if "random" in built["weights"]:
            assert "RANDOM WEIGHTS" in markdown


def test_the_trained_classifiers_cards_show_their_evaluation(built_models):
    for name, versions in (("mnist", (1, 2)), ("sentiment", (1, 2, 3))):
        for version in versions:
            directory = built_models / name / str(version)
            built = json.loads((directory / "metadata.json").read_text())
            found = built["evaluation"]
            assert found["items"] == built["dataset"]["sizes"]["test"] == np.sum(found["confusion"])
            right = np.trace(found["confusion"]) / found["items"]
            assert abs(right - built["metrics"]["test_accuracy"]) < 0.002, (name, version)  # the same test split
            assert built["history"]["loss"], (name, version)
            for plot in ("curves.svg", "confusion.svg", "calibration.svg"):
                assert (directory / "card" / plot).stat().st_size < 150_000, (name, version, plot)
