"""The two commonest predictions, answered without Flask's request machinery.

On a small model a prediction spends more time in Flask and werkzeug (request and response objects,
routing, contexts, the hooks) than in the model: on the MNIST CNN, ~0.3 ms of ~0.9 ms in-process
(docs/benchmarks.md, "Axon against a bare Flask app"). This WSGI layer, in front of the Flask app, takes only

- POST /v2/models/<name>[/versions/<v>]/infer with a JSON body (not the binary extension), and
- POST /v1/models/<name>[/versions/<v>]:predict with an image/* body, no query string and no Accept
  header that names an image (which may ask for a drawing),

each with a Content-Length within AXON_MAX_REQUEST_BYTES, an ASCII path, and a valid API key when keys
are set. It answers them with the routes' own code (v2.answer, v1.answer), bookkeeping (hooks.account:
metrics, the access log line, X-Request-ID) and error answers (api/errors.py). Everything else, a
chunked body, a wrong key, a body shorter than its Content-Length, goes to Flask untouched, which
answers it as it always has. tests/app/test_fast_path.py checks that both give the same answers.
"""
from __future__ import annotations

import io
import re
import time
from typing import Any, Callable, Iterable

from flask import Response

from service import busy_workers
from service.api import v1, v2
from service.api.errors import error_body, log_bug, log_refused, request_id_for
from service.api.hooks import account, key_accepted
from service.codecs import binary, jsontext
from service.dataplane import DataPlane
from service.errors import AxonError
from service.metrics import Metrics
from service.settings import Settings

V2_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")
V1_PREDICT = re.compile(r"/v1/models/([^/:]+)(?:/versions/([^/:]+))?:predict")
ENDPOINTS = {  # the Flask route rules, which label the request metrics
    (V2_INFER, False): "/v2/models/<name>/infer", (V2_INFER, True): "/v2/models/<name>/versions/<version>/infer",
    (V1_PREDICT, False): "/v1/models/<name>:predict", (V1_PREDICT, True): "/v1/models/<name>/versions/<version>:predict",
}
BINARY_HEADER = "HTTP_" + binary.HEADER.upper().replace("-", "_")


class FastPath:
    def __init__(self, flask_app: Callable, plane: DataPlane, settings: Settings, metrics: Metrics,
                 json_fallback: Callable[[Any], str]):
        self.flask_app = flask_app  # Flask's own wsgi_app: everything this does not take
        self.plane, self.settings, self.metrics = plane, settings, metrics
        self.json_fallback = json_fallback  # Flask's JSON provider, for what orjson does not write alike

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with busy_workers.serving():  # a slow model uses every core only while nothing else is served
            return self.handle(environ, start_response)

    def handle(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        route = self.route(environ)
        if route is None:
            return self.flask_app(environ, start_response)
        started = time.perf_counter()
        length = int(environ["CONTENT_LENGTH"])
        body = environ["wsgi.input"].read(length)
        if len(body) != length:  # the client went away: Flask says what it always says
            environ["wsgi.input"] = io.BytesIO(body)
            return self.flask_app(environ, start_response)
        path, rid = environ["PATH_INFO"], request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        status, content, headers, labels = self.serve(route, body, path, rid)
        pattern, _, version = route
        account(self.metrics, rid=rid, method="POST", path=path, endpoint=ENDPOINTS[pattern, version is not None],
                status=status, seconds=time.perf_counter() - started, model=labels[0], version=labels[1],
                bytes_in=length)
        headers.append(("X-Request-ID", rid))
        if status != 200:  # werkzeug's status line and headers, as Flask's error handlers answer
            return Response(content, status=status, mimetype="application/json", headers=headers)(environ, start_response)
        start_response("200 OK", [*headers, ("Content-Length", str(len(content)))])
        return [content]

    def serve(self, route: tuple, body: bytes, path: str, rid: str) -> tuple[int, bytes, list, tuple[str, str]]:
        """(status, body, headers, metric labels): the answer, or the error answer Flask's handlers give."""
        pattern, name, version = route
        labels, headers = ("", ""), []
        self.metrics.in_flight.inc()
        try:
            labels = self.plane.registry.get(name, version).labels
            content, headers = self.answer(pattern, name, version, body)
            return 200, content, headers, labels
        except AxonError as exc:
            log_refused("POST", path, exc.status, exc.message)
            if exc.retry_after:
                headers = [("Retry-After", str(exc.retry_after))]
            return exc.status, error_body(exc.message), headers, labels
        except Exception:
            return 500, error_body(log_bug("POST", path, rid)), [], labels
        finally:
            self.metrics.in_flight.dec()

    def route(self, environ: dict) -> tuple[re.Pattern, str, str | None] | None:
        """(the route, model name, version) if this request is one taken here, else None."""
        if environ["REQUEST_METHOD"] != "POST":
            return None
        path = environ.get("PATH_INFO", "")
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype == "application/json" and BINARY_HEADER not in environ:
            match = V2_INFER.fullmatch(path)
        elif mimetype.startswith("image/") and not environ.get("QUERY_STRING") and "image" not in environ.get("HTTP_ACCEPT", ""):
            match = V1_PREDICT.fullmatch(path)
        else:
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if (match is None or not path.isascii() or not (length.isascii() and length.isdigit())
                or not 0 < int(length) <= self.settings.max_request_bytes):
            return None
        if self.settings.api_keys and not key_accepted(self.settings.api_keys, environ.get("HTTP_AUTHORIZATION", "")):
            return None
        return match.re, *match.groups()

    def answer(self, pattern: re.Pattern, name: str, version: str | None, body: bytes) -> tuple[bytes, list]:
        if pattern is V2_INFER:
            return v2.answer(self.plane, name, version, v2.parse_request(body))
        prediction = self.plane.predict(name, version, [body])
        return jsontext.response_body(v1.answer(prediction), self.json_fallback), [("Content-Type", "application/json")]
