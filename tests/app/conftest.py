from __future__ import annotations

import os

import pytest

from preprocessing.onnx_session import cpu_session
from service import runtime
from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="package", autouse=True)
def shared_onnx_sessions():
    """Every test here gets a fresh app (its own registry, dataplane, batchers and metrics), which loads
    every model: making the onnxruntime sessions was half of the 2.3 s an app took, 240 times. A
    session is immutable once made and safe to share, so the apps of this package share theirs, keyed
    by the model file (path, inode, size, modification time) and the session's options: a changed,
    replaced or broken file is loaded (or fails) anew, as the registry would see it."""
    made = {}

    def shared(path, *args, **kwargs):
        stat = os.stat(path)
        key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, args, tuple(sorted(kwargs.items())))
        if key not in made:
            made[key] = cpu_session(path, *args, **kwargs)
        return made[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "cpu_session", shared)
        yield
    made.clear()


@pytest.fixture
def settings(built_models):
    return Settings(model_dir=built_models, max_request_bytes=4 * 1024 * 1024, max_image_pixels=1_000_000,
                    max_batch_size=16, reload_interval_s=0)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()
