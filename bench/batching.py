"""Dynamic batching on vs off, per model, at 1, 8 and 32 concurrent clients: throughput and p99.

Each model is served from a scratch repository whose config.json differs only in dynamic_batching.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

from bench.harness import http_load, running_server
from tests.conftest import png_bytes
from training.datasets import mnist_sample_split
from training.photos import photo_bytes

ROOT = Path(__file__).resolve().parents[1]
# model -> (repository, the batching tried, requests per client at 1 / 8 / 32 clients)
PLANS = {
    "mnist": ("models", {"max_batch_size": 16, "max_queue_delay_ms": 1}, (300, 60, 15)),
    "sentiment": ("models", {"max_batch_size": 32, "max_queue_delay_ms": 1}, (300, 60, 15)),
    "minilm": ("models", {"max_batch_size": 32, "max_queue_delay_ms": 1}, (300, 60, 15)),
    "efficientnet_lite0": ("models", {"max_batch_size": 8, "max_queue_delay_ms": 3}, (60, 12, 4)),
    "resnet50": ("build/test-models", {"max_batch_size": 8, "max_queue_delay_ms": 5}, (30, 8, 3)),
}


def payload(model: str) -> tuple[str, bytes, dict]:
    path = f"/v1/models/{model}:predict"
    if model == "mnist":
        return path, png_bytes(mnist_sample_split().x_test[0]), {"Content-Type": "image/png"}
    if model in ("sentiment", "minilm"):
        return path, b"the flight was delayed but the crew was lovely", {"Content-Type": "text/plain"}
    body = json.dumps({"instances": [{"b64": base64.b64encode(photo_bytes("rocket.jpg")).decode()}]}).encode()
    return path, body, {"Content-Type": "application/json"}


def scratch_repository(model: str, source: Path, batching: dict | None, target: Path) -> None:
    (target / model).mkdir(parents=True)
    config = json.loads((ROOT / "models" / model / "config.json").read_text())
    config.pop("dynamic_batching", None)
    if batching:
        config["dynamic_batching"] = {**batching, "max_queue_size": 128}
    (target / model / "config.json").write_text(json.dumps(config))
    if (ROOT / "models" / model / "labels.txt").is_file():
        shutil.copy(ROOT / "models" / model / "labels.txt", target / model / "labels.txt")
    for version in (p for p in source.iterdir() if p.name.isdigit()):
        os.symlink(version, target / model / version.name)


def run() -> list[dict]:
    results = []
    for model, (root, batching, counts) in PLANS.items():
        source = ROOT / root / model
        if not (source / "1" / "model.onnx").is_file():
            print(f"[bench] {model} not built, skipped")
            continue
        http = {}
        for label, setting in (("off", None), ("on", batching)):
            with tempfile.TemporaryDirectory() as tmp:
                scratch_repository(model, source, setting, Path(tmp))
                # gthread: a sync worker (the default) has one request at a time, so nothing could merge
                with running_server(Path(tmp), AXON_WORKER_CLASS="gthread", AXON_ORT_THREADS="1") as server:
                    levels = tuple(zip((1, 8, 32), counts))
                    for name, figures in http_load(server.url, {f"batching {label}": payload(model)}, levels).items():
                        http[name] = figures
        results.append({"model": f"{model} (default version), batching {batching}", "in_process_ms": {},
                        "http": http})
    return results
