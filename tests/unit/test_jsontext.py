"""The orjson fast path gives the json module's answers: every response shape, NaN and infinities,
non-ASCII, and what only the json module accepts or refuses."""
from __future__ import annotations

import gc
import json

import numpy as np
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given, settings, strategies as st

from service.codecs import jsontext
from service.errors import InvalidInput
from service.protocol import InferenceResponse
from service.codecs.tensor import encode_tensor


def canonical(text: bytes | str) -> str:
    """A document's value, written one way (NaN-safe: the json module writes NaN back as NaN)."""
    return json.dumps(json.loads(text), sort_keys=True)


def same_document(value) -> None:
    assert canonical(jsontext.dumps(value)) == canonical(json.dumps(value))


SHAPES = {
    "V2 infer": InferenceResponse("mnist", "2", [encode_tensor("probabilities", np.float32([[0.1, 0.9, 1e-30]]))],
                                  id="r-1", parameters={"truncated": {"instances": [0], "tokens": [300], "kept_tokens": 256}}).to_json(),
    "V2 infer, NaN and infinities": InferenceResponse("m", "1", [encode_tensor(
        "out", np.array([np.nan, np.inf, -np.inf, 0.5], dtype=np.float32))]).to_json(),
    "V1 predictions, non-ASCII labels": {"predictions": [[{"label": "café", "probability": 0.5},
                                                         {"label": "数字 7 🙂", "probability": 0.25}]]},
    "detections": {"predictions": [{"detections": [{"label": "person", "score": 0.9, "box": [1.5, 2, 30, 40.25]}],
                                    "image_size": [640, 480]}]},
    "embeddings": {"embeddings": [[-0.0, 1e-45, 3.4028234663852886e38]], "model_version": "1"},
    "error with control characters and a lone surrogate": {"error": "bad name '\x00\x1f\u2028\ud800'"},
    "metadata with nulls, empty containers and int keys": {"warning": None, "labels": [], "metrics": {},
                                                           "by_version": {1: "a", 2: "b"}},
    "integers beyond 64 bits": {"needs": 2**64, "negative": -(2**63) - 1},
    "nested": {"a": [[[[[{"b": [True, False, None]}]]]]]},
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_every_response_shape_is_the_json_modules_document(shape):
    same_document(shape)


def test_nan_and_infinity_are_written_as_the_json_module_writes_them():
    value = {"data": [float("nan"), float("inf"), -float("inf")]}
    assert jsontext.dumps(value) == json.dumps(value).encode() == b'{"data": [NaN, Infinity, -Infinity]}'


def test_non_ascii_is_utf8_not_escaped_on_the_fast_path():
    assert jsontext.dumps({"label": "café"}) == '{"label":"café"}'.encode()


def test_types_neither_writes_raise_as_the_json_module_does():
    with pytest.raises(TypeError):
        jsontext.dumps({"x": np.float32(1.0)})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_any_value_is_written_as_the_json_module_writes_it(value):
    same_document(value)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_any_document_is_read_as_the_json_module_reads_it(value):
    text = json.dumps(value)
    if any(len(token) >= 19 for token in text.replace("-", " ").split()):
        return  # an integer beyond 64 bits: read as a double (the documented difference, tested below)
    assert json.dumps(jsontext.loads(text.encode()), sort_keys=True) == json.dumps(json.loads(text), sort_keys=True)


def test_an_integer_beyond_64_bits_is_read_as_the_nearest_double():
    assert jsontext.loads(b"[123456789012345678901234567890]") == [1.2345678901234568e29]


@pytest.mark.parametrize("text, expected", [
    (b"[NaN, Infinity, -Infinity]", "[NaN, Infinity, -Infinity]"),   # the json module's extensions
    (b'"\\ud800"', '"\\ud800"'),                                     # a lone surrogate
    ("\ufeff[1]".encode(), "[1]"),                                   # a UTF-8 byte order mark
])
def test_what_only_the_json_module_accepts_still_parses(text, expected):
    assert json.dumps(jsontext.loads(text)) == expected


@pytest.mark.parametrize("text, message", [
    (b"{instances: 1}", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_errors_keep_the_json_modules_words(text, message):
    with pytest.raises(InvalidInput, match=message):
        jsontext.loads(text)


def test_flask_responses_are_flasks_own_documents():
    fast, plain = Flask("fast"), Flask("plain")
    fast.json = jsontext.FastJSONProvider(fast)
    assert isinstance(plain.json, DefaultJSONProvider)
    for value in SHAPES.values():
        with fast.app_context():
            ours = fast.json.response(value)
        with plain.app_context():
            theirs = plain.json.response(value)
        assert canonical(ours.get_data()) == canonical(theirs.get_data())
        assert ours.mimetype == theirs.mimetype == "application/json"


@pytest.mark.parametrize("text", [
    json.dumps({"data": np.arange(60_000.0).reshape(100, 20, 30).tolist()}),  # large, nested: orjson
    json.dumps({"data": [float("nan")] + [0.5] * 20_000}),  # large, NaN: the json module
])
def test_a_large_document_reads_the_same_with_the_collector_paused_and_then_running_again(text):
    assert len(text) >= jsontext.LARGE_DOCUMENT
    assert canonical(json.dumps(jsontext.loads(text))) == canonical(text)
    assert gc.isenabled()


def test_the_collector_runs_again_after_a_large_document_fails_to_parse():
    for text in ("[" * 100_000, "[" + "0.5," * 30_000):  # too deep; cut short
        with pytest.raises(InvalidInput):
            jsontext.loads(text)
        assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        jsontext.loads("[" + "0.5," * 30_000 + "0.5]")
        assert not gc.isenabled()
    finally:
        gc.enable()
