"""Median timing over repeats: what training records in metadata and bench/ prints."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_call_seconds(call: Callable[[], object], calls: int, repeats: int = 5) -> float:
    """Median over `repeats` of the mean time of `calls` back-to-back calls (after one warm-up)."""
    call()
    means = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        means.append((time.perf_counter() - started) / calls)
    return statistics.median(means)
