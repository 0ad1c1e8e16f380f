"""Encoded images (bytes) -> model input arrays, by the preprocessing a model's config names."""
from __future__ import annotations

import base64
import binascii
from typing import Callable

import numpy as np

from preprocessing import imagenet
from preprocessing.digits import to_mnist_digit
from preprocessing.images import ImageError, ImageTooLarge, decode_image
from service.errors import InvalidInput, PayloadTooLarge

# config.json "preprocessing" -> (decoded image -> one model input array, JPEG draft size)
PREPROCESSORS: dict[str, tuple[Callable, tuple[int, int] | None]] = {
    "mnist_digit": (to_mnist_digit, None),
    "imagenet_caffe": (imagenet.resnet50_input, (imagenet.RESIZE, imagenet.RESIZE)),
    "imagenet_lite": (imagenet.lite0_input, (imagenet.RESIZE, imagenet.RESIZE)),
}


def b64decode(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: not valid base64") from None


def image_to_array(data: bytes, preprocessing: str, max_pixels: int, where: str = "image") -> np.ndarray:
    """Decode one encoded image and turn it into the model's input array."""
    transform, draft_size = PREPROCESSORS[preprocessing]
    try:
        return transform(decode_image(data, max_pixels, draft_size))
    except ImageTooLarge as exc:
        raise PayloadTooLarge(f"{where}: {exc}") from None
    except ImageError as exc:
        raise InvalidInput(f"{where}: {exc}") from None
