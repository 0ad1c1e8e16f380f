"""V2 JSON tensors <-> numpy arrays."""
from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.protocol import DATATYPES, NUMPY_TO_DATATYPE, RequestInput, ResponseOutput


def decode_tensor(tensor: RequestInput) -> np.ndarray:
    """A numeric V2 input -> ndarray of its datatype and shape (data flat or nested, row-major)."""
    if tensor.datatype == "BYTES":
        raise InvalidInput(f"input '{tensor.name}': BYTES is not a numeric tensor")
    dtype = DATATYPES[tensor.datatype]
    try:
        array = np.asarray(tensor.data, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(
            f"input '{tensor.name}': data must be a (nested) list of {tensor.datatype} numbers"
        ) from None
    expected = int(np.prod(tensor.shape))
    if array.size != expected:
        raise InvalidInput(
            f"input '{tensor.name}': shape {tensor.shape} needs {expected} values, data has {array.size}"
        )
    return array.reshape(tensor.shape)


def decode_bytes(tensor: RequestInput) -> list[bytes | str]:
    """A BYTES V2 input -> its elements (str from JSON, bytes from the binary extension)."""
    if tensor.datatype != "BYTES":
        raise InvalidInput(f"input '{tensor.name}': expected datatype BYTES, got {tensor.datatype}")
    data = tensor.data if isinstance(tensor.data, list) else [tensor.data]
    flat = _flatten(data)
    if not all(isinstance(item, (str, bytes)) for item in flat):
        raise InvalidInput(f"input '{tensor.name}': BYTES data must be strings")
    expected = int(np.prod(tensor.shape))
    if len(flat) != expected:
        raise InvalidInput(
            f"input '{tensor.name}': shape {tensor.shape} needs {expected} elements, data has {len(flat)}"
        )
    return flat


def _flatten(items: list) -> list:
    flat: list = []
    for item in items:
        if isinstance(item, list):
            flat.extend(_flatten(item))
        else:
            flat.append(item)
    return flat


def encode_tensor(name: str, array: np.ndarray) -> ResponseOutput:
    """An ndarray -> V2 output with flat row-major data."""
    datatype = NUMPY_TO_DATATYPE.get(array.dtype)
    if datatype is None:
        raise TypeError(f"no V2 datatype for numpy dtype {array.dtype}")
    return ResponseOutput(name, list(array.shape), datatype, array)
