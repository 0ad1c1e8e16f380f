"""Axon against a bare Flask + onnxruntime app (bench/reference_app.py), side by side in one run,
with the same load generator (wrk): what every feature costs on a small model.

Axon runs as `make run` starts it, with every feature on: validation, metrics, the structured access
log (to a file), request ids and an API key. Both have 2 gunicorn workers with 1 onnxruntime thread
each; the bare app uses gunicorn's default sync workers. The two servers alternate cell by cell, in an
order drawn afresh for every cell (this shared machine's speed drifts: a fixed order gave one server the
slow spells more often), and each figure is the median over BENCH_REPEATS runs (default 5) of
BENCH_SECONDS (default 8) each.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import requests

from bench import wrk
from bench.harness import running_server
from bench.timing import medians
from bench.images import model_dir
from preprocessing.images import decode_image
from preprocessing.imagenet import to_imagenet_input
from service import host
from service.codecs import binary
from service.runtime import OnnxModel
from tests.conftest import png_bytes
from tests.e2e.server import REPO_ROOT, free_port
from training.datasets import mnist_sample_split
from training.photos import photo_bytes
from training.timing import median_call_seconds

MODELS = REPO_ROOT / "models"
API_KEY = "bench-key"
CLIENTS = (1, 8, 32)


def seconds() -> float:
    return float(os.environ.get("BENCH_SECONDS", "8"))


def repeats() -> int:
    return int(os.environ.get("BENCH_REPEATS", "5"))


@contextmanager
def reference_server(model: Path, threads: int = 1) -> Iterator[str]:
    """The bare app under `gunicorn -w 2` (sync workers) on a free loopback port."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "REFERENCE_MODEL": str(model), "REFERENCE_THREADS": str(threads)}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                                    "bench.reference_app:app"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the reference app exited with {process.returncode}")
        try:
            requests.get(url + "/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError("the reference app did not start")


@contextmanager
def axon_server(models: Path, **env: str) -> Iterator[str]:
    """Axon as `make run` starts it, every feature on (the access log goes to the server's log file)."""
    with running_server(models, **{"AXON_LOG_LEVEL": "info", "AXON_API_KEYS": API_KEY, **env}) as server:
        # Ready means one worker answers: the first cells must not run while the other still loads
        # (its CPU would count against Axon; measured, 1.75 instead of 1.40 ms of CPU per request)
        deadline = time.monotonic() + 120
        while server.log_path.read_text().count("models loaded:") < server.workers and time.monotonic() < deadline:
            time.sleep(0.2)
        yield server.url


def mnist_payloads() -> dict[str, tuple[str, bytes, dict]]:
    digit = mnist_sample_split().x_test[0]
    v2 = json.dumps({"inputs": [{"name": "pixels", "shape": [1, 28, 28], "datatype": "FP32",
                                 "data": (digit / 255.0).tolist()}]}).encode()
    auth = {"Authorization": f"Bearer {API_KEY}"}
    return {
        "MNIST V2 JSON": ("/v2/models/mnist/infer", v2, {"Content-Type": "application/json", **auth}),
        "MNIST V1 PNG": ("/v1/models/mnist:predict", png_bytes(255 - digit), {"Content-Type": "image/png", **auth}),
    }


def check(url: str, path: str, body: bytes, headers: dict) -> None:
    response = requests.post(url + path, data=body, headers=headers, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"{url}{path}: {response.status_code} {response.text[:300]}")


def median_of(runs: list[dict]) -> dict:
    keys = ("rps", "p50_ms", "p99_ms", "errors")
    return medians(runs, keys) | {"runs": len(runs)}


def mnist() -> dict:
    payloads = mnist_payloads()
    runs: dict[tuple[str, str, int], list[dict]] = {}
    with axon_server(MODELS) as axon, reference_server(MODELS / "mnist" / "2" / "model.onnx") as bare:
        servers = {"axon": axon, "bare": bare}
        for name, (path, body, headers) in payloads.items():
            for url in servers.values():
                check(url, path, body, headers)
        for _ in range(repeats()):
            for name, (path, body, headers) in payloads.items():
                for clients in CLIENTS:
                    for server, url in random.sample(list(servers.items()), len(servers)):  # side by side
                        result = wrk.run(url + path, body, headers, clients, seconds())
                        runs.setdefault((name, server, clients), []).append(result)
                        print(f"  {name}, {clients} clients, {server}: {result['rps']:.0f} req/s, "
                              f"p99 {result['p99_ms']:.2f} ms", file=sys.stderr, flush=True)
    cells = []
    for name in payloads:
        for clients in CLIENTS:
            axon, bare = median_of(runs[(name, "axon", clients)]), median_of(runs[(name, "bare", clients)])
            cells.append({"payload": name, "clients": clients, "axon": axon, "bare": bare,
                          "rps_ratio": axon["rps"] / bare["rps"], "p99_ratio": axon["p99_ms"] / bare["p99_ms"]})
    return {"model": "mnist v2 (CNN): Axon vs the bare app", "cells": cells}


def resnet_payloads() -> tuple[np.ndarray, dict[str, tuple[str, bytes, dict]]]:
    """The rocket photo as a JPEG upload, as a V2 binary tensor, and as a V2 JSON tensor (~1 MB of
    floats at 2 decimals, as a KServe-style client sends the preprocessed input)."""
    jpeg = photo_bytes("rocket.jpg")
    array = to_imagenet_input(decode_image(jpeg, draft_size=(256, 256)), "caffe")[None]
    auth = {"Authorization": f"Bearer {API_KEY}"}
    header = json.dumps({"inputs": [{"name": "input", "shape": list(array.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": array.nbytes}}]}).encode()
    as_json = json.dumps({"inputs": [{"name": "input", "shape": list(array.shape), "datatype": "FP32",
                                      "data": np.round(array.astype(np.float64), 2).ravel().tolist()}]}).encode()
    payloads = {
        "JPEG upload": ("/v1/models/resnet50/versions/{v}:predict", jpeg, {"Content-Type": "image/jpeg", **auth}),
        "V2 binary tensor": ("/v2/models/resnet50/versions/{v}/infer", header + array.astype("<f4").tobytes(),
                             {"Content-Type": "application/octet-stream", binary.HEADER: str(len(header)), **auth}),
        f"V2 JSON tensor ({len(as_json) / 1e6:.1f} MB)": ("/v2/models/resnet50/versions/{v}/infer", as_json,
                                                           {"Content-Type": "application/json", **auth}),
    }
    return array, payloads


def in_process(model_file: Path, array: np.ndarray, jpeg: bytes) -> Callable[[], dict[str, float]]:
    """The reference: onnxruntime in this process with both cores (a plain 2-thread session); timed
    again before every HTTP cell, since this machine's speed drifts from minute to minute."""
    session = OnnxModel(model_file, threads=host.available_cores())
    feed = {"input": array}

    def timings() -> dict[str, float]:
        return {
            "tensor": median_call_seconds(lambda: session.run(feed), calls=9) * 1e3,
            "JPEG": median_call_seconds(lambda: session.run(
                {"input": to_imagenet_input(decode_image(jpeg, draft_size=(256, 256)), "caffe")[None]}), calls=9) * 1e3,
        }
    return timings


def resnet() -> dict:
    """One client against in-process, and 4 clients against the previous defaults (gthread workers,
    1 onnxruntime thread per session), for fp32 (version 1) and int8 (version 2)."""
    directory, note = model_dir("resnet50")
    array, payloads = resnet_payloads()
    jpeg = payloads["JPEG upload"][1]
    runs: dict[tuple, list[dict]] = {}
    previous = {"AXON_WORKER_CLASS": "gthread", "AXON_ORT_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(directory, Path(tmp) / "resnet50")
        with axon_server(Path(tmp)) as axon, axon_server(Path(tmp), **previous) as before:
            urls = {"axon": axon, "previous defaults": before}
            for version in (1, 2):
                reference = in_process(directory / str(version) / "model.onnx", array, jpeg)
                for _ in range(repeats()):
                    for name, (path, body, headers) in payloads.items():
                        path = path.format(v=version)
                        basis = reference()["JPEG" if name == "JPEG upload" else "tensor"]
                        cells = [("axon", 1)] + ([("axon", 4), ("previous defaults", 4)] if name == "JPEG upload" else [])
                        for server, clients in cells:
                            result = wrk.run(urls[server] + path, body, headers, clients, seconds())
                            if clients == 1:
                                result |= {"in_process_ms": basis, "p50_ratio": result["p50_ms"] / basis}
                            runs.setdefault((version, name, server, clients), []).append(result)
                            print(f"  resnet50 v{version} {name}, {clients} clients, {server}: {result['rps']:.1f} req/s, "
                                  f"p50 {result['p50_ms']:.1f} ms (in-process {basis:.1f} ms)", file=sys.stderr, flush=True)
    cells = []
    for (version, name, server, clients), results in runs.items():
        cell = {"version": version, "precision": {1: "fp32", 2: "int8"}[version], "payload": name,
                "server": server, "clients": clients, **median_of(results)}
        if clients == 1:
            cell |= medians(results, ("in_process_ms", "p50_ratio"))
        cells.append(cell)
    return {"model": "resnet50" + note, "cells": cells}


def run() -> list[dict]:
    wrk.require_wrk()
    return [mnist(), resnet()]


def markdown(result: dict) -> str:
    if result["model"].startswith("resnet50"):
        return resnet_markdown(result)
    lines = [f"### {result['model']}", "",
             "| payload | clients | Axon req/s | bare req/s | ratio | Axon p99 | bare p99 | p99 ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in result["cells"]:
        a, b = c["axon"], c["bare"]
        lines.append(f"| {c['payload']} | {c['clients']} | {a['rps']:.0f} | {b['rps']:.0f} | {c['rps_ratio']:.2f}x "
                     f"| {a['p99_ms']:.2f} ms | {b['p99_ms']:.2f} ms | {c['p99_ratio']:.2f}x |")
    return "\n".join(lines)


def resnet_markdown(result: dict) -> str:
    lines = [f"### {result['model']}", "",
             "| precision | payload | server | clients | req/s | p50 | in-process p50 (2 threads) | ratio |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for c in result["cells"]:
        reference = f"{c['in_process_ms']:.1f} ms | {c['p50_ratio']:.2f}x" if "p50_ratio" in c else " | "
        lines.append(f"| {c['precision']} | {c['payload']} | {c['server']} | {c['clients']} | {c['rps']:.1f} "
                     f"| {c['p50_ms']:.1f} ms | {reference} |")
    return "\n".join(lines)
