"""Property-based fuzzing of a real gunicorn server: whatever a client sends, the answer is a 2xx or a
JSON 4xx with an error message, never a 5xx, and the server stays up.

Generated: V2 infer requests (random model and input names, shapes, datatypes, nested parameters,
wrong-length data; JSON or the binary extension with right or wrong lengths), V1 bodies, random and
mutated real images, random texts. `make test` runs a bounded number of examples (FUZZ_EXAMPLES,
default 60 per strategy); `make fuzz` runs each of the four strategies for FUZZ_SECONDS (default 150:
ten minutes in all) and prints how many requests each sent.
"""
from __future__ import annotations

import base64
import io
import json
import os
import struct
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from training.photos import photo_bytes

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SECONDS = float(os.environ.get("FUZZ_SECONDS", "0"))  # > 0: run each strategy until this many seconds pass
MODELS = ["mnist", "sentiment", "minilm", "efficientnet_lite0", "yolov3", "nanodet", "nope", ""]
NAMES = ["pixels", "image", "text", "tokens", "input_ids", "input", "probabilities", ""]
DATATYPES = ["FP32", "FP16", "FP64", "INT32", "INT64", "INT8", "UINT8", "UINT64", "BOOL", "BYTES", "FLOAT", ""]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                    st.text(max_size=8), st.just(0.5), st.just(1))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=6), inner, max_size=4), max_leaves=20)
dims = st.one_of(st.integers(0, 64), st.sampled_from([784, 224, 3, 28, 48, 2 ** 32, 2 ** 63, -1]), st.floats(),
                 st.text(max_size=2))
shapes = st.one_of(st.lists(dims, max_size=6), st.lists(st.sampled_from([1, 2 ** 32, 2 ** 31, 2 ** 62]), max_size=70),
                   json_values)
versions = st.sampled_from([None, "1", "2", "9", "x", "0", "02", "²", "٢", "１", "9" * 30, "-1", "1.0"])


def nested(depth: int, leaf: str) -> str:
    return "[" * depth + leaf + "]" * depth


@st.composite
def tensor_data(draw, shape):
    """Data of about the right size (or not), of numbers, texts, booleans or a mix, nested or flat."""
    try:
        count = 1
        for d in shape:
            count *= int(d)
    except (TypeError, ValueError, OverflowError):
        count = draw(st.integers(0, 10))
    count = min(max(count, 0), 2000) + draw(st.sampled_from([0, 0, 0, 1, -1]))
    if draw(st.integers(0, 5)) == 0:
        count = draw(st.integers(0, 3))  # far too few for the shape (or, when its product wraps, just right)
    element = draw(st.sampled_from([st.floats(0, 1), st.integers(-5, 30000), st.booleans(), st.text(max_size=5),
                                    scalars]))
    flat = draw(st.lists(element, min_size=max(count, 0), max_size=max(count, 0)))
    if draw(st.booleans()) and len(flat) >= 2:
        flat = [flat[: len(flat) // 2], flat[len(flat) // 2:]]
    return flat


@st.composite
def v2_inputs(draw):
    shape = draw(shapes)
    tensor = {"name": draw(st.sampled_from(NAMES) | st.text(max_size=10)),
              "shape": shape, "datatype": draw(st.sampled_from(DATATYPES)),
              "data": draw(tensor_data(shape if isinstance(shape, list) else []))}
    if draw(st.integers(0, 4)) == 0:
        tensor["parameters"] = draw(json_values)
    for key in draw(st.lists(st.sampled_from(["name", "shape", "datatype", "data"]), max_size=1)):
        del tensor[key]
    return tensor


@st.composite
def v2_requests(draw):
    body = {"inputs": draw(st.lists(v2_inputs(), max_size=3) | json_values)}
    if draw(st.booleans()):
        body["id"] = draw(json_values)
    if draw(st.booleans()):
        body["parameters"] = draw(json_values)
    if draw(st.integers(0, 3)) == 0:
        body["outputs"] = draw(st.lists(st.dictionaries(st.sampled_from(["name", "parameters"]), json_values)))
    return draw(st.sampled_from(MODELS) | st.text(max_size=5)), draw(versions), body


# A valid request per model, for near-valid variants: one field replaced by anything.
VALID = {
    "mnist": {"name": "pixels", "shape": [1, 784], "datatype": "FP32", "data": [0.5] * 784},
    "sentiment": {"name": "input_ids", "shape": [1, 8], "datatype": "INT32", "data": [101] + [2000] * 6 + [102]},
    "minilm": {"name": "input_ids", "shape": [2, 4], "datatype": "INT32", "data": [101, 2000, 102, 0, 101, 7592, 2088, 102]},
    "efficientnet_lite0": {"name": "input", "shape": [1, 224, 224, 3], "datatype": "FP32", "data": [0.1] * 150528},
    "yolov3": {"name": "input", "shape": [1, 416, 416, 3], "datatype": "FP32", "data": [0.5] * 519168},
}


@st.composite
def near_valid_requests(draw):
    model = draw(st.sampled_from(sorted(VALID)))
    tensor = dict(VALID[model])
    field = draw(st.sampled_from(["name", "shape", "datatype", "data", "parameters", "none"]))
    if field == "data":
        tensor["data"] = draw(tensor_data(tensor["shape"]))
    elif field == "shape":
        tensor["shape"] = draw(shapes)
    elif field == "datatype":
        tensor["datatype"] = draw(st.sampled_from(DATATYPES))
    elif field == "name":
        tensor["name"] = draw(st.sampled_from(NAMES))
    elif field == "parameters":
        tensor["parameters"] = draw(json_values)
    return model, draw(st.sampled_from([None, None, "1"]) | versions), {"inputs": [tensor], "parameters": draw(st.sampled_from([{}, None, []]) | json_values)}


def binary_body(header: dict, blobs: list[bytes], lie: int) -> tuple[bytes, dict]:
    """The binary tensor extension: a JSON header, then raw tensors; `lie` skews the declared length."""
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {"Inference-Header-Content-Length": str(len(head) + lie),
                                    "Content-Type": "application/octet-stream"}


REAL_IMAGES = [photo_bytes("rocket.jpg")[:60_000], photo_bytes("coins.png")]


def small_png(width: int, height: int, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@st.composite
def image_bytes(draw):
    kind = draw(st.sampled_from(["random", "mutated", "truncated", "tiny"]))
    if kind == "random":
        return draw(st.binary(max_size=2000))
    if kind == "tiny":
        return small_png(draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.sampled_from(["L", "RGB", "RGBA",
                                                                                                      "1", "P", "I;16"])))
    data = bytearray(draw(st.sampled_from(REAL_IMAGES)))
    if kind == "truncated":
        return bytes(data[: draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 20))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


class Tally:
    examples = 0
    statuses: dict[int, int] = {}


def check(response: requests.Response) -> None:
    Tally.examples += 1
    Tally.statuses[response.status_code] = Tally.statuses.get(response.status_code, 0) + 1
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert response.headers["Content-Type"].startswith("application/json"), response.headers
        assert isinstance(response.json()["error"], str) and response.json()["error"]


def post(server, path: str, **kwargs) -> requests.Response:
    return requests.post(server.url + path, timeout=60, **kwargs)


def infer_path(model: str, version: str | None) -> str:
    return f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"


def fuzz_settings(function):
    return settings(max_examples=EXAMPLES if not SECONDS else 1_000, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))(function)


def run(server, test) -> None:
    """Once (make test), or again and again until FUZZ_SECONDS have passed (make fuzz)."""
    deadline = time.monotonic() + SECONDS
    while True:
        test(server)
        if time.monotonic() >= deadline:
            break
    assert requests.get(server.url + "/v2/health/ready", timeout=10).status_code == 200  # still up


@fuzz_settings
@given(request=v2_requests() | near_valid_requests(), as_binary=st.booleans(), lie=st.sampled_from([0, 0, 1, -1, -10, 10 ** 6]))
def v2_infer(server, request, as_binary, lie):
    model, version, body = request
    path = infer_path(model, version)
    text = json.dumps(body)
    if as_binary:
        blob = struct.pack("<I", 3) + b"abc" if lie % 2 else bytes(lie % 7 * 4)
        data, headers = binary_body(body, [blob], lie)
        check(post(server, path, data=data, headers=headers))
    else:
        check(post(server, path, data=text, headers={"Content-Type": "application/json"}))


@fuzz_settings
@given(model=st.sampled_from(["mnist", "sentiment", "efficientnet_lite0", "nanodet"]) | st.sampled_from(MODELS),
       version=st.sampled_from([None, None, None, "1"]) | versions, body=json_values, top_k=scalars,
       query=st.sampled_from(["", "?top_k=2", "?top_k=0", "?top_k=%D9%A3", "?top_k=1e9", "?top_k=" + "9" * 40,
                           "?score_threshold=-1", "?max_detections=1e9", "?iou_threshold=inf", "?format=png"]),
       depth=st.sampled_from([0, 0, 0, 50, 900, 3000, 100_000]))
def v1_json(server, model, version, body, top_k, query, depth):
    """Bodies of any shape, with parameters.top_k of any JSON value (NaN and Infinity too), and
    nesting deeper than Python's recursion limit."""
    if isinstance(body, dict) and "instances" in body and isinstance(body.get("parameters"), dict):
        body["parameters"]["top_k"] = top_k
    elif isinstance(body, list) and body:
        body = {"instances": body, "parameters": {"top_k": top_k}}
    elif isinstance(body, dict) and body:  # named instances and columns, under the model's names or others
        body = {"instances": [body], "inputs": body} if len(body) > 2 else {"instances": [body]}
    text = json.dumps(body)
    if depth:
        text = '{"instances": ' + nested(depth, "0.5") + "}"
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + f":predict{query}"
    check(post(server, path, data=text, headers={"Content-Type": "application/json"}))


@fuzz_settings
@given(model=st.sampled_from(["mnist", "efficientnet_lite0", "sentiment", "yolov3", "nanodet"]), data=image_bytes(),
       how=st.sampled_from(["raw", "multipart", "v1 b64", "v2 bytes"]),
       query=st.sampled_from(["", "", "?format=png", "?score_threshold=0.01&max_detections=1000"]))
def images(server, model, data, how, query):
    if how == "raw":
        check(post(server, f"/v1/models/{model}:predict{query}", data=data, headers={"Content-Type": "image/png"}))
    elif how == "multipart":
        check(post(server, f"/v1/models/{model}:predict", files=[("file", ("x.png", data))] * 2))
    elif how == "v1 b64":
        check(post(server, f"/v1/models/{model}:predict", json={"instances": [{"b64": base64.b64encode(data).decode()}]}))
    else:
        tensor = {"name": "image", "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(data).decode()]}
        check(post(server, infer_path(model, None), json={"inputs": [tensor]}))


@fuzz_settings
@given(texts=st.lists(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                      min_size=0, max_size=70),
       raw=st.binary(max_size=500), how=st.sampled_from(["v1", "plain", "v2"]),
       model=st.sampled_from(["sentiment", "sentiment/versions/1", "minilm"]))
def texts(server, texts, raw, how, model):
    if how == "v1":
        check(post(server, f"/v1/models/{model}:predict", json={"instances": texts}))
    elif how == "plain":
        check(post(server, f"/v1/models/{model}:predict", data=raw, headers={"Content-Type": "text/plain"}))
    else:
        tensor = {"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}
        check(post(server, f"/v2/models/{model}/infer", json={"inputs": [tensor]}))


@pytest.mark.parametrize("test", [v2_infer, v1_json, images, texts], ids=lambda t: t.__name__)
def test_no_request_is_a_server_error(server, test):
    before = Tally.examples
    run(server, test)
    print(f"\nfuzz {test.__name__}: {Tally.examples - before} requests; statuses so far {dict(sorted(Tally.statuses.items()))}")
    assert "unhandled error" not in server.log_path.read_text()
