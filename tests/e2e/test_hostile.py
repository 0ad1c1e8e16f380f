"""Hostile clients against a real gunicorn server: chunked bodies, deep JSON, forged log lines,
oversized request ids. Each answer is a JSON 4xx and the server keeps serving."""
from __future__ import annotations

import http.client
import json

import numpy as np
import pytest
import requests

from tests.conftest import png_bytes

LIMIT = 2 * 1024 * 1024  # the module server's AXON_MAX_REQUEST_BYTES (tests/e2e/conftest.py)


def send(server, method: str, path: str, body: bytes = b"", headers: dict | None = None,
         chunked: bool = False) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        if chunked:
            connection.putrequest(method, path)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(body), 65536):
                part = body[start : start + 65536]
                connection.send(b"%x\r\n%s\r\n" % (len(part), part))
            connection.send(b"0\r\n\r\n")
        else:
            connection.request(method, path, body=body, headers=headers or {})
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered (413) and closed before the whole body was sent: read its answer
    try:
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def still_serving(server, heldout) -> bool:
    response = requests.post(server.url + "/v1/models/mnist:predict", data=png_bytes(heldout[0][0]),
                             headers={"Content-Type": "image/png"}, timeout=30)
    return response.status_code == 200


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + 100_000, 3 * LIMIT])
def test_a_chunked_body_over_the_limit_is_413_like_one_with_a_length(server, heldout, size):
    body = json.dumps({"instances": [[0.0] * 784] * (size // 3900 + 1)}).encode()[:size]
    assert len(body) > LIMIT
    for chunked in (True, False):
        status, answer = send(server, "POST", "/v1/models/mnist:predict", body, JSON, chunked=chunked)
        assert status == 413 and "too large" in answer["error"], (chunked, status, answer)
    assert still_serving(server, heldout)


def test_a_chunked_body_within_the_limit_is_read_whole(server, heldout):
    digits = [(heldout[0][i] / 255.0 + np.random.default_rng(i).random((28, 28)) * 1e-3).clip(0, 1) for i in range(64)]
    body = json.dumps({"instances": [d.tolist() for d in digits]}).encode()
    assert 1_000_000 < len(body) < LIMIT
    status, answer = send(server, "POST", "/v1/models/mnist:predict", body, JSON, chunked=True)
    assert status == 200 and len(answer["predictions"]) == 64
    from urllib3 import encode_multipart_formdata

    png = png_bytes(255 - heldout[0][0])
    form, content_type = encode_multipart_formdata([("file", ("a.png", png, "image/png"))] * 2)
    status, answer = send(server, "POST", "/v1/models/mnist:predict", form, {"Content-Type": content_type},
                          chunked=True)
    assert status == 200 and len(answer["predictions"]) == 2
    big_form, content_type = encode_multipart_formdata([("file", ("a.png", b"x" * (LIMIT // 2), "image/png"))] * 3)
    status, answer = send(server, "POST", "/v1/models/mnist:predict", big_form, {"Content-Type": content_type},
                          chunked=True)
    assert status == 413  # not a multipart cut at the limit and parsed as if whole


@pytest.mark.parametrize("path, body, headers", [
    ("/v2/models/mnist/infer", b"[" * 100_000 + b"]" * 100_000, JSON),
    ("/v1/models/mnist:predict", b'{"instances":' + b"[" * 100_000, JSON),
    ("/v2/models/mnist/infer", b"[" * 100_000, {**JSON, "Inference-Header-Content-Length": "100000"}),
])
def test_json_nested_100000_deep_is_400(server, heldout, path, body, headers):
    status, answer = send(server, "POST", path, body, headers)
    assert status == 400 and "nested too deeply" in answer["error"]
    assert still_serving(server, heldout)


def test_a_url_cannot_forge_a_log_line(server):
    marker = "forged-7f3a"
    status, _ = send(server, "GET", f"/v2/models/nope%0a2026-01-01%2000:00:00,000%20INFO%20{marker}")
    assert status == 404
    log = server.log_path.read_text()
    assert marker in log and not any(line.startswith("2026-01-01") for line in log.splitlines())


def test_an_8_kb_request_id_is_replaced_not_echoed(server):
    response = requests.get(server.url + "/v2/health/live", headers={"X-Request-ID": "r" * 8000}, timeout=10)
    assert response.status_code == 200 and len(response.headers["X-Request-ID"]) == 32


def test_gunicorn_s_own_errors_are_json_too(server):
    response = requests.get(server.url + "/v2/models/" + "a" * 5000, timeout=10)
    assert response.status_code == 414 and "Request Line is too large" in response.json()["error"]
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /v2 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        head, _, body = sock.recv(4096).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert "Invalid HTTP Header" in json.loads(body)["error"]


def test_a_form_of_too_many_parts_says_so(server, heldout):
    png = png_bytes(heldout[0][0])
    response = requests.post(server.url + "/v1/models/mnist:predict", files=[("f", ("a.png", png))] * 1001, timeout=30)
    assert response.status_code == 413 and "more than 1000 parts" in response.json()["error"]


def worker_rss_mb(server) -> list[float]:
    import subprocess

    rss = []
    for pid in subprocess.check_output(["pgrep", "-P", str(server.process.pid)]).split():
        for line in open(f"/proc/{int(pid)}/status"):
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
    return rss


def test_64_texts_of_256_tokens_do_not_balloon_a_worker(server):
    """Attention keeps [rows, 12, L, L] buffers: in one onnxruntime call, with its arena, 64 texts of
    256 tokens left each worker at 3.9 GB (both transformers). Run in parts of 4,096 tokens without
    the arena, a worker stays under 1 GB."""
    texts = ["the crew was rude and the seat was broken " * 40] * 64
    for path in ("/v1/models/sentiment:predict", "/v1/models/minilm:predict") * 2:
        response = requests.post(server.url + path, json={"instances": texts}, timeout=120)
        assert response.status_code == 200, response.text
        body = response.json()
        cut = body["predictions"] if "predictions" in body else [{"truncated": True}] * len(body["truncated"]["instances"])
        assert len(cut) == 64 and all(p.get("truncated") for p in cut)
    assert max(worker_rss_mb(server)) < 1024, worker_rss_mb(server)
