"""Routes with a fresh app per test: health, metadata, predictions through both protocols."""
from __future__ import annotations

import base64
import io

import numpy as np

from tests.conftest import as_photo, png_bytes


def v2_tensor(images: np.ndarray, shape=None) -> dict:
    data = (images.astype(np.float32) / 255.0).tolist()
    return {"inputs": [{"name": "pixels", "shape": shape or list(images.shape), "datatype": "FP32", "data": data}]}


def test_health_and_server_metadata(client):
    assert client.get("/v2/health/live").json == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2").json["name"] == "axon"


def test_model_metadata_and_readiness(client):
    body = client.get("/v2/models/mnist").json
    assert body["versions"] == ["1", "2"] and body["inputs"][0]["name"] == "pixels"
    assert body["parameters"]["version"] == "2" and body["parameters"]["metrics"]["test_accuracy"] >= 0.975
    assert client.get("/v2/models/mnist/versions/1").json["parameters"]["version"] == "1"
    assert client.get("/v2/models/mnist/ready").json == {"ready": True}
    assert client.get("/v2/models/mnist/versions/1/ready").status_code == 200
    assert client.get("/v1/models/mnist").json["model_version_status"][1]["state"] == "AVAILABLE"


def test_v2_infer_tensor_both_shapes(client, heldout):
    images, labels = heldout[0][:8], heldout[1][:8]
    for shape in ([8, 28, 28], [8, 784]):
        request = v2_tensor(images, shape)
        request["inputs"][0]["data"] = np.asarray(request["inputs"][0]["data"]).reshape(shape).tolist()
        request["id"] = "req-1"
        body = client.post("/v2/models/mnist/infer", json=request).json
        assert body["id"] == "req-1" and body["model_version"] == "2"
        output = body["outputs"][0]
        assert output["name"] == "probabilities" and output["shape"] == [8, 10]
        predicted = np.asarray(output["data"]).reshape(8, 10).argmax(1)
        assert (predicted == labels).mean() >= 0.875


def test_v2_infer_bytes_images_and_version_path(client, heldout):
    images, labels = heldout
    data = [base64.b64encode(png_bytes(255 - p)).decode() for p in images[:4]]
    request = {"inputs": [{"name": "image", "shape": [4], "datatype": "BYTES", "data": data}]}
    body = client.post("/v2/models/mnist/versions/1/infer", json=request).json
    assert body["model_version"] == "1"
    predicted = np.asarray(body["outputs"][0]["data"]).reshape(4, 10).argmax(1)
    assert list(predicted) == list(labels[:4])


def test_v1_predict_every_input_form(client, heldout):
    images, labels = heldout
    digit, label = images[0], str(labels[0])
    png = png_bytes(255 - digit)
    forms = [
        dict(json={"instances": [(digit / 255.0).tolist()]}),
        dict(json={"instances": [{"pixels": (digit / 255.0).ravel().tolist()}]}),
        dict(json={"instances": [{"b64": base64.b64encode(png).decode()}]}),
        dict(json={"inputs": {"pixels": [(digit / 255.0).tolist()]}}),
        dict(data=png, content_type="image/png"),
        dict(data={"file": (io.BytesIO(png), "digit.png")}, content_type="multipart/form-data"),
    ]
    for form in forms:
        response = client.post("/v1/models/mnist:predict", **form)
        assert response.status_code == 200, response.json
        prediction = response.json["predictions"][0]
        assert prediction["label"] == label
        assert prediction["top_k"][0]["label"] == label and len(prediction["top_k"]) == 3


def test_v1_top_k_parameter(client, heldout):
    png = png_bytes(heldout[0][0])
    body = client.post("/v1/models/mnist/versions/2:predict?top_k=10", data=png, content_type="image/png").json
    top = body["predictions"][0]["top_k"]
    assert len(top) == 10 and abs(sum(t["probability"] for t in top) - 1) < 1e-3
    assert body["model_version"] == "2"


def test_photos_of_digits_are_read_as_well_as_the_digits(app, heldout):
    """Dark ink on light paper, larger and off-centre: within a point of the clean digits' accuracy."""
    dataplane = app.extensions["axon.dataplane"]
    images, labels = heldout[0][:200], heldout[1][:200]
    correct = {"clean": 0, "photo": 0}
    for start in range(0, 200, 16):
        batch, truth = images[start : start + 16], labels[start : start + 16]
        for kind, items in (("clean", [png_bytes(p) for p in batch]), ("photo", [png_bytes(as_photo(p)) for p in batch])):
            predictions = dataplane.predict("mnist", None, items).records()
            correct[kind] += sum(p["class_id"] == t for p, t in zip(predictions, truth))
    assert correct["clean"] / 200 >= 0.95
    assert correct["photo"] >= correct["clean"] - 2


def test_every_uploaded_file_is_predicted_in_the_order_sent(client, heldout):
    """Several files under one field name (curl -F file=@a -F file=@b), and names interleaved."""
    images, labels = heldout
    pngs = [png_bytes(255 - images[i]) for i in range(3)]
    expected = [str(labels[i]) for i in range(3)]
    from urllib3 import encode_multipart_formdata  # keeps the parts in order (the test client groups them)

    for fields in ([("file", 0), ("file", 1), ("file", 2)], [("a", 0), ("b", 1), ("a", 2)]):
        body, content_type = encode_multipart_formdata([(name, (f"{i}.png", pngs[i], "image/png")) for name, i in fields])
        response = client.post("/v1/models/mnist:predict", data=body, content_type=content_type)
        assert [p["label"] for p in response.json["predictions"]] == expected, fields
