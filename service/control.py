"""Which models an operator unloaded, agreed by every worker of one server (the repository API).

Under gunicorn each worker has its own registry. The wish is written once, to `unloaded.json` in the
server's control directory (AXON_CONTROL_DIR, made fresh by gunicorn.conf.py at every start: unloads
last until the server restarts), under a file lock, with a new generation number. Every worker watches
that file (a stat every POLL_S), applies it to its registry (retiring or loading the versions), and
writes what it now serves to its own `worker-<pid>.json`. The worker that took the API call answers
once every live worker of the server has written that generation, or says which have not. A worker
that starts later applies the file before it loads any model, so it never serves an unloaded one.

Without a control directory (one process: tests, a plain Flask app) the wish applies to this
process's registry alone, at once.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from service import host
from service.registry import ModelState, Registry

log = logging.getLogger(__name__)
STATE_FILE = "unloaded.json"
POLL_S = 0.2


def describe(state: ModelState) -> dict[str, Any]:
    """A model's state as the repository index says it: READY, or UNAVAILABLE and why."""
    if state.versions:
        return {"state": "READY", "versions": sorted(str(v) for v in state.versions)}
    return {"state": "UNAVAILABLE", "reason": state.problem or "no loadable version"}


class ModelControl:
    def __init__(self, registry: Registry, directory: Path | None):
        self.registry, self.directory = registry, directory
        self.generation = -1
        self._lock = threading.Lock()
        if directory is not None:
            state = self._read()
            registry.unloaded = frozenset(state["unloaded"])  # before any model loads
            self.generation = state["generation"]

    def start_watching(self) -> None:
        """Once the registry has loaded: say what this worker serves, then follow the file."""
        if self.directory is None:
            return
        self._write_ack()
        threading.Thread(target=_watch, args=(weakref.ref(self), self.directory / STATE_FILE),
                         name="model-control", daemon=True).start()

    # --- the API's side ------------------------------------------------------------------

    def set(self, name: str, unloaded: bool) -> int:
        """Record that `name` is (un)loaded for every worker, apply it here; its generation."""
        if self.directory is None:
            names = self.registry.unloaded | {name} if unloaded else self.registry.unloaded - {name}
            self.registry.set_unloaded(names)
            return 0
        with self._file_lock():
            state = self._read()
            names = set(state["unloaded"]) | {name} if unloaded else set(state["unloaded"]) - {name}
            generation = state["generation"] + 1
            _write_atomically(self.directory / STATE_FILE, {"generation": generation, "unloaded": sorted(names)})
        self.apply()
        return generation

    def wait_for(self, generation: int, timeout_s: float) -> tuple[dict[int, dict], list[int]]:
        """(each worker's model states, once it has applied `generation`; the live workers that have
        not within `timeout_s`). Without a control directory: this process alone."""
        if self.directory is None:
            return {os.getpid(): {n: describe(s) for n, s in self.registry.models.items()}}, []
        deadline = time.monotonic() + timeout_s
        while True:
            workers = host.sibling_pids()
            answers = {pid: ack for pid in workers if (ack := self._ack_of(pid)) and ack["generation"] >= generation}
            missing = [pid for pid in workers if pid not in answers]
            if not missing or time.monotonic() > deadline:
                return {pid: ack["models"] for pid, ack in answers.items()}, missing
            time.sleep(POLL_S / 2)

    # --- every worker's side -------------------------------------------------------------

    def apply(self) -> None:
        """Bring this worker's registry in line with the file, and say so."""
        with self._lock:
            state = self._read()
            if state["generation"] == self.generation:
                return
            self.registry.set_unloaded(frozenset(state["unloaded"]))
            self.generation = state["generation"]
            self._write_ack()

    def _write_ack(self) -> None:
        models = {name: describe(state) for name, state in self.registry.models.items()}
        _write_atomically(self.directory / f"worker-{os.getpid()}.json", {"generation": self.generation, "models": models})

    def _ack_of(self, pid: int) -> dict | None:
        try:
            return json.loads((self.directory / f"worker-{pid}.json").read_text())
        except (OSError, ValueError):
            return None

    def _read(self) -> dict[str, Any]:
        try:
            return json.loads((self.directory / STATE_FILE).read_text())
        except FileNotFoundError:
            return {"generation": 0, "unloaded": []}

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        with open(self.directory / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, content: dict) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(content))
    os.replace(temporary, path)


def _watch(control_ref: weakref.ref, path: Path) -> None:
    seen = None
    while True:
        time.sleep(POLL_S)
        control = control_ref()
        if control is None:
            return
        try:
            stat = path.stat()
            changed = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            changed = None
        if changed != seen:
            seen = changed
            try:
                control.apply()
            except Exception:  # noqa: BLE001 - a failed apply must not stop the watching
                log.exception("applying the repository API's model control failed")
        del control
