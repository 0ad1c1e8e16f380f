"""Large V2 JSON request bodies, with their floating-point tensors read straight into arrays.

orjson makes one Python float per number (150,528 for a 224x224 RGB image) and numpy then reads them
back into an array: 16 ms from a 1.2 MB body to the float32 array here. simdjson parses the same body
and copies a flat list of numbers into a buffer without making a Python object per number: 5 ms. Used
for the flat `data` of FP16, FP32 and FP64 inputs of bodies over tensor_json.LARGE_BODY; everything
else in the document becomes the Python values orjson would make. Whatever simdjson reads
differently, or does not read (a repeated key, not strict JSON, NaN, a lone surrogate, integers over
64 bits, data that is nested or holds anything but numbers), is left to the regular parser, which
decides and words the error. Two differences remain: an integer in a float tensor is read as a double
first, as a JSON parser in C or JavaScript reads it (beyond 2**53 the float32 may then differ by one
rounding); and data of numbers with single numbers in lists among them ([[0.5], 0.5]), ragged to
numpy, is read flat.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
import simdjson

LARGE_BODY = 64 * 1024  # bytes; smaller bodies parse as fast with orjson
FLOAT_TYPES = {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
# A parser per thread, reused: a new one per 1.2 MB body costs 6 ms more here. It keeps buffers the
# size of the largest body it read, so bodies over REUSED_UP_TO get a parser of their own.
_parsers = threading.local()
REUSED_UP_TO = 4 * 1024 * 1024


class NotHere(Exception):
    """Left to the regular parser."""


def parse_infer_request(body: bytes) -> dict[str, Any] | None:
    """The V2 request document, floating-point `data` as arrays; None: leave it to the regular parser."""
    if len(body) < LARGE_BODY:
        return None
    parser = _reused_parser() if len(body) <= REUSED_UP_TO else simdjson.Parser()
    try:
        # RuntimeError: integers over 64 bits, or the parser still held by a document (after an error)
        document = parser.parse(body)
    except (ValueError, RuntimeError, UnicodeDecodeError):
        return None
    try:
        request = {key: _python(value) for key, value in _fields(document, "inputs")}
        if "inputs" in request:
            inputs = document["inputs"]
            if not isinstance(inputs, simdjson.Array):
                raise NotHere
            request["inputs"] = [_input(item) for item in inputs]
        return request
    except NotHere:
        return None


def _reused_parser() -> simdjson.Parser:
    if not hasattr(_parsers, "parser"):
        _parsers.parser = simdjson.Parser()
    return _parsers.parser


def _fields(value: Any, skipped: str) -> list[tuple[str, Any]]:
    """An object's fields, the one named `skipped` as None; NotHere when a key repeats (the regular
    parsers keep the last, simdjson's lookup the first)."""
    if not isinstance(value, simdjson.Object):
        raise NotHere
    keys = list(value.keys())
    if len(set(keys)) != len(keys):
        raise NotHere
    return [(key, None if key == skipped else value[key]) for key in keys]


def _input(item: Any) -> dict[str, Any]:
    tensor = {key: _python(value) for key, value in _fields(item, "data")}
    if "data" in tensor:
        datatype = tensor.get("datatype")
        dtype = FLOAT_TYPES.get(datatype) if isinstance(datatype, str) else None
        data = item["data"]
        array = None if dtype is None else _float_array(data, dtype)
        tensor["data"] = _python(data) if array is None else array
    return tensor


def _float_array(data: Any, dtype: type) -> np.ndarray | None:
    """A flat array of numbers as `dtype`, else None."""
    if not isinstance(data, simdjson.Array):
        return None
    try:
        values = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
    except (TypeError, ValueError):  # strings, booleans, null or objects among the numbers
        return None
    if len(values) != len(data):  # nested lists (flattened by as_buffer): numpy reads those
        return None
    return values.astype(dtype)


def _python(value: Any) -> Any:
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value
