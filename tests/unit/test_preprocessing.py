"""preprocessing: safe decoding and the MNIST digit transform, on real held-out digits."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from preprocessing.digits import to_mnist_digit
from preprocessing.images import ImageError, ImageTooLarge, decode_image
from tests.conftest import as_photo, png_bytes


def _jpeg(size=(64, 48), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, error",
    [
        (b"", ImageError),
        (b"hello, this is text and not an image", ImageError),
        (_jpeg()[:200], ImageError),  # truncated JPEG
    ],
    ids=["empty", "text", "truncated-jpeg"],
)
def test_decode_rejects_bad_bytes(data, error):
    with pytest.raises(error):
        decode_image(data)


def test_decode_enforces_the_pixel_limit_before_decoding():
    with pytest.raises(ImageTooLarge, match="over the limit"):
        decode_image(_jpeg((100, 100)), max_pixels=9_999)
    assert decode_image(_jpeg((100, 100)), max_pixels=10_000).size == (100, 100)


def test_heldout_digit_passes_through_unchanged(heldout):
    images, _ = heldout
    for pixels in images[:50]:
        result = to_mnist_digit(decode_image(png_bytes(pixels)))
        expected = pixels.astype(np.float32) / 255.0
        # Only the level stretch may differ (when a digit's brightest pixel is below 255).
        assert np.corrcoef(result.ravel(), expected.ravel())[0, 1] > 0.999


def test_inverted_digit_is_inverted_back(heldout):
    images, _ = heldout
    for pixels in images[:50]:
        result = to_mnist_digit(decode_image(png_bytes(255 - pixels)))
        assert np.corrcoef(result.ravel(), pixels.ravel())[0, 1] > 0.999


def test_photo_of_a_digit_is_framed_like_mnist(heldout):
    images, _ = heldout
    correlations = []
    for pixels in images[:50]:
        result = to_mnist_digit(decode_image(png_bytes(as_photo(pixels))))
        assert result.shape == (28, 28) and result.dtype == np.float32
        assert result[:2].max() < 0.05 and result[:, :2].max() < 0.05  # empty margins, as in MNIST
        correlations.append(np.corrcoef(result.ravel(), pixels.ravel())[0, 1])
    # Re-framing resamples the strokes, so pixels differ; the shape must stay the digit's.
    assert np.median(correlations) > 0.95 and min(correlations) > 0.5


def test_rgba_with_transparent_background_counts_as_paper(heldout):
    pixels = heldout[0][0]
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = pixels  # black ink, alpha = stroke
    result = to_mnist_digit(decode_image(png_bytes(rgba)))
    assert np.corrcoef(result.ravel(), pixels.ravel())[0, 1] > 0.99


def test_blank_image_is_rejected():
    with pytest.raises(ImageError, match="no digit"):
        to_mnist_digit(Image.new("L", (50, 50), 255))


def test_the_levels_are_np_median_and_np_clip_on_every_shape():
    """The lean level stretch gives, to the bit, what np.median and np.clip give."""
    from preprocessing.digits import _border, _normalise_levels

    rng = np.random.default_rng(0)
    for height, width in ((1, 1), (1, 5), (2, 3), (28, 28), (29, 31), (64, 47)):
        for paper in (0, 40, 200, 255, None):  # None: a border of every level, any median
            levels = rng.integers(0, 256, (height, width))
            if paper is not None:
                noise = rng.integers(-20, 21, (height, width))
                levels = np.where(rng.random((height, width)) < 0.7, paper, levels) + noise
                levels[height // 2, width // 2] = 255 - paper
            levels = np.clip(levels, 0, 255)
            array = levels.astype(np.float32) / 255.0
            reference = 1.0 - array if np.median(_border(array)) > 0.5 else array
            background = float(np.median(_border(reference)))
            peak = float(reference.max())
            if peak - background < 0.1:
                with pytest.raises(ImageError, match="no digit"):
                    _normalise_levels(array)
                continue
            expected = np.clip((reference - background) / (peak - background), 0.0, 1.0)
            result = _normalise_levels(array)
            assert result.dtype == np.float32 and np.array_equal(result, expected)
