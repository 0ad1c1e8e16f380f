"""Real photographs shipped inside PyPI wheels (scikit-image, scikit-learn), for calibration,
parity checks, agreement measurements and tests. No download needed beyond pip.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

from PIL import Image, ImageOps

# name -> (package, path inside it). Photographs only: no synthetic test patterns.
PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut.png": ("skimage", "data/astronaut.png"),
    "brick.png": ("skimage", "data/brick.png"),
    "camera.png": ("skimage", "data/camera.png"),
    "cell.png": ("skimage", "data/cell.png"),
    "chelsea.png": ("skimage", "data/chelsea.png"),
    "coffee.png": ("skimage", "data/coffee.png"),
    "coins.png": ("skimage", "data/coins.png"),
    "grass.png": ("skimage", "data/grass.png"),
    "gravel.png": ("skimage", "data/gravel.png"),
    "hubble_deep_field.jpg": ("skimage", "data/hubble_deep_field.jpg"),
    "ihc.png": ("skimage", "data/ihc.png"),
    "moon.png": ("skimage", "data/moon.png"),
    "motorcycle_left.png": ("skimage", "data/motorcycle_left.png"),
    "motorcycle_right.png": ("skimage", "data/motorcycle_right.png"),
    "page.png": ("skimage", "data/page.png"),
    "retina.jpg": ("skimage", "data/retina.jpg"),
    "rocket.jpg": ("skimage", "data/rocket.jpg"),
    "china.jpg": ("sklearn", "datasets/images/china.jpg"),
    "flower.jpg": ("sklearn", "datasets/images/flower.jpg"),
}


def photo_path(name: str) -> Path:
    package, relative = PHOTOS[name]
    try:
        path = Path(str(importlib.resources.files(package) / relative))
    except ModuleNotFoundError:
        raise RuntimeError(f"the photo {name} comes from the PyPI package {package}: pip install it "
                           "(it is in the train and dev extras)") from None
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the installed {package}")
    return path


def photo_bytes(name: str) -> bytes:
    return photo_path(name).read_bytes()


def photo_variants() -> list[tuple[str, Image.Image]]:
    """Each photo whole, mirrored, and cropped five ways (four corners at 75%, centre at 60%).

    More inputs for calibration and agreement figures than the 19 photos alone, all real pixels.
    """
    variants = []
    for name in PHOTOS:
        with Image.open(photo_path(name)) as opened:
            image = opened.convert("RGB")
        width, height = image.size
        w75, h75 = int(width * 0.75), int(height * 0.75)
        crops = {
            "whole": image,
            "mirrored": ImageOps.mirror(image),
            "top-left": image.crop((0, 0, w75, h75)),
            "top-right": image.crop((width - w75, 0, width, h75)),
            "bottom-left": image.crop((0, height - h75, w75, height)),
            "bottom-right": image.crop((width - w75, height - h75, width, height)),
            "centre": image.crop((int(width * 0.2), int(height * 0.2), int(width * 0.8), int(height * 0.8))),
        }
        variants += [(f"{name}#{kind}", crop) for kind, crop in crops.items()]
    return variants


# Detection test photos nobody here drew the boxes for, and the packaged photos that show objects.
DETECTION_PHOTOS = ("bus.jpg", "zidane.jpg", "motorcycle_left.png", "astronaut.png", "coffee.png", "chelsea.png")


def detection_photo_bytes(name: str) -> bytes:
    """A photo from the ultralytics wheel (fetched once, see training/sources.py) or a packaged one."""
    if name in PHOTOS:
        return photo_bytes(name)
    from training.sources import DETECTION_PHOTOS as ARCHIVE, fetch

    return fetch(ARCHIVE)[name].read_bytes()
