"""Operational routes: Prometheus metrics, the OpenAPI document and an offline Swagger UI."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from service.api import openapi
from service.api.common import dataplane

bp = Blueprint("ops", __name__)

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Axon API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = current_app.extensions["axon.metrics"].exposition()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    registry = dataplane().registry
    return jsonify(openapi.build(sorted(name for name, state in registry.models.items() if state.versions)))


@bp.get("/docs")
def docs() -> Response:
    return Response(DOCS_PAGE, content_type="text/html; charset=utf-8")


@bp.get("/docs/static/<path:filename>")
def docs_static(filename: str) -> Response:
    """Swagger UI's own files, from the swagger-ui-bundle package: no CDN, works offline."""
    return send_from_directory(str(swagger_ui_path), filename)
