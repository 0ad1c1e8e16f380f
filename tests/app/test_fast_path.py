"""The fast path (service/api/fast_path.py) answers exactly what the Flask routes answer: status,
headers, body, error log and access log line, for what it takes; and passes everything else on."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from werkzeug.test import EnvironBuilder

from service.app import create_app
from service.errors import Overloaded
from service.settings import Settings
from tests.conftest import png_bytes
from training.photos import photo_bytes

KEY = "fast-key"
RID = {"X-Request-ID": "parity-1"}


@pytest.fixture(scope="module")
def app(built_models):
    return create_app(Settings(model_dir=built_models, max_request_bytes=1024 * 1024, reload_interval_s=0))


class Spy:
    """Flask's wsgi_app, counting the requests the fast path passes on."""

    def __init__(self, flask_app):
        self.flask_app, self.calls = flask_app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.flask_app(environ, start_response)


def call(wsgi, path: str, body: bytes | None, content_type: str | None, headers: dict, query: str = "") -> tuple:
    builder = EnvironBuilder(path=path, method="POST", data=body, content_type=content_type,
                             headers={**RID, **headers}, query_string=query)
    environ = builder.get_environ()
    if body is None:  # chunked: no Content-Length
        environ.pop("CONTENT_LENGTH", None)
    started = []
    content = b"".join(wsgi(environ, lambda status, headers, exc_info=None: started.append((status, headers))))
    status, response_headers = started[0]
    return status, sorted((name.lower(), value) for name, value in response_headers), content


def both(app, caplog, *args, **kwargs) -> tuple[tuple, tuple, int]:
    """(fast answer, Flask answer, requests the fast path passed on), the logs of each compared."""
    fast = app.wsgi_app
    spy = Spy(fast.flask_app)
    fast.flask_app = spy
    logs = []
    for wsgi in (fast, spy.flask_app):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            answer = call(wsgi, *args, **kwargs)
        lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("axon.")]
        logs.append((answer, [_without_latency(line) for line in lines]))
    passed_on = spy.calls
    fast.flask_app = spy.flask_app
    (fast_answer, fast_logs), (flask_answer, flask_logs) = logs
    assert fast_logs == flask_logs
    return fast_answer, flask_answer, passed_on


def _without_latency(line: tuple) -> tuple:
    name, level, message = line
    if name == "axon.access":
        record = json.loads(message)
        assert record.pop("latency_ms") >= 0
        message = record
    return name, level, message


def v2_body(pixels: list, **extra) -> bytes:
    return json.dumps({"inputs": [{"name": "pixels", "shape": [1, 28, 28], "datatype": "FP32", "data": pixels}],
                       **extra}).encode()


def digit(heldout) -> np.ndarray:
    return heldout[0][0]


TAKEN = {
    "v2 infer": lambda d: ("/v2/models/mnist/infer", v2_body((d / 255.0).tolist()), "application/json"),
    "v2 infer, a version": lambda d: ("/v2/models/mnist/versions/1/infer", v2_body((d / 255.0).tolist()),
                                      "application/json; charset=utf-8"),
    "v2 infer, binary output": lambda d: ("/v2/models/mnist/infer", v2_body(
        (d / 255.0).tolist(), parameters={"binary_data_output": True}), "application/json"),
    "v2 infer, an id and outputs": lambda d: ("/v2/models/mnist/infer", v2_body(
        (d / 255.0).tolist(), id="é\u2028", outputs=[{"name": "probabilities"}]), "application/json"),
    "v2 NaN pixels": lambda d: ("/v2/models/mnist/infer", v2_body([float("nan")] * 784), "application/json"),
    "v2 not JSON": lambda d: ("/v2/models/mnist/infer", b'{"inputs": [', "application/json"),
    "v2 blank body": lambda d: ("/v2/models/mnist/infer", b"  \n", "application/json"),
    "v2 deep JSON": lambda d: ("/v2/models/mnist/infer", b"[" * 100_000, "application/json"),
    "v2 wrong shape": lambda d: ("/v2/models/mnist/infer", v2_body([0.5] * 10), "application/json"),
    "v2 unknown model": lambda d: ("/v2/models/nope/infer", v2_body([0.5] * 784), "application/json"),
    "v2 unknown version": lambda d: ("/v2/models/mnist/versions/9/infer", v2_body([0.5] * 784), "application/json"),
    "v2 version not a number": lambda d: ("/v2/models/mnist/versions/x/infer", v2_body([0.5] * 784),
                                          "application/json"),
    "v1 PNG": lambda d: ("/v1/models/mnist:predict", png_bytes(255 - d), "image/png"),
    "v1 PNG, a version": lambda d: ("/v1/models/mnist/versions/1:predict", png_bytes(255 - d), "image/png"),
    "v1 JPEG photo": lambda d: ("/v1/models/efficientnet_lite0:predict", photo_bytes("rocket.jpg"), "image/jpeg"),
    "v1 not an image": lambda d: ("/v1/models/mnist:predict", b"not a png", "image/png"),
    "v1 image to a text model": lambda d: ("/v1/models/sentiment:predict", png_bytes(255 - d), "image/png"),
}


@pytest.mark.parametrize("case", TAKEN)
def test_the_fast_path_answers_as_flask_does(app, caplog, heldout, case):
    path, body, content_type = TAKEN[case](digit(heldout))
    fast, flask, passed_on = both(app, caplog, path, body, content_type, {})
    assert passed_on == 0, "the fast path should have taken this request"
    assert fast == flask


PASSED_ON = {
    "chunked body": dict(body=None, content_type="application/json"),
    "binary extension": dict(content_type="application/octet-stream",
                             headers={"Inference-Header-Content-Length": "10"}),
    "query string": dict(path="/v1/models/mnist:predict", content_type="image/png", query="top_k=2"),
    "asks for a drawing": dict(path="/v1/models/mnist:predict", content_type="image/png",
                               headers={"Accept": "image/png"}),
    "text body": dict(path="/v1/models/sentiment:predict", content_type="text/plain", body=b"a fine day"),
    "non-ASCII path": dict(path="/v2/models/mnïst/infer"),
    "over the size limit": dict(body=b" " * (1024 * 1024 + 1)),
    "empty body": dict(body=b""),
    "trailing slash": dict(path="/v2/models/mnist/infer/"),
}


@pytest.mark.parametrize("case", PASSED_ON)
def test_what_the_fast_path_does_not_take_goes_to_flask(app, caplog, heldout, case):
    options = {"path": "/v2/models/mnist/infer", "body": v2_body((digit(heldout) / 255.0).tolist()),
               "content_type": "application/json", "headers": {}, **PASSED_ON[case]}
    if options["path"].startswith("/v1") and "body" not in PASSED_ON[case]:
        options["body"] = png_bytes(255 - digit(heldout))
    fast, flask, passed_on = both(app, caplog, options.pop("path"), options.pop("body"), options.pop("content_type"),
                                  options.pop("headers"), **options)
    assert passed_on == 1
    assert fast == flask


def test_keys_are_checked_and_a_wrong_key_goes_to_flask(built_models, caplog, heldout):
    app = create_app(Settings(model_dir=built_models, api_keys=(KEY,), reload_interval_s=0))
    body = v2_body((digit(heldout) / 255.0).tolist())
    for headers, taken in (({"Authorization": f"Bearer {KEY}"}, True), ({"Authorization": "Bearer wrong"}, False), ({}, False)):
        fast, flask, passed_on = both(app, caplog, "/v2/models/mnist/infer", body, "application/json", headers)
        assert passed_on == (0 if taken else 1)
        assert fast == flask
        assert fast[0] == ("200 OK" if taken else "401 UNAUTHORIZED")


@pytest.mark.parametrize("failure", [Overloaded("the queue of model 'mnist' is full"), RuntimeError("a bug")])
def test_failures_in_the_model_answer_as_flask_does(app, caplog, heldout, monkeypatch, failure):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(app.extensions["axon.dataplane"], "run", fail)
    fast, flask, passed_on = both(app, caplog, "/v1/models/mnist:predict", png_bytes(255 - digit(heldout)),
                                  "image/png", {})
    assert passed_on == 0
    assert fast == flask
    assert fast[0] == ("503 SERVICE UNAVAILABLE" if isinstance(failure, Overloaded) else "500 INTERNAL SERVER ERROR")


def test_a_body_shorter_than_its_length_goes_to_flask(app, caplog, heldout):
    body = v2_body((digit(heldout) / 255.0).tolist())
    answers = []
    for wsgi in (app.wsgi_app, app.wsgi_app.flask_app):
        environ = EnvironBuilder(path="/v2/models/mnist/infer", method="POST", data=body[:100],
                                 content_type="application/json", headers=RID).get_environ()
        environ["CONTENT_LENGTH"] = str(len(body))  # the client said more than it sent, then went away
        started = []
        content = b"".join(wsgi(environ, lambda status, headers, exc_info=None: started.append(status)))
        answers.append((started[0], content))
    assert answers[0] == answers[1]
    assert answers[0][0].startswith("400")
