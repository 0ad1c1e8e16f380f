"""Safe image decoding: bytes -> a fully loaded, upright Pillow image."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000


class ImageError(ValueError):
    """The bytes are not a usable image (the client's mistake, never a bug)."""


class ImageTooLarge(ImageError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


def flatten(image: Image.Image) -> Image.Image:
    """Any mode -> an 8-bit image without alpha: 16-bit and float pixels are scaled to 0..255
    (by 65535 when any value exceeds 255), transparency is composited on white paper."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray((np.clip(array / peak, 0, 1) * 255).round().astype(np.uint8), "L")
    if image.mode != "RGBA" and ("A" in image.getbands() or "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image)
    return image


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS,
                 draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode encoded image bytes, enforcing a pixel limit before any pixel is decoded.

    Animated images give their first frame; EXIF orientation is applied. With
    `draft_size`, a JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale that stays
    at least that large (much faster for big photos).
    """
    if not data:
        raise ImageError("the image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"the image is {width}x{height} = {width * height} pixels, "
                    f"over the limit of {max_pixels}"
                )
            if draft_size and image.format == "JPEG":
                image.draft(None, draft_size)
            image.load()
    except UnidentifiedImageError:
        raise ImageError("the bytes are not an image in a format we can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the image is too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"the image cannot be decoded: {exc}") from None
    return ImageOps.exif_transpose(image)
