"""The suite's server: real gunicorn, 2 workers, the built models, its own metrics directory. One for
the whole session (each start loads every model in both workers); a module that needs other settings
(keys, a broken version) starts its own."""
from __future__ import annotations

import pytest

from tests.e2e.server import Server


@pytest.fixture(scope="session")
def server(built_models, tmp_path_factory):
    directory = tmp_path_factory.mktemp("server")
    metrics_dir = directory / "metrics"
    metrics_dir.mkdir()
    running = Server(built_models, metrics_dir, directory / "gunicorn.log",
                     AXON_MAX_REQUEST_BYTES=str(2 * 1024 * 1024))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
