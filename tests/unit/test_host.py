"""The cores a process may use: its cpuset, capped by a cgroup CPU quota (fake cgroup files)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service import host


def fake_cgroups(tmp_path, v2: dict[str, str] | None = None, v1: tuple[str, str] | None = None,
                 own: str = "/kubepods/pod1/axon"):
    root = tmp_path / "sys" / "fs" / "cgroup"
    (root / own.lstrip("/")).mkdir(parents=True)
    self_cgroup = tmp_path / "proc-self-cgroup"
    self_cgroup.write_text(f"0::{own}\n")
    for relative, cpu_max in (v2 or {}).items():
        (root / relative.lstrip("/") / "cpu.max").write_text(cpu_max + "\n")
    if v1:
        (root / "cpu").mkdir()
        (root / "cpu" / "cpu.cfs_quota_us").write_text(v1[0])
        (root / "cpu" / "cpu.cfs_period_us").write_text(v1[1])
    return root, self_cgroup


@pytest.mark.parametrize("v2, v1, quota", [
    ({}, None, None),
    ({"/kubepods/pod1/axon": "max 100000"}, None, None),
    ({"/kubepods/pod1/axon": "200000 100000"}, None, 2.0),  # a Kubernetes limit of cpu: "2"
    ({"/kubepods/pod1/axon": "150000 100000"}, None, 1.5),
    ({"/kubepods/pod1/axon": "max 100000", "/kubepods/pod1": "50000 100000"}, None, 0.5),  # a parent's limit
    ({"/kubepods": "300000 100000", "/kubepods/pod1/axon": "200000 100000"}, None, 2.0),  # the smallest
    ({}, ("100000", "100000"), 1.0),  # cgroup v1
    ({}, ("-1", "100000"), None),  # v1 without a quota
    ({"/kubepods/pod1/axon": "garbage"}, None, None),
])
def test_cpu_quota(tmp_path, v2, v1, quota):
    root, self_cgroup = fake_cgroups(tmp_path, v2, v1)
    assert host.cpu_quota(root, self_cgroup) == quota


def test_available_cores_is_the_cpuset_capped_by_the_quota_rounded_down(tmp_path):
    cpuset = len(os.sched_getaffinity(0))
    root, self_cgroup = fake_cgroups(tmp_path, {"/kubepods/pod1/axon": "150000 100000"})
    assert host.available_cores(root, self_cgroup) == min(cpuset, 1)
    root, self_cgroup = fake_cgroups(tmp_path / "b", {"/kubepods/pod1/axon": "20000 100000"})
    assert host.available_cores(root, self_cgroup) == 1  # never 0
    root, self_cgroup = fake_cgroups(tmp_path / "c", {"/kubepods/pod1/axon": "6400000 100000"})
    assert host.available_cores(root, self_cgroup) == cpuset  # a quota above the cpuset changes nothing
    assert host.available_cores(tmp_path / "none", tmp_path / "none") == cpuset


def test_gunicorn_workers_default_to_the_cores_divided_by_onnxruntime_threads(tmp_path):
    """The config file as gunicorn reads it, with and without AXON_WORKERS / AXON_ORT_THREADS."""
    code = ("import runpy, sys; c = runpy.run_path('service/gunicorn.conf.py'); "
            "print(c['workers'], c['control_socket_disable'], c['worker_class'], c['threads'])")
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m")}
    environment.pop("AXON_WORKERS", None)
    cores = host.available_cores()

    def run(**env):
        out = subprocess.run([sys.executable, "-c", code], env={**environment, **env}, capture_output=True,
                             text=True, check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        return out.stdout.split()

    sync = ["service.worker.DrainingSyncWorker", "1"]
    assert run() == [str(cores), "True", *sync]
    assert run(AXON_ORT_THREADS="0") == [str(cores), "True", *sync]  # chosen per model: one thread per core
    assert run(AXON_ORT_THREADS="2") == [str(max(1, cores // 2)), "True", *sync]
    assert run(AXON_WORKERS="3") == ["3", "True", *sync]
    # gthread keeps its threads; a sync worker with threads would be turned into gthread by gunicorn
    assert run(AXON_WORKER_CLASS="gthread", AXON_THREADS="6") == [str(cores), "True", "gthread", "6"]


def test_a_grpc_port_held_by_another_process_stops_the_start(tmp_path):
    """The workers bind the gRPC port with SO_REUSEPORT; without this check a second server of the
    same user would share it with the first, silently."""
    import socket

    from tests.e2e.server import REPO_ROOT, free_port

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not host.port_is_free("127.0.0.1", port)
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        result = subprocess.run([gunicorn, "-c", "service/gunicorn.conf.py", "service.app:create_app()"],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m"), "HOST": "127.0.0.1",
                                     "PORT": str(free_port()), "AXON_GRPC_PORT": str(port)})
    assert result.returncode != 0 and f"AXON_GRPC_PORT={port}: the port is in use" in result.stderr
    assert host.port_is_free("127.0.0.1", port)
