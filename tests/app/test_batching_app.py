"""Dynamic batching switched on in a model's config.json: same answers, merged calls, metrics."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor


from service.app import create_app
from service.settings import Settings
from tests.conftest import png_bytes
from tests.unit.test_batching import wait_until


def batched_app(model_repo, batching: dict, **settings):
    """An app whose mnist config.json turns dynamic batching on."""
    config_path = model_repo / "mnist" / "config.json"
    config = json.loads(config_path.read_text())
    config["dynamic_batching"] = batching
    config_path.write_text(json.dumps(config))
    return create_app(Settings(model_dir=model_repo, reload_interval_s=0, **settings))


def test_batched_answers_equal_unbatched_ones(model_repo, heldout):
    plain = create_app(Settings(model_dir=model_repo, reload_interval_s=0)).extensions["axon.dataplane"]
    app = batched_app(model_repo, {"max_batch_size": 16, "max_queue_delay_ms": 20, "max_queue_size": 64})
    batched = app.extensions["axon.dataplane"]

    pngs = [png_bytes(p) for p in heldout[0][:32]]
    expected = [plain.predict("mnist", None, [png]).records()[0]["class_id"] for png in pngs]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda png: batched.predict("mnist", None, [png]).records()[0]["class_id"], pngs))
    assert got == expected

    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    count = next(line for line in metrics.splitlines() if line.startswith("axon_batch_size_count"))
    total = next(line for line in metrics.splitlines() if line.startswith("axon_batch_size_sum"))
    merged_calls, rows = float(count.split()[-1]), float(total.split()[-1])
    assert rows == 32 and merged_calls < 32  # some requests shared an onnxruntime call
    assert "axon_batch_queue_wait_seconds_bucket" in metrics and "axon_batch_queue_depth" in metrics


def test_a_request_waiting_past_its_timeout_gets_504(model_repo, heldout, monkeypatch):
    import time

    app = batched_app(model_repo, {"max_batch_size": 4, "max_queue_delay_ms": 1, "max_queue_size": 8},
                      request_timeout_s=0.2)
    dataplane = app.extensions["axon.dataplane"]
    slow = dataplane.infer_now
    monkeypatch.setattr(dataplane, "infer_now", lambda model, batch: (time.sleep(1), slow(model, batch))[1])
    response = app.test_client().post("/v1/models/mnist:predict", data=png_bytes(heldout[0][0]),
                                      content_type="image/png")
    assert response.status_code == 504 and "did not answer within 0.2s" in response.json["error"]


def test_a_full_queue_is_503_with_retry_after(model_repo, heldout, monkeypatch):
    import threading

    app = batched_app(model_repo, {"max_batch_size": 1, "max_queue_delay_ms": 0, "max_queue_size": 1},
                      request_timeout_s=5)
    dataplane = app.extensions["axon.dataplane"]
    gate, gate_reached, fast = threading.Event(), threading.Event(), dataplane.infer_now
    monkeypatch.setattr(dataplane, "infer_now",
                        lambda model, batch: (gate_reached.set(), gate.wait(5), fast(model, batch))[2])
    png = png_bytes(heldout[0][0])

    def post():
        return app.test_client().post("/v1/models/mnist:predict", data=png, content_type="image/png")

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(post) for _ in range(4)]
        model = dataplane.registry.get("mnist")
        # every request is in the model (one), queued (at most one), or refused without waiting
        wait_until(lambda: model.batcher is not None and gate_reached.is_set()
                   and sum(f.done() for f in futures) == 3 - model.batcher.queue.qsize())
        gate.set()
        responses = [f.result() for f in futures]
    refused = [r for r in responses if r.status_code == 503]
    assert refused and refused[0].headers["Retry-After"] == "1" and "queued" in refused[0].json["error"]
    assert {r.status_code for r in responses} <= {200, 503}
