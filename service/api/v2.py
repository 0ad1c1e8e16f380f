"""Open Inference Protocol (KServe V2) REST routes."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service.api.common import dataplane, json_body, json_bytes, resolve
from service.codecs import binary, tensor_json
from service.dataplane import DataPlane
from service.errors import ModelNotFound
from service.protocol import InferenceRequest
from service.registry import LoadedModel

bp = Blueprint("v2", __name__, url_prefix="/v2")


def _status(ok: bool) -> Response:
    response = jsonify(ready=ok)
    response.status_code = 200 if ok else 503
    return response


@bp.get("/health/live")
def live() -> Response:
    return jsonify(live=True)


@bp.get("/health/ready")
def ready() -> Response:
    return _status(dataplane().ready())


@bp.get("")
def server_metadata() -> Response:
    return jsonify(dataplane().server_metadata())


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None) -> Response:
    resolve(name, version)
    return jsonify(dataplane().model_metadata(name, version))


@bp.get("/models/<name>/card")
@bp.get("/models/<name>/versions/<version>/card")
def model_card(name: str, version: str | None = None) -> Response:
    """The version's model card (training/cards.py): one HTML page, its plots inline."""
    return _card_file(resolve(name, version), "card.html", "text/html; charset=utf-8")


@bp.get("/models/<name>/card.md")
@bp.get("/models/<name>/versions/<version>/card.md")
def model_card_markdown(name: str, version: str | None = None) -> Response:
    """The same card as Markdown (its images are in card/ beside it in the model repository)."""
    return _card_file(resolve(name, version), "card.md", "text/markdown; charset=utf-8")


def _card_file(model: LoadedModel, file: str, content_type: str) -> Response:
    path = model.entry.path / file
    if not path.is_file():
        raise ModelNotFound(f"model '{model.name}' version {model.version} has no model card; "
                            "write one with `python -m training.cards --models <model repository>`")
    return Response(path.read_bytes(), content_type=content_type)


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None) -> Response:
    dataplane().registry.state(name)  # unknown model: 404, not "not ready"
    return _status(dataplane().model_ready(name, version))


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None) -> Response:
    resolve(name, version)
    header_length = request.headers.get(binary.HEADER)
    if header_length is None:
        inference = parse_request(json_bytes())
    else:
        header, rest = binary.split_body(request.get_data(cache=True), header_length)
        inference = binary.attach_binary_inputs(InferenceRequest.from_json(header), rest)
    body, headers = answer(dataplane(), name, version, inference)
    return Response(body, headers=headers)


def parse_request(body: bytes) -> InferenceRequest:
    """A V2 JSON request body: large floating-point tensors straight into arrays (codecs/tensor_json.py)."""
    document = tensor_json.parse_infer_request(body)
    return InferenceRequest.from_json(json_body(body) if document is None else document)


def answer(plane: DataPlane, name: str, version: str | None, inference: InferenceRequest) -> tuple[bytes, list]:
    """Run an infer request: the answer's body and headers (JSON, or JSON and binary outputs)."""
    body, json_length = binary.encode_response(plane.infer(name, version, inference), inference)
    if json_length is None:
        return body, [("Content-Type", "application/json")]
    return body, [("Content-Type", "application/octet-stream"), (binary.HEADER, str(json_length))]
