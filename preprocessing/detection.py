"""Object detection, shared by training (verification against references) and serving: letterbox
geometry, the two detectors' head decodings, class-wise NMS. numpy and Pillow only.

One coordinate convention everywhere: boxes are [x_min, y_min, x_max, y_max] in pixels, first of
the model's square input canvas, then (Letterbox.to_original) of the original image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from preprocessing.images import flatten


@dataclass(frozen=True)
class Letterbox:
    """Where an image of `original` size (width, height) lies on a `size` x `size` canvas, scaled
    to fit with its aspect ratio kept and centred, the rest padded."""

    original: tuple[int, int]
    size: int

    @property
    def scale(self) -> float:
        return min(self.size / self.original[0], self.size / self.original[1])

    @property
    def content(self) -> tuple[int, int, int, int]:
        """(left, top, width, height) of the image on the canvas."""
        width = max(1, round(self.original[0] * self.scale))
        height = max(1, round(self.original[1] * self.scale))
        return (self.size - width) // 2, (self.size - height) // 2, width, height

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """Canvas pixel boxes [n, 4] -> the original image's pixels, clipped to it."""
        left, top, width, height = self.content
        sx, sy = self.original[0] / width, self.original[1] / height
        out = (np.asarray(boxes, dtype=np.float64) - [left, top, left, top]) * [sx, sy, sx, sy]
        return np.clip(out, 0, [self.original[0], self.original[1]] * 2)


def letterbox(image: Image.Image, size: int, fill: int, original: tuple[int, int] | None = None
              ) -> tuple[np.ndarray, Letterbox]:
    """An image -> RGB uint8 canvas [size, size, 3] and its geometry. `original` is the size the boxes
    are wanted in, when `image` is a reduced decoding of it (a JPEG's draft): the image is placed
    where the original would be, so that the geometry depends on the original size alone."""
    geometry = Letterbox(original or image.size, size)
    left, top, width, height = geometry.content
    canvas = Image.new("RGB", (size, size), (fill, fill, fill))
    canvas.paste(flatten(image, min_side=size).convert("RGB").resize((width, height), Image.Resampling.BILINEAR),
                 (left, top))
    return np.asarray(canvas), geometry


INPUT_SIZE = 416
NANODET_MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
NANODET_STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)


def darknet_input(image: Image.Image, original: tuple[int, int] | None = None) -> np.ndarray:
    """Darknet's way: letterboxed on grey (0.5), RGB scaled to 0..1, [416, 416, 3]."""
    canvas, _ = letterbox(image, INPUT_SIZE, 127, original)
    return canvas.astype(np.float32) / 255.0


def nanodet_input(image: Image.Image, original: tuple[int, int] | None = None) -> np.ndarray:
    """NanoDet's way: letterboxed on black, BGR minus the ImageNet means over their deviations, [3, 416, 416]."""
    canvas, _ = letterbox(image, INPUT_SIZE, 0, original)
    bgr = (canvas[..., ::-1].astype(np.float32) - NANODET_MEAN_BGR) / NANODET_STD_BGR
    return np.ascontiguousarray(bgr.transpose(2, 0, 1))


def decode_yolo(head: np.ndarray, anchors: Sequence[Sequence[float]], input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """One Darknet YOLO head [grid_h, grid_w, anchors * (5 + classes)] (raw convolution output) ->
    (boxes [n, 4] in canvas pixels, class scores [n, classes] = objectness x class probability).
    Rows are in Darknet's order: cell by cell (row-major), anchor by anchor."""
    grid_h, grid_w, channels = head.shape
    count = len(anchors)
    raw = head.reshape(grid_h, grid_w, count, channels // count).astype(np.float64)
    ys, xs = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    cx = (_sigmoid(raw[..., 0]) + xs[..., None]) / grid_w * input_size
    cy = (_sigmoid(raw[..., 1]) + ys[..., None]) / grid_h * input_size
    wh = np.exp(np.clip(raw[..., 2:4], -50, 50)) * np.asarray(anchors, dtype=np.float64)
    boxes = np.stack([cx - wh[..., 0] / 2, cy - wh[..., 1] / 2, cx + wh[..., 0] / 2, cy + wh[..., 1] / 2], -1)
    scores = _sigmoid(raw[..., 4:5]) * _sigmoid(raw[..., 5:])
    return boxes.reshape(-1, 4), scores.reshape(-1, channels // count - 5)


def decode_gfl(scores: np.ndarray, distances: np.ndarray, stride: int, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """One NanoDet (generalized focal loss) level: class scores [cells, classes] (already sigmoid)
    and distance bins [cells, 4 * bins] -> (boxes [cells, 4] in canvas pixels, scores). Each side's
    distance is the expectation of its softmaxed bins, in strides, from the cell's centre."""
    cells = scores.shape[0]
    bins = distances.reshape(cells, 4, -1).astype(np.float64)
    bins = np.exp(bins - bins.max(-1, keepdims=True))
    bins /= bins.sum(-1, keepdims=True)
    sides = (bins * np.arange(bins.shape[-1])).sum(-1) * stride
    grid = input_size // stride
    ys, xs = np.divmod(np.arange(cells), grid)
    cx, cy = (xs + 0.5) * stride, (ys + 0.5) * stride
    boxes = np.stack([cx - sides[:, 0], cy - sides[:, 1], cx + sides[:, 2], cy + sides[:, 3]], -1)
    return boxes, scores.astype(np.float64)


@dataclass(frozen=True)
class Detections:
    """One image's detections, best first: boxes [k, 4] (x_min, y_min, x_max, y_max), scores [k],
    classes [k]."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def select(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, iou_threshold: float,
           max_detections: int) -> Detections:
    """Candidates (boxes [n, 4], per-class scores [n, classes]) -> class-wise NMS: each class's boxes
    at or over the score threshold, overlapping boxes of the same class suppressed, the best
    `max_detections` of all classes kept."""
    rows, classes = np.nonzero(scores >= score_threshold)
    candidate_scores = scores[rows, classes]
    kept = []
    for klass in np.unique(classes):
        mine = np.flatnonzero(classes == klass)
        kept.extend(mine[nms(boxes[rows[mine]], candidate_scores[mine], iou_threshold)])
    kept = np.asarray(kept, dtype=np.int64)
    kept = kept[np.argsort(-candidate_scores[kept], kind="stable")][:max_detections]
    return Detections(boxes[rows[kept]].reshape(-1, 4), candidate_scores[kept], classes[kept].astype(np.int64))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept, best first: each suppresses the later ones it overlaps by more
    than `iou_threshold` (intersection over union)."""
    order = np.argsort(-scores, kind="stable")
    kept = []
    while order.size:
        best, order = order[0], order[1:]
        kept.append(best)
        order = order[iou(boxes[best], boxes[order]) <= iou_threshold]
    return np.asarray(kept, dtype=np.int64)


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one box [4] with each of `others` [n, 4]."""
    others = np.asarray(others, dtype=np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    intersection = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
