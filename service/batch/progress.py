"""Progress: a bar with items/s and ETA on a terminal, a plain line every few seconds otherwise."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO = sys.stderr, every_s: float = 5.0):
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s
        self.started = time.perf_counter()
        self.last = 0.0
        self.count = self.failed = 0

    def update(self, done: int, failed: int) -> None:
        self.count += done
        self.failed += failed
        now = time.perf_counter()
        if not self.tty and now - self.last < self.every_s and self.count < self.total:
            return
        self.last = now
        elapsed = now - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.count) / rate if rate > 0 else float("inf")
        share = self.count / self.total if self.total else 1.0
        figures = f"{self.count}/{self.total} ({share:.0%}) {rate:.1f} items/s ETA {_clock(eta)} failed {self.failed}"
        if self.tty:
            bar = "#" * int(share * 30)
            self.stream.write(f"\r[{bar:<30}] {figures}")
            if self.count >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"progress: {figures}\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:d}:{secs:02d}"
