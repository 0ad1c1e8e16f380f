"""python -m training.samples [--out samples]: real inputs to try the server with (`make samples`).

From the sources the models are built and tested with, nothing drawn or made up: held-out MNIST
digits (never trained on), shown as a phone photo shows a digit (dark ink on light paper, larger);
two photographs from scikit-image (a cat, an espresso); a street scene from the ultralytics wheel (a
bus and people); texts; and the V2 JSON bodies of the digit, so that every example in the README
runs as written.
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.datasets import mnist_sample_split
from training.photos import detection_photo_bytes, photo_bytes

TEXTS = ["The crew was lovely and we landed early, great flight!",
         "Flight cancelled again and nobody at the desk could tell us why.",
         "The food was okay, nothing special."]


def as_paper(digit: np.ndarray) -> bytes:
    """A 28x28 MNIST digit (white on black) as a phone photo would show it: dark on light, 112x112."""
    image = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write(out: Path) -> dict[str, str]:
    """Write the samples under `out`; what each file is."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "digits").mkdir(exist_ok=True)
    split = mnist_sample_split()
    written: dict[str, str] = {}
    first = {int(label): index for index, label in reversed(list(enumerate(split.y_test)))}
    for label, index in sorted(first.items()):
        (out / "digits" / f"{label}.png").write_bytes(as_paper(split.x_test[index]))
    written["digits/0.png ... digits/9.png"] = "one held-out MNIST digit of each class, dark on light"
    seven = split.x_test[first[7]]
    (out / "digit.png").write_bytes(as_paper(seven))
    written["digit.png"] = "a held-out 7, dark on light"
    pixels = (seven / 255.0).round(4).ravel().tolist()
    (out / "digit-v2.json").write_text(json.dumps(
        {"id": "sample-7", "inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "FP32", "data": pixels}]}))
    written["digit-v2.json"] = "the same 7 as a V2 infer body: an FP32 tensor [1, 784] in 0..1"
    (out / "cat.png").write_bytes(photo_bytes("chelsea.png"))
    written["cat.png"] = "a tabby cat (scikit-image's chelsea.png)"
    (out / "espresso.png").write_bytes(photo_bytes("coffee.png"))
    written["espresso.png"] = "a cup of espresso (scikit-image's coffee.png)"
    (out / "bus.jpg").write_bytes(detection_photo_bytes("bus.jpg"))
    written["bus.jpg"] = "a bus and four people (ultralytics' bus.jpg)"
    (out / "review.txt").write_text(TEXTS[1] + "\n")
    written["review.txt"] = "one text"
    (out / "texts.json").write_text(json.dumps({"instances": TEXTS}))
    written["texts.json"] = "three texts as a V1 predict body"
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("samples"))
    out = parser.parse_args().out
    written = write(out)
    for name, what in written.items():
        print(f"  {out / name}: {what}")
    print(f"wrote {len(written)} samples in {out}/")


if __name__ == "__main__":
    main()
