"""Turn any picture of a handwritten digit into an MNIST-style 28x28 array.

MNIST digits are white strokes on black, the stroke box scaled to fit 20x20
pixels and centred by centre of mass in a 28x28 frame, values 0..1. A phone
photo of a digit is the opposite (dark ink on light paper), any size, anywhere
in the frame. The steps:

1. grayscale (transparent pixels count as white paper);
2. if the border is lighter than mid-grey, invert (dark ink on light paper);
3. stretch so the background (median border level) is 0 and the ink peak is 1;
4. a 28x28 image is taken as already framed the MNIST way and stops here;
   anything else is cropped to its ink, scaled so the longer side is 20 px,
   and pasted into 28x28 with its centre of mass at the centre.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from preprocessing.images import ImageError, flatten

SIDE = 28
BOX = 20
INK_THRESHOLD = 0.2
WORKING_SIDE = 128  # pixels on the shorter side that are plenty to find, crop and scale a digit


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Any Pillow image -> float32 array in 0..1, transparency composited on white. A large image is
    first shrunk to a shorter side of 2 x WORKING_SIDE or more: the digit ends up 20 pixels tall."""
    image = flatten(image, min_side=WORKING_SIDE)
    return np.asarray(image if image.mode == "L" else image.convert("L"), dtype=np.float32) / 255.0


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])


def _normalise_levels(array: np.ndarray) -> np.ndarray:
    """Levels -> white ink on black, the background (the border's median level) at 0 and the ink's
    peak at 1. Few numpy calls: on a 28x28 digit their overhead, not the pixels, is the cost."""
    border = np.sort(_border(array))  # an even number of levels: 2 x (width + height)
    low, high = border[len(border) // 2 - 1], border[len(border) // 2]
    if (low + high) / 2 > 0.5:  # light paper, dark ink: inverted (the inverted border's middle pair is the same two)
        array, low, high = 1.0 - array, 1.0 - high, 1.0 - low
    background = float((low + high) / 2)
    peak = float(array.max())
    if peak - background < 0.1:
        raise ImageError("no digit found: the image is blank or has no contrast")
    stretched = (array - background) / (peak - background)
    np.maximum(stretched, 0.0, out=stretched)  # np.clip's value, without its wrapper's cost
    return np.minimum(stretched, 1.0, out=stretched)


def _frame(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray((crop * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    box = np.asarray(resized, dtype=np.float32) / 255.0

    total = box.sum()
    ys, xs = np.indices(box.shape)
    centre_y = (ys * box).sum() / total if total else box.shape[0] / 2
    centre_x = (xs * box).sum() / total if total else box.shape[1] / 2
    top = int(np.clip(round(SIDE / 2 - centre_y), 0, SIDE - box.shape[0]))
    left = int(np.clip(round(SIDE / 2 - centre_x), 0, SIDE - box.shape[1]))
    framed = np.zeros((SIDE, SIDE), dtype=np.float32)
    framed[top : top + box.shape[0], left : left + box.shape[1]] = box
    return framed


def to_mnist_digit(image: Image.Image) -> np.ndarray:
    """A decoded image -> float32 array (28, 28), white digit on black, values 0..1."""
    ink = _normalise_levels(to_grayscale(image))  # float32
    return ink if ink.shape == (SIDE, SIDE) else _frame(ink)
