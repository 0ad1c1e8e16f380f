"""The V2 binary tensor data extension: a JSON header, then raw tensors.

Request: `Inference-Header-Content-Length: n`; the first n bytes are the JSON request, and each
input with `"parameters": {"binary_data_size": k}` takes the next k bytes, in input order. Numeric
tensors are little-endian, row-major; BYTES elements are each a 4-byte little-endian length and
then the bytes. Responses put an output in binary when it was asked for with `binary_data: true`
(or the request said `binary_data_output: true`), with the same header.
"""
from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any

import numpy as np

from service.codecs import jsontext
from service.errors import InvalidInput, shown
from service.protocol import DATATYPES, InferenceRequest, InferenceResponse, RequestInput

HEADER = "Inference-Header-Content-Length"


def split_body(body: bytes, header_length: str) -> tuple[Any, bytes]:
    """(parsed JSON header, the binary rest) of a binary-extension request body."""
    try:
        size = int(header_length)
    except ValueError:
        raise InvalidInput(f"{HEADER} must be an integer, got {shown(header_length)}") from None
    if not 0 < size <= len(body):
        raise InvalidInput(f"{HEADER} is {size} but the body has {len(body)} bytes")
    return jsontext.loads(body[:size], "the JSON header of the binary request"), body[size:]


def attach_binary_inputs(request: InferenceRequest, rest: bytes) -> InferenceRequest:
    """Replace each binary input's data with its decoded slice of `rest`."""
    offset, inputs = 0, []
    for tensor in request.inputs:
        size = tensor.parameters.get("binary_data_size")
        if size is None:
            inputs.append(tensor)
            continue
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(rest):
            raise InvalidInput(f"input '{tensor.name}': binary_data_size {shown(size)} runs past the end of the body")
        inputs.append(replace(tensor, data=decode_raw(tensor, rest[offset : offset + size])))
        offset += size
    if offset != len(rest):
        raise InvalidInput(f"the body has {len(rest) - offset} bytes beyond the binary inputs it declares")
    return replace(request, inputs=inputs)


def decode_raw(tensor: RequestInput, raw: bytes) -> Any:
    """One input's raw bytes (this extension's, or gRPC's raw_input_contents) -> its data."""
    if tensor.datatype == "BYTES":
        return deserialize_bytes(raw, tensor.name)
    dtype = np.dtype(DATATYPES[tensor.datatype]).newbyteorder("<")
    if len(raw) % dtype.itemsize:
        raise InvalidInput(f"input '{tensor.name}': {len(raw)} bytes is not a whole number of {tensor.datatype}")
    return np.frombuffer(raw, dtype=dtype)


def deserialize_bytes(raw: bytes, name: str = "input") -> list[bytes]:
    items, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput(f"input '{name}': truncated BYTES element length")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InvalidInput(f"input '{name}': a BYTES element runs past the end of its data")
        items.append(raw[offset : offset + length])
        offset += length
    return items


def serialize_bytes(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def raw_bytes(array: np.ndarray) -> bytes:
    """A numeric array as little-endian, row-major bytes (this extension's, and gRPC's raw contents)."""
    return np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()


def encode_response(response: InferenceResponse, request: InferenceRequest) -> tuple[bytes, int | None]:
    """(body, JSON header length or None when every output is JSON)."""
    blobs, outputs = [], []
    for output in response.outputs:
        if request.wants_binary(output.name):
            blob = raw_bytes(output.array)
            blobs.append(blob)
            outputs.append(output.to_json(binary_size=len(blob)))
        else:
            outputs.append(output.to_json())
    header = jsontext.dumps({**response.to_json(), "outputs": outputs})
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)
