"""Image classification over HTTP (fresh app per test): real photos, odd files, both protocols."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from preprocessing.images import decode_image
from preprocessing.imagenet import lite0_input
from service.app import create_app
from service.settings import Settings
from training.photos import photo_bytes

LITE = "/v1/models/efficientnet_lite0:predict"
CAT_CLASSES = {281, 282, 285}


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def chelsea() -> Image.Image:
    return Image.open(io.BytesIO(photo_bytes("chelsea.png")))


def animated_gif() -> bytes:
    frames = [chelsea().convert("P"), Image.new("P", chelsea().size, 0)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])


def sixteen_bit_png() -> bytes:
    gray = np.asarray(chelsea().convert("L"), dtype=np.uint16) * 257
    return encoded(Image.fromarray(gray), "PNG")


def test_raw_multipart_and_b64_uploads_all_find_the_cat(client):
    png = photo_bytes("chelsea.png")
    forms = [
        dict(data=png, content_type="image/png"),
        dict(data={"photo": (io.BytesIO(png), "chelsea.png")}, content_type="multipart/form-data"),
        dict(json={"instances": [{"b64": base64.b64encode(png).decode()}]}),
    ]
    for form in forms:
        body = client.post(LITE, **form).json
        prediction = body["predictions"][0]
        assert prediction["class_id"] in CAT_CLASSES
        assert len(prediction["top_k"]) == 5 and set(prediction["top_k"][0]) == {"label", "class_id", "probability"}


def test_top_k_from_query_or_parameters(client):
    png = photo_bytes("coffee.png")
    assert len(client.post(LITE + "?top_k=3", data=png, content_type="image/png").json["predictions"][0]["top_k"]) == 3
    body = {"instances": [{"b64": base64.b64encode(png).decode()}], "parameters": {"top_k": 1}}
    assert len(client.post(LITE, json=body).json["predictions"][0]["top_k"]) == 1


def test_v2_bytes_and_preprocessed_fp32_give_the_same_probabilities(client):
    png = photo_bytes("coffee.png")
    as_bytes = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                            "data": [base64.b64encode(png).decode()]}]}
    tensor = lite0_input(decode_image(png))[None]
    as_tensor = {"inputs": [{"name": "input", "shape": list(tensor.shape), "datatype": "FP32",
                             "data": tensor.ravel().tolist()}]}
    outputs = [client.post(f"/v2/models/efficientnet_lite0/versions/{v}/infer", json=body).json["outputs"][0]
               for v in (1, 1) for body in (as_bytes, as_tensor)][:2]
    first, second = (np.asarray(o["data"]) for o in outputs)
    assert outputs[0]["shape"] == [1, 1000] and first.argmax() == 967  # espresso
    assert np.abs(first - second).max() < 1e-5


# name -> (bytes, expected status)
ODD_IMAGES = {
    "zero bytes": (b"", 400),
    "truncated JPEG": (encoded(chelsea(), "JPEG")[:5000], 400),
    "text sent as an image": (b"I am a text file, honestly." * 10, 400),
    "decompression bomb": (encoded(Image.new("1", (12000, 12000)), "PNG"), 413),
    "1x1": (encoded(Image.new("RGB", (1, 1), (200, 0, 0)), "PNG"), 400),
    "10000x10 strip": (encoded(Image.new("RGB", (10000, 10), (0, 200, 0)), "PNG"), 400),
    "animated GIF": (animated_gif(), 200),
    "16-bit PNG": (sixteen_bit_png(), 200),
    "CMYK JPEG": (encoded(chelsea().convert("CMYK"), "JPEG", quality=95), 200),
    "grayscale": (encoded(chelsea().convert("L"), "JPEG", quality=95), 200),
}


@pytest.mark.parametrize("case", ODD_IMAGES.values(), ids=ODD_IMAGES.keys())
def test_odd_images_are_classified_or_clearly_refused(client, case):
    data, status = case
    response = client.post(LITE, data=data, content_type="image/png")
    assert response.status_code == status, response.json
    if status == 200:
        assert response.json["predictions"][0]["class_id"] in CAT_CLASSES | {283, 287}  # cats (+persian, lynx)
    else:
        assert set(response.json) == {"error"}
    assert client.post(LITE, data=photo_bytes("coffee.png"), content_type="image/png").status_code == 200


def test_preprocessed_tensor_out_of_range_is_400(client):
    body = {"inputs": [{"name": "input", "shape": [1, 224, 224, 3], "datatype": "FP32", "data": [255.0] * 150528}]}
    response = client.post("/v2/models/efficientnet_lite0/infer", json=body)
    assert response.status_code == 400 and "must lie in" in response.json["error"]


def test_random_weights_are_announced_everywhere(test_models, caplog):
    client = create_app(Settings(model_dir=test_models)).test_client()
    assert "RANDOM" in caplog.text
    metadata = client.get("/v2/models/resnet50").json
    assert metadata["parameters"]["weights"] == "random" and "RANDOM" in metadata["parameters"]["warning"]
    predicted = client.post("/v1/models/resnet50:predict", data=photo_bytes("chelsea.png"), content_type="image/png")
    assert "RANDOM" in predicted.json["warning"]
    tensor = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                          "data": [base64.b64encode(photo_bytes("rocket.jpg")).decode()]}]}
    inferred = client.post("/v2/models/resnet50/versions/2/infer", json=tensor).json
    assert "RANDOM" in inferred["parameters"]["warning"]
