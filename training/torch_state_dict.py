"""Read a PyTorch state_dict saved in torch's legacy (non-zip) format with numpy alone.

The legacy file is: pickle(magic number), pickle(protocol version), pickle(sys info),
pickle(the state_dict, whose tensors point at storages by key), pickle(storage keys),
then each storage's raw bytes after an int64 element count. Only the few globals a
state_dict needs are allowed, in every one of the five pickles, so the file cannot run code while
it is read.
"""
from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass
class _Storage:
    key: str
    dtype: Any
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray:
        assert self.storage.data is not None, f"storage {self.storage.key} was never read"
        flat = self.storage.data[self.offset :]
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(flat, self.size, tuple(s * itemsize for s in self.stride))
        return np.array(view)


class _StorageType:
    def __init__(self, name: str):
        self.dtype = STORAGE_DTYPES[name]


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored):
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, handle: BinaryIO, storages: dict[str, _Storage]):
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a state_dict file")

    def persistent_load(self, saved_id: Any) -> _Storage:
        kind, storage_type, key, _location, _numel, *_view = saved_id
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype)
        return self.storages[key]


def load_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a legacy-format .pth state_dict as numpy arrays, by name."""
    with open(path, "rb") as handle:
        storages: dict[str, _Storage] = {}
        load = lambda: _Unpickler(handle, storages).load()  # noqa: E731 - every pickle restricted
        if load() != LEGACY_MAGIC:
            raise ValueError(f"{path} is not a legacy-format torch file (wrong magic number)")
        load()  # protocol version
        load()  # sys info
        state = load()
        keys = load()
        for key in keys:
            storage = storages[key]
            (count,) = struct.unpack("<q", handle.read(8))
            itemsize = np.dtype(storage.dtype).itemsize
            raw = handle.read(count * itemsize)
            if len(raw) != count * itemsize:
                raise ValueError(f"{path} is truncated in storage {key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return {name: ref.materialize() for name, ref in state.items()}
