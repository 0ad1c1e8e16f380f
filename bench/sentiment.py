"""Sentiment, every version side by side, and the `minilm` embeddings: tokenizing, onnxruntime per
text at batch 1 / 8 / 32 (one thread, real test tweets), Keras predict for version 1, and HTTP at 1
and 8 clients against a real server (each version by its own URL)."""
from __future__ import annotations

import json
from pathlib import Path

from bench.harness import http_load, running_server
from preprocessing.text import Tokenizer
from preprocessing.transformer_text import TransformerTokenizer
from service.runtime import OnnxModel
from training.cache import keras_path
from training.sentiment_data import tweets_split
from training.timing import median_call_seconds

MODELS = Path(__file__).resolve().parents[1] / "models"
BATCHES = (1, 8, 32)


def tokenizer_of(version: Path):
    if (version / "tokenizer.json").is_file():
        return TransformerTokenizer(version / "tokenizer.json")
    return Tokenizer.load(version / "vocab.json")


def per_text_ms(version: Path, texts: list[str], label: str) -> dict[str, float]:
    tokenizer = tokenizer_of(version)
    session = OnnxModel(version / "model.onnx", threads=1)
    name = session.input_names[0]
    timings = {f"{label}: tokenize, per text (batch of 32)":
               median_call_seconds(lambda: tokenizer.encode_texts(texts), 200) / len(texts)}
    for size in BATCHES:  # the same 32 tweets each time, in batches of `size` (padded to their longest)
        batches = [tokenizer.encode_texts(texts[i : i + size]).ids for i in range(0, len(texts), size)]
        timings[f"{label}: onnxruntime, per text at batch {size}"] = median_call_seconds(
            lambda: [session.run({name: ids}) for ids in batches], 10) / len(texts)
    return {k: v * 1e3 for k, v in timings.items()}


def text_payloads(path: str, text: str) -> dict:
    v2 = path.replace("/v1/", "/v2/").replace(":predict", "/infer")
    return {
        f"{path} text/plain": (path, text.encode(), {"Content-Type": "text/plain"}),
        f"{v2} JSON BYTES, 1 text": (v2, json.dumps({"inputs": [
            {"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]}).encode(),
            {"Content-Type": "application/json"}),
    }


def run() -> list[dict]:
    texts = tweets_split().test[0][:32]
    results = []
    versions = sorted((p for p in (MODELS / "sentiment").iterdir() if (p / "model.onnx").is_file()),
                      key=lambda p: int(p.name))
    in_process = {}
    for version in versions:
        in_process.update(per_text_ms(version, texts, f"v{version.name}"))
    import keras

    model = keras.models.load_model(keras_path("sentiment", 1))
    words = Tokenizer.load(versions[0] / "vocab.json")
    one, batch = words.encode_batch(texts[:1]), words.encode_batch(texts)
    in_process["v1: keras predict, 1 text"] = median_call_seconds(lambda: model.predict(one, verbose=0), 20) * 1e3
    in_process["v1: keras predict, batch of 32 (per batch)"] = (
        median_call_seconds(lambda: model.predict(batch, verbose=0), 20) * 1e3)
    payloads = {}
    for version in versions:
        payloads.update(text_payloads(f"/v1/models/sentiment/versions/{version.name}:predict", texts[0]))
    with running_server(MODELS) as server:
        http = http_load(server.url, payloads, levels=((1, 200), (8, 50)))
    results.append({"model": "sentiment, every version", "in_process_ms": in_process, "http": http})

    embeddings = MODELS / "minilm" / "1"
    if (embeddings / "model.onnx").is_file():
        in_process = per_text_ms(embeddings, texts, "minilm v1")
        with running_server(MODELS) as server:
            http = http_load(server.url, text_payloads("/v1/models/minilm:predict", texts[0]),
                             levels=((1, 200), (8, 50)))
        results.append({"model": "minilm (sentence embeddings)", "in_process_ms": in_process, "http": http})
    return results
