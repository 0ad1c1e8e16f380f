"""Image classifiers, side by side: onnxruntime fp32 vs int8 at batch 1 and 8, Keras predict,
decode + preprocessing vs inference, and the HTTP server with a real JPEG photo.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.harness import http_load, running_server
from preprocessing.images import decode_image
from preprocessing.imagenet import to_imagenet_input
from service.runtime import OnnxModel
from training.cache import keras_path
from training.photos import photo_bytes
from training.timing import median_call_seconds

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"efficientnet_lite0": "lite", "resnet50": "caffe"}


def model_dir(name: str) -> tuple[Path, str]:
    """models/<name> when built (real weights), else the test build (random ResNet50)."""
    for root, note in ((ROOT / "models", ""), (ROOT / "build" / "test-models", " (random weights: speed only)")):
        if (root / name / "2" / "model.onnx").is_file():
            return root / name, note
    raise SystemExit(f"{name} is not built: run `make test` or `python -m training {name}`")


def big_jpeg() -> bytes:
    """A 12-megapixel JPEG made from a real photo, as a phone would send."""
    image = Image.open(io.BytesIO(photo_bytes("china.jpg"))).resize((4000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def in_process(name: str, directory: Path, normalisation: str) -> dict:
    import keras

    jpeg, large = photo_bytes("rocket.jpg"), big_jpeg()
    single = to_imagenet_input(decode_image(jpeg), normalisation)[None]
    result = {
        "decode + preprocess rocket.jpg (512x512)": median_call_seconds(
            lambda: to_imagenet_input(decode_image(jpeg, draft_size=(256, 256)), normalisation), 50),
        "decode + preprocess 4000x3000 JPEG, draft mode (as served)": median_call_seconds(
            lambda: to_imagenet_input(decode_image(large, draft_size=(256, 256)), normalisation), 5),
        "decode + preprocess 4000x3000 JPEG, full decode": median_call_seconds(
            lambda: to_imagenet_input(decode_image(large), normalisation), 5),
    }
    for version, precision in ((1, "fp32"), (2, "int8")):
        session = OnnxModel(directory / str(version) / "model.onnx", threads=1)
        for batch in (1, 8):
            feed = {"input": np.repeat(single, batch, axis=0)}
            result[f"onnxruntime {precision}, batch {batch} (1 thread)"] = median_call_seconds(
                lambda: session.run(feed), calls=max(3, 40 // batch))
    model = keras.models.load_model(keras_path(name, 1))
    for batch in (1, 8):
        x = np.repeat(single, batch, axis=0)
        result[f"keras predict, batch {batch}"] = median_call_seconds(lambda: model.predict(x, verbose=0), calls=5)
    return {key: seconds * 1e3 for key, seconds in result.items()}


def over_http(name: str, directory: Path) -> dict:
    jpeg = photo_bytes("rocket.jpg")
    payloads = {f"v{v} {p} JPEG upload": (f"/v1/models/{name}/versions/{v}:predict", jpeg, {"Content-Type": "image/jpeg"})
                for v, p in ((1, "fp32"), (2, "int8"))}
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(directory, Path(tmp) / name)
        with running_server(Path(tmp)) as server:
            return http_load(server.url, payloads, levels=((1, 60), (4, 30)))


def run_one(name: str) -> dict:
    directory, note = model_dir(name)
    timings = in_process(name, directory, MODELS[name])
    share = timings["decode + preprocess rocket.jpg (512x512)"]
    infer = timings["onnxruntime int8, batch 1 (1 thread)"]
    return {
        "model": name + note,
        "in_process_ms": timings,
        "http": over_http(name, directory),
        "notes": [f"Decode + preprocessing of a 512x512 JPEG is {share:.1f} ms against {infer:.1f} ms of int8 "
                  f"inference: {100 * share / (share + infer):.0f}% of the in-process work per image."],
    }


def run() -> list[dict]:
    return [run_one(name) for name in MODELS]
