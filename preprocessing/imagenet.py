"""ImageNet classifiers' input: any image -> RGB -> resize + centre crop 224 -> the model's normalisation.

Both image models were trained on 224x224 crops taken as "resize the shorter side to 256,
centre-crop 224" (crop fraction 0.875). We crop the equivalent region of the source first
and resize only that, so a 10000x10 strip never becomes a 256000x256 intermediate.

Normalisation, per model:
  caffe (ResNet50, Keras `preprocess_input` mode "caffe"): RGB -> BGR, minus the ImageNet
        channel means (103.939, 116.779, 123.68), no scaling.
  lite  (EfficientNet-Lite0): (pixel - 127) / 128.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from preprocessing.images import ImageError, flatten

SIZE = 224
RESIZE = 256
MIN_SIDE = 16
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
# The value range of each normalisation, for validating tensors that arrive preprocessed.
RANGES = {"caffe": (-123.68, 255.0 - 103.939), "lite": (-127.0 / 128.0, 1.0)}


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode (L, LA, P, RGBA, CMYK, I;16, ...) -> RGB; transparency is composited on white.
    A large image is first shrunk to a shorter side of 2 x RESIZE or more (what the crop needs)."""
    return flatten(image, min_side=RESIZE).convert("RGB")


def centre_crop_resized(image: Image.Image, size: int = SIZE, resize: int = RESIZE) -> Image.Image:
    """Equivalent of resize(shorter side -> `resize`) then centre-crop `size`, done in one resample."""
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"the image is {width}x{height}; both sides must be at least {MIN_SIDE} pixels")
    side = min(width, height) * size / resize
    left, top = (width - side) / 2, (height - side) / 2
    return image.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))


def normalise(pixels: np.ndarray, mode: str) -> np.ndarray:
    """uint8/float RGB (..., 3) in 0..255 -> the model's float32 input."""
    if mode == "caffe":
        pixels = pixels[..., ::-1].astype(np.float32)
        pixels -= CAFFE_MEAN_BGR
        return pixels
    if mode == "lite":  # in place: one float array per image, not three (the batch script's decode
        pixels = pixels.astype(np.float32)  # workers share the memory bus with inference)
        pixels -= 127.0
        pixels /= 128.0
        return pixels
    raise ValueError(f"unknown normalisation {mode!r}")


def to_imagenet_input(image: Image.Image, mode: str) -> np.ndarray:
    """A decoded image -> float32 (224, 224, 3), normalised for the model."""
    return normalise(np.asarray(centre_crop_resized(to_rgb(image))), mode)


def resnet50_input(image: Image.Image) -> np.ndarray:
    return to_imagenet_input(image, "caffe")


def lite0_input(image: Image.Image) -> np.ndarray:
    return to_imagenet_input(image, "lite")
