from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings.model_dir == Path("models") and settings.ort_threads == 0 and settings.api_keys == ()  # 0: threads chosen per model


def test_reads_axon_variables():
    settings = Settings.from_env({"AXON_MODEL_DIR": "/srv/models", "AXON_MAX_BATCH_SIZE": "8", "OTHER": "x",
                                  "AXON_REQUEST_TIMEOUT_S": "2.5", "AXON_AUTH_OPS": "true"})
    assert settings.model_dir == Path("/srv/models") and settings.max_batch_size == 8
    assert settings.request_timeout_s == 2.5 and settings.auth_ops is True


def test_log_level_is_case_insensitive():
    assert Settings.from_env({"AXON_LOG_LEVEL": "warning"}).log_level == "WARNING"


def test_api_keys_from_variable_and_file(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nfile-key-1\n\nfile-key-2\n")
    settings = Settings.from_env({"AXON_API_KEYS": "a, b", "AXON_API_KEYS_FILE": str(keys)})
    assert settings.api_keys == ("a", "b", "file-key-1", "file-key-2")


@pytest.mark.parametrize("env", [{"AXON_MAX_BATCH_SIZE": "many"}, {"AXON_ORT_THREADS": "-1"},
                                 {"AXON_LOG_LEVEL": "loud"}, {"AXON_AUTH_OPS": "maybe"},
                                 {"AXON_API_KEYS_FILE": "/nonexistent/keys"}])
def test_rejects_invalid_values(env):
    with pytest.raises(ValueError, match="AXON_"):
        Settings.from_env(env)


def test_env_names_cover_every_field():
    assert {"AXON_MAX_REQUEST_BYTES", "AXON_API_KEYS", "AXON_RELOAD_INTERVAL_S"} <= set(Settings.env_names())
