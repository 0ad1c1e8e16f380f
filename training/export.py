"""Keras -> ONNX with tf2onnx, verified in onnxruntime before anything is written.

A conversion can log unsupported ops and still succeed, so every export runs the
ONNX model on real inputs and compares it with Keras; over the tolerance, the
export fails and models/ is left untouched.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from training import cards
from training.cache import sha256_of

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOLERANCE = 1e-4


class ParityError(RuntimeError):
    """The ONNX model does not reproduce the Keras model."""


def tool_versions() -> dict[str, str]:
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": str(OPSET),
    }


def convert(model: Any, input_name: str, input_shape: tuple, dtype: str = "float32") -> bytes:
    """Convert a functional Keras model to serialized ONNX with a named, batch-dynamic input."""
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, *input_shape), getattr(tf, dtype), name=input_name),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    return proto.SerializeToString()


def run_onnx(onnx_bytes: bytes, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's first output on `inputs` (classifiers have one)."""
    return run_onnx_all(onnx_bytes, inputs, batch_size)[0]


def run_onnx_all(onnx_bytes: bytes, inputs: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
    """Every output of the model on `inputs`, in the model's output order, as served."""
    from preprocessing.onnx_session import cpu_session

    session = cpu_session(onnx_bytes, threads=0)  # as served, but with every core (0: onnxruntime's default)
    name = session.get_inputs()[0].name
    if session.get_inputs()[0].shape[0] == 1:  # a graph made for batch 1 only
        batch_size = 1
    parts = [session.run(None, {name: inputs[i : i + batch_size]}) for i in range(0, len(inputs), batch_size)]
    return [np.concatenate([part[k] for part in parts]) for k in range(len(parts[0]))]


def check_parity(model: Any, onnx_bytes: bytes, inputs: np.ndarray, tolerance: float = PARITY_TOLERANCE) -> float:
    """Max abs difference between Keras and onnxruntime outputs on `inputs` (every output of a
    model with several); raises over tolerance."""
    expected = model.predict(inputs, batch_size=256 if len(inputs) > 1 else 1, verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    actual = run_onnx_all(onnx_bytes, inputs)
    diff = max(float(np.max(np.abs(e - a))) for e, a in zip(expected, actual, strict=True))
    log.info("parity on %d inputs: max abs diff %.3g (tolerance %.0e)", len(inputs), diff, tolerance)
    if not diff <= tolerance:
        raise ParityError(f"ONNX output differs from Keras by {diff:.3g} > {tolerance:.0e}; nothing written")
    return diff


def publish_readable(directory: Path) -> None:
    """Directories 0755, files 0644, whatever the trainer's umask (mkdtemp makes 0700): the server
    often runs as another user (uid 10001 in the image, a read-only volume in Kubernetes)."""
    directory.chmod(0o755)
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def write_version(model_dir: Path, version: int, onnx_bytes: bytes, metadata: dict[str, Any],
                  assets: dict[str, bytes] | None = None) -> Path:
    """Write model.onnx + metadata.json (+ assets, e.g. vocab.json) into models/<name>/<version>/ atomically."""
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / str(version)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir))
    try:
        (staging / "model.onnx").write_bytes(onnx_bytes)
        for name, content in (assets or {}).items():
            (staging / name).write_bytes(content)
        full = {
            **metadata,
            "version": version,
            "sha256": sha256_of(staging / "model.onnx"),
            "size_bytes": len(onnx_bytes),
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "tools": tool_versions(),
            "latency": cards.latency(staging / "model.onnx"),
        }
        (staging / "metadata.json").write_text(json.dumps(full, indent=2) + "\n")
        cards.write(staging, full, cards.model_config(staging))  # staging sits in the model directory
        publish_readable(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("wrote %s", target)
    return target


def export(
    model: Any,
    *,
    model_dir: Path,
    version: int,
    input_name: str,
    parity_inputs: np.ndarray,
    metadata: dict[str, Any],
    assets: dict[str, bytes] | None = None,
) -> Path:
    """Convert, verify against Keras on `parity_inputs`, then write. Returns the version directory."""
    started = time.perf_counter()
    onnx_bytes = convert(model, input_name, parity_inputs.shape[1:], str(parity_inputs.dtype))
    diff = check_parity(model, onnx_bytes, parity_inputs)
    metadata = {**metadata, "parity_max_abs_diff": diff, "parity_inputs": int(len(parity_inputs))}
    path = write_version(model_dir, version, onnx_bytes, metadata, assets)
    log.info("exported %s in %.1fs", path, time.perf_counter() - started)
    return path
