"""Map every failure to one JSON shape, {"error": ...}, in one place."""
from __future__ import annotations

import logging
import os
import re

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from service.codecs import jsontext
from service.errors import AxonError

log = logging.getLogger("axon.errors")


REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces, bounded: safe to echo and log


def request_id_for(given: str) -> str:
    """The caller's X-Request-ID if it is a bounded printable one, else a fresh id: 128 random bits in
    hex, as uuid4().hex has 122 (in a fifth of its time)."""
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def request_id() -> str:
    """This request's id, the same for the whole request (echoed in the response header, the access
    log and error messages)."""
    if "request_id" not in g:
        g.request_id = request_id_for(request.headers.get("X-Request-ID", ""))
    return g.request_id


def error_body(message: str) -> bytes:
    """{"error": message}, as jsonify writes it."""
    return jsontext.response_body({"error": message})


def error_response(message: str, status: int) -> Response:
    return Response(error_body(message), status=status, mimetype="application/json")


def log_refused(method: str, path: str, status: int, message: str) -> None:
    log.warning("%s %s -> %d: %s", method, path, status, message)


def log_bug(method: str, path: str, rid: str) -> str:
    """Log the exception being handled, with its traceback; the message to answer with (no details)."""
    log.exception("unhandled error on %s %s (request id %s)", method, path, rid)
    return f"internal server error (request id {rid})"


def _http_message(exc: HTTPException, status: int) -> str:
    """Werkzeug's own errors, reworded to tell the client what to change."""
    if status == 404:
        return f"no route for {request.method} {request.path}; see /v2 and /v1/models/<name>"
    if status == 405:
        return f"method {request.method} not allowed on {request.path}"
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if request.mimetype == "multipart/form-data" and (request.content_length or limit + 1) <= limit:
            return (f"the multipart form has more than {current_app.config['MAX_FORM_PARTS']} parts, "
                    f"or a field over {current_app.config['MAX_FORM_MEMORY_SIZE']} bytes")
        return f"the request body is too large: the limit is {limit} bytes (AXON_MAX_REQUEST_BYTES)"
    return exc.description or exc.name


def register_error_handlers(app: Flask) -> None:
    """Client mistakes keep their 4xx; only real bugs are 500, logged with a traceback, leaking nothing."""

    @app.errorhandler(AxonError)
    def _axon_error(exc: AxonError) -> Response:
        log_refused(request.method, request.path, exc.status, exc.message)
        response = error_response(exc.message, exc.status)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = _http_message(exc, status)
        log_refused(request.method, request.path, status, message)
        response = error_response(message, status)
        original = exc.get_response().headers
        for header in ("Allow", "Retry-After"):
            value = original.get(header)
            if value:
                response.headers[header] = value
        return response

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        return error_response(log_bug(request.method, request.path, request_id()), 500)
