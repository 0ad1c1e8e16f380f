"""Worker memory: the resident set one worker adds per model, and a soak at 8 clients (is it flat?).

Each model is served alone by one worker and measured against a worker with no model; the soak runs
the full repository for BENCH_SOAK_SECONDS (default 300) at 8 clients, wrk slices of 20 s cycling
over MNIST (V2 JSON, V1 PNG), an EfficientNet JPEG and a sentiment text, and reads every worker's
resident set after each slice.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import wrk
from bench.harness import running_server
from bench.images import model_dir
from bench.overhead import API_KEY, MODELS, check, mnist_payloads
from training.photos import photo_bytes

SLICE_S = 20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def workers_of(process: subprocess.Popen) -> list[int]:
    return sorted(int(p) for p in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                                                 text=True).stdout.split())


def worker_rss(directory: Path) -> float:
    """Resident MB of one worker serving the repository `directory`, once ready."""
    with running_server(directory, workers=1) as server:
        time.sleep(1)
        return rss_mb(workers_of(server.process)[0])


def per_model() -> dict[str, float]:
    directories = {p.name: p for p in sorted(MODELS.iterdir()) if any(p.glob("[0-9]*/model.onnx"))}
    directories.setdefault("resnet50", model_dir("resnet50")[0])
    with tempfile.TemporaryDirectory() as empty:
        baseline = worker_rss(Path(empty))
    added = {"(no model: Python, Flask, onnxruntime)": baseline}
    for name, directory in directories.items():
        with tempfile.TemporaryDirectory() as tmp:
            os.symlink(directory.resolve(), Path(tmp) / name)
            versions = ", ".join(sorted(p.parent.name for p in directory.glob("[0-9]*/model.onnx")))
            added[f"{name} (versions {versions})"] = worker_rss(Path(tmp)) - baseline
            print(f"  {name}: +{added[f'{name} (versions {versions})']:.0f} MB", file=sys.stderr, flush=True)
    return added


def soak_payloads() -> list[tuple[str, str, bytes, dict]]:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    mnist = [(name, *payload) for name, payload in mnist_payloads().items()]
    return mnist + [
        ("EfficientNet JPEG", "/v1/models/efficientnet_lite0:predict", photo_bytes("rocket.jpg"),
         {"Content-Type": "image/jpeg", **auth}),
        ("sentiment text", "/v1/models/sentiment:predict", b"what a wonderful day, loved every minute of it",
         {"Content-Type": "text/plain", **auth}),
    ]


def soak() -> dict:
    seconds = float(os.environ.get("BENCH_SOAK_SECONDS", "300"))
    payloads = soak_payloads()
    samples, requests, errors = [], 0, 0
    with running_server(MODELS, AXON_LOG_LEVEL="info", AXON_API_KEYS=API_KEY) as server:
        for _, path, body, headers in payloads:
            check(server.url, path, body, headers)
        workers = workers_of(server.process)
        samples.append({"s": 0.0, "rss_mb": [rss_mb(p) for p in workers]})
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            name, path, body, headers = payloads[len(samples) % len(payloads)]
            result = wrk.run(server.url + path, body, headers, 8, SLICE_S)
            requests, errors = requests + result["requests"], errors + result["errors"]
            samples.append({"s": round(time.monotonic() - started, 1), "payload": name,
                            "rss_mb": [rss_mb(p) for p in workers]})
            print(f"  soak {samples[-1]['s']:.0f} s, {name}: RSS {samples[-1]['rss_mb']}", file=sys.stderr, flush=True)
        replaced = workers_of(server.process) != workers
    first_full = samples[1]["rss_mb"]  # after one slice: every model has run once
    return {"seconds": seconds, "clients": 8, "requests": requests, "errors": errors, "workers_replaced": replaced,
            "samples": samples, "growth_after_first_slice_mb": [last - first for first, last in
                                                                zip(first_full, samples[-1]["rss_mb"])]}


def run() -> dict:
    return {"model": "worker memory", "per_model_mb": per_model(), "soak": soak()}


def markdown(result: dict) -> str:
    lines = [f"### {result['model']}", "", "| one worker serving | resident MB |", "|---|---:|"]
    lines += [f"| {name} | {'+' if i else ''}{mb:.0f} |" for i, (name, mb) in enumerate(result["per_model_mb"].items())]
    soak = result["soak"]
    rss = [s["rss_mb"] for s in soak["samples"]]
    lines += ["", f"Soak: {soak['seconds']:.0f} s at {soak['clients']} clients, {soak['requests']} requests, "
                  f"{soak['errors']} errors, workers replaced: {soak['workers_replaced']}. Per worker, resident MB "
                  f"at the start / after the first {SLICE_S} s / at the end / highest: "
              + "; ".join(f"{r0:.0f} / {r1:.0f} / {rn:.0f} / {mx:.0f}" for r0, r1, rn, mx in
                          zip(rss[0], rss[1], rss[-1], map(max, zip(*rss))))]
    return "\n".join(lines)
