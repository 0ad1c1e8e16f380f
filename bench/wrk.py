"""HTTP load with wrk (Debian's `wrk`, a C load generator that is not the bottleneck here): one
fixed POST body, N keep-alive connections for a fixed time; throughput, p50/p99 and errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# Reads the body and headers from the environment, and prints the summary as one JSON line.
SCRIPT = r"""
local file = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
for name, value in string.gmatch(os.getenv("WRK_HEADERS") or "", "([^:\n]+): ([^\n]*)") do
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "seconds": %.6f, "socket_errors": %d, "http_errors": %d, "p50_ms": %.4f, "p99_ms": %.4f}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
"""


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian), then run the bench again")
    return path


def run(url: str, body: bytes, headers: dict[str, str], clients: int, seconds: float) -> dict:
    """One wrk run: `clients` connections (over at most 2 threads) for `seconds`."""
    with tempfile.TemporaryDirectory() as tmp:
        script, body_file = Path(tmp) / "post.lua", Path(tmp) / "body"
        script.write_text(SCRIPT)
        body_file.write_bytes(body)
        env = {**os.environ, "WRK_BODY": str(body_file),
               "WRK_HEADERS": "\n".join(f"{name}: {value}" for name, value in headers.items())}
        command = [require_wrk(), "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
                   "--timeout", "10s", "-s", str(script), url]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    result = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / result["seconds"]
    result["errors"] = result["socket_errors"] + result["http_errors"]
    return result
