"""MNIST CNN, side by side in one run: onnxruntime in-process, Keras in-process, and the HTTP server."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.harness import http_load, running_server
from service.runtime import OnnxModel
from tests.conftest import png_bytes
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
    with running_server(MODELS) as server:
        return http_load(server.url, payloads, levels=((1, 400), (8, 100)))


def run() -> dict:
    digit = mnist_sample_split().x_test[0]
    return {"model": f"mnist v{VERSION} (CNN)", "in_process_ms": in_process(digit), "http": over_http(digit)}
