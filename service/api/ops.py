"""Operational routes: Prometheus metrics."""
from __future__ import annotations

from flask import Blueprint, Response, current_app

bp = Blueprint("ops", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = current_app.extensions["axon.metrics"].exposition()
    return Response(body, content_type=content_type)
