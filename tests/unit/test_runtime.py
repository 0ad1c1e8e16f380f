"""OnnxModel runs a transformer's rows in parts of a token budget: the same answers, bounded memory."""
from __future__ import annotations

import numpy as np

from service.registry import MAX_TOKENS_PER_RUN, Registry
from service.repository import Repository
from service.runtime import OnnxModel


def test_rows_over_the_token_budget_run_in_parts_with_the_same_answers(built_models):
    path = built_models / "minilm" / "1" / "model.onnx"
    ids = np.random.default_rng(0).integers(1000, 20000, size=(40, 128)).astype(np.int32)
    ids[:, 0], ids[:, -1], ids[5, 60:] = 101, 102, 0  # one shorter text, padded
    whole = OnnxModel(path).run({"input_ids": ids})["embeddings"]
    parted = OnnxModel(path, max_tokens_per_run=1024)
    calls = []
    real_run = parted.session.run
    parted.session.run = lambda names, feed: calls.append(len(feed["input_ids"])) or real_run(names, feed)
    assert np.allclose(parted.run({"input_ids": ids})["embeddings"], whole, atol=1e-5)
    assert calls == [8, 8, 8, 8, 8]  # 1,024 tokens / 128 per text


def test_the_registry_budgets_only_the_transformers(built_models):
    registry = Registry(Repository(built_models))
    registry.load_all()
    assert registry.get("minilm").runtime.max_tokens_per_run == MAX_TOKENS_PER_RUN
    assert registry.get("sentiment", 3).runtime.max_tokens_per_run == MAX_TOKENS_PER_RUN
    assert registry.get("sentiment", 1).runtime.max_tokens_per_run is None  # fixed [N, 48]
    assert registry.get("mnist").runtime.max_tokens_per_run is None
