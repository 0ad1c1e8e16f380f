"""The Dockerfile and the Kubernetes manifests, checked offline with real validators:
hadolint, kubectl kustomize, kubernetes-validate --strict, and cross-checks against the code."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from service.app import create_app
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.33.0"


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed (dev extra)")
    return str(path)


def render(kustomization: str) -> list[dict]:
    output = subprocess.run([tool("kubectl"), "kustomize", str(ROOT / kustomization)],
                            check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return render("k8s/base")


def find(objects: list[dict], kind: str, name: str | None = None) -> dict:
    return next(o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def test_hadolint_passes_without_warnings():
    run = subprocess.run([tool("hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    ignored = re.findall(r"# hadolint ignore=(\S+)\n", (ROOT / "Dockerfile").read_text())
    text = (ROOT / "Dockerfile").read_text()
    for rule in ignored:  # every ignored rule is justified by a comment just above it
        above = text[: text.index(f"# hadolint ignore={rule}")].rstrip().splitlines()[-1]
        assert above.startswith("#") and len(above) > 20, rule


@pytest.mark.parametrize("kustomization", ["k8s/base", "k8s/overlays/prometheus-operator"])
def test_every_object_validates_strictly(kustomization, tmp_path):
    objects = [o for o in render(kustomization) if not o["apiVersion"].startswith("monitoring.coreos.com/")]
    rendered = tmp_path / "objects.yaml"
    rendered.write_text(yaml.safe_dump_all(objects))
    run = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION,
                          str(rendered)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_base_has_every_object_a_platform_team_expects(base):
    kinds = {o["kind"] for o in base}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "Job", "PersistentVolumeClaim"} <= kinds
    assert all(o["metadata"].get("namespace") == "axon" for o in base if o["kind"] != "Namespace")
    hpa = find(base, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_probes_point_at_routes_that_exist(base, built_models):
    app = create_app(Settings(model_dir=built_models, reload_interval_s=0))
    client = app.test_client()
    container = find(base, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        path = container[probe]["httpGet"]["path"]
        assert client.get(path).status_code == 200, (probe, path)
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"


def test_ports_match_the_container_and_the_image(base):
    deployment = find(base, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = container["ports"][0]
    assert port["containerPort"] == 8080 and "EXPOSE 8080" in (ROOT / "Dockerfile").read_text()
    service = find(base, "Service")
    assert service["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "8080" and annotations["prometheus.io/path"] == "/metrics"
    grpc_port = next(p for p in container["ports"] if p["name"] == "grpc")
    assert grpc_port["containerPort"] == int(find(base, "ConfigMap")["data"]["AXON_GRPC_PORT"]) == Settings().grpc_port
    assert "EXPOSE 8080 8081" in (ROOT / "Dockerfile").read_text()
    assert next(p for p in service["spec"]["ports"] if p["name"] == "grpc")["targetPort"] == "grpc"


def gunicorn_env_names() -> set[str]:
    source = (ROOT / "service" / "gunicorn.conf.py").read_text()
    return set(re.findall(r"os\.environ\.get\(\s*['\"]([A-Z_]+)['\"]", source)) | {"PROMETHEUS_MULTIPROC_DIR"}


def test_env_names_match_what_the_code_reads(base):
    known = set(Settings.env_names()) | gunicorn_env_names()
    config = find(base, "ConfigMap")["data"]
    unknown = set(config) - known
    assert not unknown, f"ConfigMap sets variables nothing reads: {unknown}"
    container = find(base, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"] for e in container.get("env", [])} <= known


def test_security_context_and_non_root_image(base):
    pod = find(base, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["readOnlyRootFilesystem"] is True and container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)[-1]
    assert user.split(":")[0] == str(pod["securityContext"]["runAsUser"]) != "0"
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts == {"/tmp"}  # the only writable place: metrics dir and gunicorn heartbeats live there
    assert find(base, "ConfigMap")["data"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")


def test_grace_period_outlasts_gunicorn_and_the_pre_stop_pause(base):
    pod = find(base, "Deployment")["spec"]["template"]["spec"]
    graceful = int(find(base, "ConfigMap")["data"]["AXON_GRACEFUL_TIMEOUT"])
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > graceful + pause
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"


def test_batch_job_is_indexed_and_shards_match(base):
    job = find(base, "Job")["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"]
    args = job["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--shard-count") + 1] == str(job["completions"])
    assert "{shard}" in args[args.index("--output") + 1]


def test_batch_job_has_shared_memory_for_its_decode_workers(base):
    """/dev/shm must hold the decode workers' slots (else they fall back to slower pipes)."""
    from service.batch.decoding import SLOTS_PER_WORKER, item_bytes
    from service.batch.runner import chunk_size

    pod = find(base, "Job")["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    config = json.loads((ROOT / "models" / args[args.index("--model") + 1] / "config.json").read_text())
    preparer = SimpleNamespace(item_shape=tuple(config["inputs"][0]["shape"][1:]), dtype=np.dtype(np.float32))
    slot = chunk_size(int(args[args.index("--batch-size") + 1]), preparer) * item_bytes(preparer)
    needed = int(args[args.index("--workers") + 1]) * SLOTS_PER_WORKER * slot
    volume = next(v for v in pod["volumes"] if v["name"] == "shm")
    assert volume["emptyDir"]["medium"] == "Memory"
    assert int(volume["emptyDir"]["sizeLimit"].removesuffix("Mi")) << 20 >= needed
    assert {"name": "shm", "mountPath": "/dev/shm"} in pod["containers"][0]["volumeMounts"]


def test_overlay_adds_a_service_monitor_and_a_custom_metric_hpa():
    objects = render("k8s/overlays/prometheus-operator")
    monitor = find(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics" and monitor["spec"]["endpoints"][0]["port"] == "http"
    metrics = find(objects, "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert any(m["type"] == "Pods" and m["pods"]["metric"]["name"] == "axon_requests_in_flight" for m in metrics)


def test_dockerfile_runtime_stage_has_no_tensorflow_and_uses_the_same_gunicorn_config():
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime"):]
    install = re.findall(r'pip install[^\n]*', runtime)[0]
    assert '".[serve]"' in install and "train]" not in install and "constraints-serve.txt" in install
    assert 'CMD ["gunicorn", "-c", "service/gunicorn.conf.py", "service.app:create_app()"]' in runtime
    assert "HEALTHCHECK" in runtime and "/v2/health/ready" in runtime
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime and "PYTHONUNBUFFERED=1" in runtime
    assert (ROOT / "Makefile").read_text().count("service/gunicorn.conf.py") == 1  # make run uses the same config
    ast.parse((ROOT / "service" / "gunicorn.conf.py").read_text())


def test_the_image_lock_file_holds_every_package_the_serve_extra_needs():
    """The image installs docker/constraints-serve.txt with --no-deps, so nothing may be missing
    from it: the serve extra and everything those packages require (in this environment), except
    huggingface-hub, which tokenizers only uses to download from the Hub."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pinned = {canonicalize_name(line.split("==")[0]): line.split("==")[1]
              for line in (ROOT / "docker" / "constraints-serve.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    serve = [Requirement(r) for r in metadata.requires("axon") if 'extra == "serve"' in r]
    needed, queue = set(), [canonicalize_name(r.name) for r in serve]
    while queue:
        name = queue.pop()
        if name in needed or name == "huggingface-hub":
            continue
        needed.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                queue.append(canonicalize_name(requirement.name))
    assert needed - set(pinned) == set()
