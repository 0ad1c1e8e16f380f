"""Sentiment, side by side: tokenize + onnxruntime per text and per batch of 32, Keras predict, HTTP."""
from __future__ import annotations

import json
from pathlib import Path

from bench.harness import http_load, running_server
from preprocessing.text import Tokenizer
from service.runtime import OnnxModel
from training.cache import keras_path
from training.sentiment_data import tweets_split
from training.timing import median_call_seconds

DIRECTORY = Path(__file__).resolve().parents[1] / "models" / "sentiment"


def run() -> dict:
    import keras

    texts = tweets_split().test[0][:32]
    tokenizer = Tokenizer.load(DIRECTORY / "1" / "vocab.json")
    session = OnnxModel(DIRECTORY / "1" / "model.onnx", threads=1)
    model = keras.models.load_model(keras_path("sentiment", 1))
    one, batch = tokenizer.encode_batch(texts[:1]), tokenizer.encode_batch(texts)
    timings = {
        "tokenize, 1 text": median_call_seconds(lambda: tokenizer.encode(texts[0]), 2000),
        "onnxruntime, 1 text": median_call_seconds(lambda: session.run({"tokens": one}), 2000),
        "tokenize + onnxruntime, 1 text": median_call_seconds(
            lambda: session.run({"tokens": tokenizer.encode_batch(texts[:1])}), 1000),
        "tokenize + onnxruntime, batch of 32 (per batch)": median_call_seconds(
            lambda: session.run({"tokens": tokenizer.encode_batch(texts)}), 200),
        "keras predict, 1 text": median_call_seconds(lambda: model.predict(one, verbose=0), 20),
        "keras predict, batch of 32": median_call_seconds(lambda: model.predict(batch, verbose=0), 20),
    }
    payloads = {
        "v1 text/plain": ("/v1/models/sentiment:predict", texts[0].encode(), {"Content-Type": "text/plain"}),
        "v2 JSON BYTES, 1 text": ("/v2/models/sentiment/infer", json.dumps({"inputs": [
            {"name": "text", "shape": [1], "datatype": "BYTES", "data": texts[:1]}]}).encode(),
            {"Content-Type": "application/json"}),
    }
    with running_server(DIRECTORY.parent) as server:
        http = http_load(server.url, payloads, levels=((1, 400), (8, 100)))
    return {"model": "sentiment v1 (Conv1D)", "in_process_ms": {k: v * 1e3 for k, v in timings.items()}, "http": http}
