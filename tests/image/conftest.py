from __future__ import annotations

import pytest

from tests.image import engine


@pytest.fixture(scope="module", autouse=True)
def say_it_in_the_test_output(pytestconfig):
    """What the image tests do (which base, how long the build took) shows in `make test` itself,
    not only in the capture of a failing test."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n{line}", flush=True)

    engine.write = write
    yield
    engine.write = print
