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
    latencies, errors, began = [], 0, time.perf_counter()
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        errors += response.status != 200
    connection.close()
    queue.put((latencies, errors, time.perf_counter() - began))


def _grpc_client(address: str, method: str, message: bytes, metadata: tuple, requests: int, queue: mp.Queue) -> None:
    import grpc  # noqa: PLC0415 - only the gRPC benchmark needs it

    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(method)  # bytes in, bytes out: no message classes on the client side
        call(message, metadata=metadata, timeout=30)  # the channel connects before the clock starts
        latencies, errors, began = [], 0, time.perf_counter()
        for _ in range(requests):
            started = time.perf_counter()
            try:
                call(message, metadata=metadata, timeout=30)
            except grpc.RpcError:
                errors += 1
            latencies.append(time.perf_counter() - started)
    queue.put((latencies, errors, time.perf_counter() - began))


def load(url: str, path: str, body: bytes, headers: dict, clients: int, requests_per_client: int) -> dict:
    """`clients` processes, each with one keep-alive connection, send a fixed number of requests."""
    return _run(_client, (url, path, body, headers, requests_per_client), clients)


def grpc_load(address: str, method: str, message: bytes, metadata: tuple, clients: int, requests_per_client: int) -> dict:
    """The same over gRPC: `clients` processes, each with its own channel, send serialized `message`s."""
    return _run(_grpc_client, (address, method, message, metadata, requests_per_client), clients)


def _run(client, args: tuple, clients: int) -> dict:
    queue: mp.Queue = mp.Queue()
    workers = [mp.Process(target=client, args=(*args, queue)) for _ in range(clients)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(l for result, _, _ in results for l in result)
    return {
        "requests": len(latencies),
        "errors": sum(e for _, e, _ in results),
        "rps": len(latencies) / max(elapsed for _, _, elapsed in results),  # the clients' loops, not their start
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
