"""Safe image decoding: bytes -> a fully loaded, upright Pillow image, at no more pixels than needed.

Decoding is split so that a caller can bound the work before any pixel is decoded:
`open_image` reads the header (and sets a JPEG to decode at a reduced scale), `image.size` is then
what decoding will produce, and `load_image` decodes.
"""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000
# The formats a client may send. Pillow reads dozens more (PSD, ICNS, FITS, ...): each one is attack
# surface that no photo upload needs.
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")
EXIF_ORIENTATION = 0x0112  # values 5-8 turn the image a quarter: width and height swap
# What makes each EXIF orientation upright (as ImageOps.exif_transpose does it).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}
ORIENTATION_KEY = "axon.orientation"  # in image.info: what open_image read, which load_image applies


class ImageError(ValueError):
    """The bytes are not a usable image (the client's mistake, never a bug)."""


class ImageTooLarge(ImageError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


def open_image(data: bytes, draft_size: tuple[int, int] | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """Read the header only: (the image, its upright size). With `draft_size`, a JPEG is set to decode
    at the smallest 1/2, 1/4 or 1/8 scale that stays at least that large (much faster for big photos,
    and 4-64x fewer pixels); the upright size is the full one, EXIF orientation applied, the size in
    which a detector's boxes are given."""
    if not data:
        raise ImageError("the image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        width, height = image.size
        image.info[ORIENTATION_KEY] = orientation = _orientation(image, data)
        upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        if draft_size and image.format == "JPEG":
            image.draft(None, draft_size)
    except UnidentifiedImageError:
        raise ImageError(f"the bytes are not an image in a format we read ({', '.join(FORMATS)})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the image is too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"the image cannot be decoded: {exc}") from None
    return image, upright


def _orientation(image: Image.Image, data: bytes) -> int:
    """The EXIF orientation, read without decoding a pixel. Pillow looks for a PNG's EXIF by decoding
    the whole image (its eXIf chunk may follow the pixel data), which would decode an image before
    its pixels are counted against any limit: a PNG's chunk is found by walking the chunk headers."""
    try:
        if image.format == "PNG" and "exif" not in image.info:
            chunk = png_chunk(data, b"eXIf")
            if chunk is None:  # no EXIF: upright
                return 1
            exif = Image.Exif()
            exif.load(chunk)
        else:
            exif = image.getexif()
        return int(exif.get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a malformed EXIF block: taken as upright, as exif_transpose does
        return 1


def png_chunk(data: bytes, kind: bytes) -> bytes | None:
    """The data of a PNG's first chunk of this kind with a valid CRC, from the chunk headers alone."""
    offset = 8  # after the signature: length, type, data, CRC
    while offset + 12 <= len(data):
        length, name = struct.unpack_from(">I4s", data, offset)
        end = offset + 8 + length
        if name == kind and end + 4 <= len(data):
            body = data[offset + 8 : end]
            if zlib.crc32(name + body) == struct.unpack_from(">I", data, end)[0]:
                return body
        if name == b"IEND":
            return None
        offset = end + 4
    return None


def check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"the image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}")


def load_image(image: Image.Image) -> Image.Image:
    """Decode an image from open_image: its first frame, turned upright by the orientation open_image
    read (so that the upright size it gave is the decoded image's, whatever EXIF decoding turns up)."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"the image cannot be decoded: {exc}") from None
    method = UPRIGHT.get(image.info.get(ORIENTATION_KEY, 1))
    return image if method is None else image.transpose(method)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS,
                 draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Open, check the pixels decoding would produce against `max_pixels`, decode."""
    image, _ = open_image(data, draft_size)
    check_pixels(image, max_pixels)
    return load_image(image)


def shrink(image: Image.Image, min_side: int) -> Image.Image:
    """Reduce by a whole factor (box filter, one cheap pass) while the shorter side stays at least
    `2 * min_side`: a model that works at `min_side` never needs the copies and conversions of a
    40-megapixel image made at full size. Images that small already are returned as they are."""
    factor = min(image.size) // (2 * min_side)
    if factor < 2:
        return image
    if image.mode.startswith("I;16"):
        image = image.convert("I")  # keeps the 16-bit values for flatten's scaling
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F"):  # P, PA, YCbCr, ...: not reducible
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    return image.reduce(factor)


def flatten(image: Image.Image, min_side: int | None = None) -> Image.Image:
    """Any mode -> an 8-bit image without alpha: 16-bit and float pixels are scaled to 0..255
    (by 65535 when any value exceeds 255), transparency is composited on white paper.
    With `min_side`, the image is first shrunk to what a model working at that size needs."""
    if min_side is not None:
        image = shrink(image, min_side)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray((np.clip(array / peak, 0, 1) * 255).round().astype(np.uint8), "L")
    if image.mode != "RGBA" and ("A" in image.getbands() or "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        paper = Image.new("RGB", image.size, (255, 255, 255))
        paper.paste(image, mask=image.getchannel("A"))
        image = paper
    return image
