"""Codecs: table tests, input -> expected."""
from __future__ import annotations

import numpy as np
import pytest

from service.codecs.image import b64decode
from service.codecs.tensor import decode_bytes, decode_tensor, encode_tensor
from service.errors import InvalidInput
from service.protocol import RequestInput


@pytest.mark.parametrize(
    "shape, datatype, data, expected",
    [
        ([2, 2], "FP32", [1, 2, 3, 4], np.array([[1, 2], [3, 4]], np.float32)),
        ([2, 2], "FP32", [[1, 2], [3, 4]], np.array([[1, 2], [3, 4]], np.float32)),
        ([3], "INT64", [1, -2, 3], np.array([1, -2, 3], np.int64)),
        ([1, 3], "INT32", [[7, 8, 9]], np.array([[7, 8, 9]], np.int32)),
        ([2], "BOOL", [True, False], np.array([True, False])),
        ([0, 4], "FP32", [], np.zeros((0, 4), np.float32)),
    ],
)
def test_decode_tensor(shape, datatype, data, expected):
    array = decode_tensor(RequestInput("x", shape, datatype, data))
    assert array.dtype == expected.dtype
    np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize(
    "shape, datatype, data, message",
    [
        ([2, 2], "FP32", [1, 2, 3], "needs 4 values, data has 3"),
        ([2], "FP32", ["a", "b"], "list of FP32 numbers"),
        ([2], "FP32", [[1, 2], [3]], "list of FP32 numbers"),  # ragged
        ([1], "BYTES", ["x"], "not a numeric tensor"),
    ],
)
def test_decode_tensor_errors(shape, datatype, data, message):
    with pytest.raises(InvalidInput, match=message):
        decode_tensor(RequestInput("x", shape, datatype, data))


@pytest.mark.parametrize(
    "shape, data, expected",
    [
        ([2], ["a", "b"], ["a", "b"]),
        ([1, 2], [["a", "b"]], ["a", "b"]),
        ([1], [b"\x00\x01"], [b"\x00\x01"]),
    ],
)
def test_decode_bytes(shape, data, expected):
    assert decode_bytes(RequestInput("x", shape, "BYTES", data)) == expected


@pytest.mark.parametrize(
    "shape, data, message",
    [([2], ["a"], "needs 2 elements"), ([1], [1], "must be strings")],
)
def test_decode_bytes_errors(shape, data, message):
    with pytest.raises(InvalidInput, match=message):
        decode_bytes(RequestInput("x", shape, "BYTES", data))


@pytest.mark.parametrize(
    "array, datatype",
    [
        (np.array([[0.5, 0.25]], np.float32), "FP32"),
        (np.array([1, 2], np.int64), "INT64"),
        (np.array([[1], [2]], np.int32), "INT32"),
    ],
)
def test_encode_tensor_round_trips(array, datatype):
    output = encode_tensor("y", array)
    assert (output.datatype, output.shape) == (datatype, list(array.shape))
    back = decode_tensor(RequestInput("y", output.shape, output.datatype, output.to_json()["data"]))
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("text, expected", [("aGk=", b"hi"), ("", b"")])
def test_b64decode(text, expected):
    assert b64decode(text, "x") == expected


def test_b64decode_rejects_garbage():
    with pytest.raises(InvalidInput, match="not valid base64"):
        b64decode("not base64!!", "instances[0]")


@pytest.mark.parametrize("items", [[b"a", b"", "é".encode()], [], [bytes(range(256))]])
def test_bytes_serialization_round_trips(items):
    from service.codecs.binary import deserialize_bytes, serialize_bytes

    assert deserialize_bytes(serialize_bytes(items)) == items


@pytest.mark.parametrize("raw", [b"\x05\x00\x00\x00abc", b"\x01\x00"])
def test_truncated_bytes_elements_are_invalid(raw):
    from service.codecs.binary import deserialize_bytes

    with pytest.raises(InvalidInput, match="BYTES"):
        deserialize_bytes(raw)
