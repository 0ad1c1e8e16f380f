"""Repository scan and registry loading, on a private copy of the real built models."""
from __future__ import annotations

import json
import shutil

import pytest

from service.errors import ModelNotFound, ModelNotReady
from service.registry import Registry, parse_version
from service.repository import Repository, version_number


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


@pytest.mark.parametrize("text, number", [("12", 12), ("1", 1), ("999999999999999999", 999999999999999999),
                                          ("1.5", None), ("0", None), ("02", None), ("-1", None), ("", None),
                                          ("²", None), ("٢", None), ("１", None), ("9" * 19, None), ("9" * 5000, None)])
def test_versions_are_positive_integers_in_ascii_digits(text, number):
    assert version_number(text) == number
    if number is None:
        with pytest.raises(ModelNotFound):
            parse_version(text)
    else:
        assert parse_version(text) == number


def test_odd_version_directories_are_not_versions(model_repo):
    for name in ("²", "٢", "02", "9" * 30):
        shutil.copytree(model_repo / "mnist" / "1", model_repo / "mnist" / name)
    assert [e.version for e in Repository(model_repo).versions("mnist")] == [1, 2]


@pytest.mark.parametrize("config", ['{"task": "x", "inputs": ["pixels"], "outputs": ["p"]}', "[1, 2]",
                                    '{"task": "x", "inputs": [], "outputs": []}',
                                    '{"task": "x", "preprocessing": "magic", "inputs": [{"name": "a", '
                                    '"datatype": "FP32", "shape": [-1]}], "outputs": [{"name": "b", "datatype": '
                                    '"FP32", "shape": [-1]}]}'])
def test_a_config_of_the_wrong_shape_is_reported_and_the_others_load(model_repo, config):
    shutil.copytree(model_repo / "mnist", model_repo / "odd")
    (model_repo / "odd" / "config.json").write_text(config)
    registry = Registry(Repository(model_repo))
    registry.load_all()  # does not raise: the worker boots
    assert registry.state("odd").problem and registry.get("mnist").version == 2
    with pytest.raises(ModelNotReady):
        registry.get("odd")


def test_metadata_that_is_not_an_object_is_a_problem_of_that_version(model_repo):
    (model_repo / "mnist" / "2" / "metadata.json").write_text("[1, 2, 3]")
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert registry.get("mnist").version == 1 and "not a JSON object" in registry.state("mnist").failures()[2]
