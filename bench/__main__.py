"""python -m bench [overhead] [memory] [grpc] [mnist] [images] [detection] [sentiment] [batching] [batch]: run benchmarks, print tables, save JSON under bench/results/."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

from bench import batch, batching, detection, grpc_vs_rest, images, memory, mnist, overhead, sentiment
from bench.harness import markdown

RESULTS = Path(__file__).parent / "results"
SUITES = {"overhead": overhead, "memory": memory, "grpc": grpc_vs_rest, "mnist": mnist, "images": images, "detection": detection, "sentiment": sentiment, "batching": batching, "batch": batch}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    only = set(sys.argv[1:]) or set(SUITES)
    RESULTS.mkdir(exist_ok=True)
    print(f"Machine: {machine()}")
    for name, suite in SUITES.items():
        if name not in only:
            continue
        results = suite.run()
        results = results if isinstance(results, list) else [results]
        for result in results:
            print("\n" + getattr(suite, "markdown", markdown)(result))
        path = RESULTS / f"{name}.json"
        record = {"machine": machine(), "date": dt.date.today().isoformat(), "results": results}
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
