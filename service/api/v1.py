"""TF Serving / KServe V1 REST routes, plus friendly uploads (multipart or a raw image body)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from service.api.common import dataplane, is_json, read_json, resolve
from preprocessing.images import ImageError, check_pixels, load_image, open_image
from service.codecs.detections import DetectionFormatter, draw
from service.codecs.image import b64decode
from service.dataplane import Prediction
from service.errors import InvalidInput, UnsupportedMediaType, shown
from service.inputs import Item, utf8_text
from service.registry import LoadedModel

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
    items, given = _items_from_request(resolve(name, version))
    drawn = _wants_drawing()
    # The model that ran, not the one resolved above: a hot reload may change the default in between.
    prediction = dataplane().predict(name, version, items, given)
    model = prediction.model
    if drawn:
        return Response(_drawing(prediction, items), content_type="image/png",
                        headers={"X-Model-Name": model.name, "X-Model-Version": str(model.version)})
    return jsonify(answer(prediction))


def answer(prediction: Prediction) -> dict[str, Any]:
    """The JSON answer to a predict: the predictions, and the model that made them."""
    model = prediction.model
    body = {**prediction.body(), "model_name": model.name, "model_version": str(model.version)}
    if model.warning:
        body["warning"] = model.warning
    return body


# Request options a query string may give (`?top_k=3`, `?score_threshold=0.2`), as `parameters` can.
OPTIONS = ("top_k", "score_threshold", "iou_threshold", "max_detections")  # (candidates: parameters only)


def _wants_drawing() -> bool:
    """`?format=png`, or an Accept header that prefers an image to JSON: the photo with its boxes drawn."""
    wanted = request.args.get("format")
    if wanted is not None and wanted not in ("json", "png"):
        raise InvalidInput(f"format must be json or png, got {shown(wanted)}")
    if wanted is not None:
        return wanted == "png"
    best = request.accept_mimetypes.best_match(["application/json", "image/png"])
    return best == "image/png" and request.accept_mimetypes["image/png"] > request.accept_mimetypes["application/json"]


def _drawing(prediction: Any, items: list[Item]) -> bytes:
    formatter = prediction.formatter
    if not isinstance(formatter, DetectionFormatter):
        raise InvalidInput(f"model '{prediction.model.name}' is not a detector: only detections are drawn; "
                           "ask for JSON")
    if len(items) != 1 or not isinstance(items[0], (bytes, bytearray)):
        raise InvalidInput(f"a drawing is of one image; this request has {len(items)} instances")
    plane = dataplane()
    try:
        image, _ = open_image(bytes(items[0]))  # full size, not a draft: the boxes are in its pixels
        check_pixels(image, plane.settings.max_image_pixels)
        with plane.decoding.room(image.size[0] * image.size[1], plane.settings.request_timeout_s):
            return draw(load_image(image), prediction.results[0], formatter)
    except ImageError as exc:
        raise InvalidInput(f"instance 0: {exc}") from None


def _items_from_request(model: LoadedModel) -> tuple[list[Item], dict[str, Any]]:
    given = {name: request.args[name] for name in OPTIONS if name in request.args}
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        if request.form:  # a field that is not a file would be silently left out
            names = ", ".join(sorted({f"'{name}'" for name in request.form}))
            raise InvalidInput(f"the multipart form has fields that are not files ({names}); "
                               "send every input as a file (curl -F name=@path)")
        files = [upload.read() for _, upload in request.files.in_order]  # every file, in the order sent
        if not files:
            raise InvalidInput("the multipart form has no file; send the image as a file field")
        return files, given
    if mimetype.startswith(RAW_TYPES) or mimetype == "text/plain":  # one image, or one text
        body = request.get_data(cache=True)
        is_text = mimetype == "text/plain"
        if not body:
            raise InvalidInput(f"the request body is empty; send the {'text' if is_text else 'image bytes'}")
        return [utf8_text(body) if is_text else body], given
    if mimetype and not is_json(mimetype):
        raise UnsupportedMediaType(
            f"content type '{mimetype}' is not supported; send application/json, "
            "multipart/form-data, an image/* body or a text/plain body"
        )
    body = read_json()
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object: {"instances": [...]} or {"inputs": ...}')
    parameters = body.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidInput(f"'parameters' must be an object, got {type(parameters).__name__}")
    given = {**given, **(parameters or {})}
    if "instances" in body and "inputs" in body:
        raise InvalidInput('the body has both "instances" and "inputs"; send one of them')
    names = _input_names(model)
    if "instances" in body:
        return _rows(body["instances"], names), given
    if "inputs" in body:
        return _columns(body["inputs"], names), given
    raise InvalidInput('the body needs "instances" (row format) or "inputs" (columnar format)')


def _input_names(model: LoadedModel) -> tuple[str, ...]:
    """The names an instance may be given under: the version's tensor input, or its BYTES input."""
    raw = model.config.raw_input
    return (model.input.name, *([raw.name] if raw else []))


def _unnamed(value: dict, names: tuple[str, ...], where: str) -> Any:
    """{"<input name>": value} -> value, if the name is one of the model's inputs."""
    (name, inner), = value.items()
    if name not in names:
        raise InvalidInput(f"{where}: the model has no input {shown(name)}; "
                           f"its inputs: {' or '.join(repr(n) for n in names)}")
    return inner


def _value(value: Any, where: str) -> Item:
    """{"b64": ...} -> bytes; a text or a (nested) list of numbers stays as it is."""
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        return b64decode(value["b64"], where)
    if isinstance(value, (list, str)):
        return value
    hint = ""
    if isinstance(value, dict) and "candidates" in value:
        hint = ('; to rank candidates, send the texts as instances and the candidates once: '
                '{"instances": ["..."], "parameters": {"candidates": ["...", "..."]}}')
    raise InvalidInput(f'{where}: expected a text, a list of numbers or {{"b64": "..."}}, '
                       f"got {type(value).__name__}{hint}")


def _rows(instances: Any, names: tuple[str, ...]) -> list[Item]:
    if not isinstance(instances, list):
        raise InvalidInput('"instances" must be a list')
    items = []
    for index, instance in enumerate(instances):
        where = f"instances[{index}]"
        if isinstance(instance, dict) and len(instance) == 1 and "b64" not in instance:
            instance = _unnamed(instance, names, where)
        items.append(_value(instance, where))
    return items


def _columns(inputs: Any, names: tuple[str, ...]) -> list[Item]:
    if isinstance(inputs, dict):
        if len(inputs) != 1:
            raise InvalidInput('"inputs" must name exactly one input')
        if "b64" not in inputs:
            inputs = _unnamed(inputs, names, '"inputs"')
    if isinstance(inputs, dict) and "b64" in inputs:
        inputs = [inputs]
    if not isinstance(inputs, list):
        raise InvalidInput('"inputs" must be a list (one entry per instance) or {"<name>": [...]}')
    return [_value(value, f"inputs[{index}]") for index, value in enumerate(inputs)]
