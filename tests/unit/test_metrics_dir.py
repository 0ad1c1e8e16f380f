"""PROMETHEUS_MULTIPROC_DIR is emptied at start only when it is Axon's own."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.metrics_dir import MARKER, NotOurDirectory, prepare_metrics_dir
from tests.e2e.server import REPO_ROOT, free_port


def test_an_empty_or_new_directory_becomes_ours(tmp_path):
    prepare_metrics_dir(tmp_path / "new")
    assert (tmp_path / "new" / MARKER).is_file()


def test_stale_metric_files_are_removed_from_our_directory(tmp_path):
    prepare_metrics_dir(tmp_path)
    for name in ("counter_123.db", "gauge_livesum_123.db", "histogram_9.db"):
        (tmp_path / name).write_bytes(b"stale")
    prepare_metrics_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER]


def test_a_directory_with_only_metric_files_is_taken_as_ours(tmp_path):
    (tmp_path / "counter_1.db").write_bytes(b"stale")  # left by a run before the marker existed
    prepare_metrics_dir(tmp_path)
    assert not (tmp_path / "counter_1.db").exists()


def test_a_directory_that_is_not_ours_is_left_alone(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    (tmp_path / "counter_1.db").write_bytes(b"someone else's")
    with pytest.raises(NotOurDirectory, match="precious.txt"):
        prepare_metrics_dir(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me" and (tmp_path / "counter_1.db").exists()


def test_gunicorn_refuses_to_start_on_a_directory_that_is_not_ours(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    result = subprocess.run([gunicorn, "-c", "service/gunicorn.conf.py", "service.app:create_app()"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "HOST": "127.0.0.1",
                                 "PORT": str(free_port())})
    assert result.returncode != 0 and "not Axon's metrics" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
