"""V2 gRPC with a client nobody here wrote (tritonclient[grpc]) against real gunicorn: every model,
raw and typed contents, metadata, readiness, health, every error kind; and the same answers as REST."""
from __future__ import annotations

import base64
import shutil
import threading

import grpc
import numpy as np
import pytest
import requests

grpcclient = pytest.importorskip("tritonclient.grpc")
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

from tests.conftest import png_bytes  # noqa: E402
from tests.e2e.server import Server  # noqa: E402
from training.photos import detection_photo_bytes, photo_bytes  # noqa: E402

KEY = "grpc-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
LIMIT = 2 * 1024 * 1024
TEXTS = ["I love this airline", "worst flight ever, so angry"]


@pytest.fixture(scope="module")
def repository(tmp_path_factory, built_models, test_models):
    """Every model: the built ones, the random-weight ResNet50, and an MNIST whose version 3 is broken."""
    root = tmp_path_factory.mktemp("grpc-models")
    for model in built_models.iterdir():
        if model.is_dir() and model.name not in ("resnet50", "mnist"):
            (root / model.name).symlink_to(model)
    (root / "resnet50").symlink_to(test_models / "resnet50")
    shutil.copytree(built_models / "mnist", root / "mnist", ignore=shutil.ignore_patterns("[3-9]"))
    (root / "mnist" / "3").mkdir()
    (root / "mnist" / "3" / "model.onnx").write_bytes(b"not an onnx model")
    return root


@pytest.fixture(scope="module")
def server(repository, tmp_path_factory):
    directory = tmp_path_factory.mktemp("grpc-server")
    (directory / "metrics").mkdir()
    running = Server(repository, directory / "metrics", directory / "gunicorn.log", AXON_API_KEYS=KEY,
                     AXON_MAX_REQUEST_BYTES=str(LIMIT), AXON_MAX_BATCH_SIZE="16")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(server):
    triton = grpcclient.InferenceServerClient(server.grpc_address)
    yield triton
    triton.close()


@pytest.fixture(scope="module")
def stub(server):
    """The raw stub (tritonclient's generated one): for typed contents, which tritonclient never sends."""
    with grpc.insecure_channel(server.grpc_address) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def tensor(name, array, datatype):
    value = grpcclient.InferInput(name, list(array.shape), datatype)
    value.set_data_from_numpy(array)
    return value


def infer(client, model, inputs, outputs=None, version="", **kwargs):
    requested = [grpcclient.InferRequestedOutput(name) for name in outputs] if outputs else None
    return client.infer(model, inputs, model_version=version, outputs=requested, headers=AUTH, **kwargs)


def failure(call) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def rest_v2(server, model, body, version=None):
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    response = requests.post(server.url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def bytes_body(name, items):
    return {"inputs": [{"name": name, "shape": [len(items)], "datatype": "BYTES", "data": items}]}


# --- health, readiness, metadata -------------------------------------------------------------

def test_server_health_readiness_and_metadata(client, server):
    assert client.is_server_live() and client.is_server_ready()  # open without a key, as /v2/health is
    metadata = client.get_server_metadata(headers=AUTH)
    assert metadata.name == "axon" and "binary_tensor_data" in metadata.extensions
    with grpc.insecure_channel(server.grpc_address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "inference.GRPCInferenceService"):
            assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


MODELS = ["mnist", "efficientnet_lite0", "resnet50", "sentiment", "minilm", "yolov3", "nanodet"]


@pytest.mark.parametrize("model", MODELS)
def test_model_readiness_and_metadata_match_rest(client, server, model):
    assert client.is_model_ready(model) and client.is_model_ready(model, "1")
    metadata = client.get_model_metadata(model, headers=AUTH)
    rest = requests.get(f"{server.url}/v2/models/{model}", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    assert metadata.name == model and list(metadata.versions) == rest["versions"] and metadata.platform == rest["platform"]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == \
        [(t["name"], t["datatype"], t["shape"]) for t in rest["inputs"]]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == \
        [(t["name"], t["datatype"], t["shape"]) for t in rest["outputs"]]


def test_not_ready_and_unknown_models(client):
    assert not client.is_model_ready("mnist", "3")  # its model.onnx is broken
    assert failure(lambda: client.is_model_ready("no_such_model")).status() == "StatusCode.NOT_FOUND"


# --- every model, raw contents (what tritonclient sends), the same answer as REST --------------

def test_mnist_digits_as_a_tensor_and_as_png_bytes(client, server, heldout):
    digits, labels = heldout[0][:8].astype(np.float32) / 255.0, heldout[1][:8]
    result = infer(client, "mnist", [tensor("pixels", digits, "FP32")], request_id="r-7")
    probabilities = result.as_numpy("probabilities")
    assert result.get_response().id == "r-7" and result.get_response().model_version == "2"
    assert probabilities.shape == (8, 10) and (probabilities.argmax(1) == labels).mean() >= 0.875
    rest = rest_v2(server, "mnist", {"inputs": [{"name": "pixels", "shape": [8, 28, 28], "datatype": "FP32",
                                                 "data": digits.ravel().tolist()}]})
    assert np.array_equal(np.asarray(rest["outputs"][0]["data"], np.float32).reshape(8, 10), probabilities)
    png = np.array([png_bytes(255 - heldout[0][0])], dtype=np.object_)
    assert infer(client, "mnist", [tensor("image", png, "BYTES")]).as_numpy("probabilities").argmax() == labels[0]


@pytest.mark.parametrize("model, version", [("efficientnet_lite0", "1"), ("efficientnet_lite0", "2"), ("resnet50", "1")])
def test_classifiers_take_encoded_photos(client, server, model, version):
    photo = photo_bytes("coffee.png")
    probabilities = infer(client, model, [tensor("image", np.array([photo], dtype=np.object_), "BYTES")],
                          version=version).as_numpy("probabilities")
    assert probabilities.shape == (1, 1000)
    if model == "efficientnet_lite0":
        assert probabilities.argmax() == 967  # espresso (ResNet50 here has random weights)
    rest = rest_v2(server, model, bytes_body("image", [base64.b64encode(photo).decode()]), version)
    assert np.array_equal(np.asarray(rest["outputs"][0]["data"], np.float32).reshape(1, 1000), probabilities)


@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_sentiment_texts(client, server, version):
    texts = np.array([t.encode() for t in TEXTS], dtype=np.object_)
    probabilities = infer(client, "sentiment", [tensor("text", texts, "BYTES")], version=version).as_numpy("probabilities")
    assert list(probabilities.argmax(1)) == [2, 0]
    rest = rest_v2(server, "sentiment", bytes_body("text", TEXTS), version)
    assert np.array_equal(np.asarray(rest["outputs"][0]["data"], np.float32).reshape(2, 3), probabilities)


def test_embeddings_of_texts(client, server):
    texts = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply today."]
    vectors = infer(client, "minilm", [tensor("text", np.array([t.encode() for t in texts], dtype=np.object_), "BYTES")]
                    ).as_numpy("embeddings")
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384) and vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    rest = rest_v2(server, "minilm", bytes_body("text", texts))
    assert np.array_equal(np.asarray(rest["outputs"][0]["data"], np.float32).reshape(3, 384), vectors)


@pytest.mark.parametrize("model", ["yolov3", "nanodet"])
def test_detectors_with_parameters_and_requested_outputs(client, server, model):
    photos = [detection_photo_bytes(name) for name in ("bus.jpg", "zidane.jpg")]
    images = tensor("image", np.array(photos, dtype=np.object_), "BYTES")
    result = infer(client, model, [images], parameters={"score_threshold": 0.3})
    boxes, scores, classes, count = (result.as_numpy(n) for n in ("boxes", "scores", "classes", "count"))
    assert count.dtype == np.int32 and count.shape == (2,) and count.min() >= 2
    assert 5 in classes[0, : count[0]] and (classes[1, : count[1]] == 0).sum() >= 1  # a bus; a person
    assert scores[0, : count[0]].min() >= 0.3
    only = infer(client, model, [images], outputs=["count"], parameters={"score_threshold": 0.3})
    assert [o.name for o in only.get_response().outputs] == ["count"] and np.array_equal(only.as_numpy("count"), count)
    rest = rest_v2(server, model, {**bytes_body("image", [base64.b64encode(p).decode() for p in photos]),
                                   "parameters": {"score_threshold": 0.3}})
    assert {o["name"]: o["data"] for o in rest["outputs"]}["count"] == count.tolist()
    assert np.array_equal(np.asarray({o["name"]: o["data"] for o in rest["outputs"]}["boxes"], np.float32).ravel(), boxes.ravel())


# --- typed contents (the raw stub) ------------------------------------------------------------

def test_typed_contents_in_typed_contents_out(stub, heldout):
    digits = heldout[0][:2].astype(np.float32) / 255.0
    request = service_pb2.ModelInferRequest(model_name="mnist", id="typed")
    request.inputs.add(name="pixels", datatype="FP32", shape=[2, 28, 28]).contents.fp32_contents.extend(digits.ravel().tolist())
    response = stub.ModelInfer(request, metadata=tuple(AUTH.items()))
    assert response.id == "typed" and not response.raw_output_contents
    probabilities = np.asarray(response.outputs[0].contents.fp32_contents, np.float32).reshape(2, 10)
    assert list(probabilities.argmax(1)) == list(heldout[1][:2])

    texts = service_pb2.ModelInferRequest(model_name="sentiment")
    texts.inputs.add(name="text", datatype="BYTES", shape=[2]).contents.bytes_contents.extend(t.encode() for t in TEXTS)
    answer = stub.ModelInfer(texts, metadata=tuple(AUTH.items()))
    assert list(np.asarray(answer.outputs[0].contents.fp32_contents).reshape(2, 3).argmax(1)) == [2, 0]


def test_a_long_text_is_cut_and_said_so_in_the_parameters(client):
    long = np.array([("great " * 400).encode()], dtype=np.object_)
    response = infer(client, "sentiment", [tensor("text", long, "BYTES")]).get_response()
    assert "truncated" in response.parameters and '"instances":[0]' in response.parameters["truncated"].string_param


# --- errors: the status code and the message REST gives ----------------------------------------

def code_of(call) -> str:
    return failure(call).status().removeprefix("StatusCode.")


def test_every_error_kind_has_its_status_code(client, stub):
    digits = np.zeros((1, 28, 28), np.float32)
    assert code_of(lambda: client.infer("mnist", [tensor("pixels", digits, "FP32")])) == "UNAUTHENTICATED"
    assert code_of(lambda: client.infer("mnist", [tensor("pixels", digits, "FP32")],
                                        headers={"authorization": "Bearer wrong"})) == "UNAUTHENTICATED"
    bad_shape = failure(lambda: infer(client, "mnist", [tensor("pixels", np.zeros((1, 27, 28), np.float32), "FP32")]))
    assert bad_shape.status() == "StatusCode.INVALID_ARGUMENT" and "expected shape [N, 28, 28], got [1, 27, 28]" in bad_shape.message()
    assert code_of(lambda: infer(client, "mnist", [tensor("pixels", digits.astype(np.float64), "FP64")])) == "INVALID_ARGUMENT"
    assert code_of(lambda: infer(client, "mnist", [tensor("image", np.array([b"not an image"], np.object_), "BYTES")])) == "INVALID_ARGUMENT"
    assert code_of(lambda: infer(client, "sentiment", [tensor("text", np.array([b"\xff\xfe"], np.object_), "BYTES")])) == "INVALID_ARGUMENT"
    assert code_of(lambda: infer(client, "no_such_model", [tensor("pixels", digits, "FP32")])) == "NOT_FOUND"
    assert code_of(lambda: infer(client, "mnist", [tensor("pixels", digits, "FP32")], version="9")) == "NOT_FOUND"
    assert code_of(lambda: client.get_model_metadata("no_such_model", headers=AUTH)) == "NOT_FOUND"
    broken = failure(lambda: infer(client, "mnist", [tensor("pixels", digits, "FP32")], version="3"))
    assert broken.status() == "StatusCode.UNAVAILABLE" and "version 3 is not available" in broken.message()
    too_many = np.zeros((17, 28, 28), np.float32)  # AXON_MAX_BATCH_SIZE=16
    assert code_of(lambda: infer(client, "mnist", [tensor("pixels", too_many, "FP32")])) == "RESOURCE_EXHAUSTED"
    too_big = np.zeros((1, LIMIT // 4 + 1), np.float32)  # over AXON_MAX_REQUEST_BYTES, refused by gRPC itself
    assert code_of(lambda: infer(client, "mnist", [tensor("pixels", too_big, "FP32")])) == "RESOURCE_EXHAUSTED"
    photo = np.array([photo_bytes("coffee.png")] * 16, dtype=np.object_)
    assert code_of(lambda: infer(client, "resnet50", [tensor("image", photo, "BYTES")], client_timeout=0.005)) == "DEADLINE_EXCEEDED"


@pytest.mark.parametrize("model, name, datatype, data, shape", [
    ("mnist", "pixels", "FP32", [0.5] * 756, [1, 27, 28]),
    ("no_such_model", "pixels", "FP32", [0.5], [1]),
    ("mnist", "image", "BYTES", [b"not an image"], [1]),
    ("sentiment", "text", "BYTES", [b"   "], [1]),
])
def test_the_error_message_is_the_one_rest_gives(server, client, model, name, datatype, data, shape):
    array = np.array(data, dtype=np.object_ if datatype == "BYTES" else np.float32).reshape(shape)
    over_grpc = failure(lambda: infer(client, model, [tensor(name, array, datatype)]))
    json_data = [d.decode() for d in data] if datatype == "BYTES" else data
    if name == "image":
        json_data = [base64.b64encode(d).decode() for d in data]
    response = requests.post(f"{server.url}/v2/models/{model}/infer", headers={"Authorization": f"Bearer {KEY}"},
                             json={"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": json_data}]},
                             timeout=10)
    assert over_grpc.message() == response.json()["error"]
    assert over_grpc.status().removeprefix("StatusCode.") == {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}[response.status_code]


def raw_request(shape, datatype="FP32", raw=None, typed=None, model="mnist", name="pixels", version=""):
    request = service_pb2.ModelInferRequest(model_name=model, model_version=version)
    tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
    if typed is not None:
        getattr(tensor.contents, typed[0]).extend(typed[1])
    if raw is not None:
        request.raw_input_contents.append(raw)
    return request


@pytest.mark.parametrize("request_, message", [
    (raw_request([1, 28, 28], raw=b"\0" * 3), "3 bytes is not a whole number of FP32"),
    (raw_request([1, 28, 28], raw=b"\0" * 8), "shape [1, 28, 28] needs 784 values, data has 2"),
    (raw_request([2**62, 2**62], raw=b"\0" * 8), "needs"),
    (raw_request([-1, 28, 28], raw=b"\0" * 8), "non-negative"),
    (raw_request([1] * 40, raw=b"\0" * 4), "at most 32"),
    (raw_request([1, 28, 28], datatype="FP17", raw=b"\0" * 4), "unknown datatype"),
    (raw_request([1, 28, 28], typed=("int_contents", [1] * 784)), "FP32 values go in contents.fp32_contents"),
    (raw_request([1, 28, 28], typed=("fp32_contents", [1.0] * 784), raw=b"\0" * 3136), "together"),
    (raw_request([1, 28, 28], datatype="FP16", typed=("fp32_contents", [1.0])), "raw_input_contents"),
    (raw_request([1, 28, 28], typed=("fp32_contents", [float("nan")] * 784)), "finite"),
    (raw_request([1], datatype="INT32", typed=("int64_contents", [1]), model="sentiment", name="tokens", version="1"),
     "INT32 values go in contents.int_contents"),
    (raw_request([1, 48], datatype="INT32", typed=("int_contents", [10**9] * 48), model="sentiment", name="tokens",
                 version="1"), "must lie in"),
    (raw_request([3], datatype="BYTES", raw=b"\x05\0\0\0ab", model="sentiment", name="text"), "runs past the end"),
    (service_pb2.ModelInferRequest(model_name="mnist"), "non-empty list"),
])
def test_hostile_requests_are_invalid_argument_and_the_server_keeps_serving(stub, client, request_, message):
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request_, metadata=tuple(AUTH.items()))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert message in caught.value.details()
    assert client.is_server_ready()


def test_errors_and_calls_are_counted_by_protocol(server, client):
    infer(client, "mnist", [tensor("pixels", np.zeros((1, 28, 28), np.float32), "FP32")])
    text = requests.get(server.url + "/metrics", timeout=10).text
    assert 'endpoint="/inference.GRPCInferenceService/ModelInfer",model="mnist",protocol="grpc",version="2"' in text
    assert 'code="500"' not in text and 'code="400",endpoint="/inference.GRPCInferenceService/ModelInfer"' in text


def test_concurrent_calls_over_one_channel(client, heldout):
    digits = heldout[0][:4].astype(np.float32) / 255.0
    expected = infer(client, "mnist", [tensor("pixels", digits, "FP32")]).as_numpy("probabilities")
    answers, errors = [], []

    def call():
        try:
            for _ in range(20):
                answers.append(infer(client, "mnist", [tensor("pixels", digits, "FP32")]).as_numpy("probabilities"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(answers) == 160 and all(np.array_equal(a, expected) for a in answers)


def resnet_calls(address: str, images: int, count: int, started: threading.Barrier) -> tuple[list, list]:
    """`count` threads, each with its own channel, send `images` photos to resnet50 once all are set;
    (the threads, each call's outcome: the output's shape, or the gRPC status)."""
    photos = np.array([photo_bytes("coffee.png")] * images, dtype=np.object_)
    outcomes: list = []

    def call():
        triton = grpcclient.InferenceServerClient(address)
        started.wait()
        try:
            outcomes.append(triton.infer("resnet50", [tensor("image", photos, "BYTES")]).as_numpy("probabilities").shape)
        except InferenceServerException as exc:
            outcomes.append(exc.status())
        finally:
            triton.close()

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def test_calls_in_flight_finish_when_the_server_is_told_to_stop(test_models, tmp_path):
    """SIGTERM to gunicorn: each worker's gRPC server takes no new calls, and the ones running finish."""
    (tmp_path / "metrics").mkdir()
    running = Server(test_models, tmp_path / "metrics", tmp_path / "gunicorn.log")
    running.wait_ready()
    started = threading.Barrier(5)
    threads, results = resnet_calls(running.grpc_address, 8, 4, started)
    started.wait()
    threading.Event().wait(0.3)  # the calls are running
    code = running.stop()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [(8, 1000)] * 4 and code == 0
    log = running.log_path.read_text()
    assert log.count("serving V2 gRPC on") == 2 and "Traceback" not in log


def test_calls_beyond_what_a_worker_holds_are_refused_not_queued_without_end(test_models, tmp_path):
    """One worker, one gRPC thread: it holds 4 calls (running or waiting); the rest are told
    RESOURCE_EXHAUSTED at once, and it serves on."""
    (tmp_path / "metrics").mkdir()
    running = Server(test_models, tmp_path / "metrics", tmp_path / "gunicorn.log", workers=1, AXON_GRPC_THREADS="1")
    running.wait_ready()
    try:
        threads, results = resnet_calls(running.grpc_address, 4, 10, threading.Barrier(10))
        for thread in threads:
            thread.join(timeout=60)
        outcomes = ["ok" if result == (4, 1000) else result for result in results]
        assert set(outcomes) == {"ok", "StatusCode.RESOURCE_EXHAUSTED"} and outcomes.count("ok") >= 4
        client = grpcclient.InferenceServerClient(running.grpc_address)
        assert client.is_server_ready()
        client.close()
    finally:
        running.stop()
