"""Client items (encoded images, texts, arrays) and V2 tensors -> one validated model batch.

Every check a client can fail lives here and raises a 4xx error: shape, dtype, finiteness,
value range, token ids, batch size, text length, image decoding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np

from service.codecs.image import DecodingGate, PixelBudget, open_encoded, to_array
from service.codecs.tensor import json_array
from service.errors import InvalidInput, PayloadTooLarge
from service.registry import LoadedModel
from service.settings import Settings

# One item of a V1 request or a batch run: encoded image bytes, a text, or an array-like of numbers.
Item = Union[bytes, str, np.ndarray, list]


def batch_limit(model: LoadedModel, settings: Settings) -> int:
    """Instances per request (or per prepared group): the server's limit and the model's."""
    return min(settings.max_batch_size, model.config.max_batch_size)


def pixel_budget(model: LoadedModel, settings: Settings, gate: DecodingGate | None = None) -> PixelBudget:
    """One request's image budget: per image the server's limit, or the model's own when smaller."""
    per_image = min(settings.max_image_pixels, model.config.max_image_pixels or settings.max_image_pixels)
    return PixelBudget(per_image, settings.max_request_pixels, gate, settings.request_timeout_s)


def check_batch_size(model: LoadedModel, size: int, settings: Settings, what: str = "") -> None:
    limit = batch_limit(model, settings)
    if size > limit:
        raise PayloadTooLarge(f"{what or f'{size} instances'} in one request; the limit is {limit}")


@dataclass
class Prepared:
    """A validated batch, and each item's upright image size (None for texts and arrays): the size
    in which a detector's boxes are given back."""

    batch: np.ndarray
    sizes: list[tuple[int, int] | None]
    notes: list[dict[str, Any]] | None = None  # said with each item's answer (a text cut to the model's length)

    @classmethod
    def of_tensor(cls, batch: np.ndarray) -> "Prepared":
        return cls(batch, [None] * len(batch))

    def note(self, index: int) -> dict[str, Any]:
        return self.notes[index] if self.notes else {}

    def __len__(self) -> int:
        return len(self.batch)


def prepare(model: LoadedModel, items: Sequence[Item], settings: Settings,
            gate: DecodingGate | None = None) -> Prepared:
    """Items -> one validated batch for the model. Images pass the worker's decoding `gate`."""
    if not items:
        raise InvalidInput("no instances to predict")
    check_batch_size(model, len(items), settings)
    if model.tokenizer is not None:
        texts = [checked_text(model, item, settings, f"instance {i}") for i, item in enumerate(items)]
        encoded = model.tokenizer.encode_texts(texts)
        notes = [{"truncated": {"tokens": n, "kept": model.tokenizer.max_length}} if cut else {}
                 for n, cut in zip(encoded.lengths, encoded.truncated)]
        return Prepared(check_tensor(model, encoded.ids, settings), [None] * len(texts), notes)
    item_shape = tuple(model.input.shape[1:])
    budget = pixel_budget(model, settings, gate)
    opened = {}  # every image's header first: a request over its pixel budget is refused before any decoding
    for index, item in enumerate(items):
        if isinstance(item, (bytes, bytearray)):
            if not model.config.preprocessing:
                raise InvalidInput(f"instance {index}: model '{model.name}' does not take images")
            opened[index] = open_encoded(bytes(item), model.config.preprocessing, budget, f"instance {index}")
    rows, sizes = [], [opened[i].size if i in opened else None for i in range(len(items))]
    made_here = len(opened) == len(items)  # every row made by the model's own preprocessing, not sent
    for index, item in enumerate(items):
        where = f"instance {index}"
        if index in opened:
            rows.append(to_array(opened.pop(index), model.config.preprocessing, budget, where))
        elif isinstance(item, str):
            raise InvalidInput(f"{where}: model '{model.name}' takes images or arrays, not text")
        else:
            rows.append(item_array(item, item_shape, where))
    if made_here:  # the preprocessing's arrays have the model's shape and range by construction
        batch = rows[0][None] if len(rows) == 1 else np.stack(rows)
        return Prepared(np.ascontiguousarray(batch, dtype=model.input.dtype), sizes)
    return Prepared(check_tensor(model, np.stack(rows), settings), sizes)


def utf8_text(data: bytes, where: str = "") -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"the text is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        raise InvalidInput(f"{where}: {message}" if where else message) from None


def checked_text(model: LoadedModel, item: Any, settings: Settings, where: str) -> str:
    if isinstance(item, (bytes, bytearray)):
        item = utf8_text(item, where)
    if not isinstance(item, str):
        raise InvalidInput(f"{where}: model '{model.name}' takes text strings, got {type(item).__name__}")
    try:
        item.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{where}: the text is not valid Unicode (lone surrogate escapes)") from None
    if len(item) > settings.max_text_chars:
        raise PayloadTooLarge(f"{where}: the text has {len(item)} characters; the limit is "
                              f"{settings.max_text_chars} (AXON_MAX_TEXT_CHARS)")
    if not item.strip():
        raise InvalidInput(f"{where}: the text is empty")
    return item


def item_array(item: Any, item_shape: tuple, where: str) -> np.ndarray:
    """A V1 instance of numbers (checked as strictly as V2's: no strings, null or booleans)."""
    array = json_array(item, np.dtype(np.float64), "the", where,
                       f"expected a (nested) list of numbers of shape {list(item_shape)}, or an encoded image")
    if array.shape != item_shape and array.ndim == 1 and array.size == int(np.prod(item_shape)):
        array = array.reshape(item_shape)
    if array.shape != item_shape:
        raise InvalidInput(f"{where}: expected shape {list(item_shape)} "
                           f"(or {int(np.prod(item_shape))} values flat), got {list(array.shape)}")
    return array


def check_tensor(model: LoadedModel, batch: np.ndarray, settings: Settings) -> np.ndarray:
    """Shape [N, *item] (a flat [N, prod(item)] is reshaped), the model's dtype, finite, in range."""
    spec = model.input
    item_shape = tuple(spec.shape[1:])  # -1: any size (a transformer's sequence length)
    fixed = all(d > 0 for d in item_shape)
    if fixed and batch.ndim == 2 and batch.shape[1] == int(np.prod(item_shape)) and batch.shape[1:] != item_shape:
        batch = batch.reshape((batch.shape[0], *item_shape))
    if len(batch.shape[1:]) != len(item_shape) or any(d not in (-1, b) for d, b in zip(item_shape, batch.shape[1:])):
        raise InvalidInput(f"input '{spec.name}': expected shape [N, {', '.join(map(str, item_shape))}], "
                           f"got {list(batch.shape)}")
    if not all(batch.shape[1:]):
        raise InvalidInput(f"input '{spec.name}': every dimension needs at least one value, got {list(batch.shape)}")
    if batch.shape[0] == 0:
        raise InvalidInput(f"input '{spec.name}': the batch is empty")
    check_batch_size(model, batch.shape[0], settings)
    sequences = model.tokenizer is not None and -1 in item_shape  # a transformer's token ids
    if sequences and batch.shape[1] > model.tokenizer.max_length:
        raise InvalidInput(f"input '{spec.name}': at most {model.tokenizer.max_length} tokens per text "
                           f"(the model's length), got {batch.shape[1]}")
    dtype = spec.dtype
    if dtype.kind == "f":
        batch = batch.astype(dtype, copy=False)
        if not np.isfinite(batch).all():
            raise InvalidInput(f"input '{spec.name}': values must be finite numbers (no NaN, null or infinity)")
    else:
        if batch.dtype.kind == "f" and not (np.isfinite(batch).all() and (batch == np.round(batch)).all()):
            raise InvalidInput(f"input '{spec.name}': values must be integers")
        batch = batch.astype(dtype)
    low, high, slack = _value_range(model)
    if low is not None and (batch.min() < low - slack or batch.max() > high + slack):
        raise InvalidInput(f"input '{spec.name}': values must lie in [{low}, {high}], "
                           f"got [{batch.min():.4g}, {batch.max():.4g}]")
    if sequences and not (batch != 0).any(axis=1).all():
        raise InvalidInput(f"input '{spec.name}': every text needs at least one token (0 is padding)")
    return np.ascontiguousarray(batch)


def _value_range(model: LoadedModel) -> tuple[Any, Any, float]:
    """(low, high, slack): slack forgives float32 rounding of the range's own end points."""
    if model.tokenizer is not None:
        return 0, model.tokenizer.size - 1, 0.0
    if model.input.range is None:
        return None, None, 0.0
    low, high = model.input.range
    return low, high, 1e-5 * (high - low)
