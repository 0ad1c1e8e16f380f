"""ImageNet preprocessing: every image mode to RGB, crop geometry, normalisation, fast JPEG decode."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from preprocessing.images import ImageError, decode_image
from preprocessing.imagenet import centre_crop_resized, lite0_input, normalise, resnet50_input, to_rgb


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def sixteen_bit_png() -> bytes:
    array = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    image = Image.fromarray(array)
    assert image.mode.startswith("I;16")
    return encoded(image)


@pytest.mark.parametrize(
    "data, expected_centre",
    [
        (encoded(Image.new("L", (64, 64), 200)), (200, 200, 200)),
        (encoded(Image.new("LA", (64, 64), (200, 255))), (200, 200, 200)),
        (encoded(Image.new("RGBA", (64, 64), (255, 0, 0, 0))), (255, 255, 255)),  # transparent -> white paper
        (encoded(Image.new("RGB", (64, 64), (10, 20, 30)).quantize(4)), (10, 20, 30)),
        (encoded(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG"), (254, 0, 0)),
        (encoded(Image.new("RGB", (64, 64), (0, 0, 255)), "JPEG", quality=95), (0, 0, 254)),
    ],
    ids=["L", "LA", "RGBA-transparent", "P", "CMYK-jpeg", "RGB-jpeg"],
)
def test_any_mode_becomes_rgb(data, expected_centre):
    rgb = to_rgb(decode_image(data))
    assert rgb.mode == "RGB"
    assert np.allclose(np.asarray(rgb)[32, 32], expected_centre, atol=2)


def test_sixteen_bit_png_keeps_its_gradient():
    rgb = np.asarray(to_rgb(decode_image(sixteen_bit_png())))
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255 and rgb.dtype == np.uint8


@pytest.mark.parametrize("size", [(1000, 500), (500, 1000), (224, 224), (10000, 16), (16, 16)])
def test_crop_is_224_square_for_any_shape(size):
    assert centre_crop_resized(Image.new("RGB", size)).size == (224, 224)


@pytest.mark.parametrize("size", [(1, 1), (10000, 10), (15, 300)])
def test_too_small_images_are_rejected(size):
    with pytest.raises(ImageError, match="at least 16 pixels"):
        centre_crop_resized(Image.new("RGB", size))


def test_centre_crop_takes_the_middle_seven_eighths():
    image = np.zeros((256, 512, 3), dtype=np.uint8)
    image[:, 128:384] = 255  # the centre square of side 256 is white, the rest black
    cropped = np.asarray(centre_crop_resized(Image.fromarray(image)))
    assert cropped.min() == 255  # the crop (224 of 256) lies inside the white square


@pytest.mark.parametrize(
    "rgb, mode, expected",
    [
        ((255, 0, 0), "caffe", (-103.939, -116.779, 255 - 123.68)),  # BGR order, mean subtracted
        ((127, 255, 0), "lite", (0.0, 1.0, -127 / 128)),
    ],
)
def test_normalisation(rgb, mode, expected):
    assert np.allclose(normalise(np.array([[rgb]], dtype=np.uint8), mode)[0, 0], expected, atol=1e-4)


def test_model_inputs_have_the_served_shape():
    image = decode_image(encoded(Image.new("RGB", (300, 200), (1, 2, 3))))
    for transform in (resnet50_input, lite0_input):
        array = transform(image)
        assert array.shape == (224, 224, 3) and array.dtype == np.float32


def test_large_jpeg_decodes_at_a_reduced_scale_but_never_below_256():
    data = encoded(Image.new("RGB", (4000, 3000), (90, 90, 90)), "JPEG")
    image = decode_image(data, draft_size=(256, 256))
    assert image.size == (500, 375)  # 1/8 scale: still >= 256 on the shorter side
    assert decode_image(data).size == (4000, 3000)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("P", (32, 32), color) for color in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    image = decode_image(buffer.getvalue())
    assert image.size == (32, 32) and getattr(image, "tell", lambda: 0)() == 0
