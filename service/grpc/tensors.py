"""gRPC ModelInferRequest -> InferenceRequest, and InferenceResponse -> ModelInferResponse.

The messages become the same wire-independent types the REST routes build (service/protocol.py),
so decoding, validation, batching and metrics are the dataplane's, whatever the protocol. Inputs come
typed (`contents`, the field that matches the datatype) or raw (`raw_input_contents`, one entry per
input, little-endian, BYTES elements each behind a 4-byte length). Outputs go back raw when the request
sent raw inputs (what tritonclient reads) and typed otherwise; FP16 has no typed field and is always raw.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from service.codecs import jsontext
from service.codecs.binary import decode_raw, raw_bytes
from service.codecs.tensor import json_array
from service.errors import InvalidInput, shown
from service.grpc import messages
from service.protocol import DATATYPES, MAX_RANK, InferenceRequest, InferenceResponse, RequestInput

# datatype -> its InferTensorContents field (FP16 has none: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def parameters_of(entries: Any) -> dict[str, Any]:
    """A map<string, InferParameter> -> plain values (an unset parameter is skipped)."""
    values = {}
    for key, parameter in entries.items():
        kind = parameter.WhichOneof("parameter_choice")
        if kind is not None:
            values[key] = getattr(parameter, kind)
    return values


def set_parameters(entries: Any, values: dict[str, Any]) -> None:
    """Plain values -> a map<string, InferParameter>; what is not a scalar goes as its JSON text."""
    for key, value in values.items():
        target = entries[key]
        if isinstance(value, bool):
            target.bool_param = value
        elif isinstance(value, int) and -2**63 <= value < 2**63:
            target.int64_param = value
        elif isinstance(value, float):
            target.double_param = value
        elif isinstance(value, str):
            target.string_param = value
        else:
            target.string_param = jsontext.dumps(value).decode()


def to_inference_request(message: Any) -> InferenceRequest:
    raw = list(message.raw_input_contents)
    if not message.inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors")
    if raw and len(raw) != len(message.inputs):
        raise InvalidInput(f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs: "
                           "give one per input, or typed contents for all of them")
    inputs = [_input(index, tensor, raw[index] if raw else None) for index, tensor in enumerate(message.inputs)]
    return InferenceRequest(inputs=inputs, id=message.id or None, outputs=[o.name for o in message.outputs] or None,
                            parameters=parameters_of(message.parameters))


def _input(index: int, tensor: Any, raw: bytes | None) -> RequestInput:
    name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
    if not name:
        raise InvalidInput(f"inputs[{index}].name must be a non-empty string")
    if any(d < 0 for d in shape):
        raise InvalidInput(f"input '{name}': shape must be a list of non-negative integers, got {shown(shape)}")
    if len(shape) > MAX_RANK:
        raise InvalidInput(f"input '{name}': shape has {len(shape)} dimensions; at most {MAX_RANK}")
    if datatype not in DATATYPES:
        raise InvalidInput(f"input '{name}': unknown datatype {shown(datatype)}; use one of {', '.join(DATATYPES)}")
    parameters = parameters_of(tensor.parameters)
    if raw is not None:
        if tensor.HasField("contents"):
            raise InvalidInput(f"input '{name}': typed contents and raw_input_contents together; send one of them")
        return RequestInput(name, shape, datatype, decode_raw(RequestInput(name, shape, datatype, None), raw), parameters)
    return RequestInput(name, shape, datatype, _typed(name, datatype, tensor.contents), parameters)


def _typed(name: str, datatype: str, contents: Any) -> Any:
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(f"input '{name}': {datatype} has no typed contents field; send it in raw_input_contents")
    given = [f.name for f, _ in contents.ListFields()]
    wrong = [f for f in given if f != field]
    if wrong:
        raise InvalidInput(f"input '{name}': {datatype} values go in contents.{field}, not contents.{wrong[0]}")
    values = list(getattr(contents, field))
    if datatype == "BYTES":
        return values
    dtype = np.dtype(DATATYPES[datatype])
    return json_array(values, dtype, datatype, f"input '{name}'", f"contents.{field} must hold {datatype} values")


def to_infer_response(response: InferenceResponse, raw: bool) -> Any:
    message = messages.ModelInferResponse(model_name=response.model_name, model_version=response.model_version,
                                          id=response.id or "")
    set_parameters(message.parameters, response.parameters)
    raw = raw or any(o.datatype not in CONTENTS_FIELD for o in response.outputs)  # FP16: no typed field
    for output in response.outputs:
        tensor = message.outputs.add(name=output.name, datatype=output.datatype, shape=output.shape)
        if raw:
            message.raw_output_contents.append(raw_bytes(output.array))
        else:
            getattr(tensor.contents, CONTENTS_FIELD[output.datatype]).extend(output.array.ravel().tolist())
    return message
