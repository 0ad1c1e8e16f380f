"""The model repository API (Triton's repository extension): what is served, and explicit control.

POST /v2/repository/index lists every model and version with its state (READY, UNAVAILABLE and why),
behind the inference keys like model metadata. POST /v2/repository/models/<name>/load and /unload need
an admin key (AXON_ADMIN_KEYS, separate from the inference keys; the two routes are off without one),
and answer once every worker of the server has done it (service/control.py), or, after
AXON_REQUEST_TIMEOUT_S, say which have not (504).
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from service.api.common import dataplane, read_json
from service.api.hooks import key_accepted
from service.control import ModelControl
from service.errors import Forbidden, InvalidInput, ModelNotFound, ModelNotReady, Timeout, Unauthorized, shown

bp = Blueprint("repository", __name__, url_prefix="/v2/repository")
MAX_AGREE_S = 50.0  # under gunicorn's worker timeout (60 s), which would kill the waiting worker


@bp.post("/index")
def index() -> Response:
    only_ready = _ready_filter()
    registry = dataplane().registry
    entries = []
    for name, state in sorted(registry.models.items()):
        for version in sorted(state.versions):
            entries.append({"name": name, "version": str(version), "state": "READY"})
        for version, why in sorted(state.failures().items()):
            entries.append({"name": name, "version": str(version), "state": "UNAVAILABLE", "reason": why})
        if not state.versions and not state.failed:
            entries.append({"name": name, "state": "UNAVAILABLE", "reason": state.problem or "no version"})
    return jsonify([e for e in entries if e["state"] == "READY"] if only_ready else entries)


@bp.post("/models/<name>/load")
def load(name: str) -> Response:
    return _control(name, unload=False)


@bp.post("/models/<name>/unload")
def unload(name: str) -> Response:
    return _control(name, unload=True)


def _ready_filter() -> bool:
    if not request.get_data(cache=True).strip():
        return False
    body = read_json()
    if not isinstance(body, dict) or not isinstance(body.get("ready", False), bool):
        raise InvalidInput("the index request body is optional; when given, {\"ready\": true|false}")
    return body.get("ready", False)


def _control(name: str, unload: bool) -> Response:
    _check_admin_key()
    if request.get_data(cache=True).strip():
        body = read_json()  # Triton's clients send {"parameters": {...}}: accepted, none is used
        if not isinstance(body, dict):
            raise InvalidInput("the request body is optional; when given, a JSON object")
    registry = dataplane().registry
    if name not in registry.models and name not in registry.repository.model_names():
        raise ModelNotFound(f"model '{name}' not found in the repository")
    control: ModelControl = current_app.extensions["axon.control"]
    within = min(current_app.extensions["axon.settings"].request_timeout_s, MAX_AGREE_S)
    answers, missing = control.wait_for(control.set(name, unload), within)
    workers = {str(pid): states.get(name, {"state": "UNAVAILABLE", "reason": "not in the repository"})
               for pid, states in sorted(answers.items())}
    if missing:
        raise Timeout(f"model '{name}': worker(s) {', '.join(map(str, missing))} did not confirm within "
                      f"{within:g} s (AXON_REQUEST_TIMEOUT_S); the others did: {shown(workers, 400)}")
    if not unload:
        failed = {pid: state["reason"] for pid, state in workers.items() if state["state"] != "READY"}
        if failed:
            raise ModelNotReady(f"model '{name}' could not be loaded: {next(iter(failed.values()))}")
    return jsonify({"name": name, "state": "UNAVAILABLE" if unload else "READY", "workers": workers})


def _check_admin_key() -> None:
    settings = current_app.extensions["axon.settings"]
    if not settings.admin_keys:
        raise Forbidden("model control is off: set AXON_ADMIN_KEYS to allow loading and unloading models")
    if not key_accepted(settings.admin_keys, request.headers.get("Authorization", "")):
        raise Unauthorized("missing or invalid admin key: send 'Authorization: Bearer <admin key>' (AXON_ADMIN_KEYS)")
