"""The batch script's throughput vs onnxruntime's own at the same batch size, and vs one request at
a time through the HTTP server (the way a naive client would do the same job)."""
from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.harness import running_server
from service.batch.backends import HttpBackend, LocalBackend
from service.batch.items import collect
from service.batch.output import resume
from service.batch.runner import run as run_batch
from service.settings import Settings
from training.photos import photo_variants
from training.sentiment_data import tweets_split

ROOT = Path(__file__).resolve().parents[1]
BATCHES = (1, 8, 32)
REPEATS = 3
WORKERS = max(1, (os.cpu_count() or 2) - 1)  # the script's default beside one onnxruntime thread


def image_inputs(directory: Path) -> list[str]:
    """The 133 photo variants as JPEGs at three qualities, 4 copies: 1,596 files, several seconds of
    inference, so that starting the worker processes (a fixed cost, counted) does not dominate."""
    for index, (_, image) in enumerate(photo_variants()):
        for quality in (75, 85, 95):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality)
            for copy in range(4):
                (directory / f"{index:03d}-q{quality}-{copy}.jpg").write_bytes(buffer.getvalue())
    return [str(directory)]


def text_inputs(directory: Path) -> list[str]:
    """The 5,577 held-out tweets, 20 times over: 111,540 lines."""
    path = directory / "tweets.txt"
    path.write_text("".join(" ".join(t.split()) + "\n" for t in tweets_split().test[0]) * 20)
    return [str(path)]


def onnxruntime_rate(backend: LocalBackend, items: list, batch: int) -> float:
    """Items/s of the session alone, on inputs already prepared, at this batch size."""
    preparer = backend.preparer
    prepared = np.concatenate([preparer.prepare_many([item.value() for item in items[i : i + preparer.group_size]])
                               for i in range(0, len(items), preparer.group_size)])
    started = time.perf_counter()
    for start in range(0, len(prepared), batch):
        backend.infer(prepared[start : start + batch])
    return len(prepared) / (time.perf_counter() - started)


def script_rate(backend, items: list, batch: int, directory: Path) -> float:
    output = directory / f"out-{batch}-{time.monotonic_ns()}.jsonl"
    summary = run_batch(backend, items, output, "jsonl", resume(output, "jsonl", True), batch, WORKERS)
    return summary.throughput


def run_one(model: str, make_inputs) -> dict:
    settings = Settings(model_dir=ROOT / "models")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        items = collect(make_inputs(directory))
        local = LocalBackend(settings, model, None, threads=1, top_k=None)
        figures = {}
        for batch in BATCHES:  # side by side, alternating, median of REPEATS each
            ort_runs, script_runs = [], []
            for _ in range(REPEATS):
                ort_runs.append(onnxruntime_rate(local, items, batch))
                script_runs.append(script_rate(local, items, batch, directory))
            ort, script = statistics.median(ort_runs), statistics.median(script_runs)
            figures[f"batch {batch}"] = {"onnxruntime items/s": ort, "batch script items/s": script,
                                         "script / onnxruntime": script / ort}
        with running_server(ROOT / "models") as server:
            remote = HttpBackend(server.url, model, None, None)
            http = statistics.median(script_rate(remote, items, 1, directory) for _ in range(REPEATS))
        figures["one request at a time over HTTP"] = {"batch script items/s": http}
    return {"model": f"{model} ({len(items)} inputs, 1 onnxruntime thread, {WORKERS} decode thread(s))",
            "figures": figures}


def run() -> list[dict]:
    return [run_one("efficientnet_lite0", image_inputs), run_one("sentiment", text_inputs)]


def markdown(result: dict) -> str:
    lines = [f"### {result['model']}", "", "| | onnxruntime alone | batch script | script / onnxruntime |",
             "|---|---:|---:|---:|"]
    for name, f in result["figures"].items():
        ort = f.get("onnxruntime items/s")
        ratio = f.get("script / onnxruntime")
        lines.append(f"| {name} | {ort:.0f}/s | {f['batch script items/s']:.0f}/s | {ratio:.0%} |" if ort else
                     f"| {name} | | {f['batch script items/s']:.0f}/s | |")
    return "\n".join(lines)
