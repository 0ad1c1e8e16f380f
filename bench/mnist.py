"""MNIST CNN, side by side in one run: onnxruntime in-process, Keras in-process, and the HTTP server."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from bench.timing import median_load
from service.runtime import OnnxModel
from tests.conftest import png_bytes
from tests.e2e.server import Server
from training.cache import keras_path
from training.datasets import mnist_sample_split
from training.timing import median_call_seconds

MODELS = Path("models")
VERSION = 2


def in_process(digit: np.ndarray) -> dict:
    import keras

    batch = (digit[None].astype(np.float32) / 255.0)
    ort_model = OnnxModel(MODELS / "mnist" / str(VERSION) / "model.onnx", threads=1)
    keras_model = keras.models.load_model(keras_path("mnist", VERSION))
    return {
        "onnxruntime run, 1 digit (1 thread, as served)": median_call_seconds(
            lambda: ort_model.run({"pixels": batch}), calls=2000) * 1e3,
        "keras model.predict, 1 digit": median_call_seconds(
            lambda: keras_model.predict(batch, verbose=0), calls=50) * 1e3,
        "keras model(x) direct call, 1 digit": median_call_seconds(
            lambda: keras_model(batch, training=False), calls=200) * 1e3,
    }


def over_http(digit: np.ndarray) -> dict:
    png = png_bytes(255 - digit)
    v2 = json.dumps({"inputs": [{"name": "pixels", "shape": [1, 28, 28], "datatype": "FP32",
                                 "data": (digit / 255.0).tolist()}]}).encode()
    payloads = {
        "v1 PNG upload": ("/v1/models/mnist:predict", png, {"Content-Type": "image/png"}),
        "v2 JSON FP32 tensor": ("/v2/models/mnist/infer", v2, {"Content-Type": "application/json"}),
    }
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        metrics_dir = Path(tmp) / "metrics"
        metrics_dir.mkdir()
        server = Server(MODELS.resolve(), metrics_dir, Path(tmp) / "gunicorn.log", workers=2,
                        AXON_LOG_LEVEL="warning")
        try:
            server.wait_ready()
            for name, (path, body, headers) in payloads.items():
                for clients, per_client in ((1, 400), (8, 100)):
                    results[f"{name}, {clients} client(s)"] = median_load(
                        url=server.url, path=path, body=body, headers=headers,
                        clients=clients, requests_per_client=per_client)
        finally:
            server.stop()
    return results


def run() -> dict:
    digit = mnist_sample_split().x_test[0]
    return {"model": f"mnist v{VERSION} (CNN)", "in_process_ms": in_process(digit), "http": over_http(digit)}


def table(result: dict) -> str:
    lines = [f"### {result['model']}", "", "| in-process | median latency |", "|---|---:|"]
    lines += [f"| {name} | {ms:.3f} ms |" for name, ms in result["in_process_ms"].items()]
    lines += ["", "| HTTP (gunicorn, 2 workers x 1 ORT thread) | req/s | p50 | p99 | errors |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['errors']:.0f} |"
              for name, r in result["http"].items()]
    return "\n".join(lines)
