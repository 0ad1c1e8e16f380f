"""What every benchmark shares: a real server on loopback, HTTP load at several concurrencies, tables."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench.timing import median_load
from tests.e2e.server import Server

# name -> (path, body, headers)
Payloads = dict[str, tuple[str, bytes, dict]]


@contextmanager
def running_server(models: Path, workers: int = 2, **env: str) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as tmp:
        metrics_dir = Path(tmp) / "metrics"
        metrics_dir.mkdir()
        server = Server(models.resolve(), metrics_dir, Path(tmp) / "gunicorn.log", workers=workers,
                        **{"AXON_LOG_LEVEL": "warning", **env})
        try:
            server.wait_ready()
            yield server
        finally:
            server.stop()


def http_load(url: str, payloads: Payloads, levels: tuple[tuple[int, int], ...]) -> dict:
    """levels: (clients, requests per client). Medians over 3 runs each."""
    results = {}
    for name, (path, body, headers) in payloads.items():
        for clients, per_client in levels:
            results[f"{name}, {clients} client(s)"] = median_load(
                url=url, path=path, body=body, headers=headers, clients=clients, requests_per_client=per_client)
    return results


def markdown(result: dict) -> str:
    lines = [f"### {result['model']}", ""]
    if result["in_process_ms"]:
        lines += ["| in-process | median latency |", "|---|---:|"]
        lines += [f"| {name} | {ms:.3f} ms |" for name, ms in result["in_process_ms"].items()]
        lines += [""]
    lines += ["| HTTP (gunicorn, 2 workers, as `make run` starts it) | req/s | p50 | p99 | errors |",
              "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['errors']:.0f} |"
              for name, r in result["http"].items()]
    for note in result.get("notes", []):
        lines += ["", note]
    return "\n".join(lines)
