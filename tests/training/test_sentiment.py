"""The sentiment model: scores against the baseline, parity, data cleaning, tokenizer identity."""
from __future__ import annotations

import json

import numpy as np
import pytest

from service.registry import Registry
from service.repository import Repository
from training.sentiment_data import repair_line, tweets_split


@pytest.fixture(scope="module")
def metadata(built_models):
    return json.loads((built_models / "sentiment" / "1" / "metadata.json").read_text())


def test_neural_model_at_least_matches_the_tfidf_baseline(metadata):
    scores, baseline = metadata["metrics"], metadata["metrics"]["baseline_tfidf_logreg"]
    assert scores["test_accuracy"] >= baseline["accuracy"]
    assert scores["test_macro_f1"] >= baseline["macro_f1"]
    assert metadata["parity_max_abs_diff"] <= 1e-4
    assert metadata["dataset"]["sizes"]["test"] >= 0.15 * sum(metadata["dataset"]["sizes"].values()) - 1


def version_metadata(built_models, version):
    return json.loads((built_models / "sentiment" / str(version) / "metadata.json").read_text())


def test_the_transformer_reaches_its_targets_on_the_test_tweets(built_models):
    v3 = version_metadata(built_models, 3)
    assert v3["metrics"]["test_accuracy"] >= 0.78 and v3["metrics"]["test_macro_f1"] >= 0.76
    assert v3["parity_max_abs_diff"] <= 1e-4
    assert v3["dataset"]["sizes"] == version_metadata(built_models, 1)["dataset"]["sizes"]  # the same split


def test_out_of_domain_every_version_is_measured_and_the_transformer_wins_widely(built_models):
    ood = {v: version_metadata(built_models, v)["metrics"]["out_of_domain"] for v in (1, 2, 3)}
    for version, figures in ood.items():
        assert figures["sentences"] == 2000 and "vaderSentiment 3.3.2 (MIT)" in figures["source"], version
    for source in ("movie reviews", "product reviews"):
        assert ood[3][source] >= ood[1][source] + 0.10, source


def test_the_bilstm_is_a_served_version_with_its_figures(built_models):
    v2 = version_metadata(built_models, 2)
    assert "LSTM" in v2["architecture"] and v2["parity_max_abs_diff"] <= 1e-4
    assert v2["metrics"]["test_accuracy"] >= 0.72


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"I don\xd5\xa2_\x8a\xce_\x86\xa2t want", "I don't want"),
        (b"cars_\xd1_.no thanks", "cars .no thanks"),
        (b"plain ascii", "plain ascii"),
        ("caf\u00e9 ok".encode(), "caf\u00e9 ok"),
    ],
)
def test_mis_encoded_runs_are_repaired(raw, expected):
    assert repair_line(raw)[0] == expected


def test_split_is_clean_stratified_and_disjoint():
    split = tweets_split()
    assert split.cleaning["repaired_lines"] == 4934 and split.cleaning["rows"] == 38158
    train, test = set(split.train[0]), set(split.test[0])
    assert not train & test and not set(split.validation[0]) & test
    shares = [np.bincount(part[1]) / len(part[1]) for part in (split.train, split.test)]
    assert np.abs(shares[0] - shares[1]).max() < 0.005


@pytest.mark.parametrize("version", [1, 2, 3])
def test_service_ids_equal_training_ids_for_every_test_text(built_models, version):
    """The service's tokenizer (vocab.json, or the transformer's tokenizer.json, loaded from the
    version directory) gives the very ids training evaluated the test split with."""
    from training.sentiment import test_ids_path

    saved = np.load(test_ids_path(3 if version == 3 else 1))
    registry = Registry(Repository(built_models))
    registry.load_all()
    tokenizer = registry.get("sentiment", version).tokenizer
    served = tokenizer.encode_texts(tweets_split().test[0])
    assert served.ids.shape == saved["ids"].shape
    assert np.array_equal(served.ids, saved["ids"])
