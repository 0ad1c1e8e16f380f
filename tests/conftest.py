"""Shared fixtures: the built model repository and real held-out MNIST digits."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = REPO_ROOT / "models"
# Models built only for tests (`make test`): ResNet50 with --weights random, never in models/.
TEST_MODELS = REPO_ROOT / "build" / "test-models"


@pytest.fixture(scope="session")
def built_models() -> Path:
    if not all((MODELS / m / "2" / "model.onnx").is_file() for m in ("mnist", "efficientnet_lite0")):
        pytest.fail("models are not built: run `make test` (it runs `python -m training all --missing-only`)")
    return MODELS


@pytest.fixture(scope="session")
def test_models() -> Path:
    if not (TEST_MODELS / "resnet50" / "2" / "model.onnx").is_file():
        pytest.fail("test models are not built: run `make test` "
                    "(it runs `python -m training resnet50 --weights random --models build/test-models`)")
    for name in ("config.json", "labels.txt"):  # the committed config, so tests serve what users get
        shutil.copyfile(MODELS / "resnet50" / name, TEST_MODELS / "resnet50" / name)
    return TEST_MODELS


@pytest.fixture
def model_repo(tmp_path: Path, built_models: Path) -> Path:
    """A private copy of the model repository that a test may change."""
    target = tmp_path / "models"
    shutil.copytree(built_models, target)
    return target


@pytest.fixture(scope="session")
def heldout():
    """The 2,000 held-out digits of the offline sample split (never seen in training on that source)."""
    from training.datasets import mnist_sample_split

    split = mnist_sample_split()
    return split.x_test, split.y_test


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def as_photo(pixels: np.ndarray, size: tuple[int, int] = (160, 120), offset: tuple[int, int] = (50, 20)) -> np.ndarray:
    """A held-out digit as a phone photo would show it: dark ink on light grey paper, larger, off-centre."""
    digit = Image.fromarray(pixels).resize((84, 84), Image.Resampling.BILINEAR)
    paper = np.full((size[1], size[0]), 225, dtype=np.uint8)
    ink = 225 - (np.asarray(digit, dtype=np.float32) / 255.0 * 200).astype(np.uint8)
    paper[offset[1] : offset[1] + 84, offset[0] : offset[0] + 84] = ink
    return paper
