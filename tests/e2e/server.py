"""A real gunicorn server on a free loopback port: used by the end-to-end tests and the benchmarks."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, models: Path, metrics_dir: Path, log_path: Path, workers: int = 2, **env: str):
        self.port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.grpc_address = f"127.0.0.1:{self.grpc_port}"
        self.metrics_dir = metrics_dir
        self.workers = workers
        self.log_path = log_path
        environment = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "AXON_GRPC_PORT": str(self.grpc_port),
            "AXON_WORKERS": str(workers),
            "AXON_MODEL_DIR": str(models),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            **env,
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [str(gunicorn), "-c", "service/gunicorn.conf.py", "service.app:create_app()"],
            cwd=REPO_ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if requests.get(self.url + "/v2/health/ready", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy loading models
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.log.close()
        return code
