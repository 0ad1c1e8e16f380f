"""Open Inference Protocol (KServe V2) wire types: parsed and validated once, here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.errors import InvalidInput, shown

# V2 datatype -> numpy dtype (BYTES elements are Python bytes/str objects).
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}
NUMPY_TO_DATATYPE = {np.dtype(v): k for k, v in DATATYPES.items() if k != "BYTES"}
MAX_RANK = 32  # dimensions of a request tensor (numpy's own limit is 64)


@dataclass(frozen=True)
class RequestInput:
    name: str
    shape: list[int]
    datatype: str
    data: Any
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InferenceRequest:
    inputs: list[RequestInput]
    id: str | None = None
    outputs: list[str] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    binary_outputs: frozenset[str] = frozenset()  # outputs asked for with binary_data (extension)
    all_outputs_binary: bool = False  # request parameter binary_data_output

    def wants_binary(self, output: str) -> bool:
        return self.all_outputs_binary or output in self.binary_outputs

    @classmethod
    def from_json(cls, body: Any) -> "InferenceRequest":
        if not isinstance(body, dict):
            raise InvalidInput("the request body must be a JSON object with an 'inputs' list")
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise InvalidInput("'inputs' must be a non-empty list of tensors")
        request_id = body.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise InvalidInput("'id' must be a string")
        outputs = body.get("outputs")
        names, binary = None, set()
        if outputs is not None:
            if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
                raise InvalidInput("'outputs' must be a list of objects with a 'name'")
            names = [o["name"] for o in outputs]
            binary = {o["name"] for o in outputs if _parameters(o, f"output '{o['name']}'").get("binary_data")}
        parameters = _parameters(body, "request")
        return cls(
            inputs=[_parse_input(i, item) for i, item in enumerate(inputs)],
            id=request_id,
            outputs=names,
            parameters=parameters,
            binary_outputs=frozenset(binary),
            all_outputs_binary=bool(parameters.get("binary_data_output")),
        )


def _parameters(body: dict, where: str) -> dict[str, Any]:
    """An object, or absent (null counts as absent: clients serialize unset optional fields so)."""
    parameters = body.get("parameters")
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise InvalidInput(f"{where} 'parameters' must be an object, got {type(parameters).__name__}")
    return parameters


def _parse_input(index: int, item: Any) -> RequestInput:
    if not isinstance(item, dict):
        raise InvalidInput(f"inputs[{index}] must be an object with name, shape, datatype and data")
    name, shape, datatype = item.get("name"), item.get("shape"), item.get("datatype")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"inputs[{index}].name must be a non-empty string")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInput(f"input '{name}': shape must be a list of non-negative integers, got {shown(shape)}")
    if len(shape) > MAX_RANK:
        raise InvalidInput(f"input '{name}': shape has {len(shape)} dimensions; at most {MAX_RANK}")
    if datatype not in DATATYPES:
        raise InvalidInput(f"input '{name}': unknown datatype {shown(datatype)}; use one of {', '.join(DATATYPES)}")
    parameters = _parameters(item, f"input '{name}'")
    if "data" not in item and "binary_data_size" not in parameters:
        raise InvalidInput(f"input '{name}': 'data' is missing")
    return RequestInput(name, shape, datatype, item.get("data"), parameters)


@dataclass(frozen=True)
class ResponseOutput:
    name: str
    shape: list[int]
    datatype: str
    array: np.ndarray

    def to_json(self, binary_size: int | None = None) -> dict[str, Any]:
        head = {"name": self.name, "shape": self.shape, "datatype": self.datatype}
        if binary_size is not None:
            return {**head, "parameters": {"binary_data_size": binary_size}}
        return {**head, "data": self.array.ravel().tolist()}


@dataclass(frozen=True)
class InferenceResponse:
    model_name: str
    model_version: str
    outputs: list[ResponseOutput]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "outputs": [o.to_json() for o in self.outputs],
        }
        if self.id is not None:
            body["id"] = self.id
        if self.parameters:
            body["parameters"] = self.parameters
        return body
