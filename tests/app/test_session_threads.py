"""onnxruntime threads chosen per model (AXON_ORT_THREADS=0, the default), or fixed."""
from __future__ import annotations

import shutil

import pytest

from service.registry import Registry
from service.repository import Repository


@pytest.fixture
def two_models(tmp_path, built_models):
    for name in ("mnist", "efficientnet_lite0"):
        shutil.copytree(built_models / name, tmp_path / name)
    return tmp_path


def sessions(repository, threads, cores):
    registry = Registry(Repository(repository), threads)
    registry.wide_threads = cores  # as many cores as this worker may use
    registry.load_all()
    return {name: {v: m.runtime.threads for v, m in state.versions.items()} for name, state in registry.models.items()}


def test_a_slow_model_gets_every_core_and_a_fast_one_a_single_thread(two_models):
    chosen = sessions(two_models, 0, cores=2)
    assert chosen == {"mnist": {1: 1, 2: 1}, "efficientnet_lite0": {1: 2, 2: 2}}  # 0.3 ms against 10 ms a run


def test_one_core_or_a_fixed_count_gives_every_session_the_same(two_models):
    assert sessions(two_models, 0, cores=1) == {"mnist": {1: 1, 2: 1}, "efficientnet_lite0": {1: 1, 2: 1}}
    assert sessions(two_models, 3, cores=2) == {"mnist": {1: 3, 2: 3}, "efficientnet_lite0": {1: 3, 2: 3}}
