"""Per-request hooks, in one place: request id, API keys, metrics timing, structured access log."""
from __future__ import annotations

import hmac
import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from service.api.errors import request_id
from service.api.page import PAGE_PREFIX
from service.codecs import jsontext
from service.errors import Unauthorized
from service.metrics import Metrics
from service.settings import Settings

access_log = logging.getLogger("axon.access")
# Routes a load balancer, Kubernetes or Prometheus must reach without a key (unless AXON_AUTH_OPS).
OPS_PREFIXES = ("/v2/health/", "/metrics", "/openapi.json", "/docs")
ADMIN_PREFIX = "/v2/repository/models/"  # load and unload: AXON_ADMIN_KEYS


def key_accepted(keys: tuple[str, ...], authorization: str) -> bool:
    """`Authorization: Bearer <one of the keys>`, compared in constant time."""
    scheme, _, presented = authorization.partition(" ")
    presented_bytes = presented.strip().encode()
    # Compare against every key, whatever the outcome, so timing says nothing about which matched.
    matches = [hmac.compare_digest(presented_bytes, key.encode()) for key in keys]
    return scheme.lower() == "bearer" and any(matches)


def check_api_key(settings: Settings) -> None:
    """401 unless the request carries one of the keys (when keys are set)."""
    if not settings.api_keys:
        return
    if not settings.auth_ops and request.path.startswith(OPS_PREFIXES):
        return
    if request.path == "/" or request.path.startswith(PAGE_PREFIX):  # the web page: its calls carry the key
        return
    if request.path.startswith(ADMIN_PREFIX):  # behind the admin keys instead (api/repository.py)
        return
    if not key_accepted(settings.api_keys, request.headers.get("Authorization", "")):
        raise Unauthorized("missing or invalid API key: send 'Authorization: Bearer <key>'")


def read_body(max_bytes: int) -> None:
    """Read the whole body now, so that every route (and the multipart parser) sees the same bytes.

    A Content-Length over the limit is refused by werkzeug (413). A chunked body has no length:
    werkzeug's stream stops at the limit without a word, so a body cut there would be parsed as if
    it were whole. Whatever is left unread behind the limit makes it the same 413.
    """
    data = request.get_data(cache=True)
    if request.content_length is None and len(data) >= max_bytes and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def account(metrics: Metrics, *, rid: str, method: str, path: str, endpoint: str, status: int, seconds: float,
            model: str, version: str, bytes_in: int, protocol: str = "http") -> None:
    """One answered request: its metrics, and its access log line (JSON; a gRPC call's says so)."""
    metrics.observe_request(model, version, endpoint, status, seconds, protocol)
    if access_log.isEnabledFor(logging.INFO):
        line = {"request_id": rid, "method": method, "path": path, "status": status, "latency_ms": round(seconds * 1e3, 3),
                "model": model or None, "version": version or None, "bytes_in": bytes_in}
        text = jsontext.dumps(line if protocol == "http" else {**line, "protocol": protocol}).decode()
        # What access_log.info(text) does, without its search of the stack for the caller (always here)
        access_log.handle(access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, text, (), None, "account"))


def install(app: Flask, settings: Settings, metrics: Metrics) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        request_id()
        metrics.in_flight.inc()
        check_api_key(settings)
        read_body(settings.max_request_bytes)

    @app.after_request
    def _finish(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        model, version = g.get("metric_model", ""), g.get("metric_version", "")
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        rid = request_id()
        response.headers["X-Request-ID"] = rid
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="axon"'
        account(metrics, rid=rid, method=request.method, path=request.path, endpoint=endpoint,
                status=response.status_code, seconds=elapsed, model=model, version=version,
                bytes_in=request.content_length or 0)
        return response

    @app.teardown_request
    def _done(_exc: BaseException | None) -> None:
        if "started" in g:
            metrics.in_flight.dec()
