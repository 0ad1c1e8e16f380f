"""k8s/kserve/: Axon as a KServe serving runtime, validated offline (tests/deploy/kserve_schema.py)
and cross-checked against the code: ports, probes, environment, model format."""
from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from service.settings import Settings
from tests.deploy.kserve_schema import load_models, validate
from tests.deploy.test_deploy import gunicorn_env_names, tool

KSERVE = Path(__file__).resolve().parents[2] / "k8s" / "kserve"


@pytest.fixture(scope="module")
def models():
    return load_models()


def manifest(name: str) -> dict:
    return yaml.safe_load((KSERVE / name).read_text())


@pytest.mark.parametrize("name", ["servingruntime.yaml", "inferenceservice.yaml"])
def test_the_manifests_validate_strictly(models, name, tmp_path):
    problems, core = validate(manifest(name), models)
    assert problems == []
    assert core  # its metadata, and the runtime's container, go to kubernetes-validate
    (tmp_path / "core.yaml").write_text(yaml.safe_dump_all(core))
    run = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", "1.33.0", str(tmp_path / "core.yaml")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_validator_refuses_what_kserve_would(models):
    runtime = manifest("servingruntime.yaml")
    for change, expected in (
        (lambda r: r["spec"].update(supportedModelFormat=[]), "unknown field 'supportedModelFormat'"),
        (lambda r: r["spec"].update(multiModel="no"), "expected bool"),
        (lambda r: r["spec"].pop("containers"), "'containers' is missing"),
        (lambda r: r["spec"]["supportedModelFormats"][0].update(autoselect=False), "unknown field 'autoselect'"),
        (lambda r: r.update(kind="ServingRuntimes"), "not a KServe object"),
    ):
        broken = copy.deepcopy(runtime)
        change(broken)
        problems, _ = validate(broken, models)
        assert any(expected in p for p in problems), (expected, problems)
    service = manifest("inferenceservice.yaml")
    service["spec"]["predictor"]["model"].pop("modelFormat")
    assert any("'modelFormat' is missing" in p for p in validate(service, models)[0])


def test_the_runtime_matches_the_image_and_the_code():
    runtime = manifest("servingruntime.yaml")
    spec = runtime["spec"]
    (container,) = spec["containers"]
    assert container["name"] == "kserve-container"
    assert {"v2", "grpc-v2"} <= set(spec["protocolVersions"])
    assert spec["supportedModelFormats"] == [{"name": "onnx", "version": "1", "autoSelect": False}]
    assert spec["annotations"] == {"prometheus.kserve.io/port": "8080", "prometheus.kserve.io/path": "/metrics"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert set(env) <= set(Settings.env_names()) | gunicorn_env_names()
    assert env["AXON_MODEL_DIR"] == "/mnt/models" and env["AXON_MODEL_NAME"] == "{{.Name}}"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http1": int(env["PORT"]), "h2c": int(env["AXON_GRPC_PORT"])} == {"http1": 8080, "h2c": 8081}
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["securityContext"]["runAsUser"] == 10001 and container["securityContext"]["readOnlyRootFilesystem"]


def test_the_inference_service_uses_the_runtime():
    runtime, service = manifest("servingruntime.yaml"), manifest("inferenceservice.yaml")
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert model["protocolVersion"] in runtime["spec"]["protocolVersions"] and model["storageUri"]
