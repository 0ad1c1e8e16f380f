"""Encoded images (bytes) -> model input arrays, by the preprocessing a model's config names.

The work is bounded before any pixel is decoded: each image against a per-image limit (the server's,
or the model's own if smaller), all the images of one request against a per-request budget, and
what one worker decodes at once against its gate. All count the pixels decoding will produce,
after a JPEG's reduced-scale draft.
"""
from __future__ import annotations

import base64
import binascii
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable, ContextManager, Iterator

import numpy as np
from PIL import Image

from preprocessing import detection, digits, imagenet
from preprocessing.images import ImageError, ImageTooLarge, check_pixels, load_image, open_image
from service.errors import InvalidInput, PayloadTooLarge, Timeout

@dataclass(frozen=True)
class Preprocessor:
    """A decoded image (and its upright full size) -> one model input array; the JPEG draft size
    that is enough for it."""

    transform: Callable[[Image.Image, tuple[int, int]], np.ndarray]
    draft_size: tuple[int, int] | None


def _ignoring_size(transform: Callable[[Image.Image], np.ndarray]) -> Callable:
    return lambda image, size: transform(image)


# config.json "preprocessing" -> its Preprocessor
PREPROCESSORS: dict[str, Preprocessor] = {
    "mnist_digit": Preprocessor(_ignoring_size(digits.to_mnist_digit), (2 * digits.WORKING_SIDE,) * 2),
    "imagenet_caffe": Preprocessor(_ignoring_size(imagenet.resnet50_input), (imagenet.RESIZE,) * 2),
    "imagenet_lite": Preprocessor(_ignoring_size(imagenet.lite0_input), (imagenet.RESIZE,) * 2),
    "letterbox_darknet": Preprocessor(detection.darknet_input, (2 * detection.INPUT_SIZE,) * 2),
    "letterbox_nanodet": Preprocessor(detection.nanodet_input, (2 * detection.INPUT_SIZE,) * 2),
}


@dataclass(frozen=True)
class Opened:
    """An image whose header is read: what decoding will produce, and its upright full size."""

    image: Image.Image
    size: tuple[int, int]

    @property
    def pixels(self) -> int:
        return self.image.size[0] * self.image.size[1]


class DecodingGate:
    """The pixels being decoded at once in one worker, across its threads: an image waits while
    others hold the room, so that eight concurrent 40-megapixel uploads cost the memory of a few.
    An image larger than the whole room is decoded alone."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0
        self.condition = threading.Condition()

    @contextmanager
    def room(self, pixels: int, timeout_s: float) -> Iterator[None]:
        with self.condition:
            if not self.condition.wait_for(lambda: self.in_use == 0 or self.in_use + pixels <= self.capacity,
                                           timeout_s):
                raise Timeout(f"no room to decode the image within {timeout_s:g}s: the server is busy "
                              "decoding other large images; retry shortly")
            self.in_use += pixels
        try:
            yield
        finally:
            with self.condition:
                self.in_use -= pixels
                self.condition.notify_all()


@dataclass
class PixelBudget:
    """The pixels one request may have decoded: per image, and all of its images together; and the
    worker's gate its images pass (None in the batch script's decode processes: one image at a time)."""

    per_image: int
    per_request: int
    gate: DecodingGate | None = None
    timeout_s: float = 30.0
    spent: int = 0

    def spend(self, pixels: int, where: str) -> None:
        if self.spent + pixels > self.per_request:
            raise PayloadTooLarge(f"{where}: the request's images decode to more than {self.per_request} pixels "
                                  "in all, over the per-request limit (AXON_MAX_REQUEST_PIXELS); send fewer "
                                  "or smaller images per request")
        self.spent += pixels

    def room(self, pixels: int) -> ContextManager:
        return self.gate.room(pixels, self.timeout_s) if self.gate is not None else nullcontext()


def b64decode(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: not valid base64") from None


def open_encoded(data: bytes, preprocessing: str, budget: PixelBudget, where: str = "image") -> Opened:
    """Read one image's header and charge the pixels decoding will produce to the request's budget."""
    with _client_errors(where):
        image, size = open_image(data, PREPROCESSORS[preprocessing].draft_size)
        check_pixels(image, budget.per_image)
        budget.spend(image.size[0] * image.size[1], where)
        return Opened(image, size)


def to_array(opened: Opened, preprocessing: str, budget: PixelBudget, where: str = "image") -> np.ndarray:
    """Decode an opened image (once the worker has room for its pixels) into the model's input array."""
    with _client_errors(where), budget.room(opened.pixels):
        return PREPROCESSORS[preprocessing].transform(load_image(opened.image), opened.size)


@contextmanager
def _client_errors(where: str) -> Iterator[None]:
    try:
        yield
    except ImageTooLarge as exc:
        raise PayloadTooLarge(f"{where}: {exc}") from None
    except ImageError as exc:
        raise InvalidInput(f"{where}: {exc}") from None
