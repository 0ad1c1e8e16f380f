"""API keys, request ids and the structured access log."""
from __future__ import annotations

import json
import logging

import pytest

from service import logs
from service.app import create_app
from service.settings import Settings

KEY = "s3cret-key-for-tests"
PREDICT = "/v1/models/sentiment:predict"


@pytest.fixture
def secured(built_models):
    return create_app(Settings(model_dir=built_models, api_keys=("other-key", KEY))).test_client()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY},
                                     {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer "}])
def test_inference_and_model_routes_need_a_valid_key(secured, headers):
    for method, path, kwargs in (("post", PREDICT, {"json": {"instances": ["hi"]}}),
                                 ("get", "/v2/models/sentiment", {}), ("get", "/v1/models/sentiment", {}),
                                 ("get", "/v2", {})):
        response = getattr(secured, method)(path, headers=headers, **kwargs)
        assert response.status_code == 401 and "API key" in response.json["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_key_is_accepted(secured):
    response = secured.post(PREDICT, json={"instances": ["hi"]}, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200


def test_health_and_metrics_stay_open_unless_configured(secured, built_models):
    for path in ("/v2/health/live", "/v2/health/ready", "/metrics"):
        assert secured.get(path).status_code == 200
    locked = create_app(Settings(model_dir=built_models, api_keys=(KEY,), auth_ops=True)).test_client()
    assert locked.get("/metrics").status_code == 401


def test_the_web_page_is_served_without_a_key_and_its_calls_need_one(secured):
    for path in ("/", "/ui/page.js", "/ui/style.css"):
        assert secured.get(path).status_code == 200
    assert secured.post("/v2/repository/index").status_code == 401  # what the page asks first
    assert secured.get("/uix").status_code == 401  # only / and /ui/ are the page


def test_keys_never_reach_the_logs(secured, caplog):
    with caplog.at_level(logging.DEBUG):
        secured.post(PREDICT, json={"instances": ["hi"]}, headers={"Authorization": f"Bearer {KEY}"})
        secured.post(PREDICT, json={"instances": ["hi"]}, headers={"Authorization": "Bearer guess-123"})
    assert KEY not in caplog.text and "guess-123" not in caplog.text


def test_request_id_is_taken_or_made_and_echoed(client):
    assert client.get("/v2/health/live", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"] == "abc-1"
    made = {client.get("/v2/health/live").headers["X-Request-ID"] for _ in range(20)}
    assert len(made) == 20 and all(len(rid) == 32 and int(rid, 16) >= 0 for rid in made)


def test_access_log_is_one_json_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="axon.access"):
        client.post(PREDICT, json={"instances": ["great"]}, headers={"X-Request-ID": "req-9"})
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "axon.access"]
    assert records[-1]["request_id"] == "req-9" and records[-1]["status"] == 200
    assert records[-1]["model"] == "sentiment" and records[-1]["version"] == "3"  # the default
    assert records[-1]["latency_ms"] > 0


@pytest.mark.parametrize("given", ["x" * 129, "has space", "tab\there", "ünïcode", ""])
def test_a_request_id_that_is_not_bounded_printable_ascii_is_replaced(client, caplog, given):
    with caplog.at_level(logging.INFO, logger="axon.access"):
        response = client.get("/v2/health/live", headers={"X-Request-ID": given.encode("utf-8").decode("latin-1")})
    echoed = response.headers["X-Request-ID"]
    assert echoed != given and len(echoed) == 32
    assert json.loads(caplog.records[-1].getMessage())["request_id"] == echoed


def test_a_client_cannot_forge_a_log_line(client, caplog):
    """A decoded %0a in the path (and in the model name it carries) would start a fake line."""
    forged = "nope%0a2026-01-01 00:00:00,000 INFO [1] axon.access: {\"status\": 200}"
    with caplog.at_level(logging.INFO):
        assert client.get(f"/v2/models/{forged}").status_code == 404
    records = [r for r in caplog.records if "nope" in r.getMessage()]
    assert records and any("\n" in r.getMessage() for r in records)  # the raw message carries the newline
    handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, logs.EscapingFormatter)]
    assert len(handlers) == 1  # the app's handler, installed once, formats every logger's records
    for record in records:
        line = handlers[0].formatter.format(record)
        assert "\n" not in line and "nope\\n2026-01-01" in line


def test_the_time_in_a_line_is_loggings_own():
    """The formatter writes each second's date once and reuses it: every line reads as logging's."""
    ours, loggings = logs.EscapingFormatter(logs.FORMAT), logging.Formatter(logs.FORMAT)
    record = logging.LogRecord("axon.access", logging.INFO, __file__, 1, "a line", None, None)
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.0005, 1_700_000_001.5, 1_700_000_000.25,
                    1_800_000_000.123):
        record.created, record.msecs = created, int((created - int(created)) * 1000)
        assert ours.format(record) == loggings.format(record)
    assert ours.formatTime(record, "%H:%M") == loggings.formatTime(record, "%H:%M")


@pytest.mark.parametrize("text, escaped", [("a\nb", "a\\nb"), ("a\rb", "a\\rb"), ("\x1b[31mred", "\\x1b[31mred"),
                                           ("line\u2028sep", "line\\u2028sep"), ("c1\x85", "c1\\x85"),
                                           ("ünïcode ✓", "ünïcode ✓")])
def test_escape(text, escaped):
    assert logs.escape(text) == escaped
    assert logs.escape("x" * 10_000).endswith("(cut: 10000 characters)")
