"""python -m bench: run every benchmark, print tables, save JSON under bench/results/."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

from bench import mnist

RESULTS = Path(__file__).parent / "results"


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
    result = {"machine": machine(), "date": dt.date.today().isoformat(), "mnist": mnist.run()}
    print(f"Machine: {result['machine']}\n")
    print(mnist.table(result["mnist"]))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "mnist.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
