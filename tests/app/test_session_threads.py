"""onnxruntime threads chosen per model (AXON_ORT_THREADS=0, the default), or fixed."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from service import busy_workers
from service.registry import Registry
from service.repository import Repository


@pytest.fixture
def two_models(tmp_path, built_models):
    for name in ("mnist", "efficientnet_lite0"):
        shutil.copytree(built_models / name, tmp_path / name)
    return tmp_path


def loaded(repository, threads, cores):
    registry = Registry(Repository(repository), threads)
    registry.wide_threads = cores  # as many cores as this worker may use
    registry.load_all()
    return registry


def sessions(repository, threads, cores):
    registry = loaded(repository, threads, cores)
    return {name: {v: m.runtime.threads for v, m in state.versions.items()} for name, state in registry.models.items()}


class Recorded:
    """A session that counts its runs."""

    def __init__(self, session):
        self.session, self.runs = session, 0

    def run(self, *args):
        self.runs += 1
        return self.session.run(*args)


def test_a_slow_model_gets_every_core_and_a_fast_one_a_single_thread(two_models):
    chosen = sessions(two_models, 0, cores=2)
    assert chosen == {"mnist": {1: 1, 2: 1}, "efficientnet_lite0": {1: 2, 2: 2}}  # 0.3 ms against 10 ms a run


def test_one_core_or_a_fixed_count_gives_every_session_the_same(two_models):
    assert sessions(two_models, 0, cores=1) == {"mnist": {1: 1, 2: 1}, "efficientnet_lite0": {1: 1, 2: 1}}
    assert sessions(two_models, 3, cores=2) == {"mnist": {1: 3, 2: 3}, "efficientnet_lite0": {1: 3, 2: 3}}


def test_only_a_slow_model_has_a_one_thread_session_for_when_other_requests_are_served(two_models):
    registry = loaded(two_models, 0, cores=2)
    assert all(m.runtime.busy_session is None for m in registry.models["mnist"].versions.values())
    assert all(m.runtime.busy_session is not None for m in registry.models["efficientnet_lite0"].versions.values())
    assert registry.get("efficientnet_lite0", 1).runtime.busy_session.get_session_options().intra_op_num_threads == 1
    fixed = loaded(two_models, 2, cores=2)  # AXON_ORT_THREADS=2: one session each, as asked
    assert all(m.runtime.busy_session is None for state in fixed.models.values() for m in state.versions.values())


def test_the_one_thread_session_runs_while_another_request_is_served_and_answers_alike(two_models, monkeypatch):
    runtime = loaded(two_models, 0, cores=2).get("efficientnet_lite0", 1).runtime
    runtime.session, runtime.busy_session = Recorded(runtime.session), Recorded(runtime.busy_session)
    image = {runtime.input_names[0]: np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)}
    alone = runtime.run(image)
    assert (runtime.session.runs, runtime.busy_session.runs) == (1, 0)
    monkeypatch.setattr(busy_workers, "others_busy", lambda: True)
    busy = runtime.run(image)
    assert (runtime.session.runs, runtime.busy_session.runs) == (1, 1)
    for name in runtime.output_names:
        np.testing.assert_allclose(busy[name], alone[name], rtol=1e-4, atol=1e-5)
