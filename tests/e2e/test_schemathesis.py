"""A bounded schemathesis run against the live server's /openapi.json: no 5xx, responses match the spec.

Run through schemathesis's own CLI (its pytest plugin does not load under this pytest).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MAX_EXAMPLES = 10  # per operation and phase: bounded in requests (~700) and time (~15 s)
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_api_conforms_to_its_openapi_document(server, tmp_path):
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        pytest.fail("schemathesis is not installed (dev extra)")
    run = subprocess.run(
        [str(cli), "run", f"{server.url}/openapi.json", "--max-examples", str(MAX_EXAMPLES), "--checks", CHECKS,
         "--generation-deterministic", "--continue-on-failure", "--request-timeout", "30"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache dir lands there, not in the repo
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "generated" in run.stdout
