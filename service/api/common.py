"""Request helpers shared by the blueprints: the dataplane, JSON bodies, metric labels."""
from __future__ import annotations

from typing import Any

from flask import Request, current_app, g, request
from werkzeug.datastructures import ImmutableMultiDict

from service.codecs import jsontext
from service.dataplane import DataPlane
from service.errors import InvalidInput, UnsupportedMediaType
from service.registry import LoadedModel


class FormFields(ImmutableMultiDict):
    """Query arguments and form parts that also remember the order they came in: werkzeug groups
    them by name, so `-F a=@1 -F b=@2 -F a=@3` would otherwise come out as 1, 3, 2."""

    def __init__(self, mapping: Any = None):
        super().__init__(mapping)
        self.in_order = list(mapping) if isinstance(mapping, list) else list(self.items(multi=True))


class AxonRequest(Request):
    parameter_storage_class = FormFields


def dataplane() -> DataPlane:
    return current_app.extensions["axon.dataplane"]


def resolve(name: str, version: str | None) -> LoadedModel:
    """Look the model up (404/503 if absent) and label this request's metrics with it."""
    model = dataplane().registry.get(name, version)
    g.metric_model, g.metric_version = model.labels
    return model


def is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def read_json() -> Any:
    """The body as JSON: empty -> 400, not JSON -> 400, a non-JSON content type -> 415."""
    return json_body(json_bytes())


def json_bytes() -> bytes:
    """The body, if its content type is JSON (or not given): else 415."""
    if request.mimetype and not is_json(request.mimetype):
        raise UnsupportedMediaType(f"content type '{request.mimetype}' is not supported here; send application/json")
    return request.get_data(cache=True)  # enforces MAX_CONTENT_LENGTH (413)


def json_body(body: bytes) -> Any:
    """A JSON request body: empty (or blank) -> 400, not JSON -> 400."""
    if not body.strip():
        raise InvalidInput("the request body is empty; send a JSON object")
    return jsontext.loads(body)
