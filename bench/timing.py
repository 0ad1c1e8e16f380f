"""A bounded multi-process HTTP load generator (in-process timing: training.timing)."""
from __future__ import annotations

import http.client
import multiprocessing as mp
import statistics
import time
from urllib.parse import urlparse


def _client(url: str, path: str, body: bytes, headers: dict, requests: int, queue: mp.Queue) -> None:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    latencies, errors = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        errors += response.status != 200
    connection.close()
    queue.put((latencies, errors))


def load(url: str, path: str, body: bytes, headers: dict, clients: int, requests_per_client: int) -> dict:
    """`clients` processes, each with one keep-alive connection, send a fixed number of requests."""
    queue: mp.Queue = mp.Queue()
    workers = [mp.Process(target=_client, args=(url, path, body, headers, requests_per_client, queue))
               for _ in range(clients)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=300) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    latencies = sorted(l for result, _ in results for l in result)
    return {
        "requests": len(latencies),
        "errors": sum(e for _, e in results),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def medians(runs: list[dict], keys) -> dict:
    """The median of each figure over repeated runs."""
    return {key: statistics.median(run[key] for run in runs) for key in keys}


def median_load(repeats: int = 3, **kwargs) -> dict:
    """Median of each figure over repeated load runs."""
    runs = [load(**kwargs) for _ in range(repeats)]
    return medians(runs, runs[0]) | {"repeats": repeats}
