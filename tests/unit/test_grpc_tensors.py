"""gRPC messages <-> the protocol types: parameters, typed and raw contents, the answer's form."""
from __future__ import annotations

import numpy as np
import pytest

from service.errors import InvalidInput
from service.grpc import messages
from service.grpc.tensors import parameters_of, set_parameters, to_infer_response, to_inference_request
from service.protocol import InferenceResponse, ResponseOutput


def test_the_messages_share_a_process_with_tritonclients_own():
    tritonclient = pytest.importorskip("tritonclient.grpc")  # registers inference.* in the default pool
    request = messages.ModelInferRequest(model_name="mnist", id="x")
    again = tritonclient.service_pb2.ModelInferRequest.FromString(request.SerializeToString())
    assert again.model_name == "mnist" and again.id == "x"  # the same wire format


def test_parameters_both_ways():
    request = messages.ModelInferRequest()
    set_parameters(request.parameters, {"flag": True, "count": 3, "ratio": 0.5, "name": "a", "huge": 2**70,
                                        "nested": {"instances": [0], "tokens": [300]}})
    assert parameters_of(request.parameters) == {"flag": True, "count": 3, "ratio": 0.5, "name": "a",
                                                 "huge": str(2**70), "nested": '{"instances":[0],"tokens":[300]}'}
    request.parameters["unset"].Clear()
    assert "unset" not in parameters_of(request.parameters)


def typed(datatype, field, values, shape):
    request = messages.ModelInferRequest(model_name="m", id="r")
    getattr(request.inputs.add(name="x", datatype=datatype, shape=shape).contents, field).extend(values)
    return request


@pytest.mark.parametrize("datatype, field, values, dtype", [
    ("FP32", "fp32_contents", [0.5, 1.5], np.float32), ("INT8", "int_contents", [-3, 4], np.int8),
    ("UINT64", "uint64_contents", [2**63, 1], np.uint64), ("BOOL", "bool_contents", [True, False], np.bool_),
    ("FP64", "fp64_contents", [1e300, -2.0], np.float64),
])
def test_typed_contents_become_arrays_of_the_datatype(datatype, field, values, dtype):
    inference = to_inference_request(typed(datatype, field, values, [2]))
    (tensor,) = inference.inputs
    assert inference.id == "r" and tensor.data.dtype == dtype and tensor.data.tolist() == values


def test_out_of_range_typed_integers_are_refused():
    with pytest.raises(InvalidInput, match=r"must lie in \[-128, 127\]"):
        to_inference_request(typed("INT8", "int_contents", [300], [1]))


def test_raw_contents_are_little_endian_and_bytes_are_length_prefixed():
    request = messages.ModelInferRequest(model_name="m")
    request.inputs.add(name="x", datatype="FP16", shape=[2])
    request.inputs.add(name="t", datatype="BYTES", shape=[2])
    request.raw_input_contents.extend([np.array([1, 2], "<f2").tobytes(), b"\x02\0\0\0hi\x01\0\0\0!"])
    first, second = to_inference_request(request).inputs
    assert first.data.tolist() == [1.0, 2.0] and second.data == [b"hi", b"!"]


def test_the_answer_is_raw_when_asked_raw_and_always_for_fp16():
    outputs = [ResponseOutput("p", [1, 2], "FP32", np.array([[0.25, 0.75]], np.float32))]
    response = InferenceResponse("m", "1", outputs, id="r", parameters={"warning": "random weights"})
    typed_answer = to_infer_response(response, raw=False)
    assert list(typed_answer.outputs[0].contents.fp32_contents) == [0.25, 0.75] and not typed_answer.raw_output_contents
    assert typed_answer.parameters["warning"].string_param == "random weights" and typed_answer.id == "r"
    raw_answer = to_infer_response(response, raw=True)
    assert np.frombuffer(raw_answer.raw_output_contents[0], "<f4").tolist() == [0.25, 0.75]
    half = InferenceResponse("m", "1", [ResponseOutput("h", [1], "FP16", np.array([0.5], np.float16))])
    assert to_infer_response(half, raw=False).raw_output_contents[0] == np.array([0.5], "<f2").tobytes()
