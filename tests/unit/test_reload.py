"""Hot reload and version policies: Registry.refresh against a changing repository on disk."""
from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest

from service.dataplane import DataPlane
from service.errors import ModelNotFound
from service.registry import Registry
from service.repository import Repository
from service.settings import Settings


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


def test_a_removed_version_stops_being_served(registry, model_repo):
    shutil.rmtree(model_repo / "mnist" / "2")
    registry.refresh()
    assert registry.get("mnist").version == 1
    with pytest.raises(ModelNotFound):
        registry.get("mnist", "2")


def touch(path, step: int) -> None:
    """A new mtime: the registry sees an edited config.json and reloads the model's versions."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + step * 1_000_000_000))


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("used_before", [True, False], ids=["its batcher running", "no batcher yet"])
def test_a_request_holding_a_retired_batched_version_finishes_at_once(model_repo, used_before):
    """The request resolved its model, then a reload retired it before it reached the batcher."""
    registry = Registry(Repository(model_repo))
    registry.load_all()
    dataplane = DataPlane(registry, Settings(model_dir=model_repo, request_timeout_s=5))
    held = registry.get("sentiment")
    if used_before:
        dataplane.predict("sentiment", None, ["flight delayed again"])
    touch(model_repo / "sentiment" / "config.json", 1)
    registry.refresh()
    assert registry.get("sentiment") is not held
    batch = held.tokenizer.encode_texts(["flight delayed again", "thanks, great crew"]).ids
    started = time.monotonic()
    with dataplane.expecting(held):
        pass
    outputs = dataplane.run(held, batch)  # before the fix: queued to a stopped batcher, 504 after 5 s
    assert time.monotonic() - started < 2 and outputs["probabilities"].shape == (2, 3)
    # no thread left behind: before the fix, a first use after retirement started one nobody stopped
    assert wait_until(lambda: held.batcher is None or not held.batcher.thread.is_alive())


def test_reloading_a_batched_model_under_concurrent_requests(model_repo):
    registry = Registry(Repository(model_repo))
    registry.load_all()
    dataplane = DataPlane(registry, Settings(model_dir=model_repo, request_timeout_s=5))
    texts = [f"flight {i} delayed again, thanks for nothing" for i in range(64)]
    stop, outcomes, served = threading.Event(), [], []

    def client():
        while not stop.is_set():
            served.append(registry.get("sentiment"))
            started = time.monotonic()
            try:
                prediction = dataplane.predict("sentiment", None, texts[: 1 + len(outcomes) % 64])
                outcomes.append((prediction.model.version, len(prediction.records()), time.monotonic() - started))
            except Exception as exc:  # noqa: BLE001 - recorded, asserted on below
                outcomes.append((exc, 0, time.monotonic() - started))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        for step in range(1, 16):
            touch(model_repo / "sentiment" / "config.json", step)
            registry.refresh()
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    errors = [o for o in outcomes if not isinstance(o[0], int)]
    assert not errors, errors[:3]
    assert len(outcomes) > 30 and {version for version, _, _ in outcomes} == {3}  # the default, every time
    assert max(seconds for _, _, seconds in outcomes) < 3  # nobody waited for a timeout (5 s)
    retired = {id(m): m for m in served if m is not registry.get("sentiment")}.values()
    assert len(retired) >= 5  # requests met many versions as they were reloaded
    assert wait_until(lambda: all(m.batcher is None or not m.batcher.thread.is_alive() for m in retired))


def test_a_rescan_that_fails_for_one_model_leaves_the_others_as_they_were(model_repo, monkeypatch, caplog):
    shutil.copytree(model_repo / "sentiment", model_repo / "aaa_text")  # batched, scanned before mnist
    registry = Registry(Repository(model_repo))
    registry.load_all()
    dataplane = DataPlane(registry, Settings(model_dir=model_repo, request_timeout_s=5))
    dataplane.predict("aaa_text", None, ["hello"])  # its batcher is running
    mnist_before, text_before = registry.get("mnist"), registry.get("aaa_text")
    real_versions = registry.repository.versions

    def versions(name):
        if name == "mnist":
            raise FileNotFoundError(2, "No such file or directory", str(model_repo / "mnist"))
        return real_versions(name)

    monkeypatch.setattr(registry.repository, "versions", versions)
    touch(model_repo / "aaa_text" / "config.json", 1)  # reloaded in the same rescan, before mnist fails
    registry.refresh()
    assert registry.get("mnist") is mnist_before
    assert "model mnist: rescan failed" in caplog.text
    assert registry.get("aaa_text") is not text_before
    started = time.monotonic()
    predictions = dataplane.predict("aaa_text", None, ["hello"]).records()
    assert predictions and time.monotonic() - started < 2


def test_an_unreadable_version_is_reported_and_the_others_serve(model_repo, monkeypatch):
    import service.repository as repository_module

    real_signature = repository_module._signature

    def signature(directory):
        if directory == model_repo / "mnist" / "2":
            raise PermissionError(13, "Permission denied", str(directory))
        return real_signature(directory)

    monkeypatch.setattr(repository_module, "_signature", signature)
    registry = Registry(Repository(model_repo))
    registry.load_all()
    assert registry.get("mnist").version == 1
    assert "Permission denied" in registry.state("mnist").failures()[2]
    assert registry.get("sentiment").version == 3


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
