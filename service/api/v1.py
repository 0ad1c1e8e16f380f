"""TF Serving / KServe V1 REST routes, plus friendly uploads (multipart or a raw image body)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from service.api.common import dataplane, is_json, read_json, resolve
from service.codecs.image import b64decode
from service.errors import InvalidInput, UnsupportedMediaType
from service.inputs import Item, utf8_text

bp = Blueprint("v1", __name__, url_prefix="/v1")

RAW_TYPES = ("image/", "application/octet-stream")


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
def model_status(name: str, version: str | None = None) -> Response:
    """TF Serving's model status: one entry per served version."""
    resolve(name, version)
    state = dataplane().registry.state(name)
    versions = [int(version)] if version else sorted(state.versions)
    return jsonify(model_version_status=[
        {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in versions
    ])


@bp.post("/models/<name>:predict")
@bp.post("/models/<name>/versions/<version>:predict")
def predict(name: str, version: str | None = None) -> Response:
    resolve(name, version)
    items, top_k = _items_from_request()
    # The model that ran, not the one resolved above: a hot reload may change the default in between.
    model, predictions = dataplane().predict(name, version, items, top_k)
    body = {"predictions": predictions, "model_name": model.name, "model_version": str(model.version)}
    if model.warning:
        body["warning"] = model.warning
    return jsonify(body)


def _items_from_request() -> tuple[list[Item], Any]:
    top_k = request.args.get("top_k")
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        files = [f.read() for f in request.files.values()]
        if not files:
            raise InvalidInput("the multipart form has no file; send the image as a file field")
        return files, top_k
    if mimetype.startswith(RAW_TYPES) or mimetype == "text/plain":  # one image, or one text
        body = request.get_data(cache=True)
        is_text = mimetype == "text/plain"
        if not body:
            raise InvalidInput(f"the request body is empty; send the {'text' if is_text else 'image bytes'}")
        return [utf8_text(body) if is_text else body], top_k
    if mimetype and not is_json(mimetype):
        raise UnsupportedMediaType(
            f"content type '{mimetype}' is not supported; send application/json, "
            "multipart/form-data, an image/* body or a text/plain body"
        )
    body = read_json()
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object: {"instances": [...]} or {"inputs": ...}')
    parameters = body.get("parameters") or {}
    top_k = parameters.get("top_k", top_k) if isinstance(parameters, dict) else top_k
    if "instances" in body:
        return _rows(body["instances"]), top_k
    if "inputs" in body:
        return _columns(body["inputs"]), top_k
    raise InvalidInput('the body needs "instances" (row format) or "inputs" (columnar format)')


def _value(value: Any, where: str) -> Item:
    """{"b64": ...} -> bytes; a text or a (nested) list of numbers stays as it is."""
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        return b64decode(value["b64"], where)
    if isinstance(value, (list, str)):
        return value
    raise InvalidInput(f'{where}: expected a text, a list of numbers or {{"b64": "..."}}, '
                       f"got {type(value).__name__}")


def _rows(instances: Any) -> list[Item]:
    if not isinstance(instances, list):
        raise InvalidInput('"instances" must be a list')
    items = []
    for index, instance in enumerate(instances):
        where = f"instances[{index}]"
        if isinstance(instance, dict) and len(instance) == 1 and "b64" not in instance:
            instance = next(iter(instance.values()))  # {"<input name>": value}
        items.append(_value(instance, where))
    return items


def _columns(inputs: Any) -> list[Item]:
    if isinstance(inputs, dict):
        if len(inputs) != 1:
            raise InvalidInput('"inputs" must name exactly one input')
        inputs = next(iter(inputs.values()))
    if isinstance(inputs, dict) and "b64" in inputs:
        inputs = [inputs]
    if not isinstance(inputs, list):
        raise InvalidInput('"inputs" must be a list (one entry per instance) or {"<name>": [...]}')
    return [_value(value, f"inputs[{index}]") for index, value in enumerate(inputs)]
