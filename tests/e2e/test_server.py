"""End to end: real gunicorn, 2 workers, real HTTP, real exported models, real held-out digits."""
from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests

from tests.conftest import png_bytes

V1 = "/v1/models/mnist:predict"
V2 = "/v2/models/mnist/infer"


def predict_v1(url: str, png: bytes) -> str:
    response = requests.post(url + V1, data=png, headers={"Content-Type": "image/png"}, timeout=30)
    response.raise_for_status()
    return response.json()["predictions"][0]["label"]


def predict_v2(url: str, pngs: list[bytes]) -> list[int]:
    data = [base64.b64encode(p).decode() for p in pngs]
    body = {"inputs": [{"name": "image", "shape": [len(data)], "datatype": "BYTES", "data": data}]}
    response = requests.post(url + V2, json=body, timeout=30)
    response.raise_for_status()
    output = response.json()["outputs"][0]
    return list(np.asarray(output["data"]).reshape(output["shape"]).argmax(1))


def counter(url: str, name: str, **labels: str) -> float:
    """Sum of a counter's samples whose labels include `labels`, from /metrics."""
    text = requests.get(url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} ([0-9.e+]+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_heldout_digit_pngs_are_predicted_through_both_protocols(server, heldout):
    images, labels = heldout[0][:60], heldout[1][:60]
    for kind, pixels in (("as-is", images), ("inverted", 255 - images)):
        pngs = [png_bytes(p) for p in pixels]
        v1 = [int(predict_v1(server.url, png)) for png in pngs]
        v2 = predict_v2(server.url, pngs)
        assert v1 == v2, kind
        accuracy = float(np.mean(np.asarray(v1) == labels))
        assert accuracy >= 0.95, (kind, accuracy)


def test_metrics_count_every_request_across_both_workers(server, heldout):
    png = png_bytes(heldout[0][0])
    labels = dict(model="mnist", version="2", endpoint="/v1/models/<name>:predict", code="200")
    before = counter(server.url, "axon_requests_total", **labels)
    inferred_before = counter(server.url, "axon_inference_items_total", model="mnist")
    sent = 60
    with ThreadPoolExecutor(6) as pool:  # a new connection per request: both workers take some
        list(pool.map(lambda _: predict_v1(server.url, png), range(sent)))
    assert counter(server.url, "axon_requests_total", **labels) - before == sent
    assert counter(server.url, "axon_inference_items_total", model="mnist") - inferred_before == sent
    writers = {p.name.split("_")[1] for p in server.metrics_dir.glob("counter_*.db")}
    assert len(writers) >= 2, f"only {writers} wrote metrics: the load did not reach both workers"
    text = requests.get(server.url + "/metrics", timeout=10).text
    for family in ("axon_request_duration_seconds_bucket", "axon_inference_duration_seconds_bucket",
                   "axon_requests_in_flight", "axon_model_load_seconds"):
        assert family in text


def test_concurrent_clients_get_correct_answers_without_errors(server, heldout):
    images, labels = heldout[0][:40], heldout[1][:40]
    pngs = [png_bytes(p) for p in images]
    expected = [int(predict_v1(server.url, png)) for png in pngs]

    def client(worker: int) -> list[tuple[int, int]]:
        session = requests.Session()
        results = []
        for step in range(20):
            index = (worker * 5 + step) % len(pngs)
            response = session.post(server.url + V1, data=pngs[index], headers={"Content-Type": "image/png"}, timeout=30)
            results.append((index, response.status_code, int(response.json()["predictions"][0]["label"])))
        return results

    with ThreadPoolExecutor(8) as pool:
        outcomes = [r for batch in pool.map(client, range(8)) for r in batch]
    assert len(outcomes) == 8 * 20
    assert all(status == 200 for _, status, _ in outcomes)
    assert all(label == expected[index] for index, _, label in outcomes)
    assert np.mean(np.asarray(expected) == labels) >= 0.95


def test_bad_requests_over_real_http_and_the_server_keeps_serving(server, heldout):
    cases = [
        (dict(data=b'{"inputs": [', headers={"Content-Type": "application/json"}), V2, 400),
        (dict(data=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "image/png"}), V1, 413),
        (dict(data=b"GIF89a broken", headers={"Content-Type": "image/gif"}), V1, 400),
        (dict(data=b"a,b", headers={"Content-Type": "text/csv"}), V1, 415),
    ]
    for kwargs, path, status in cases:
        response = requests.post(server.url + path, timeout=30, **kwargs)
        assert response.status_code == status
        assert "error" in response.json()
    assert requests.get(server.url + V2, timeout=10).status_code == 405
    assert requests.get(server.url + "/v2/models/nope", timeout=10).status_code == 404
    assert predict_v1(server.url, png_bytes(heldout[0][0])) == str(heldout[1][0])
    assert counter(server.url, "axon_requests_total", code="500") == 0


def test_real_photo_jpeg_through_both_protocols(server):
    from training.photos import photo_bytes

    jpeg = photo_bytes("rocket.jpg")
    for version in ("1", "2"):
        v1 = requests.post(f"{server.url}/v1/models/efficientnet_lite0/versions/{version}:predict",
                           data=jpeg, headers={"Content-Type": "image/jpeg"}, timeout=30)
        assert v1.status_code == 200 and v1.json()["predictions"][0]["class_id"] in {657, 744}  # missile, projectile
        body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                            "data": [base64.b64encode(jpeg).decode()]}]}
        v2 = requests.post(f"{server.url}/v2/models/efficientnet_lite0/versions/{version}/infer", json=body, timeout=30)
        assert int(np.argmax(v2.json()["outputs"][0]["data"])) == v1.json()["predictions"][0]["class_id"]
    metadata = requests.get(f"{server.url}/v2/models/efficientnet_lite0", timeout=10).json()
    assert metadata["parameters"]["weights"] == "imagenet" and metadata["versions"] == ["1", "2"]


def test_sentiment_from_raw_text_over_http(server):
    response = requests.post(f"{server.url}/v1/models/sentiment:predict", data="I love this airline!".encode(),
                             headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=30)
    assert response.status_code == 200 and response.json()["predictions"][0]["label"] == "positive"
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["flight cancelled again, awful"]}]}
    output = requests.post(f"{server.url}/v2/models/sentiment/infer", json=body, timeout=30).json()["outputs"][0]
    assert int(np.argmax(output["data"])) == 0  # negative
