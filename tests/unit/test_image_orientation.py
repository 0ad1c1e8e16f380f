"""EXIF orientation: read from the header alone (a PNG's eXIf chunk wherever it is), and applied on
decoding, so that the upright size open_image gives is the size of the image load_image decodes."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile

from preprocessing.images import EXIF_ORIENTATION, decode_image, load_image, open_image, png_chunk
from service.codecs.image import PixelBudget, open_encoded
from service.errors import PayloadTooLarge


def marked(size=(60, 40)) -> Image.Image:
    """A picture whose top-left corner is black and the rest white: where that corner ends up says how it turned."""
    image = Image.new("L", size, 255)
    image.paste(0, (0, 0, 10, 10))
    return image


def with_orientation(image: Image.Image, fmt: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, exif=exif)
    return buffer.getvalue()


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    found, offset = [], 8
    while offset < len(data):
        length, name = struct.unpack_from(">I4s", data, offset)
        found.append((name, data[offset + 8: offset + 8 + length]))
        offset += 12 + length
    return found


def png_of(parts: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I", len(d)) + n + d + struct.pack(">I", zlib.crc32(n + d)) for n, d in parts)
    return b"\x89PNG\r\n\x1a\n" + body


def exif_after_the_pixels(data: bytes) -> bytes:
    """The same PNG with its eXIf chunk moved behind the pixel data, where the PNG extensions allow it."""
    parts = chunks(data)
    exif = next(part for part in parts if part[0] == b"eXIf")
    rest = [part for part in parts if part[0] != b"eXIf"]
    return png_of([*rest[:-1], exif, rest[-1]])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "PNG, eXIf after the pixels"])
@pytest.mark.parametrize("orientation, upright_size, black_corner", [
    (1, (60, 40), (0, 0)), (3, (60, 40), (59, 39)), (6, (40, 60), (39, 0)), (8, (40, 60), (0, 59))])
def test_the_upright_size_is_the_decoded_size_and_the_picture_is_turned(fmt, orientation, upright_size, black_corner):
    data = with_orientation(marked(), fmt.split(",")[0], orientation)
    if "after" in fmt:
        data = exif_after_the_pixels(data)
        assert [n for n, _ in chunks(data)].index(b"eXIf") > [n for n, _ in chunks(data)].index(b"IDAT")
    image, upright = open_image(data)
    assert upright == upright_size
    decoded = load_image(image)
    assert decoded.size == upright_size
    assert decoded.convert("L").getpixel(black_corner) < 100  # the marked corner, where turning it puts it


def test_a_png_is_not_decoded_to_read_its_orientation_nor_before_its_pixels_are_counted(monkeypatch):
    """Pillow decodes a whole PNG to look for a late eXIf chunk: 64 megapixels (250 MB) to refuse it."""
    buffer = io.BytesIO()
    Image.new("RGB", (8000, 8000), (255, 255, 255)).save(buffer, format="PNG")
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    with pytest.raises(PayloadTooLarge, match="over the limit of 40000000"):
        open_encoded(buffer.getvalue(), "imagenet_caffe", PixelBudget(40_000_000, 100_000_000))
    assert decoded == []
    small = with_orientation(marked(), "PNG", 6)
    assert open_image(exif_after_the_pixels(small))[1] == (40, 60) and decoded == []
    assert decode_image(small).size == (40, 60) and set(decoded) == {(60, 40)}  # decoding decodes


def test_a_png_chunk_is_found_only_whole_and_with_its_crc():
    data = exif_after_the_pixels(with_orientation(marked(), "PNG", 6))
    assert png_chunk(data, b"eXIf").startswith((b"MM", b"II"))
    assert png_chunk(data, b"tIME") is None
    broken = data.replace(png_chunk(data, b"eXIf"), b"x" * len(png_chunk(data, b"eXIf")))
    assert png_chunk(broken, b"eXIf") is None and open_image(broken)[1] == (60, 40)  # a bad CRC: upright, as Pillow
    assert png_chunk(data[:40], b"eXIf") is None  # cut short
