"""Repository scan and registry loading, on a private copy of the real built models."""
from __future__ import annotations

import json
import shutil

import pytest

from service.errors import ModelNotFound, ModelNotReady
from service.registry import Registry, parse_version
from service.repository import Repository


def test_scan_finds_models_and_numeric_versions_only(model_repo):
    (model_repo / "mnist" / "latest").mkdir()  # not a version: ignored
    (model_repo / "mnist" / "0").mkdir()  # versions are positive: ignored
    (model_repo / "not-a-model").mkdir()  # no config.json: not a model
    repository = Repository(model_repo)
    assert "mnist" in repository.model_names() and "not-a-model" not in repository.model_names()
    assert [e.version for e in repository.versions("mnist")] == [1, 2]
    assert repository.config("mnist").labels == [str(d) for d in range(10)]


def test_version_without_model_file_is_reported(model_repo):
    (model_repo / "mnist" / "7").mkdir()
    entry = Repository(model_repo).versions("mnist")[-1]
    assert entry.version == 7 and "no model.onnx" in entry.problem


def test_registry_serves_highest_version_by_default(model_repo):
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert registry.ready
    assert registry.get("mnist").version == 2
    assert registry.get("mnist", "1").version == 1


def test_corrupt_version_is_reported_and_the_others_keep_serving(model_repo):
    broken = model_repo / "mnist" / "3"
    shutil.copytree(model_repo / "mnist" / "2", broken)
    (broken / "model.onnx").write_bytes(b"this is not an onnx model")
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert registry.get("mnist").version == 2  # the broken 3 never became the default
    assert "failed to load" in registry.state("mnist").failures()[3]
    with pytest.raises(ModelNotReady):
        registry.get("mnist", "3")


def test_model_without_any_loadable_version_is_not_ready(model_repo):
    for version in ("1", "2"):
        (model_repo / "mnist" / version / "model.onnx").write_bytes(b"")
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert not registry.ready
    with pytest.raises(ModelNotReady):
        registry.get("mnist")


def test_model_never_built_is_reported_but_does_not_block_readiness(model_repo):
    (model_repo / "unbuilt").mkdir()
    (model_repo / "unbuilt" / "config.json").write_text((model_repo / "mnist" / "config.json").read_text())
    (model_repo / "unbuilt" / "labels.txt").write_text("a\n")
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert registry.ready
    assert "python -m training unbuilt" in registry.state("unbuilt").problem
    with pytest.raises(ModelNotReady, match="no version built"):
        registry.get("unbuilt")


def test_bad_config_is_reported_not_raised(model_repo):
    (model_repo / "mnist" / "config.json").write_text(json.dumps({"task": "x"}))
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert "config.json" in registry.state("mnist").problem and not registry.ready


@pytest.mark.parametrize("name, version", [("nope", None), ("mnist", "9"), ("mnist", "../2"), ("mnist", "-1")])
def test_unknown_models_and_versions_are_not_found(model_repo, name, version):
    registry = Registry(Repository(model_repo))
    registry.load_all()
    with pytest.raises(ModelNotFound):
        registry.get(name, version)


def test_parse_version():
    assert parse_version("12") == 12
    with pytest.raises(ModelNotFound):
        parse_version("1.5")
