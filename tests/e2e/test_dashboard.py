"""The Grafana dashboard (k8s/grafana/axon-dashboard.json) asks only for what a real server exports,
and prediction monitoring counts what the models were sent and said, across both workers."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from tests.conftest import png_bytes
from training.photos import detection_photo_bytes, photo_bytes

DASHBOARD = Path(__file__).resolve().parents[2] / "k8s" / "grafana" / "axon-dashboard.json"


def metric_lines(server) -> list[str]:
    return requests.get(server.url + "/metrics", timeout=10).text.splitlines()


@pytest.fixture(scope="module")
def exported(server, heldout):
    """/metrics before and after real traffic: digits, photos, texts (a batched model), boxes, one
    bad request (the server is the session's: other modules' traffic counts too, so counts are deltas)."""
    before = metric_lines(server)
    post = lambda path, **kwargs: requests.post(server.url + path, timeout=60, **kwargs)  # noqa: E731
    for index in range(20):  # connections of their own: both workers answer some
        digit = png_bytes(255 - heldout[0][index])
        assert post("/v1/models/mnist:predict", data=digit, headers={"Content-Type": "image/png", "Connection": "close"}).ok
    assert post("/v1/models/efficientnet_lite0:predict", data=photo_bytes("coffee.png"), headers={"Content-Type": "image/png"}).ok
    assert post("/v1/models/yolov3:predict", data=detection_photo_bytes("bus.jpg"), headers={"Content-Type": "image/jpeg"}).ok
    assert post("/v1/models/sentiment:predict", json={"instances": ["I love this airline", "worst flight ever"]}).ok
    assert post("/v1/models/mnist:predict", data=b"not an image", headers={"Content-Type": "image/png"}).status_code == 400
    return before, metric_lines(server), heldout[1][:20]


def targets() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [variable["definition"] for variable in dashboard["templating"]["list"] if variable["type"] == "query"]
    return exprs


def test_the_dashboard_is_well_formed():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(p["datasource"]["uid"] == "${datasource}" and p["targets"] for p in dashboard["panels"])
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("requests per second", "latency", "errors", "batching", "in flight", "confidence", "class mix"):
        assert topic in titles, topic


@pytest.mark.parametrize("expr", targets())
def test_every_metric_and_label_the_dashboard_asks_for_is_exported(exported, expr):
    _, lines, _ = exported
    names = set(re.findall(r"\baxon_[a-z_]+", expr))
    grouped = {label.strip() for clause in re.findall(r"by \(([^)]*)\)", expr) for label in clause.split(",")} - {"le"}
    for name in names:
        samples = [line for line in lines if line.startswith(name + "{") or line.startswith(name + " ")]
        assert samples, f"{name} is not in /metrics"
        for label in grouped:
            assert any(f'{label}="' in sample for sample in samples), (name, label)


def total(lines: list[str], name: str, **labels: str) -> float:
    total = 0.0
    for line in lines:
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_monitoring_counts_what_the_models_saw_and_said(exported):
    before, after, labels = exported

    def value(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert value("axon_prediction_confidence_count", model="mnist") == 20
    counted = {digit: value("axon_predicted_classes_total", model="mnist", class_name=str(digit)) for digit in range(10)}
    assert sum(counted.values()) == 20  # one class per digit, and the classes are the digits read
    assert sum(min(counted[d], (labels == d).sum()) for d in range(10)) >= 18
    assert value("axon_predicted_classes_total", model="efficientnet_lite0", class_name="900-999") == 1  # espresso, 967
    assert value("axon_predicted_classes_total", model="yolov3", class_name="bus") >= 1
    assert value("axon_predicted_classes_total", model="sentiment", class_name="positive") >= 1
    assert value("axon_input_pixels_count", model="mnist") == 20  # the bad image was never decoded
    assert value("axon_input_pixels_bucket", model="mnist", le="784.0") == 20  # 28 x 28
    assert value("axon_detections_per_image_count", model="yolov3") == 1
    classes = {line.split('class_name="')[1].split('"')[0] for line in after
               if line.startswith("axon_predicted_classes_total{") and 'model="efficientnet_lite0"' in line}
    assert classes <= {f"{low}-{low + 99}" for low in range(0, 1000, 100)}  # 1,000 classes: ten series at most
