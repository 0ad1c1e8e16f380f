"""The container image, built from the Dockerfile as written and run the way the Deployment runs it:
read-only root, a tmpfs /tmp, uid 10001, every capability dropped, no new privileges. Once with the
models baked in, once with models mounted read-only from a volume."""
from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import png_bytes
from tests.e2e.server import free_port
from tests.image.engine import Engine, ensure_base, find_engine, say
from training.photos import detection_photo_bytes, photo_bytes

TAG = "localhost/axon:test"
AS_THE_DEPLOYMENT_RUNS_IT = ["--read-only", "--tmpfs", "/tmp", "--user", "10001:10001", "--cap-drop", "ALL",
                             "--security-opt", "no-new-privileges"]
# What a read-only root used to make the server log at every start.
NOT_IN_THE_LOG = ("Read-only file system", "Control server error", "telemetry", "Traceback", "Permission denied")


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = find_engine()
    say(f"engine: {engine.name}; {ensure_base(engine)}")
    return engine


@pytest.fixture(scope="module")
def image(engine) -> str:
    seconds = engine.build(TAG, "--build-arg", "SKIP_MODELS=resnet50")
    size = engine("image", "inspect", "--format", "{{.Size}}", TAG).stdout.strip()
    say(f"built {TAG} (SKIP_MODELS=resnet50) in {seconds:.0f} s, {int(size) / 1e6:.0f} MB")
    return TAG


class Container:
    def __init__(self, engine: Engine, image: str, *args: str):
        self.engine, self.port, self.grpc_port = engine, free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.id = engine.run_detached(image, *AS_THE_DEPLOYMENT_RUNS_IT, "-p", f"127.0.0.1:{self.port}:8080",
                                      "-p", f"127.0.0.1:{self.grpc_port}:8081", *args)

    def wait_ready(self, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if requests.get(self.url + "/v2/health/ready", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except (requests.ConnectionError, requests.Timeout):  # the port forwarder may accept before gunicorn
                pass
            if self.state() == "exited":
                raise RuntimeError(f"the container exited:\n{self.logs()}")
            time.sleep(0.2)
        raise RuntimeError(f"not ready after {timeout} s:\n{self.logs()}")

    def state(self) -> str:
        return self.engine("inspect", "--format", "{{.State.Status}}", self.id).stdout.strip()

    def logs(self) -> str:
        result = self.engine("logs", self.id, check=False)
        return result.stdout + result.stderr

    def in_flight(self) -> float:
        """Requests in flight, read from the workers' metric files inside the container."""
        code = ("from prometheus_client import CollectorRegistry; from prometheus_client.multiprocess import "
                "MultiProcessCollector; r = CollectorRegistry(); MultiProcessCollector(r); "
                "print(r.get_sample_value('axon_requests_in_flight') or 0)")
        return float(self.engine("exec", self.id, "python", "-c", code).stdout.strip() or 0)

    def remove(self) -> None:
        self.engine("rm", "-f", self.id, check=False)


@pytest.fixture
def start(engine, image):
    started = []

    def starter(*args: str) -> Container:
        container = Container(engine, image, *args)
        started.append(container)
        say(f"ready in {container.wait_ready():.1f} s")
        return container

    yield starter
    for container in started:
        container.remove()


def predict(container: Container, model: str, **kwargs) -> dict:
    response = requests.post(f"{container.url}/v1/models/{model}:predict", timeout=60, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def check_predictions(container: Container, heldout) -> None:
    photo = predict(container, "efficientnet_lite0", data=photo_bytes("chelsea.png"),
                    headers={"Content-Type": "image/png"})
    assert photo["predictions"][0]["class_id"] in {281, 282, 285}  # a tabby cat
    digit, label = heldout[0][0], int(heldout[1][0])
    assert predict(container, "mnist", data=png_bytes(255 - digit),
                   headers={"Content-Type": "image/png"})["predictions"][0]["class_id"] == label
    texts = predict(container, "sentiment", json={"instances": ["I love this airline, great crew!",
                                                                "The movie was a complete waste of time."]})
    assert texts["model_version"] == "3"  # the transformer: tokenizers runs without huggingface-hub
    assert [p["label"] for p in texts["predictions"]] == ["positive", "negative"]
    vectors = predict(container, "minilm", json={"instances": ["A man plays a guitar.", "Someone plays music."]})
    assert len(vectors["embeddings"]) == 2 and len(vectors["embeddings"][0]) == 384
    boxes = predict(container, "nanodet", data=detection_photo_bytes("bus.jpg"), headers={"Content-Type": "image/jpeg"})
    assert "bus" in {d["label"] for d in boxes["predictions"][0]["detections"]}
    check_grpc(container, heldout)


def check_grpc(container: Container, heldout) -> None:
    """V2 gRPC on 8081, with tritonclient, and the standard health service a gRPC probe asks."""
    import grpc
    import numpy as np
    import tritonclient.grpc as grpcclient
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    address = f"127.0.0.1:{container.grpc_port}"
    with grpc.insecure_channel(address) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert check.status == health_pb2.HealthCheckResponse.SERVING
    client = grpcclient.InferenceServerClient(address)
    digit = grpcclient.InferInput("image", [1], "BYTES")
    digit.set_data_from_numpy(np.array([png_bytes(255 - heldout[0][0])], dtype=np.object_))
    assert client.infer("mnist", [digit]).as_numpy("probabilities").argmax() == int(heldout[1][0])
    client.close()


def test_the_build_stage_without_models_installs_no_tensorflow(engine):
    engine.build("localhost/axon-build-stage:test", "--target", "build", "--build-arg", "SKIP_MODELS=all")
    probe = engine.run_once("localhost/axon-build-stage:test", "python", "-c", "import tensorflow")
    assert probe.returncode != 0 and "No module named 'tensorflow'" in probe.stderr
    versions = engine.run_once("localhost/axon-build-stage:test", "python", "-c",
                               "import pathlib; print(sorted(map(str, pathlib.Path('models').glob('*/[0-9]*'))))")
    assert versions.stdout.strip() == "[]"  # the context's built versions are not baked in either


def test_the_image_serves_as_the_deployment_runs_it(engine, start, heldout):
    container = start()
    assert requests.get(container.url + "/v2/health/live", timeout=5).json() == {"live": True}
    check_predictions(container, heldout)
    metrics = requests.get(container.url + "/metrics", timeout=10).text
    counted = {line.split("model=\"")[1].split('"')[0] for line in metrics.splitlines()
               if line.startswith("axon_requests_total{") and 'code="200"' in line and ":predict" in line}
    assert {"efficientnet_lite0", "mnist", "sentiment", "nanodet"} <= counted
    page = requests.get(container.url + "/", timeout=10)  # the web page and its modules, from the installed image
    assert page.status_code == 200 and "/ui/page.js" in page.text
    assert "javascript" in requests.get(container.url + "/ui/tryers.js", timeout=10).headers["Content-Type"]
    card = requests.get(container.url + "/v2/models/mnist/card", timeout=10)
    assert card.status_code == 200 and card.text.count("<svg") == 3
    assert engine.healthcheck(container.id) == "healthy"
    user = engine("exec", container.id, "id", "-u").stdout.strip()
    assert user == "10001"
    logs = container.logs()
    assert not [words for words in NOT_IN_THE_LOG if words in logs], logs[-3000:]


def test_sigterm_with_requests_in_flight_finishes_them_and_exits_0(engine, start):
    container = start()  # 2 sync workers: 2 requests in flight, 6 queued, all served before they exit
    image = {"b64": base64.b64encode(photo_bytes("rocket.jpg")).decode()}
    body = json.dumps({"instances": [image] * 32}).encode()  # a second or more of work each

    def slow_request(_):
        return requests.post(container.url + "/v1/models/efficientnet_lite0/versions/1:predict", data=body,
                             headers={"Content-Type": "application/json"}, timeout=120)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(slow_request, i) for i in range(8)]
        deadline = time.monotonic() + 30
        while (in_flight := container.in_flight()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert in_flight >= 2
        stopping = threading.Thread(target=engine, args=("stop", "-t", "40", container.id))
        stopping.start()  # SIGTERM, as the kubelet sends it; SIGKILL only after 40 s
        responses = [f.result() for f in futures]
        stopping.join(60)
    assert [r.status_code for r in responses] == [200] * 8
    assert all(len(r.json()["predictions"]) == 32 for r in responses)
    assert engine("inspect", "--format", "{{.State.ExitCode}}", container.id).stdout.strip() == "0"


def test_models_mounted_read_only_from_a_volume(start, built_models, heldout, tmp_path):
    models = tmp_path / "models"
    for name in ("mnist", "sentiment", "efficientnet_lite0", "nanodet", "minilm"):
        shutil.copytree(built_models / name, models / name)
    unreadable = models / "efficientnet_lite0" / "1"
    unreadable.chmod(0o700)  # owned by root: uid 10001 cannot enter it
    container = start("-v", f"{models}:/models:ro", "-e", "AXON_MODEL_DIR=/models", "-e", "AXON_RELOAD_INTERVAL_S=1")
    check_predictions(container, heldout)
    metadata = requests.get(container.url + "/v2/models/efficientnet_lite0", timeout=10).json()
    assert metadata["versions"] == ["2"] and "Permission denied" in metadata["parameters"]["failed_versions"]["1"]

    staging = models / "mnist" / ".staging-3"  # published the way training publishes: aside, then a rename
    shutil.copytree(models / "mnist" / "1", staging)
    staging.rename(models / "mnist" / "3")
    deadline = time.monotonic() + 30
    while requests.get(container.url + "/v2/models/mnist", timeout=10).json()["parameters"]["version"] != "3":
        assert time.monotonic() < deadline, "the new version never became the default"
        time.sleep(0.5)
    # Each worker rescans on its own, every second: the one that answered may be ahead of the other.
    digit = png_bytes(255 - heldout[0][0])
    while {predict(container, "mnist", data=digit, headers={"Content-Type": "image/png"})["model_version"]
           for _ in range(10)} != {"3"}:  # ten requests, each on a new connection: both workers
        assert time.monotonic() < deadline, "a worker never served the new version"
        time.sleep(0.5)


def test_one_model_directory_at_mnt_models_as_kserve_mounts_it(start, built_models, heldout, tmp_path):
    """k8s/kserve/servingruntime.yaml's environment: the storage initializer's /mnt/models holds one
    model's directory, served under the InferenceService's name."""
    shutil.copytree(built_models / "mnist", tmp_path / "mnist")
    container = start("-v", f"{tmp_path / 'mnist'}:/mnt/models:ro", "-e", "AXON_MODEL_DIR=/mnt/models",
                      "-e", "AXON_MODEL_NAME=digits", "-e", "AXON_RELOAD_INTERVAL_S=0")
    digit, label = png_bytes(255 - heldout[0][0]), int(heldout[1][0])
    answer = predict(container, "digits", data=digit, headers={"Content-Type": "image/png"})
    assert answer["model_name"] == "digits" and answer["predictions"][0]["class_id"] == label
    assert requests.get(container.url + "/v2/models/mnist", timeout=10).status_code == 404
    import numpy as np
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(f"127.0.0.1:{container.grpc_port}")
    image = grpcclient.InferInput("image", [1], "BYTES")
    image.set_data_from_numpy(np.array([digit], dtype=np.object_))
    assert client.infer("digits", [image]).as_numpy("probabilities").argmax() == label
    client.close()
