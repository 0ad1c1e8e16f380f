from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings.model_dir == Path("models") and settings.ort_threads == 1


def test_reads_axon_variables():
    settings = Settings.from_env({"AXON_MODEL_DIR": "/srv/models", "AXON_MAX_BATCH_SIZE": "8", "OTHER": "x"})
    assert settings.model_dir == Path("/srv/models") and settings.max_batch_size == 8


def test_log_level_is_case_insensitive():
    assert Settings.from_env({"AXON_LOG_LEVEL": "warning"}).log_level == "WARNING"


@pytest.mark.parametrize("env", [{"AXON_MAX_BATCH_SIZE": "many"}, {"AXON_ORT_THREADS": "0"}, {"AXON_LOG_LEVEL": "loud"}])
def test_rejects_invalid_values(env):
    with pytest.raises(ValueError, match="AXON_"):
        Settings.from_env(env)


def test_env_names_cover_every_field():
    assert "AXON_MAX_REQUEST_BYTES" in Settings.env_names()
