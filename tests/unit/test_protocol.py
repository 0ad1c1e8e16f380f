"""V2 request parsing: every malformed shape is a clear InvalidInput."""
from __future__ import annotations

import numpy as np
import pytest

from service.errors import InvalidInput
from service.protocol import InferenceRequest, InferenceResponse, ResponseOutput

GOOD_INPUT = {"name": "pixels", "shape": [1, 2], "datatype": "FP32", "data": [0, 1]}


def test_parses_a_full_request():
    request = InferenceRequest.from_json(
        {"id": "42", "inputs": [GOOD_INPUT], "outputs": [{"name": "probabilities"}], "parameters": {"top_k": 2}}
    )
    assert request.id == "42" and request.outputs == ["probabilities"]
    assert request.inputs[0].shape == [1, 2] and request.parameters == {"top_k": 2}


@pytest.mark.parametrize(
    "body, message",
    [
        ([], "JSON object"),
        ({}, "non-empty list"),
        ({"inputs": []}, "non-empty list"),
        ({"inputs": [1]}, "must be an object"),
        ({"inputs": [{**GOOD_INPUT, "name": ""}]}, "name must be"),
        ({"inputs": [{**GOOD_INPUT, "shape": [1, -2]}]}, "shape must be"),
        ({"inputs": [{**GOOD_INPUT, "shape": "1,2"}]}, "shape must be"),
        ({"inputs": [{**GOOD_INPUT, "datatype": "FLOAT"}]}, "unknown datatype"),
        ({"inputs": [{k: v for k, v in GOOD_INPUT.items() if k != "data"}]}, "'data' is missing"),
        ({"inputs": [GOOD_INPUT], "id": 5}, "'id' must be a string"),
        ({"inputs": [GOOD_INPUT], "outputs": ["probabilities"]}, "'outputs' must be"),
        ({"inputs": [GOOD_INPUT], "parameters": [1]}, "'parameters' must be an object"),
    ],
)
def test_rejects_malformed_requests(body, message):
    with pytest.raises(InvalidInput, match=message):
        InferenceRequest.from_json(body)


def test_response_echoes_id_only_when_given():
    output = ResponseOutput("y", [1], "FP32", np.array([0.5], np.float32))
    assert "id" not in InferenceResponse("m", "1", [output]).to_json()
    assert InferenceResponse("m", "1", [output], id="abc").to_json()["id"] == "abc"
