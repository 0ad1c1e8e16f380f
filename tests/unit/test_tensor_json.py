"""Large V2 JSON bodies read through simdjson (service/codecs/tensor_json.py) give the regular parser's
request: the same arrays, the same values elsewhere, the same errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from service.api.v2 import parse_request
from service.codecs import jsontext, tensor_json
from service.codecs.tensor import decode_tensor
from service.errors import InvalidInput
from service.protocol import InferenceRequest

N = 20_000  # values: a body over tensor_json.LARGE_BODY


def document(data, datatype="FP32", shape=None, **extra) -> str:
    tensor = {"name": "input", "shape": shape or [len(data)], "datatype": datatype, "data": data}
    return json.dumps({"id": "r-1", "inputs": [tensor], "parameters": {"note": "é"}, **extra})


def decoded(parse, body: bytes):
    """(request fields, the input's array) or ("refused", message)."""
    try:
        request = parse(body)
        array = decode_tensor(request.inputs[0])
    except InvalidInput as exc:
        return "refused", exc.message
    fields = (request.id, request.outputs, request.parameters, request.inputs[0].name, request.inputs[0].shape)
    return fields, array.dtype, array.shape, array.tobytes()


def regular(body: bytes) -> InferenceRequest:
    return InferenceRequest.from_json(jsontext.loads(body))


VALUES = np.random.default_rng(0).normal(size=N)
BODIES = {
    "floats": document(np.round(VALUES, 3).tolist()),
    "float32 values as a client writes them": document(VALUES.astype(np.float32).tolist()),
    "FP64": document(VALUES.tolist(), "FP64"),
    "FP16, some beyond its range": document((VALUES * 1e5).tolist(), "FP16"),
    "integers in a float tensor": document(list(range(N))),
    "integers and floats": document([1, 0.5] * (N // 2)),
    "a boolean among floats": document([0.5] * (N - 1) + [True]),
    "only booleans": document([True, False] * (N // 2)),
    "a string among floats": document([0.5] * (N - 1) + ["0.5"]),
    "a null among floats": document([0.5] * (N - 1) + [None]),
    "NaN": document([0.5] * (N - 1) + [float("nan")]),
    "1e400": document([0.5] * (N - 1)).replace("0.5]", "0.5, 1e400]"),
    "nested": document(np.round(VALUES, 3).reshape(100, 200).tolist(), shape=[100, 200]),
    "ragged": document([[0.5] * 100] * 199 + [[0.5] * 99], shape=[100, 200]),
    "a wrong shape": document([0.5] * N, shape=[N + 1]),
    "INT32": document(list(range(N)), "INT32"),
    "BYTES": document(["text"] * N, "BYTES"),
    "an integer over 64 bits": document([0.5] * N, outputs=[{"name": "p", "parameters": {"n": 2 ** 70}}]),
    "outputs": document([0.5] * N, outputs=[{"name": "probabilities"}]),
    "a key repeated at the top": document([0.5] * N).replace('"id": "r-1"', '"id": "r-0", "id": "r-1"'),
    "a key repeated in the input": document([0.5] * N).replace('"datatype": "FP32"', '"datatype": "INT8", "datatype": "FP32"'),
    "data repeated": document([0.5] * N).replace('"data": [', '"data": [1], "data": ['),
    "a key repeated in the parameters": document([0.5] * N).replace('"note": "é"', '"note": 1, "note": "é"'),
    "no inputs": json.dumps({"id": "x" * 4 * N}),
    "inputs not a list": json.dumps({"inputs": {"data": [0.5] * N}}),
    "an input not an object": json.dumps({"inputs": [[0.5] * N]}),
    "not an object": json.dumps([[0.5] * N]),
    "a lone surrogate": document([0.5] * N).replace('"r-1"', '"\\ud800"'),
    "a byte order mark": "\ufeff" + document([0.5] * N),
    "cut short": document([0.5] * N)[:-5],
}


@pytest.mark.parametrize("name", BODIES)
def test_a_large_body_reads_as_the_regular_parser_reads_it(name):
    body = BODIES[name].encode()
    assert len(body) >= tensor_json.LARGE_BODY
    assert decoded(parse_request, body) == decoded(regular, body)


def test_flat_float_data_is_read_by_simdjson_and_the_rest_is_left_to_the_regular_parser():
    def read_by_simdjson(body: str) -> bool:
        request = tensor_json.parse_infer_request(body.encode())
        return request is not None and isinstance(request.get("inputs", [{}])[0].get("data"), np.ndarray)

    read = {name for name, body in BODIES.items() if read_by_simdjson(body)}
    assert {"floats", "FP64", "integers in a float tensor", "integers and floats", "outputs"} <= read
    assert not read & {"a boolean among floats", "a string among floats", "nested", "INT32", "NaN", "data repeated",
                       "a key repeated in the input", "cut short", "an integer over 64 bits"}


def test_small_bodies_are_left_to_orjson():
    assert tensor_json.parse_infer_request(document([0.5] * 10).encode()) is None


def test_the_parser_is_reused_after_a_refused_body():
    for name in ("a string among floats", "floats", "cut short", "floats"):
        body = BODIES[name].encode()
        assert decoded(parse_request, body) == decoded(regular, body)


def test_one_difference_single_values_in_lists_among_numbers_are_read_flat():
    body = document([[0.5]] + [0.5] * (N - 1)).encode()  # ragged for numpy; flat for simdjson's buffer
    assert decoded(regular, body)[0] == "refused"
    assert decoded(parse_request, body)[3] == np.full(N, 0.5, np.float32).tobytes()


def test_a_body_over_the_reused_size_gets_a_parser_of_its_own(monkeypatch):
    monkeypatch.setattr(tensor_json, "REUSED_UP_TO", tensor_json.LARGE_BODY)
    body = BODIES["floats"].encode()
    assert decoded(parse_request, body) == decoded(regular, body)


def test_keys_that_are_parts_of_data_or_inputs_keep_their_values():
    body = document([0.5] * N, parameters={"a": 1, "in": 2}).replace('"name": "input"', '"at": 3, "name": "input"')
    request = tensor_json.parse_infer_request(body.encode())
    assert request["parameters"] == {"a": 1, "in": 2} and request["inputs"][0]["at"] == 3
    assert decoded(parse_request, body.encode()) == decoded(regular, body.encode())
