"""The batch script's throughput vs onnxruntime's own at the same batch size, and vs one request at
a time through the HTTP server (the way a naive client would do the same job)."""
from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.harness import running_server
from service import host
from service.batch import processes
from service.batch.backends import HttpBackend, LocalBackend
from service.batch.decoding import joined, prepare_chunk
from service.batch.items import collect
from service.batch.output import resume
from service.batch.runner import run as run_batch
from service.settings import Settings
from training.photos import photo_variants
from training.sentiment_data import tweets_split

ROOT = Path(__file__).resolve().parents[1]
BATCHES = (1, 8, 32)
REPEATS = 5
WORKERS = max(1, host.available_cores() - 1)  # the script's default beside one onnxruntime thread


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


def prepared_inputs(backend: LocalBackend, items: list) -> np.ndarray:
    group = backend.preparer.group_size
    return joined(prepare_chunk(backend.preparer, [item.load for item in items], group)[1])


def onnxruntime_rate(backend: LocalBackend, prepared: np.ndarray, batch: int) -> float:
    """Items/s of the session alone, on inputs already prepared, at this batch size."""
    started = time.perf_counter()
    for start in range(0, len(prepared), batch):
        backend.infer(prepared[start : start + batch])
    return len(prepared) / (time.perf_counter() - started)


def _decode_until_told(connection, preparer, loads: list, group: int) -> None:
    while not connection.poll():
        prepare_chunk(preparer, loads[:256], group)


def onnxruntime_rate_beside_decoding(backend: LocalBackend, items: list, prepared: np.ndarray, batch: int) -> float:
    """The session alone again, while another process decodes the same inputs on the other core:
    what inference can reach when both cores work (they share caches and memory bandwidth)."""
    decoder, connection = processes.start("bench-decoder", _decode_until_told, backend.preparer,
                                          [item.load for item in items], backend.preparer.group_size)
    time.sleep(1.0)  # started and decoding
    try:
        return onnxruntime_rate(backend, prepared, batch)
    finally:
        connection.send(None)
        processes.stop(decoder)


def script_summary(backend, items: list, batch: int, directory: Path):
    output = directory / f"out-{batch}-{time.monotonic_ns()}.jsonl"
    summary = run_batch(backend, items, output, "jsonl", resume(output, "jsonl", True), batch, WORKERS)
    output.unlink()
    return summary


def run_one(model: str, make_inputs) -> dict:
    settings = Settings(model_dir=ROOT / "models")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        items = collect(make_inputs(directory))
        local = LocalBackend(settings, model, None, threads=1)
        prepared = prepared_inputs(local, items)
        figures = {}
        for batch in BATCHES:  # side by side, alternating, median of REPEATS each
            runs: dict[str, list[float]] = {}
            for _ in range(REPEATS):
                summary = script_summary(local, items, batch, directory)
                for name, value in (("onnxruntime alone", onnxruntime_rate(local, prepared, batch)),
                                    ("script, running", summary.running_throughput),
                                    ("script, end to end", summary.throughput),
                                    ("script startup s", summary.startup_s),
                                    ("onnxruntime beside decoding", onnxruntime_rate_beside_decoding(
                                        local, items, prepared, batch))):
                    runs.setdefault(name, []).append(value)
            row = {name: statistics.median(values) for name, values in runs.items()}
            row["running / onnxruntime alone"] = row["script, running"] / row["onnxruntime alone"]
            figures[f"batch {batch}"] = row
        with running_server(ROOT / "models") as server:
            remote = HttpBackend(server.url, model, None)
            sample = items[:300]
            http = statistics.median(script_summary(remote, sample, 1, directory).running_throughput
                                     for _ in range(REPEATS))
        figures["one request at a time over HTTP (300 inputs)"] = {"script, running": http}
    return {"model": f"{model} ({len(items)} inputs, 1 onnxruntime thread, {WORKERS} decode worker(s) + 1 writer)",
            "figures": figures}


def run() -> list[dict]:
    return [run_one("efficientnet_lite0", image_inputs), run_one("sentiment", text_inputs)]


def markdown(result: dict) -> str:
    lines = [f"### {result['model']}", "",
             "| | onnxruntime alone | batch script (running) | script / onnxruntime | onnxruntime beside decoding "
             "| script end to end (startup) |", "|---|---:|---:|---:|---:|---:|"]
    for name, f in result["figures"].items():
        if "onnxruntime alone" not in f:
            lines.append(f"| {name} | | {f['script, running']:.0f}/s | | | |")
            continue
        lines.append(f"| {name} | {f['onnxruntime alone']:.0f}/s | {f['script, running']:.0f}/s "
                     f"| {f['running / onnxruntime alone']:.0%} | {f['onnxruntime beside decoding']:.0f}/s "
                     f"| {f['script, end to end']:.0f}/s ({f['script startup s']:.2f} s) |")
    return "\n".join(lines)
