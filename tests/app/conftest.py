from __future__ import annotations

import pytest

from service.app import create_app
from service.settings import Settings


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
