"""V2 JSON tensors <-> numpy arrays."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from service.errors import InvalidInput
from service.protocol import DATATYPES, NUMPY_TO_DATATYPE, RequestInput, ResponseOutput


def decode_tensor(tensor: RequestInput) -> np.ndarray:
    """A numeric V2 input -> ndarray of its datatype and shape (data flat or nested, row-major)."""
    if tensor.datatype == "BYTES":
        raise InvalidInput(f"input '{tensor.name}': BYTES is not a numeric tensor")
    dtype = np.dtype(DATATYPES[tensor.datatype])
    # The binary extension's data is already an array of the datatype; JSON's is checked here.
    if isinstance(tensor.data, np.ndarray):
        array = tensor.data
    else:
        array = json_array(tensor.data, dtype, tensor.datatype, f"input '{tensor.name}'",
                           f"data must be a (nested) list of {tensor.datatype} numbers: finite values, no strings or null")
    expected = math.prod(tensor.shape)  # Python ints: [2**32, 2**32] does not wrap around to 0
    if array.size != expected:
        raise InvalidInput(
            f"input '{tensor.name}': shape {tensor.shape} needs {expected} values, data has {array.size}"
        )
    return array.reshape(tensor.shape)


def json_array(data: Any, dtype: np.dtype, datatype: str, where: str, expected: str) -> np.ndarray:
    """JSON numbers as `dtype` (V2 tensors, V1 instances), refusing whatever would need a silent
    change: strings ("0.5"), null, true/false where numbers are due (and numbers where booleans
    are), a fraction in an integer tensor, a value outside the integer type's range."""
    try:
        raw = np.asarray(data)
    except (ValueError, TypeError, OverflowError):  # ragged, or nested past numpy's 64 dimensions
        raise InvalidInput(f"{where}: {expected}") from None
    if raw.dtype.kind not in "biuf":  # strings, null, integers too large for int64/uint64
        raise InvalidInput(f"{where}: {expected}")
    if raw.size == 0:
        return raw.astype(dtype)
    if (raw.dtype.kind == "b") != (dtype.kind == "b"):
        raise InvalidInput(f"{where}: {datatype} values must be "
                           + ("true or false" if dtype.kind == "b" else "numbers, not true or false"))
    if dtype.kind in "iu":
        if raw.dtype.kind == "f" and not (np.isfinite(raw).all() and (raw == np.round(raw)).all()):
            raise InvalidInput(f"{where}: {datatype} values must be integers")
        limits = np.iinfo(dtype)
        if raw.min() < limits.min or raw.max() > limits.max:
            raise InvalidInput(f"{where}: {datatype} values must lie in [{limits.min}, {limits.max}]")
    return raw.astype(dtype)


def decode_bytes(tensor: RequestInput) -> list[bytes | str]:
    """A BYTES V2 input -> its elements (str from JSON, bytes from the binary extension)."""
    if tensor.datatype != "BYTES":
        raise InvalidInput(f"input '{tensor.name}': expected datatype BYTES, got {tensor.datatype}")
    flat = _flatten(tensor.data if isinstance(tensor.data, list) else [tensor.data])
    if not all(isinstance(item, (str, bytes)) for item in flat):
        raise InvalidInput(f"input '{tensor.name}': BYTES data must be strings")
    expected = math.prod(tensor.shape)
    if len(flat) != expected:
        raise InvalidInput(
            f"input '{tensor.name}': shape {tensor.shape} needs {expected} elements, data has {len(flat)}"
        )
    return flat


def _flatten(items: list) -> list:
    """Nested lists -> one flat list, without recursion (however deep the client nested them)."""
    flat: list = []
    stack = [iter(items)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def encode_tensor(name: str, array: np.ndarray) -> ResponseOutput:
    """An ndarray -> V2 output with flat row-major data."""
    datatype = NUMPY_TO_DATATYPE.get(array.dtype)
    if datatype is None:
        raise TypeError(f"no V2 datatype for numpy dtype {array.dtype}")
    return ResponseOutput(name, list(array.shape), datatype, array)
