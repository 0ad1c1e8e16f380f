"""ResNet50 (keras.applications) with ImageNet weights: downloaded by Keras, from a local file, or
explicitly random (to exercise the pipeline where no weights can be had). Never silently random.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from training.cache import sha256_of

NAME = "resnet50"
INPUT = "input"
OUTPUT = "probabilities"
RANDOM_WARNING = "RANDOM WEIGHTS (--weights random): this model is not trained and its predictions mean nothing"


class WeightsUnavailable(RuntimeError):
    """ImageNet weights could not be obtained and random weights were not asked for."""


def load_model(weights: str = "imagenet") -> tuple[Any, dict[str, Any]]:
    """weights: "imagenet" (Keras downloads and caches), a path to a .h5/.keras weights file, or "random"."""
    import keras

    inputs = keras.Input((224, 224, 3), name=INPUT)
    if weights == "random":
        keras.utils.set_random_seed(0)
        base = keras.applications.ResNet50(weights=None, input_tensor=inputs)
        info = {"weights": "random", "weights_source": RANDOM_WARNING}
    elif weights == "imagenet":
        try:
            base = keras.applications.ResNet50(weights="imagenet", input_tensor=inputs)
        except Exception as exc:  # noqa: BLE001 - any download failure: say how to supply the weights
            raise WeightsUnavailable(
                f"ResNet50 ImageNet weights could not be downloaded ({exc}). Supply them with "
                "`python -m training resnet50 --weights PATH` (Keras's "
                "resnet50_weights_tf_dim_ordering_tf_kernels.h5), or run with internet access; "
                "`--weights random` builds an untrained model to exercise the pipeline."
            ) from exc
        info = {"weights": "imagenet", "weights_source": "keras.applications ResNet50 ImageNet weights (downloaded by Keras)"}
    else:
        path = Path(weights)
        if not path.is_file():
            raise WeightsUnavailable(f"weights file {path} does not exist")
        base = keras.applications.ResNet50(weights=None, input_tensor=inputs)
        base.load_weights(path)
        info = {"weights": "imagenet", "weights_source": f"local file {path.name}", "weights_sha256": sha256_of(path)}
    outputs = keras.layers.Activation("linear", name=OUTPUT)(base.output)
    return keras.Model(inputs, outputs, name=NAME), info
