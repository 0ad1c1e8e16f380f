"""Encoded images (bytes) -> model input arrays, by the preprocessing a model's config names."""
from __future__ import annotations

import base64
import binascii
from typing import Callable

import numpy as np

from preprocessing.digits import to_mnist_digit
from preprocessing.images import ImageError, ImageTooLarge, decode_image
from service.errors import InvalidInput, PayloadTooLarge

# config.json "preprocessing" -> (decoded PIL image -> one model input array)
PREPROCESSORS: dict[str, Callable] = {
    "mnist_digit": to_mnist_digit,
}


def b64decode(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: not valid base64") from None


def image_to_array(data: bytes, preprocessing: str, max_pixels: int, where: str = "image") -> np.ndarray:
    """Decode one encoded image and turn it into the model's input array."""
    try:
        image = decode_image(data, max_pixels)
        return PREPROCESSORS[preprocessing](image)
    except ImageTooLarge as exc:
        raise PayloadTooLarge(f"{where}: {exc}") from None
    except ImageError as exc:
        raise InvalidInput(f"{where}: {exc}") from None
