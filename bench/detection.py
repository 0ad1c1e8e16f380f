"""Detectors, side by side: onnxruntime latency at batch 1 and throughput at batch 8 (fp32, and int8
with its detections' agreement with fp32 on the test photos), decode + letterbox and decode + NMS
costs, and HTTP p50/p99 for a JPEG at 1 and 4 clients."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.harness import http_load, running_server
from preprocessing.detection import darknet_input, nanodet_input
from preprocessing.images import decode_image
from service.codecs.detections import Decoder, DetectionOptions
from service.runtime import OnnxModel
from training import detector_checks
from training.photos import DETECTION_PHOTOS, detection_photo_bytes
from training.quantize import quantize_int8
from training.timing import median_call_seconds

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"yolov3": darknet_input, "nanodet": nanodet_input}


def detections(session: OnnxModel, decoder: Decoder, inputs: np.ndarray, sizes: list) -> list:
    outputs = session.run({"input": inputs})
    return decoder.detect(outputs, sizes, DetectionOptions())


def run_one(name: str) -> dict:
    directory = ROOT / "models" / name
    if not (directory / "1" / "model.onnx").is_file():
        raise SystemExit(f"{name} is not built: run `make models`")
    transform = MODELS[name]
    decoder = Decoder.load(directory / "1" / "decoder.json")
    jpeg = detection_photo_bytes("bus.jpg")
    photos = [decode_image(detection_photo_bytes(p)) for p in DETECTION_PHOTOS]
    inputs = np.stack([transform(image) for image in photos])
    sizes = [image.size for image in photos]
    fp32_bytes = (directory / "1" / "model.onnx").read_bytes()
    started = time.perf_counter()
    int8_bytes = quantize_int8(fp32_bytes, "input", inputs)
    quantize_s = time.perf_counter() - started
    timings, found = {}, {}
    timings["decode + letterbox bus.jpg (810x1080), as served"] = median_call_seconds(
        lambda: transform(decode_image(jpeg, draft_size=(832, 832)), (810, 1080)), 20)
    for precision, model_bytes in (("fp32", fp32_bytes), ("int8", int8_bytes)):
        path = Path(f"/tmp/axon-bench-{name}-{precision}.onnx")
        path.write_bytes(model_bytes)
        session = OnnxModel(path, threads=1)
        one, eight = inputs[:1], np.repeat(inputs[:1], 8, axis=0)
        timings[f"onnxruntime {precision}, batch 1 (1 thread)"] = median_call_seconds(
            lambda: session.run({"input": one}), 10)
        batch_s = median_call_seconds(lambda: session.run({"input": eight}), 3)
        timings[f"onnxruntime {precision}, batch 8, per image (1 thread)"] = batch_s / 8
        found[precision] = detections(session, decoder, inputs, sizes)
        if precision == "fp32":
            outputs = session.run({"input": one})
            timings["decode heads + class-wise NMS (numpy), one image"] = median_call_seconds(
                lambda: decoder.detect(outputs, [(810, 1080)], DetectionOptions()), 50)
    matched, compared = map(sum, zip(*(detector_checks.compare(a, b) for a, b in zip(found["int8"], found["fp32"]))))
    with running_server(directory.parent) as server:
        http = http_load(server.url, {"bus.jpg upload": (f"/v1/models/{name}:predict", jpeg,
                                                         {"Content-Type": "image/jpeg"})},
                         levels=((1, 40), (4, 20)))
    fp32, int8 = timings["onnxruntime fp32, batch 1 (1 thread)"], timings["onnxruntime int8, batch 1 (1 thread)"]
    return {
        "model": name,
        "in_process_ms": {key: seconds * 1e3 for key, seconds in timings.items()},
        "http": http,
        "int8": {"detections_matching_fp32": matched, "fp32_or_int8_detections": compared,
                 "speedup_batch_1": round(fp32 / int8, 2), "quantize_seconds": round(quantize_s, 1)},
        "notes": [f"int8 (static QDQ U8S8, calibrated on the {len(photos)} test photos): {matched} of {compared} "
                  f"detections the same as fp32 (class, IoU >= 0.9, score within 0.01); {fp32 / int8:.2f}x "
                  "fp32's speed at batch 1."],
    }


def run() -> list[dict]:
    return [run_one(name) for name in MODELS]
