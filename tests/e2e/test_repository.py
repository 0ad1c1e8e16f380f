"""The model repository API on real gunicorn with 2 workers: the index, and load/unload agreed by
every worker (no worker serves what was unloaded, a worker started later included), behind the admin key."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
import requests

from tests.e2e.server import Server

ADMIN, KEY = "admin-key", "inference-key"
DIGIT = {"inputs": [{"name": "pixels", "shape": [1, 28, 28], "datatype": "FP32", "data": [0.0] * 784}]}


@pytest.fixture(scope="module")
def running(built_models, tmp_path_factory):
    directory = tmp_path_factory.mktemp("repository-api")
    models = directory / "models"
    models.mkdir()
    for name in ("mnist", "efficientnet_lite0"):
        (models / name).symlink_to(built_models / name)
    (directory / "metrics").mkdir()
    server = Server(models, directory / "metrics", directory / "gunicorn.log", AXON_ADMIN_KEYS=ADMIN,
                    AXON_API_KEYS=KEY, AXON_REQUEST_TIMEOUT_S="4")
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
def server(running):
    """The module's server, both workers up and mnist loaded, whatever the test before it did."""
    assert wait_until(lambda: len(workers(running)) == 2
                      and running.log_path.read_text().count("models loaded:") >= 2 + restarts(running))
    assert admin(running, "mnist", "load").status_code == 200
    return running


def restarts(server) -> int:
    return server.log_path.read_text().count("Booting worker") - 2


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def admin(server, model, action, key=ADMIN):
    return requests.post(f"{server.url}/v2/repository/models/{model}/{action}",
                         headers={"Authorization": f"Bearer {key}"}, timeout=60)


def index(server, **body):
    response = requests.post(server.url + "/v2/repository/index", json=body or None,
                             headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(server, count=40):
    """Status codes of `count` digits, each on a connection of its own (spread over both workers),
    with the pid of the worker that answered, from the access log."""
    codes = []
    for _ in range(count):
        response = requests.post(server.url + "/v2/models/mnist/infer", json=DIGIT,
                                 headers={"Authorization": f"Bearer {KEY}", "Connection": "close"}, timeout=10)
        codes.append(response.status_code)
    return codes


def workers(server):
    return [int(p) for p in subprocess.check_output(["pgrep", "-P", str(server.process.pid)]).split()]


def answered_by(server, since: int) -> set[int]:
    lines = server.log_path.read_text().splitlines()[since:]
    return {int(m.group(1)) for line in lines if "/v2/models/mnist/infer" in line
            and (m := re.search(r"\[(\d+)\] axon\.access", line))}


def test_the_index_lists_every_version_with_its_state(server):
    entries = index(server)
    assert {(e["name"], e["version"], e["state"]) for e in entries} == {
        ("mnist", "1", "READY"), ("mnist", "2", "READY"), ("efficientnet_lite0", "1", "READY"),
        ("efficientnet_lite0", "2", "READY")}
    assert index(server, ready=True) == entries
    refused = requests.post(server.url + "/v2/repository/index", timeout=10)  # the inference key is needed
    assert refused.status_code == 401


def test_unload_is_agreed_by_every_worker_and_load_brings_it_back(server):
    first = len(server.log_path.read_text().splitlines())
    assert statuses(server, 20) == [200] * 20
    answer = admin(server, "mnist", "unload")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "UNAVAILABLE" and sorted(map(int, body["workers"])) == sorted(workers(server))
    assert all(w["state"] == "UNAVAILABLE" for w in body["workers"].values())
    since = len(server.log_path.read_text().splitlines())
    assert statuses(server) == [503] * 40  # no worker serves it any more
    assert answered_by(server, since) == set(workers(server))  # both were asked, both refused
    assert len(answered_by(server, first)) == 2
    assert {(e["name"], e["state"]) for e in index(server) if e["name"] == "mnist"} == {("mnist", "UNAVAILABLE")}
    ready = requests.get(server.url + "/v2/health/ready", timeout=5)
    assert ready.status_code == 200  # an unloaded model does not make the server unready
    assert requests.get(server.url + "/v2/models/efficientnet_lite0/ready", headers={"Authorization": f"Bearer {KEY}"},
                        timeout=5).status_code == 200  # the others serve

    loaded = admin(server, "mnist", "load")
    assert loaded.status_code == 200, loaded.text
    assert all(w["state"] == "READY" and w["versions"] == ["1", "2"] for w in loaded.json()["workers"].values())
    assert statuses(server) == [200] * 40


def test_a_worker_started_after_the_unload_does_not_serve_the_model(server):
    assert admin(server, "mnist", "unload").status_code == 200
    before = workers(server)
    loads = server.log_path.read_text().count("models loaded:")
    os.kill(before[0], signal.SIGKILL)  # gunicorn starts a new worker in its place
    assert wait_until(lambda: server.log_path.read_text().count("models loaded:") > loads and len(workers(server)) == 2)
    (new,) = set(workers(server)) - set(before)
    assert statuses(server) == [503] * 40
    own = [line for line in server.log_path.read_text().splitlines() if f"[{new}]" in line]
    assert any("models loaded: {'efficientnet_lite0': [1, 2], 'mnist': []}" in line for line in own), own
    assert not any("loaded mnist version" in line for line in own)  # never loaded, not loaded and dropped


def test_unload_under_traffic_then_no_request_is_served(server):
    answered_at, seen, stop = [], [], threading.Event()

    def traffic():
        while not stop.is_set():
            started = time.monotonic()
            response = requests.post(server.url + "/v2/models/mnist/infer", json=DIGIT,
                                     headers={"Authorization": f"Bearer {KEY}", "Connection": "close"}, timeout=10)
            seen.append((started, response.status_code))

    clients = [threading.Thread(target=traffic) for _ in range(4)]
    for client in clients:
        client.start()
    time.sleep(0.5)
    assert admin(server, "mnist", "unload").status_code == 200
    answered_at.append(time.monotonic())
    time.sleep(1.0)
    stop.set()
    for client in clients:
        client.join()
    before = [code for started, code in seen if started < answered_at[0] - 0.5]
    after = [code for started, code in seen if started > answered_at[0]]
    assert before and set(before) == {200}
    assert after and set(after) == {503}  # once the answer is back, nothing is served
    assert {code for _, code in seen} <= {200, 503}


def test_the_admin_key_is_its_own_and_a_worker_that_cannot_agree_is_named(server):
    assert admin(server, "mnist", "unload", key=KEY).status_code == 401  # an inference key is not an admin key
    assert admin(server, "mnist", "unload", key="wrong").status_code == 401
    assert admin(server, "no_such_model", "load").status_code == 404
    assert statuses(server, 4) == [200] * 4
    stopped = workers(server)[0]
    os.kill(stopped, signal.SIGSTOP)  # it cannot apply anything
    try:
        answer = admin(server, "mnist", "unload")
    finally:
        os.kill(stopped, signal.SIGCONT)
    assert answer.status_code == 504 and str(stopped) in answer.json()["error"]
    assert "did not confirm within 4 s" in answer.json()["error"]
    assert wait_until(lambda: statuses(server, 10) == [503] * 10, timeout=10)  # it applies it once it runs again


def test_grpc_calls_see_the_unload_too(server):
    grpcclient = pytest.importorskip("tritonclient.grpc")
    client = grpcclient.InferenceServerClient(server.grpc_address)
    digit = grpcclient.InferInput("pixels", [1, 28, 28], "FP32")
    digit.set_data_from_numpy(np.zeros((1, 28, 28), np.float32))
    headers = {"authorization": f"Bearer {KEY}"}
    assert client.infer("mnist", [digit], headers=headers).as_numpy("probabilities").shape == (1, 10)
    assert admin(server, "mnist", "unload").status_code == 200
    with pytest.raises(Exception) as refused:
        client.infer("mnist", [digit], headers=headers)
    assert "UNAVAILABLE" in str(refused.value.status()) and "was unloaded" in refused.value.message()
    assert not client.is_model_ready("mnist")
    client.close()
