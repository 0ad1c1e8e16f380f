"""Sentiment over HTTP (fresh app per test): raw text in, label and per-class probabilities out."""
from __future__ import annotations

import pytest

V1 = "/v1/models/sentiment:predict"
V2 = "/v2/models/sentiment/infer"


def bytes_input(texts, shape=None):
    return {"inputs": [{"name": "text", "shape": shape or [len(texts)], "datatype": "BYTES", "data": texts}]}


def test_v1_instances_and_text_plain(client):
    body = client.post(V1, json={"instances": ["I love this airline, great crew!", "worst delay ever, angry"]}).json
    first, second = body["predictions"]
    assert first["label"] == "positive" and second["label"] == "negative"
    assert set(first["probabilities"]) == {"negative", "neutral", "positive"}
    assert abs(sum(first["probabilities"].values()) - 1) < 1e-4
    plain = client.post(V1, data="thank you so much, wonderful".encode(), content_type="text/plain").json
    assert plain["predictions"][0]["label"] == "positive"


def ids_tensor(app, version, text):
    """The version's own input tensor for one text, made by the tokenizer the service loaded for it."""
    model = app.extensions["axon.dataplane"].registry.get("sentiment", version)
    ids = model.tokenizer.encode(text).tolist()
    return {"inputs": [{"name": model.input.name, "shape": [1, len(ids)], "datatype": "INT32", "data": ids}]}


@pytest.mark.parametrize("version", [1, 3])
def test_v2_bytes_strings_and_int32_tokens(client, app, version):
    path = f"/v2/models/sentiment/versions/{version}/infer"
    body = client.post(path, json=bytes_input(["awful service", "just landed in Boston"])).json
    output = body["outputs"][0]
    assert output["shape"] == [2, 3] and output["datatype"] == "FP32"
    again = client.post(path, json=ids_tensor(app, version, "awful service")).json["outputs"][0]["data"]
    assert max(abs(a - b) for a, b in zip(again, output["data"][:3])) < 1e-6


@pytest.mark.parametrize("version", [1, 3])
@pytest.mark.parametrize("text", ["great flight 😀👍✈️", "Отличный полёт, спасибо", "素晴らしいフライト", "!!!"])
def test_emoji_and_other_scripts_are_answered_like_their_token_ids(client, app, text, version):
    """Whatever the script, the answer is the model's own for the ids the shared tokenizer makes."""
    prediction = client.post(f"/v1/models/sentiment/versions/{version}:predict",
                             json={"instances": [text]}).json["predictions"][0]
    direct = client.post(f"/v2/models/sentiment/versions/{version}/infer",
                         json=ids_tensor(app, version, text)).json["outputs"][0]["data"]
    labels = ["negative", "neutral", "positive"]
    assert prediction["label"] == labels[max(range(3), key=direct.__getitem__)]
    assert all(abs(prediction["probabilities"][label] - p) < 1e-6 for label, p in zip(labels, direct))


def test_the_english_words_of_a_mixed_text_carry_its_sentiment(client):
    texts = ["great flight, thank you 😀👍✈️", "worst delay ever 😡 Отличный"]
    labels = [p["label"] for p in client.post(V1, json={"instances": texts}).json["predictions"]]
    assert labels == ["positive", "negative"]


CASES = {
    "empty string": (V1, dict(json={"instances": [""]}), 400, "empty"),
    "whitespace only": (V1, dict(json={"instances": ["  \n\t "]}), 400, "empty"),
    "empty text/plain": (V1, dict(data=b"", content_type="text/plain"), 400, "empty"),
    "too long": (V1, dict(json={"instances": ["a " * 50_001]}), 413, "AXON_MAX_TEXT_CHARS"),
    "too many texts": (V1, dict(json={"instances": ["ok"] * 17}), 413, "limit is 16"),
    "invalid UTF-8 text/plain": (V1, dict(data=b"bad \xff\xfe bytes", content_type="text/plain"), 400, "UTF-8"),
    "lone surrogate in V2 BYTES": (V2, dict(data=b'{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES",'
                                              b'"data":["\\udc80 oops"]}]}', content_type="application/json"),
                                   400, "not valid Unicode"),
    "number instead of text": (V1, dict(json={"instances": [42]}), 400, "expected a text"),
    "token id out of vocabulary": ("/v2/models/sentiment/versions/1/infer", dict(json={"inputs": [{"name": "tokens", "shape": [1, 48], "datatype": "INT32",
                                                              "data": [10 ** 6] + [0] * 47}]}), 400, "must lie in"),
    "image sent to a text model": (V1, dict(data=b"\x89PNG....", content_type="image/png"), 400, "UTF-8"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_odd_text_input(client, case):
    path, kwargs, status, words = case
    response = client.post(path, **kwargs)
    assert response.status_code == status, response.json
    assert words in response.json["error"]
    assert client.post(V1, json={"instances": ["still serving?"]}).status_code == 200
