"""The transformer text models over HTTP (fresh app per test): sentiment's default version (MiniLM
fine-tuned), its older versions, and the `minilm` sentence embeddings with ranked candidates."""
from __future__ import annotations

import numpy as np
import pytest

V1 = "/v1/models/sentiment:predict"
EMBED = "/v1/models/minilm:predict"


def labels(client, texts, version=None):
    path = V1 if version is None else f"/v1/models/sentiment/versions/{version}:predict"
    response = client.post(path, json={"instances": texts})
    assert response.status_code == 200, response.json
    return [p["label"] for p in response.json["predictions"]], response.json


def test_the_default_is_the_transformer_and_reads_more_than_tweets(client):
    found, body = labels(client, ["The movie was a complete waste of time.", "I loved every minute of this film.",
                                  "This blender broke after two days, do not buy it.", "Best purchase I made this year!"])
    assert body["model_version"] == "3"
    assert found == ["negative", "positive", "negative", "positive"]


def test_every_version_answers_in_the_same_shape(client):
    for version in ("1", "2", "3"):
        found, body = labels(client, ["thank you, great crew", "flight delayed again, awful"], version)
        assert body["model_version"] == version and found == ["positive", "negative"], (version, found)
        first = body["predictions"][0]
        assert set(first["probabilities"]) == {"negative", "neutral", "positive"}
        assert abs(sum(first["probabilities"].values()) - 1) < 1e-4


def test_v2_metadata_tells_each_version_s_own_input(client):
    inputs = {v: client.get(f"/v2/models/sentiment/versions/{v}").json["inputs"] for v in ("1", "2", "3")}
    assert inputs["1"] == inputs["2"] == [{"name": "tokens", "datatype": "INT32", "shape": [-1, 48]}]
    assert inputs["3"] == [{"name": "input_ids", "datatype": "INT32", "shape": [-1, -1]}]
    raw = client.get("/v2/models/sentiment").json["parameters"]["raw_input"]
    assert raw["name"] == "text" and raw["datatype"] == "BYTES"


def test_token_ids_in_give_what_the_text_gives(client, app):
    tokenizer = app.extensions["axon.dataplane"].registry.get("sentiment").tokenizer
    ids = tokenizer.encode_texts(["awful service, never again"]).ids
    as_ids = client.post("/v2/models/sentiment/infer", json={"inputs": [
        {"name": "input_ids", "shape": list(ids.shape), "datatype": "INT32", "data": ids.ravel().tolist()}]}).json
    as_text = client.post("/v2/models/sentiment/infer", json={"inputs": [
        {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["awful service, never again"]}]}).json
    assert np.allclose(as_ids["outputs"][0]["data"], as_text["outputs"][0]["data"], atol=1e-6)
    wrong = client.post("/v2/models/sentiment/infer", json={"inputs": [
        {"name": "tokens", "shape": [1, 48], "datatype": "INT32", "data": [5] * 48}]})
    assert wrong.status_code == 400 and "has no input 'tokens'" in wrong.json["error"]


def test_a_long_text_is_cut_at_the_token_limit_and_said_to_be(client):
    long_text = "The service was terrible and slow. " * 300  # about 2,100 tokens, 10,500 characters
    found, body = labels(client, [long_text, "short and sweet"])
    assert found[0] == "negative"
    assert body["predictions"][0]["truncated"] == {"tokens": pytest.approx(2102, abs=30), "kept": 256}
    assert "truncated" not in body["predictions"][1]
    v2 = client.post("/v2/models/sentiment/infer", json={"inputs": [
        {"name": "text", "shape": [2], "datatype": "BYTES", "data": ["fine", long_text]}]}).json
    assert v2["parameters"]["truncated"] == {"instances": [1], "tokens": [body["predictions"][0]["truncated"]["tokens"]],
                                             "kept_tokens": 256}


@pytest.mark.parametrize("text", ["great flight 😀👍✈️", "Отличный полёт, спасибо", "素晴らしいフライト", "!!!", "x" * 4000])
def test_emoji_other_scripts_and_one_long_word_are_answered(client, text):
    response = client.post(V1, json={"instances": [text]})
    assert response.status_code == 200
    assert abs(sum(response.json["predictions"][0]["probabilities"].values()) - 1) < 1e-4


def test_64_texts_of_every_length_in_one_request(settings):
    from dataclasses import replace

    from service.app import create_app

    client = create_app(replace(settings, max_batch_size=64)).test_client()  # sentiment's own limit: 64
    texts = [("word " * n * 4).strip() for n in range(1, 65)]  # 4 to 256 words: the longest are cut
    found, body = labels(client, texts)
    assert len(found) == 64
    cut = [i for i, p in enumerate(body["predictions"]) if "truncated" in p]
    assert cut == [63]  # 258 tokens with [CLS] and [SEP]; the one before has 254


def test_embeddings_are_unit_vectors_and_similar_sentences_are_close(client):
    body = client.post(EMBED, json={"instances": ["A man is playing a guitar.", "Someone plays an instrument.",
                                                  "The stock market fell sharply today."]}).json
    vectors = np.array(body["embeddings"])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    v2 = client.post("/v2/models/minilm/infer", json={"inputs": [
        {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["A man is playing a guitar."]}]}).json
    assert v2["outputs"][0]["shape"] == [1, 384] and np.allclose(v2["outputs"][0]["data"], vectors[0], atol=1e-5)


def test_a_long_text_embedded_is_said_to_be_cut(client):
    body = client.post(EMBED, json={"instances": ["short", "word " * 1000]}).json
    assert len(body["embeddings"]) == 2
    assert body["truncated"] == {"instances": [1], "tokens": [1002], "kept_tokens": 256}


def test_candidates_are_ranked_by_cosine(client):
    body = client.post(EMBED, json={"instances": ["How do I reset my password?", "Is the pool open today?"],
                                    "parameters": {"candidates": ["Swimming hours and facilities",
                                                                  "Recover access to your account",
                                                                  "Our menu and prices"]}}).json
    first, second = (p["ranked"] for p in body["predictions"])
    assert first[0]["candidate"] == "Recover access to your account" and first[0]["index"] == 1
    assert second[0]["candidate"] == "Swimming hours and facilities"
    assert [r["score"] for r in first] == sorted((r["score"] for r in first), reverse=True)
    bad = client.post(EMBED, json={"instances": ["hi"], "parameters": {"candidates": "not a list"}})
    assert bad.status_code == 400 and "candidates" in bad.json["error"]
    per_instance = client.post(EMBED, json={"instances": [{"text": "hi", "candidates": ["a", "b"]}]})
    assert per_instance.status_code == 400 and '"parameters": {"candidates"' in per_instance.json["error"]


@pytest.mark.parametrize("ids, message", [
    ([[101] + [2000] * 400 + [102]], "at most 256 tokens"),
    ([[0, 0, 0]], "at least one token"),
    ([[101, 30522, 102]], "must lie in [0, 30521]"),
    ([[101, -1, 102]], "must lie in"),
    ([[101, 2000, 102], [0, 0, 0]], "at least one token"),
])
def test_bad_token_id_tensors_are_refused(client, ids, message):
    shape = [len(ids), len(ids[0])]
    for model in ("sentiment", "minilm"):
        response = client.post(f"/v2/models/{model}/infer", json={"inputs": [
            {"name": "input_ids", "shape": shape, "datatype": "INT32", "data": [v for row in ids for v in row]}]})
        assert response.status_code == 400 and message in response.json["error"], (model, response.json)


def test_too_many_candidates_is_a_413_that_says_why(client):
    response = client.post(EMBED, json={"instances": ["hi", "there"], "parameters": {"candidates": ["x"] * 15}})
    assert response.status_code == 413
    assert "2 texts and 15 candidates in one request; the limit is 16" in response.json["error"]
    bad = client.post(EMBED, json={"instances": ["hi"], "parameters": {"candidates": ["ok", ""]}})
    assert bad.status_code == 400 and "empty" in bad.json["error"]
