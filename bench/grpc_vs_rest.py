"""V2 gRPC against V2 REST (JSON and the binary extension), one server, the same inputs, side by side.

MNIST digits as a tensor, and a ResNet50 input tensor (fp32, version 1) and its JPEG. The load
generator is Python processes (bench/timing.py), one connection or channel each: wrk speaks no gRPC.
REST clients send each request on a connection of their own (sync workers close it after the answer);
gRPC clients keep one channel open, as gRPC clients do.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from bench import overhead
from bench.harness import running_server
from bench.images import model_dir
from bench.timing import grpc_load, load, medians
from preprocessing.images import decode_image
from preprocessing.imagenet import to_imagenet_input
from service.codecs import binary
from training.datasets import mnist_sample_split
from training.photos import photo_bytes

CLIENTS = (1, 4)
KEY = "bench-key"
INFER = "/inference.GRPCInferenceService/ModelInfer"


def requests_per_client(model: str) -> int:
    return int(os.environ.get("BENCH_GRPC_REQUESTS", "400" if model == "mnist" else "30"))


def grpc_message(model: str, version: str, name: str, datatype: str, array: np.ndarray | None = None,
                 items: list[bytes] | None = None) -> bytes:
    from service.grpc.messages import ModelInferRequest  # noqa: PLC0415 - the server's messages, built once

    request = ModelInferRequest(model_name=model, model_version=version)
    shape = list(array.shape) if array is not None else [len(items)]
    request.inputs.add(name=name, datatype=datatype, shape=shape)
    request.raw_input_contents.append(binary.raw_bytes(array) if array is not None else binary.serialize_bytes(items))
    return request.SerializeToString()


def rest_bodies(model: str, version: str, name: str, array: np.ndarray) -> dict[str, tuple[str, bytes, dict]]:
    path, auth = f"/v2/models/{model}/versions/{version}/infer", {"Authorization": f"Bearer {KEY}"}
    tensor = {"name": name, "shape": list(array.shape), "datatype": "FP32"}
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": array.nbytes}}],
                         "parameters": {"binary_data_output": True}}).encode()
    as_json = json.dumps({"inputs": [{**tensor, "data": np.round(array.astype(np.float64), 4).ravel().tolist()}]}).encode()
    return {
        "REST JSON": (path, as_json, {"Content-Type": "application/json", **auth}),
        "REST binary": (path, header + binary.raw_bytes(array), {"Content-Type": "application/octet-stream",
                                                                  binary.HEADER: str(len(header)), **auth}),
    }


def cells() -> list[tuple[str, str, dict]]:
    """(model, payload name, how to send it)"""
    digits = (mnist_sample_split().x_test[:1] / 255.0).astype(np.float32)
    jpeg = photo_bytes("rocket.jpg")
    photo = to_imagenet_input(decode_image(jpeg, draft_size=(256, 256)), "caffe")[None].astype(np.float32)
    found = [("mnist", "2", "pixels", digits), ("resnet50", "1", "input", photo)]
    out = []
    for model, version, name, array in found:
        for payload, (path, body, headers) in rest_bodies(model, version, name, array).items():
            out.append((model, f"{payload} tensor", {"rest": (path, body, headers)}))
        out.append((model, "gRPC tensor (raw)", {"grpc": grpc_message(model, version, name, "FP32", array)}))
    out.append(("resnet50", "REST V1 JPEG upload", {"rest": ("/v1/models/resnet50/versions/1:predict", jpeg,
                                                           {"Content-Type": "image/jpeg", "Authorization": f"Bearer {KEY}"})}))
    out.append(("resnet50", "gRPC BYTES JPEG", {"grpc": grpc_message("resnet50", "1", "image", "BYTES", items=[jpeg])}))
    return out


def run() -> dict:
    resnet, note = model_dir("resnet50")
    with tempfile.TemporaryDirectory() as tmp:  # a repository of the two models
        root = Path(tmp)
        (root / "mnist").symlink_to(overhead.MODELS / "mnist")
        (root / "resnet50").symlink_to(resnet)
        with running_server(root, AXON_API_KEYS=KEY) as server:
            results = {}
            for _ in range(3):  # rounds: every cell once per round, side by side
                for model, payload, how in cells():
                    for clients in CLIENTS:
                        per_client = requests_per_client(model)
                        if "rest" in how:
                            path, body, headers = how["rest"]
                            figures = load(url=server.url, path=path, body=body, headers=headers, clients=clients,
                                           requests_per_client=per_client)
                        else:
                            figures = grpc_load(server.grpc_address, INFER, how["grpc"], (("authorization", f"Bearer {KEY}"),),
                                                clients, per_client)
                        results.setdefault(f"{model}, {payload}, {clients} client(s)", []).append(figures)
    http = {name: medians(runs, ("rps", "p50_ms", "p99_ms", "errors")) for name, runs in results.items()}
    return {"model": f"V2 gRPC against REST, mnist and resnet50 fp32{note}", "in_process_ms": {}, "http": http,
            "notes": ["Python client processes (bench/timing.py), medians of 3 rounds; REST opens a connection per "
                      "request (sync workers close it), gRPC keeps its channel."]}
