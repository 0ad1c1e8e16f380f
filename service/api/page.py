"""The web page at / that tries every model: static files from service/web/, no build step, no CDN.

The page holds no data of its own: it asks the public endpoints (the repository index, model
metadata, V1 predict) as any client does, with the API key its user types, so it is served
without one.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

WEB = Path(__file__).resolve().parents[1] / "web"
PAGE_PREFIX = "/ui/"

bp = Blueprint("page", __name__)


@bp.get("/")
def page() -> Response:
    return send_from_directory(WEB, "index.html", max_age=0)


@bp.get(PAGE_PREFIX + "<path:filename>")
def page_files(filename: str) -> Response:
    return send_from_directory(WEB, filename, max_age=0)
