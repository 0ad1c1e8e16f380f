"""A detector's raw outputs -> detections, and detections -> what a client gets: V1 JSON, V2 tensors,
or the photo with its boxes drawn. Decoding and NMS are preprocessing/detection.py's, shared with the
export checks; which decoding a version needs is data, in its decoder.json (written by training).
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from preprocessing.detection import Detections, Letterbox, decode_gfl, decode_yolo, select
from service.errors import InvalidInput, shown
from service.protocol import ResponseOutput


@dataclass(frozen=True)
class DetectionOptions:
    """Per request (query or parameters), with the model's config.json defaults."""

    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_detections: int = 100

    LIMITS = {"score_threshold": (0.0, 1.0), "iou_threshold": (0.0, 1.0), "max_detections": (1, 1000)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> "DetectionOptions":
        """config.json's "detection" object (its errors are the operator's: ValueError)."""
        return cls().given(raw or {}, ValueError)

    def given(self, raw: Mapping[str, Any], error: type[Exception] = InvalidInput) -> "DetectionOptions":
        """These options with the ones a request gives: numbers from JSON, or strings from a query."""
        values = {}
        for name, (low, high) in self.LIMITS.items():
            if name not in raw or raw[name] is None:
                continue
            value = _number(raw[name], whole=name == "max_detections")
            if value is None or not low <= value <= high:
                kind = "a whole number" if name == "max_detections" else "a number"
                raise error(f"{name} must be {kind} between {low} and {high}, got {shown(raw[name])}")
            values[name] = value
        return DetectionOptions(**{**self.__dict__, **values})


def _number(value: Any, whole: bool) -> float | int | None:
    if isinstance(value, str):  # a query parameter
        try:
            value = int(value) if whole else float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if whole and value != int(value):
        return None
    return int(value) if whole else float(value)


@dataclass(frozen=True)
class Decoder:
    """How one version's outputs decode (decoder.json): YOLO heads with their anchors, or NanoDet's
    levels of class scores and distance bins."""

    kind: str
    input_size: int
    heads: tuple[dict, ...]

    @classmethod
    def load(cls, path: Path) -> "Decoder":
        raw = json.loads(path.read_text())
        if raw.get("kind") not in ("yolo", "gfl"):
            raise ValueError(f"{path}: unknown decoder kind {raw.get('kind')!r}")
        return cls(raw["kind"], int(raw["input_size"]), tuple(raw["heads"]))

    def candidates(self, outputs: Mapping[str, np.ndarray], row: int) -> tuple[np.ndarray, np.ndarray]:
        """One image's candidate boxes (canvas pixels) and per-class scores, from every head."""
        if self.kind == "yolo":
            parts = [decode_yolo(outputs[head["output"]][row], head["anchors"], self.input_size)
                     for head in self.heads]
        else:
            parts = [decode_gfl(outputs[head["scores"]][row], outputs[head["distances"]][row], head["stride"],
                                self.input_size) for head in self.heads]
        boxes, scores = zip(*parts)
        return np.concatenate(boxes), np.concatenate(scores)

    def detect(self, outputs: Mapping[str, np.ndarray], sizes: Sequence[tuple[int, int] | None],
               options: DetectionOptions) -> list[Detections]:
        """Each image's detections, in its own pixels (or the canvas's, for a tensor sent as is)."""
        found = []
        for row, size in enumerate(sizes):
            boxes, scores = self.candidates(outputs, row)
            kept = select(boxes, scores, options.score_threshold, options.iou_threshold, options.max_detections)
            if size is not None:
                kept = Detections(Letterbox(size, self.input_size).to_original(kept.boxes), kept.scores, kept.classes)
            found.append(kept)
        return found


@dataclass(frozen=True)
class DetectionFormatter:
    """Detections -> the V1 answer for one image (plain data: the batch script's writer uses it too)."""

    labels: Sequence[str]

    def __call__(self, detections: Detections) -> dict[str, Any]:
        return {"detections": [
            {"label": self.label(int(klass)), "class_id": int(klass), "score": round(float(score), 4),
             "box": dict(zip(("x_min", "y_min", "x_max", "y_max"), (round(float(v), 1) for v in box)))}
            for box, score, klass in zip(detections.boxes, detections.scores, detections.classes)]}

    def label(self, klass: int) -> str:
        return self.labels[klass] if klass < len(self.labels) else str(klass)


def v2_outputs(found: list[Detections]) -> list[ResponseOutput]:
    """boxes [N, K, 4], scores [N, K], classes [N, K] (padding: 0, 0, -1), count [N]; K = the most found."""
    k = max((len(d) for d in found), default=0)
    boxes = np.zeros((len(found), k, 4), np.float32)
    scores = np.zeros((len(found), k), np.float32)
    classes = np.full((len(found), k), -1, np.int32)
    for i, detections in enumerate(found):
        boxes[i, : len(detections)] = detections.boxes
        scores[i, : len(detections)] = detections.scores
        classes[i, : len(detections)] = detections.classes
    count = np.array([len(d) for d in found], np.int32)
    return [ResponseOutput(name, list(array.shape), datatype, array) for name, array, datatype in
            (("boxes", boxes, "FP32"), ("scores", scores, "FP32"), ("classes", classes, "INT32"),
             ("count", count, "INT32"))]


PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def draw(image: Image.Image, detections: Detections, formatter: DetectionFormatter) -> bytes:
    """The image with each box and its label drawn, as PNG (the same size as the image)."""
    canvas = image.convert("RGB")
    pen = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 300))
    font = ImageFont.load_default(size=max(11, 6 * width))
    for box, score, klass in zip(detections.boxes, detections.scores, detections.classes):
        colour = PALETTE[int(klass) % len(PALETTE)]
        x0, y0, x1, y1 = (float(v) for v in box)
        pen.rectangle((x0, y0, x1, y1), outline=colour, width=width)
        text = f"{formatter.label(int(klass))} {score:.2f}"
        left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
        height = bottom - top + 2 * width
        label_top = y0 - height if y0 >= height else y0  # above the box, or inside it at the image's top
        pen.rectangle((x0, label_top, x0 + right - left + 2 * width, label_top + height), fill=colour)
        pen.text((x0 + width, label_top + width - top), text, fill=(0, 0, 0), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
