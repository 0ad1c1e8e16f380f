"""Request helpers shared by the blueprints: the dataplane, JSON bodies, metric labels."""
from __future__ import annotations

import json
from typing import Any

from flask import current_app, g, request

from service.dataplane import DataPlane
from service.errors import InvalidInput, UnsupportedMediaType
from service.registry import LoadedModel


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
    if request.mimetype and not is_json(request.mimetype):
        raise UnsupportedMediaType(f"content type '{request.mimetype}' is not supported here; send application/json")
    body = request.get_data(cache=True)  # enforces MAX_CONTENT_LENGTH (413)
    if not body.strip():
        raise InvalidInput("the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from None
