"""export: a tiny real Keras model converts, verifies and writes; a parity failure writes nothing."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training import export as export_module  # noqa: E402


def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="features")
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(inputs)
    return keras.Model(inputs, outputs)


def test_export_writes_verified_model_and_metadata(tmp_path):
    inputs = np.random.default_rng(0).random((32, 4), dtype=np.float32)
    path = export_module.export(tiny_model(), model_dir=tmp_path / "tiny", version=1, input_name="features",
                                parity_inputs=inputs, metadata={"name": "tiny"})
    metadata = json.loads((path / "metadata.json").read_text())
    assert metadata["parity_max_abs_diff"] <= 1e-4 and metadata["parity_inputs"] == 32
    assert metadata["latency"]["batch_1_ms"] > 0 and (path / "card.md").read_text().startswith("# tiny version 1")
    import onnxruntime as ort

    session = ort.InferenceSession(str(path / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["features"]


def test_parity_failure_writes_nothing(tmp_path, monkeypatch):
    real_run = export_module.run_onnx_all
    monkeypatch.setattr(export_module, "run_onnx_all", lambda onnx_bytes, x: [o + 1e-3 for o in real_run(onnx_bytes, x)])
    inputs = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    with pytest.raises(export_module.ParityError, match="nothing written"):
        export_module.export(tiny_model(), model_dir=tmp_path / "tiny", version=1, input_name="features",
                             parity_inputs=inputs, metadata={})
    assert not (tmp_path / "tiny" / "1").exists()


def test_a_published_version_is_readable_by_any_user_whatever_the_umask(tmp_path):
    """mkdtemp makes 0700 directories: a server running as another user (uid 10001 in the image, a
    read-only volume) could not enter them, and the image never started."""
    import os
    import stat

    onnx_bytes = export_module.convert(tiny_model(), "features", (4,))
    previous = os.umask(0o077)
    try:
        path = export_module.write_version(tmp_path / "tiny", 1, onnx_bytes, {"name": "tiny"},
                                           assets={"vocab.json": b"{}"})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.iterdir()} == {
        "model.onnx": 0o644, "metadata.json": 0o644, "vocab.json": 0o644, "card.md": 0o644, "card.html": 0o644,
        "card": 0o755}  # the model card, written with the version
