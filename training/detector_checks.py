"""What both detectors' exports are held to before they are written: detections that agree with an
independent reference on real photos, and a record of what each finds on the test photos."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from preprocessing.detection import Detections, Letterbox, iou, select
from preprocessing.images import decode_image
from training.photos import DETECTION_PHOTOS, PHOTOS, detection_photo_bytes

SCORE, IOU, MAX = 0.25, 0.45, 100  # the serving defaults (config.json "detection")
MATCH_IOU, MATCH_SCORE = 0.9, 0.01  # the same detection: same class, boxes this close, scores this close


class ReferenceMismatch(RuntimeError):
    """The export does not find what the independent reference finds: nothing is written."""


def reference_photos() -> list[tuple[str, Image.Image]]:
    """The test photos and every packaged photo, decoded upright (as served)."""
    names = list(dict.fromkeys([*DETECTION_PHOTOS, *PHOTOS]))
    return [(name, decode_image(detection_photo_bytes(name))) for name in names]


def detections(candidates: tuple[np.ndarray, np.ndarray]) -> Detections:
    return select(*candidates, SCORE, IOU, MAX)


def compare(ours: Detections, theirs: Detections) -> tuple[int, int]:
    """(matched, compared): each of ours matched to one of theirs of the same class with IoU >= 0.9
    and a score within 0.01, one to one; compared counts the larger of the two sets."""
    used: set[int] = set()
    matched = 0
    for box, score, klass in zip(ours.boxes, ours.scores, ours.classes):
        for j in range(len(theirs)):
            if j in used or theirs.classes[j] != klass or abs(theirs.scores[j] - score) > MATCH_SCORE:
                continue
            if iou(box, theirs.boxes[j : j + 1])[0] >= MATCH_IOU:
                used.add(j)
                matched += 1
                break
    return matched, max(len(ours), len(theirs))


def agreement(ours: Sequence[Detections], theirs: Sequence[Detections], what: str) -> dict[str, Any]:
    """Detections matched over compared on every photo; raises unless all of them match."""
    pairs = [compare(a, b) for a, b in zip(ours, theirs, strict=True)]
    matched, compared = sum(m for m, _ in pairs), sum(c for _, c in pairs)
    if matched != compared:
        raise ReferenceMismatch(f"{what}: {matched} of {compared} detections agree; nothing written")
    return {"detections_matched": matched, "detections_compared": compared, "photos": len(pairs),
            "match": f"same class, IoU >= {MATCH_IOU}, score within {MATCH_SCORE}"}


def found_on_test_photos(photos: list[tuple[str, Image.Image]], found: Sequence[Detections], size: int,
                         labels: list[str]) -> dict[str, list[dict[str, Any]]]:
    """What the export finds on each test photo, in the photo's pixels (for metadata.json)."""
    record = {}
    for (name, image), kept in zip(photos, found):
        if name not in DETECTION_PHOTOS:
            continue
        boxes = Letterbox(image.size, size).to_original(kept.boxes)
        record[name] = [{"label": labels[int(k)], "score": round(float(s), 3), "box": [round(float(v)) for v in b]}
                        for b, s, k in zip(boxes, kept.scores, kept.classes)]
    return record


def say_found(model: str, found: dict[str, list[dict[str, Any]]], say: Callable[[str], None] = print) -> None:
    for name, items in found.items():
        listed = ", ".join(f"{d['label']} {d['score']:.2f}" for d in items) or "nothing"
        say(f"[{model}] {name}: {listed}")
