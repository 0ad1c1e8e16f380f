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
        ([2], "INT32", [1.0, -2.0], np.array([1, -2], np.int32)),  # whole numbers written as floats
        ([1], "UINT8", [255], np.array([255], np.uint8)),
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
        ([2], "INT32", [1.9, 2], "INT32 values must be integers"),  # was truncated to 1, silently
        ([1], "INT32", [2 ** 31], r"must lie in \[-2147483648, 2147483647\]"),
        ([1], "UINT8", [-1], r"must lie in \[0, 255\]"),
        ([1], "INT64", [2 ** 70], "list of INT64 numbers"),
        ([2], "FP32", ["0.5", "1"], "list of FP32 numbers"),  # was parsed as numbers
        ([2], "FP32", [None, 1.0], "list of FP32 numbers"),
        ([2], "FP32", [True, False], "not true or false"),
        ([2], "BOOL", [1, 0], "true or false"),
        ([1], "FP32", {"a": 1}, "list of FP32 numbers"),
        ([1], "FP32", "0.5", "list of FP32 numbers"),
        ([4294967296, 4294967296], "FP32", [], "needs 18446744073709551616 values, data has 0"),
    ],
)
def test_decode_tensor_errors(shape, datatype, data, message):
    with pytest.raises(InvalidInput, match=message):
        decode_tensor(RequestInput("x", shape, datatype, data))


def test_decode_bytes_flattens_deep_nesting_without_recursion():
    deep: list = ["x"]
    for _ in range(5000):
        deep = [deep]
    assert decode_bytes(RequestInput("x", [1], "BYTES", deep)) == ["x"]


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
