"""The Prometheus multiprocess directory: emptied at each start, and only if it is Axon's.

Every worker writes its metric files there (counter_<pid>.db, gauge_livesum_<pid>.db, ...). Files
left by a previous run would be counted again, so the master empties it at start. A directory that
holds anything else (PROMETHEUS_MULTIPROC_DIR=/tmp, a volume with data) is not emptied: the
server refuses to start and says why. Standard library only (gunicorn's master imports it).
"""
from __future__ import annotations

import re
from pathlib import Path

MARKER = ".axon-metrics"  # written in a directory Axon has made its own
METRIC_FILE = re.compile(r"(counter|gauge_[a-z]+|histogram|summary)_\d+\.db")


class NotOurDirectory(RuntimeError):
    pass


def prepare_metrics_dir(path: str | Path) -> None:
    """Create or empty `path` for this run's metric files; NotOurDirectory if it holds other things."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    entries = list(directory.iterdir())
    ours = (directory / MARKER).is_file() or all(METRIC_FILE.fullmatch(e.name) and e.is_file() for e in entries)
    if not ours:
        others = sorted(e.name for e in entries if e.name != MARKER and not METRIC_FILE.fullmatch(e.name))
        raise NotOurDirectory(
            f"PROMETHEUS_MULTIPROC_DIR={directory} holds files that are not Axon's metrics "
            f"({', '.join(others[:5])}{', ...' if len(others) > 5 else ''}); it is emptied at every start, so "
            "point it at an empty directory of its own (the image uses /tmp/axon-metrics)")
    for entry in entries:
        if METRIC_FILE.fullmatch(entry.name):
            entry.unlink()
    (directory / MARKER).write_text("Prometheus metric files of an Axon server; emptied at every start.\n")
