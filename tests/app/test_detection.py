"""Object detection over HTTP (fresh app per test): photos nobody here drew the boxes for, each
object checked against a box measured by hand once (IoU >= 0.5), both detectors, both protocols."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from preprocessing.detection import iou
from training.photos import detection_photo_bytes

DETECTORS = ("yolov3", "nanodet")
# Measured by hand on each photo (pixels, x_min, y_min, x_max, y_max), once.
BOXES = {
    "bus.jpg": {"bus": [15, 228, 805, 735],
                "person": [[50, 398, 245, 905], [222, 405, 345, 860], [668, 395, 810, 878], [0, 550, 78, 875]]},
    "zidane.jpg": {"person": [[120, 200, 1150, 720], [748, 42, 1140, 720]], "tie": [437, 437, 500, 720]},
    "motorcycle_left.png": {"motorbike": [90, 95, 690, 440]},
    "astronaut.png": {"person": [18, 15, 365, 512]},
    "coffee.png": {"cup": [172, 18, 415, 305]},
    "chelsea.png": {"cat": [0, 0, 451, 300]},
}
# What each detector must find, as (photo, label, how many of the hand boxes). YOLOv3-tiny is weak on
# close-ups (no person on the astronaut, no cat), and boxes Zidane without his pointing arm (IoU 0.44).
EXPECTED = {
    "yolov3": [("bus.jpg", "bus", 1), ("bus.jpg", "person", 3), ("zidane.jpg", "person", 1),
               ("motorcycle_left.png", "motorbike", 1), ("coffee.png", "cup", 1)],
    "nanodet": [("bus.jpg", "bus", 1), ("bus.jpg", "person", 3), ("zidane.jpg", "person", 2),
                ("motorcycle_left.png", "motorbike", 1), ("astronaut.png", "person", 1), ("coffee.png", "cup", 1),
                ("chelsea.png", "cat", 1)],
}


def boxes_of(detections: list[dict], label: str) -> np.ndarray:
    return np.array([[d["box"][k] for k in ("x_min", "y_min", "x_max", "y_max")]
                     for d in detections if d["label"] == label]).reshape(-1, 4)


def matched(detections: list[dict], photo: str, label: str) -> int:
    """How many of the hand-measured boxes of `label` a detection of that label covers (IoU >= 0.5)."""
    hand = np.array(BOXES[photo][label], dtype=float).reshape(-1, 4)
    found = boxes_of(detections, label)
    return sum(bool(len(found)) and iou(box, found).max() >= 0.5 for box in hand)


def detect(client, model: str, photo: str, query: str = "") -> list[dict]:
    response = client.post(f"/v1/models/{model}:predict{query}", data=detection_photo_bytes(photo),
                           content_type="image/jpeg")
    assert response.status_code == 200, response.json
    return response.json["predictions"][0]["detections"]


@pytest.mark.parametrize("model, photo, label, count", [(m, *e) for m, cases in EXPECTED.items() for e in cases],
                         ids=lambda value: str(value))
def test_objects_are_found_where_they_are(client, model, photo, label, count):
    detections = detect(client, model, photo)
    assert matched(detections, photo, label) >= count, detections


@pytest.mark.xfail(strict=True, reason="YOLOv3-tiny boxes Zidane without his pointing arm: IoU 0.44 with the "
                                       "hand box (the full person); a full YOLOv3 version is expected to")
def test_yolov3_tiny_finds_both_people_in_zidane(client):
    assert matched(detect(client, "yolov3", "zidane.jpg"), "zidane.jpg", "person") == 2


def test_detections_are_sorted_in_the_image_and_labelled(client):
    for model in DETECTORS:
        detections = detect(client, model, "bus.jpg")
        scores = [d["score"] for d in detections]
        assert scores == sorted(scores, reverse=True) and all(0.25 <= s <= 1 for s in scores)
        for d in detections:
            box = d["box"]
            assert 0 <= box["x_min"] < box["x_max"] <= 810 and 0 <= box["y_min"] < box["y_max"] <= 1080
            assert d["label"] == client.application.extensions["axon.dataplane"].registry.get(model).config.labels[d["class_id"]]


def test_thresholds_from_the_query_or_parameters(client):
    everything = detect(client, "nanodet", "bus.jpg", "?score_threshold=0.05&max_detections=1000")
    default = detect(client, "nanodet", "bus.jpg")
    strict = detect(client, "nanodet", "bus.jpg", "?score_threshold=0.5&max_detections=1")
    assert len(everything) > len(default) > len(strict) == 1 and strict[0]["label"] == "bus"
    body = {"instances": [{"b64": base64.b64encode(detection_photo_bytes("bus.jpg")).decode()}],
            "parameters": {"score_threshold": 0.5, "max_detections": 1}}
    assert client.post("/v1/models/nanodet:predict", json=body).json["predictions"][0]["detections"] == strict
    loose_nms = detect(client, "nanodet", "bus.jpg", "?iou_threshold=0.95&score_threshold=0.05&max_detections=1000")
    assert len(loose_nms) > len(everything)  # fewer overlapping boxes suppressed


@pytest.mark.parametrize("query, words", [("?score_threshold=2", "score_threshold must be a number between 0.0 and 1.0"),
                                          ("?score_threshold=abc", "score_threshold"),
                                          ("?max_detections=0", "max_detections must be a whole number"),
                                          ("?max_detections=2.5", "max_detections"),
                                          ("?iou_threshold=nan", "iou_threshold"),
                                          ("?format=gif", "format must be json or png")])
def test_bad_options_are_400(client, query, words):
    response = client.post(f"/v1/models/yolov3:predict{query}", data=detection_photo_bytes("bus.jpg"),
                           content_type="image/jpeg")
    assert response.status_code == 400 and words in response.json["error"]


def test_the_drawn_image_is_a_png_of_the_photo_s_size(client):
    for model, accept in (("nanodet", None), ("yolov3", "image/png")):
        if accept:
            response = client.post(f"/v1/models/{model}:predict", data=detection_photo_bytes("zidane.jpg"),
                                   content_type="image/jpeg", headers={"Accept": accept})
        else:
            response = client.post(f"/v1/models/{model}:predict?format=png", data=detection_photo_bytes("zidane.jpg"),
                                   content_type="image/jpeg")
        assert response.status_code == 200 and response.content_type == "image/png"
        drawn = Image.open(io.BytesIO(response.data))
        assert drawn.format == "PNG" and drawn.size == (1280, 720)
        original = np.asarray(Image.open(io.BytesIO(detection_photo_bytes("zidane.jpg"))).convert("RGB"), dtype=int)
        assert np.abs(np.asarray(drawn.convert("RGB"), dtype=int) - original).max() > 100  # boxes were drawn


def test_a_drawing_needs_a_detector_and_one_image(client):
    refused = client.post("/v1/models/efficientnet_lite0:predict?format=png", data=detection_photo_bytes("bus.jpg"),
                          content_type="image/jpeg")
    assert refused.status_code == 400 and "not a detector" in refused.json["error"]
    from urllib3 import encode_multipart_formdata

    body, content_type = encode_multipart_formdata([("f", ("a.jpg", detection_photo_bytes("bus.jpg"), "image/jpeg"))] * 2)
    two = client.post("/v1/models/nanodet:predict?format=png", data=body, content_type=content_type)
    assert two.status_code == 400 and "one image" in two.json["error"]


def test_v2_outputs_boxes_scores_classes_and_count(client):
    photos = [detection_photo_bytes(p) for p in ("bus.jpg", "coffee.png")]
    request = {"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES",
                           "data": [base64.b64encode(p).decode() for p in photos]}],
               "parameters": {"score_threshold": 0.3}}
    body = client.post("/v2/models/nanodet/infer", json=request).json
    outputs = {o["name"]: o for o in body["outputs"]}
    count = outputs["count"]["data"]
    k = max(count)
    assert outputs["boxes"]["shape"] == [2, k, 4] and outputs["scores"]["shape"] == [2, k]
    assert outputs["classes"]["datatype"] == "INT32" and outputs["count"]["shape"] == [2]
    v1 = [detect(client, "nanodet", p, "?score_threshold=0.3") for p in ("bus.jpg", "coffee.png")]
    assert count == [len(d) for d in v1]
    classes = np.array(outputs["classes"]["data"]).reshape(2, k)
    assert classes[1, count[1]:].tolist() == [-1] * (k - count[1])  # padding
    boxes = np.array(outputs["boxes"]["data"]).reshape(2, k, 4)
    assert np.allclose(boxes[0, : count[0]], [[*d["box"].values()] for d in v1[0]], atol=0.06)
    metadata = client.get("/v2/models/nanodet").json
    assert [o["name"] for o in metadata["outputs"]] == ["boxes", "scores", "classes", "count"]
    assert metadata["parameters"]["detection"] == {"score_threshold": 0.25, "iou_threshold": 0.45, "max_detections": 100}
    only = client.post("/v2/models/nanodet/infer", json={**request, "outputs": [{"name": "count"}]}).json
    assert [o["name"] for o in only["outputs"]] == ["count"]


def test_a_preprocessed_tensor_gets_boxes_in_the_canvas_pixels(client):
    from preprocessing.detection import darknet_input
    from preprocessing.images import decode_image

    import json

    tensor = darknet_input(decode_image(detection_photo_bytes("bus.jpg")))[None]
    header = json.dumps({"inputs": [{"name": "input", "shape": list(tensor.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": tensor.nbytes}}]}).encode()
    response = client.post("/v2/models/yolov3/infer", data=header + tensor.tobytes(),
                           headers={"Inference-Header-Content-Length": str(len(header))},
                           content_type="application/octet-stream")
    outputs = {o["name"]: o for o in response.json["outputs"]}
    boxes = np.array(outputs["boxes"]["data"]).reshape(-1, 4)
    assert outputs["count"]["data"][0] >= 4 and boxes.max() <= 416.5  # not mapped back: the canvas is 416 wide
