"""The repository API in one process (no control directory: the wish applies here at once).
Across gunicorn workers: tests/e2e/test_repository.py."""
from __future__ import annotations

import dataclasses
import json

import pytest

from service.app import create_app
from service.control import ModelControl

DIGIT = {"inputs": [{"name": "pixels", "shape": [1, 28, 28], "datatype": "FP32", "data": [0.0] * 784}]}
ADMIN = {"Authorization": "Bearer admin"}


@pytest.fixture
def admin_client(settings):
    return create_app(dataclasses.replace(settings, admin_keys=("admin",), api_keys=("user",))).test_client()


def test_model_control_is_off_without_admin_keys(client):
    response = client.post("/v2/repository/models/mnist/unload")
    assert response.status_code == 403 and "AXON_ADMIN_KEYS" in response.json["error"]
    assert client.post("/v2/models/mnist/infer", json=DIGIT).status_code == 200


@pytest.mark.parametrize("body", [b"[1]", b'{"ready": "yes"}', b"{", b'"ready"'])
def test_a_malformed_index_body_is_a_400(client, body):
    response = client.post("/v2/repository/index", data=body, content_type="application/json")
    assert response.status_code == 400 and "error" in response.json


def test_an_index_body_that_is_not_json_is_a_415(client):
    assert client.post("/v2/repository/index", data=b"ready", content_type="text/plain").status_code == 415


def test_unload_and_load_here(admin_client):
    user = {"Authorization": "Bearer user"}
    assert admin_client.post("/v2/repository/models/mnist/unload", headers=user).status_code == 401
    assert admin_client.post("/v2/repository/models/mnist/unload", headers=ADMIN, data=b"[]",
                             content_type="application/json").status_code == 400
    answer = admin_client.post("/v2/repository/models/mnist/unload", headers=ADMIN, json={"parameters": {}})
    assert answer.status_code == 200 and answer.json["state"] == "UNAVAILABLE"
    refused = admin_client.post("/v2/models/mnist/versions/1/infer", json=DIGIT, headers=user)
    assert refused.status_code == 503 and "was unloaded" in refused.json["error"]
    entries = admin_client.post("/v2/repository/index", headers=user).json
    assert {"name": "mnist", "state": "UNAVAILABLE", "reason": "unloaded by the repository API"} in entries
    assert admin_client.post("/v2/repository/index", headers=user, json={"ready": True}).json == \
        [e for e in entries if e["state"] == "READY"]
    assert admin_client.get("/v2/health/ready").status_code == 200
    again = admin_client.post("/v2/repository/models/mnist/unload", headers=ADMIN)  # unloading twice is fine
    assert again.status_code == 200
    loaded = admin_client.post("/v2/repository/models/mnist/load", headers=ADMIN)
    assert loaded.status_code == 200 and all(w["versions"] == ["1", "2"] for w in loaded.json["workers"].values())
    assert admin_client.post("/v2/models/mnist/infer", json=DIGIT, headers=user).status_code == 200
    assert admin_client.post("/v2/repository/models/../load", headers=ADMIN).status_code == 404


def test_a_worker_that_starts_applies_the_file_before_loading(tmp_path, settings):
    (tmp_path / "unloaded.json").write_text(json.dumps({"generation": 3, "unloaded": ["mnist"]}))
    from service.registry import Registry
    from service.repository import Repository

    registry = Registry(Repository(settings.model_dir), only={"mnist"})
    control = ModelControl(registry, tmp_path)
    registry.load_all()
    assert registry.models["mnist"].unloaded and not registry.models["mnist"].versions
    control.start_watching()
    (ack,) = tmp_path.glob("worker-*.json")
    assert json.loads(ack.read_text())["generation"] == 3
    assert json.loads(ack.read_text())["models"]["mnist"] == {"state": "UNAVAILABLE", "reason": "unloaded by the repository API"}
