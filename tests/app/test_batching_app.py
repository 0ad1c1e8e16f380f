"""Dynamic batching switched on in a model's config.json: same answers, merged calls, metrics."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from service.app import create_app
from service.settings import Settings
from tests.conftest import png_bytes


def test_batched_answers_equal_unbatched_ones(model_repo, heldout):
    config_path = model_repo / "mnist" / "config.json"
    config = json.loads(config_path.read_text())
    plain = create_app(Settings(model_dir=model_repo)).extensions["axon.dataplane"]
    config["dynamic_batching"] = {"max_batch_size": 16, "max_queue_delay_ms": 20, "max_queue_size": 64}
    config_path.write_text(json.dumps(config))
    app = create_app(Settings(model_dir=model_repo))
    batched = app.extensions["axon.dataplane"]

    pngs = [png_bytes(p) for p in heldout[0][:32]]
    expected = [plain.predict("mnist", None, [png])[1][0]["class_id"] for png in pngs]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda png: batched.predict("mnist", None, [png])[1][0]["class_id"], pngs))
    assert got == expected

    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    count = next(line for line in metrics.splitlines() if line.startswith("axon_batch_size_count"))
    total = next(line for line in metrics.splitlines() if line.startswith("axon_batch_size_sum"))
    merged_calls, rows = float(count.split()[-1]), float(total.split()[-1])
    assert rows == 32 and merged_calls < 32  # some requests shared an onnxruntime call
    assert "axon_batch_queue_wait_seconds_bucket" in metrics and "axon_batch_queue_depth" in metrics
