"""The work an image may cost: per image (the model's own cap), per request, per worker at once;
decoding at reduced size where the format allows; only the formats a photo upload needs."""
from __future__ import annotations

import io
import threading
import time

import pytest
from PIL import Image

import service.codecs.image as image_codec
from service.app import create_app
from service.codecs.image import DecodingGate
from service.errors import Timeout
from service.settings import Settings
from tests.app.test_images import CAT_CLASSES, chelsea, encoded

MNIST = "/v1/models/mnist:predict"
LITE = "/v1/models/efficientnet_lite0:predict"


def digit_image(side: int) -> Image.Image:
    """A large white sheet with a dark "1" on it, as a photo of a written digit would be."""
    image = Image.new("L", (side, side), 230)
    image.paste(20, (side // 2 - side // 30, side // 4, side // 2 + side // 30, 3 * side // 4))
    return image


@pytest.fixture
def client(built_models):
    return create_app(Settings(model_dir=built_models, reload_interval_s=0)).test_client()


def test_a_digit_model_refuses_40_megapixels_that_an_imagenet_model_accepts(client):
    bomb = encoded(digit_image(6300), "PNG")  # 45 KB that decodes to 40 MP
    refused = client.post(MNIST, data=bomb, content_type="image/png")
    assert refused.status_code == 413 and "over the limit of 4000000" in refused.json["error"]
    assert client.post(LITE, data=bomb, content_type="image/png").status_code == 200


def test_a_large_photo_is_shrunk_before_preprocessing_and_keeps_its_label(client):
    big = chelsea().resize((451 * 6, 300 * 6), Image.Resampling.BICUBIC)  # 4.9 MP
    response = client.post(LITE, data=encoded(big, "PNG"), content_type="image/png")
    assert response.status_code == 200 and response.json["predictions"][0]["class_id"] in CAT_CLASSES


def test_a_jpeg_counts_the_pixels_of_its_reduced_scale_decoding(built_models):
    client = create_app(Settings(model_dir=built_models, reload_interval_s=0, max_image_pixels=1_000_000)).test_client()
    photo = encoded(digit_image(4000).convert("RGB"), "JPEG", quality=90)  # 16 MP; drafted at 1/8: 0.25 MP
    response = client.post(MNIST, data=photo, content_type="image/jpeg")
    assert response.status_code == 200 and response.json["predictions"][0]["label"] == "1"
    as_png = client.post(MNIST, data=encoded(digit_image(4000), "PNG"), content_type="image/png")
    assert as_png.status_code == 413  # PNG has no reduced-scale decoding: its 16 MP count


def test_a_request_over_its_pixel_budget_is_refused_before_any_image_is_decoded(built_models, monkeypatch):
    client = create_app(Settings(model_dir=built_models, reload_interval_s=0, max_request_pixels=2_500_000)).test_client()
    decoded = []
    real_load = image_codec.load_image
    monkeypatch.setattr(image_codec, "load_image", lambda image: decoded.append(image.size) or real_load(image))
    png = encoded(digit_image(1000), "PNG")
    response = client.post(MNIST, data={f"f{i}": (io.BytesIO(png), f"{i}.png") for i in range(3)},
                           content_type="multipart/form-data")
    assert response.status_code == 413 and "instance 2" in response.json["error"]
    assert "AXON_MAX_REQUEST_PIXELS" in response.json["error"] and decoded == []
    two = client.post(MNIST, data={f"f{i}": (io.BytesIO(png), f"{i}.png") for i in range(2)},
                      content_type="multipart/form-data")
    assert two.status_code == 200 and [p["label"] for p in two.json["predictions"]] == ["1", "1"]


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "TGA"])
def test_formats_a_photo_upload_does_not_need_are_refused(client, fmt):
    response = client.post(LITE, data=encoded(chelsea().resize((64, 64)), fmt), content_type="image/png")
    assert response.status_code == 400 and "JPEG, PNG" in response.json["error"]


def test_the_decoding_gate_lets_images_wait_for_room():
    gate = DecodingGate(capacity=100)
    order, inside = [], threading.Event()

    def hold(name: str, pixels: int, wait: threading.Event | None = None) -> None:
        with gate.room(pixels, timeout_s=5):
            order.append(name)
            inside.set()
            if wait is not None:
                wait.wait(5)

    release = threading.Event()
    first = threading.Thread(target=hold, args=("first", 60, release))
    first.start()
    inside.wait(5)
    second = threading.Thread(target=hold, args=("second", 60))
    second.start()
    time.sleep(0.05)
    assert order == ["first"] and gate.in_use == 60  # no room: the second waits
    release.set()
    first.join(5), second.join(5)
    assert order == ["first", "second"] and gate.in_use == 0
    with gate.room(500, timeout_s=1):  # larger than the whole room: decoded alone
        assert gate.in_use == 500
    with gate.room(60, timeout_s=1):
        with pytest.raises(Timeout, match="no room to decode"):
            with gate.room(60, timeout_s=0.05):
                pass
