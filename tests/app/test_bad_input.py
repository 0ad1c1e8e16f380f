"""Every bad input: a JSON {"error": ...} with the right 4xx, logged, and the app keeps serving."""
from __future__ import annotations

import io
import logging

import pytest
from PIL import Image

from tests.conftest import png_bytes

V2 = "/v2/models/mnist/infer"
V1 = "/v1/models/mnist:predict"
ZEROS = [[0.0] * 28] * 28


def tensor(shape, data, datatype="FP32", name="pixels"):
    return {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}


def png_of_size(width, height):
    buffer = io.BytesIO()
    Image.new("L", (width, height), 0).save(buffer, format="PNG")
    return buffer.getvalue()


# (method, path, request kwargs, status, words the error must contain)
CASES = {
    "v2 malformed json": ("post", V2, dict(data=b'{"inputs": [', content_type="application/json"), 400, "not valid JSON"),
    "v1 malformed json": ("post", V1, dict(data=b"{instances: 1}", content_type="application/json"), 400, "not valid JSON"),
    "v2 not an object": ("post", V2, dict(json=[1, 2]), 400, "JSON object"),
    "v2 wrong shape": ("post", V2, dict(json=tensor([1, 27, 28], [0.0] * 756)), 400, "expected shape"),
    "v1 wrong shape": ("post", V1, dict(json={"instances": [[0.0] * 27]}), 400, "expected shape"),
    "v2 wrong datatype": ("post", V2, dict(json=tensor([1, 28, 28], ZEROS, "INT64")), 400, "takes FP32"),
    "v2 unknown datatype": ("post", V2, dict(json=tensor([1, 28, 28], ZEROS, "FLOAT")), 400, "unknown datatype"),
    "v2 strings as numbers": ("post", V2, dict(json=tensor([1, 2], ["a", "b"])), 400, "FP32 numbers"),
    "v2 NaN": ("post", V2, dict(data=b'{"inputs":[{"name":"pixels","shape":[1,784],"datatype":"FP32","data":[NaN'
                                    + b",0" * 783 + b"]}]}", content_type="application/json"), 400, "finite"),
    "v2 null value": ("post", V2, dict(json=tensor([1, 784], [None] + [0.0] * 783)), 400, "finite"),
    "v2 out of range": ("post", V2, dict(json=tensor([1, 784], [255.0] * 784)), 400, "[0.0, 1.0]"),
    "v1 out of range": ("post", V1, dict(json={"instances": [[-1.0] * 784]}), 400, "[0.0, 1.0]"),
    "v2 data length vs shape": ("post", V2, dict(json=tensor([2, 784], [0.0] * 784)), 400, "needs 1568 values"),
    "v2 bad base64": ("post", V2, dict(json=tensor([1], ["***"], "BYTES", "image")), 400, "base64"),
    "v1 undecodable image": ("post", V1, dict(data=b"plain text, not a png", content_type="image/png"), 400, "not an image"),
    "v1 truncated image": ("post", V1, dict(data=png_of_size(300, 300)[:60], content_type="image/png"), 400, "image"),
    "v1 blank image": ("post", V1, dict(data=png_of_size(40, 40), content_type="image/png"), 400, "no digit"),
    "v2 empty body": ("post", V2, dict(data=b"", content_type="application/json"), 400, "empty"),
    "v1 empty json body": ("post", V1, dict(data=b"", content_type="application/json"), 400, "empty"),
    "v1 empty image body": ("post", V1, dict(data=b"", content_type="image/png"), 400, "empty"),
    "v1 no instances": ("post", V1, dict(json={"instances": []}), 400, "no instances"),
    "v1 neither key": ("post", V1, dict(json={"rows": []}), 400, '"instances"'),
    "v1 bad top_k": ("post", V1 + "?top_k=11", dict(json={"instances": [ZEROS]}), 400, "top_k"),
    "v1 empty multipart": ("post", V1, dict(data={}, content_type="multipart/form-data"), 400, "no file"),
    "unknown model v2": ("post", "/v2/models/nope/infer", dict(json=tensor([1, 784], [0.0] * 784)), 404, "'nope' not found"),
    "unknown model v1": ("post", "/v1/models/nope:predict", dict(json={"instances": [ZEROS]}), 404, "not found"),
    "unknown version v2": ("get", "/v2/models/mnist/versions/9", {}, 404, "no version 9"),
    "unknown version v1": ("post", "/v1/models/mnist/versions/9:predict", dict(json={"instances": [ZEROS]}), 404, "no version"),
    "non-numeric version": ("get", "/v2/models/mnist/versions/latest/ready", {}, 404, "positive integers"),
    "unknown model ready": ("get", "/v2/models/nope/ready", {}, 404, "not found"),
    "unknown route": ("get", "/v3/anything", {}, 404, "no route for GET /v3/anything"),
    "wrong method infer": ("get", V2, {}, 405, "not allowed"),
    "wrong method predict": ("put", V1, dict(json={}), 405, "not allowed"),
    "too large body": ("post", V2, dict(data=b"[" + b"0," * 2_200_000 + b"0]", content_type="application/json"), 413, "too large"),
    "too many instances": ("post", V1, dict(json={"instances": [ZEROS] * 17}), 413, "limit is 16"),
    "too many pixels": ("post", V1, dict(data=png_of_size(1001, 1000), content_type="image/png"), 413, "over the limit"),
    "unsupported type v1": ("post", V1, dict(data=b"a,b\n1,2", content_type="text/csv"), 415, "text/csv"),
    "unsupported type v2": ("post", V2, dict(data=b"a,b", content_type="text/csv"), 415, "application/json"),
    # hostile requests that answered 500 before
    "v2 JSON nested 100,000 deep": ("post", V2, dict(data=b"[" * 100_000 + b"]" * 100_000,
                                                    content_type="application/json"), 400, "nested too deeply"),
    "v1 JSON nested 100,000 deep": ("post", V1, dict(data=b'{"instances": ' + b"[" * 100_000,
                                                    content_type="application/json"), 400, "nested too deeply"),
    "binary header nested deep": ("post", V2, dict(data=b"[" * 100_000, content_type="application/json",
                                                  headers={"Inference-Header-Content-Length": "100000"}),
                                  400, "nested too deeply"),
    "BYTES nested 900 deep": ("post", V2, dict(data=b'{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES",'
                                                    b'"data":' + b"[" * 900 + b'"x"' + b"]" * 900 + b"}]}",
                                                    content_type="application/json"), 400, "base64"),
    "FP32 nested 900 deep": ("post", V2, dict(data=b'{"inputs":[{"name":"pixels","shape":[1],"datatype":"FP32",'
                                                   b'"data":' + b"[" * 900 + b"0.5" + b"]" * 900 + b"}]}",
                                                   content_type="application/json"), 400, "FP32 numbers"),
    "shape overflowing int64": ("post", V2, dict(json=tensor([4294967296, 4294967296], [])), 400,
                                "needs 18446744073709551616 values"),
    "shape of 70 dimensions": ("post", V2, dict(json=tensor([1] * 70, [0.5])), 400, "at most 32"),
    "version superscript two": ("get", "/v2/models/mnist/versions/%C2%B2", {}, 404, "positive integers"),
    "version Arabic-Indic two": ("get", "/v2/models/mnist/versions/%D9%A2", {}, 404, "positive integers"),
    "version with a leading zero": ("get", "/v2/models/mnist/versions/02", {}, 404, "positive integers"),
    "version of 5,000 digits": ("get", "/v2/models/mnist/versions/" + "9" * 5000, {}, 404, "positive integers"),
    "v1 version superscript": ("post", "/v1/models/mnist/versions/%C2%B2:predict", dict(json={"instances": [ZEROS]}),
                               404, "positive integers"),
    "top_k Infinity": ("post", V1, dict(data=b'{"instances": [[0.0]], "parameters": {"top_k": Infinity}}',
                                        content_type="application/json"), 400, "top_k must be a whole number"),
    "top_k 2.7": ("post", V1, dict(json={"instances": [ZEROS], "parameters": {"top_k": 2.7}}), 400, "whole number"),
    "top_k true": ("post", V1, dict(json={"instances": [ZEROS], "parameters": {"top_k": True}}), 400, "whole number"),
    "top_k Arabic-Indic three": ("post", V1 + "?top_k=%D9%A3", dict(json={"instances": [ZEROS]}), 400, "whole number"),
    "v1 parameters a list": ("post", V1, dict(json={"instances": [ZEROS], "parameters": []}), 400,
                             "'parameters' must be an object"),
    # V2 conformance: nothing accepted that the protocol does not allow
    "v2 unknown input name": ("post", V2, dict(json=tensor([1, 784], [0.0] * 784, name="input")), 400,
                              "has no input 'input'; its inputs: 'pixels' (FP32"),
    "v2 BYTES under the tensor's name": ("post", V2, dict(json=tensor([1], ["aGk="], "BYTES", "pixels")), 400,
                                         "takes FP32"),
    "v2 numeric strings": ("post", V2, dict(json=tensor([1, 784], ["0.5"] * 784)), 400, "FP32 numbers"),
    "v2 booleans as numbers": ("post", V2, dict(json=tensor([1, 784], [True] * 784)), 400, "not true or false"),
    "v2 request parameters a list": ("post", V2, dict(json={**tensor([1, 784], [0.0] * 784), "parameters": []}),
                                     400, "'parameters' must be an object"),
    "v2 input parameters a list": ("post", V2, dict(json={"inputs": [{"name": "pixels", "shape": [1, 784],
                                                                      "datatype": "FP32", "data": [0.0] * 784,
                                                                      "parameters": []}]}),
                                   400, "'parameters' must be an object"),
    # found beside them: the same classes of defect elsewhere
    "v1 numeric strings": ("post", V1, dict(json={"instances": [["0.5"] * 784]}), 400, "list of numbers"),
    "v1 booleans as pixels": ("post", V1, dict(json={"instances": [[True] * 784]}), 400, "not true or false"),
    "v1 unknown input name": ("post", V1, dict(json={"instances": [{"foo": [0.0] * 784}]}), 400,
                              "no input 'foo'; its inputs: 'pixels' or 'image'"),
    "v1 columnar unknown name": ("post", V1, dict(json={"inputs": {"foo": [[0.0] * 784]}}), 400, "no input 'foo'"),
    "v1 instances and inputs": ("post", V1, dict(json={"instances": [ZEROS], "inputs": [ZEROS]}), 400, "both"),
    "binary_data_size true": ("post", V2, dict(data=b'{"inputs":[{"name":"pixels","shape":[1],"datatype":"FP32",'
                                                   b'"parameters":{"binary_data_size":true}}]}\x00',
                                               content_type="application/octet-stream",
                                               headers={"Inference-Header-Content-Length": "99"}),
                              400, "binary_data_size True"),
    "multipart field that is not a file": ("post", V1, dict(data={"note": "hello"}, content_type="multipart/form-data"),
                                           400, "fields that are not files ('note')"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_gets_a_clear_json_error(client, caplog, case):
    method, path, kwargs, status, words = case
    with caplog.at_level(logging.WARNING, logger="axon.errors"):
        response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json and set(response.json) == {"error"}
    assert words in response.json["error"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert any(str(status) in record.getMessage() for record in caplog.records)  # logged
    # ... and the app keeps serving.
    assert client.post(V1, data=png_bytes(_seven()), content_type="image/png").status_code == 200


def test_wrong_method_says_what_is_allowed(client):
    assert "POST" in client.get(V2).headers["Allow"]


def test_a_real_bug_is_a_generic_500_with_a_request_id(app, client, monkeypatch):
    dataplane = app.extensions["axon.dataplane"]
    monkeypatch.setattr(dataplane, "run", lambda *a: 1 / 0)
    response = client.post(V1, json={"instances": [ZEROS]}, headers={"X-Request-ID": "abc123"})
    assert response.status_code == 500
    assert response.json == {"error": "internal server error (request id abc123)"}


def _seven():
    import numpy as np

    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:8, 8:20] = 255
    digit[8:22, 17:19] = 255
    return digit
