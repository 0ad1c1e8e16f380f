"""Hot reload and version policies: Registry.refresh against a changing repository on disk."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from service.errors import ModelNotFound
from service.registry import Registry
from service.repository import Repository


@pytest.fixture
def registry(model_repo):
    registry = Registry(Repository(model_repo))
    registry.load_all()
    return registry


def publish(model_repo, source: str, version: str) -> None:
    """Publish like training does: build aside, then one rename."""
    staging = model_repo / "mnist" / f".staging-{version}"
    shutil.copytree(model_repo / "mnist" / source, staging)
    staging.rename(model_repo / "mnist" / version)


def test_a_new_version_becomes_the_default(registry, model_repo):
    publish(model_repo, "1", "3")
    registry.refresh()
    assert registry.get("mnist").version == 3 and sorted(registry.state("mnist").versions) == [1, 2, 3]


def test_a_removed_version_stops_being_served_but_held_ones_still_run(registry, model_repo):
    held = registry.get("mnist", "2")
    shutil.rmtree(model_repo / "mnist" / "2")
    registry.refresh()
    assert registry.get("mnist").version == 1
    with pytest.raises(ModelNotFound):
        registry.get("mnist", "2")
    out = held.runtime.run({"pixels": np.zeros((1, 28, 28), np.float32)})  # an in-flight request finishes
    assert out["probabilities"].shape == (1, 10)


def test_a_broken_new_version_is_reported_and_the_old_default_keeps_serving(registry, model_repo):
    publish(model_repo, "2", "4")
    (model_repo / "mnist" / "4" / "model.onnx").write_bytes(b"truncated upload")
    registry.refresh()
    assert registry.get("mnist").version == 2
    assert "failed to load" in registry.state("mnist").failures()[4]
    registry.refresh()  # the same broken files are not retried or re-logged
    shutil.copy(model_repo / "mnist" / "2" / "model.onnx", model_repo / "mnist" / "4" / "model.onnx")
    registry.refresh()  # fixed files are
    assert registry.get("mnist").version == 4 and 4 not in registry.state("mnist").failures()


def test_a_new_model_appears_and_a_removed_one_disappears(registry, model_repo):
    shutil.copytree(model_repo / "mnist", model_repo / "digits")
    registry.refresh()
    assert registry.get("digits").version == 2
    shutil.rmtree(model_repo / "digits")
    registry.refresh()
    with pytest.raises(ModelNotFound):
        registry.get("digits")


@pytest.mark.parametrize(
    "policy, served",
    [({"all": {}}, [1, 2]), ({"latest": {"num_versions": 1}}, [2]), ({"specific": {"versions": [1]}}, [1])],
)
def test_version_policy(model_repo, policy, served):
    config = json.loads((model_repo / "mnist" / "config.json").read_text())
    (model_repo / "mnist" / "config.json").write_text(json.dumps({**config, "version_policy": policy}))
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert sorted(registry.state("mnist").versions) == served


def test_a_config_change_reloads_the_model(registry, model_repo):
    config = json.loads((model_repo / "mnist" / "config.json").read_text())
    config["version_policy"] = {"latest": {"num_versions": 1}}
    (model_repo / "mnist" / "config.json").write_text(json.dumps(config))
    registry.refresh()
    assert sorted(registry.state("mnist").versions) == [2]


def test_a_broken_config_edit_leaves_the_served_versions_serving(registry, model_repo):
    (model_repo / "mnist" / "config.json").write_text("{ not json")
    registry.refresh()
    assert registry.get("mnist").version == 2
