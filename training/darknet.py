"""Darknet .cfg + .weights -> a Keras functional model (YOLOv3 and YOLOv3-tiny), every weight consumed.

Supported sections: [net], [convolutional] (batch norm folded in exactly as Darknet computes it,
leaky or linear), [maxpool], [route], [upsample], [shortcut], [yolo]. The model's outputs are the
raw convolutions that feed each [yolo] layer, NHWC; preprocessing/detection.decode_yolo decodes them.

The .weights file: a header (major, minor, revision as int32, then `seen` as int64 from version 0.2
on, int32 before), then per convolutional layer in order: biases (with batch norm: beta, gamma,
running mean, running variance), then the kernel as [filters, channels, size, size], all float32.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DARKNET_EPSILON = 1e-6  # Darknet normalizes by sqrt(variance) + .000001f
LEAKY_SLOPE = 0.1


@dataclass
class Section:
    kind: str
    options: dict[str, str] = field(default_factory=dict)

    def int(self, key: str, default: int | None = None) -> int:
        return int(self.options[key]) if key in self.options else int(default)  # type: ignore[arg-type]

    def ints(self, key: str) -> list[int]:
        return [int(v) for v in self.options[key].split(",") if v.strip()]


@dataclass(frozen=True)
class YoloHead:
    """One [yolo] layer: the model output it reads, its anchors (pixels of the network input) and grid."""

    output: str
    anchors: tuple[tuple[int, int], ...]
    classes: int
    stride: int


def parse_cfg(text: str) -> list[Section]:
    sections: list[Section] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            sections.append(Section(header.group(1)))
        elif "=" in line and sections:
            key, value = (part.strip() for part in line.split("=", 1))
            sections[-1].options[key] = value
        else:
            raise ValueError(f"cannot read the .cfg line {raw!r}")
    if not sections or sections[0].kind not in ("net", "network"):
        raise ValueError("a Darknet .cfg starts with a [net] section")
    return sections


def read_weights(path: Path) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """(major, minor, revision, seen), then every weight as one float32 array."""
    with open(path, "rb") as handle:
        major, minor, revision = np.frombuffer(handle.read(12), dtype="<i4")
        seen_type = "<i8" if major * 10 + minor >= 2 else "<i4"
        seen = int(np.frombuffer(handle.read(np.dtype(seen_type).itemsize), dtype=seen_type)[0])
        weights = np.frombuffer(handle.read(), dtype="<f4")
    return (int(major), int(minor), int(revision), seen), weights


class _Reader:
    def __init__(self, weights: np.ndarray):
        self.weights, self.offset = weights, 0

    def take(self, count: int) -> np.ndarray:
        if self.offset + count > len(self.weights):
            raise ValueError(f"the .weights file ends at {len(self.weights)} values; the .cfg needs more")
        values = self.weights[self.offset : self.offset + count]
        self.offset += count
        return values


def build_keras(sections: list[Section], weights: np.ndarray, input_name: str = "input") -> tuple[Any, list[YoloHead]]:
    """The network as a functional Keras model with its weights set, and its YOLO heads."""
    import keras

    net = sections[0]
    size, channels = net.int("width"), net.int("channels", 3)
    if net.int("height") != size:
        raise ValueError("only square network inputs are supported")
    inputs = keras.Input((size, size, channels), name=input_name)
    reader = _Reader(weights)
    outputs: list[Any] = []  # each layer's output, as Darknet indexes them
    heads: list[YoloHead] = []
    head_outputs: list[Any] = []
    x, depth = inputs, channels
    for index, section in enumerate(sections[1:]):
        if section.kind == "convolutional":
            x = _convolutional(keras, x, depth, section, reader, f"conv_{index}")
            depth = section.int("filters")
        elif section.kind == "maxpool":
            pool, stride = section.int("size"), section.int("stride")
            x = keras.layers.MaxPooling2D(pool, stride, padding="same", name=f"pool_{index}")(x)  # Darknet pads
        elif section.kind == "upsample":  # right and bottom, as 'same' does for these sizes
            x = keras.layers.UpSampling2D(section.int("stride"), interpolation="nearest", name=f"up_{index}")(x)
        elif section.kind == "route":
            sources = [outputs[i if i >= 0 else index + i] for i in section.ints("layers")]
            x = sources[0] if len(sources) == 1 else keras.layers.Concatenate(name=f"route_{index}")(sources)
            depth = int(x.shape[-1])
        elif section.kind == "shortcut":
            if section.options.get("activation", "linear") != "linear":
                raise ValueError("only linear shortcuts are supported")
            x = keras.layers.Add(name=f"shortcut_{index}")([x, outputs[index + section.int("from")]])
        elif section.kind == "yolo":
            masks = section.ints("mask")
            pairs = section.ints("anchors")
            anchors = tuple((pairs[2 * m], pairs[2 * m + 1]) for m in masks)
            name = f"head_{len(heads)}"
            x = keras.layers.Identity(name=name)(x)
            heads.append(YoloHead(name, anchors, section.int("classes"), size // int(x.shape[1])))
            head_outputs.append(x)
        else:
            raise ValueError(f"unsupported Darknet section [{section.kind}]")
        outputs.append(x)
    if reader.offset != len(weights):
        raise ValueError(f"{len(weights) - reader.offset} weights are left over: the .cfg and .weights do not match")
    return keras.Model(inputs, head_outputs, name="darknet"), heads


def _convolutional(keras: Any, x: Any, depth: int, section: Section, reader: _Reader, name: str) -> Any:
    filters, size, stride = section.int("filters"), section.int("size"), section.int("stride", 1)
    padding = size // 2 if section.int("pad", 0) else section.int("padding", 0)
    if section.int("groups", 1) != 1:
        raise ValueError("grouped convolutions are not supported")
    if section.int("batch_normalize", 0):
        beta, gamma, mean, variance = (reader.take(filters) for _ in range(4))
        kernel = reader.take(filters * depth * size * size).reshape(filters, depth, size, size)
        scale = gamma / (np.sqrt(variance) + DARKNET_EPSILON)
        bias, kernel = beta - mean * scale, kernel * scale[:, None, None, None]
    else:
        bias = reader.take(filters)
        kernel = reader.take(filters * depth * size * size).reshape(filters, depth, size, size)
    if padding:  # Darknet pads both sides; 'same' would pad only the right and bottom for stride 2
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    layer = keras.layers.Conv2D(filters, size, strides=stride, padding="valid", name=name)
    x = layer(x)
    layer.set_weights([kernel.transpose(2, 3, 1, 0), bias])  # (out, in, kh, kw) -> (kh, kw, in, out)
    activation = section.options.get("activation", "linear")
    if activation == "leaky":
        return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_leaky")(x)
    if activation != "linear":
        raise ValueError(f"unsupported activation {activation!r}")
    return x
