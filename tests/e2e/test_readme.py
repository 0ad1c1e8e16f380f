"""The README's examples run as written against a real server, on the files `make samples` writes;
and so do the curl examples of docs/protocols.md and docs/models.md that need no placeholder filled in."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from training.samples import write

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = ("...", "[...]", "$ADMIN_KEY", "<url>", "<host>")


def shell_commands(markdown: Path) -> list[str]:
    """Each command of the ```sh blocks: continuation lines and open quotes joined."""
    commands, pending = [], ""
    for block in re.findall(r"```sh\n(.*?)```", markdown.read_text(), re.S):
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending = f"{pending}\n{line}" if pending else line
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # a quote still open: the command goes on
                continue
            if pending.endswith(("\\", "|")):
                continue
            commands.append(pending)
            pending = ""
    return commands


def curls(markdown: Path) -> list[str]:
    return [c for c in shell_commands(markdown) if "curl " in c and "localhost:8080" in c
            and not any(p in c for p in PLACEHOLDERS)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("readme")
    write(directory / "samples")  # `make samples`
    return directory


def run(command: str, server, workdir: Path) -> tuple[int, str]:
    """(the HTTP status, the answer; an image answered is shown as its size)"""
    command = command.replace("localhost:8080", server.url.removeprefix("http://"))
    command = command.replace("curl ", "curl -sS -o answer.out -w '%{http_code}' ", 1)
    result = subprocess.run(["bash", "-c", command], cwd=workdir, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (command, result.stderr)
    answer = (workdir / "answer.out").read_bytes()
    return int(result.stdout[-3:]), answer.decode() if not answer.startswith(b"\x89PNG") else f"PNG, {len(answer)} bytes"


def test_the_readme_has_the_examples_a_newcomer_needs():
    commands = shell_commands(ROOT / "README.md")
    assert "make samples" in commands and len(curls(ROOT / "README.md")) >= 6


@pytest.mark.parametrize("command", curls(ROOT / "README.md"))
def test_every_readme_example_runs_as_written(server, workdir, command):
    status, answer = run(command, server, workdir)
    assert status == 200, (command, answer)
    if "mnist:predict" in command:
        assert json.loads(answer)["predictions"][0]["label"] == "7"
    if "efficientnet_lite0:predict" in command:
        assert json.loads(answer)["predictions"][0]["class_id"] in {281, 282, 285}  # a tabby cat
    if "sentiment:predict" in command:
        assert json.loads(answer)["predictions"][0]["label"] == "negative"
    if "nanodet:predict" in command:
        assert "bus" in {d["label"] for d in json.loads(answer)["predictions"][0]["detections"]}


@pytest.mark.parametrize("command", curls(ROOT / "docs" / "protocols.md") + curls(ROOT / "docs" / "models.md"))
def test_the_protocol_examples_run_as_written(server, workdir, command):
    status, answer = run(command, server, workdir)
    assert status == 200, (command, answer[:500])
