"""Hot reload: rescan the model repository every AXON_RELOAD_INTERVAL_S seconds, or when woken
(SIGHUP to a worker, see gunicorn.conf.py). Runs in a background thread of each worker.
"""
from __future__ import annotations

import logging
import threading

from service.registry import Registry

log = logging.getLogger(__name__)


class Reloader:
    def __init__(self, registry: Registry, interval_s: float):
        self.registry = registry
        self.interval_s = interval_s
        self.event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="model-reloader", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        """Rescan now (safe to call from a signal handler: it only sets an event)."""
        self.event.set()

    def _loop(self) -> None:
        while True:
            self.event.wait(self.interval_s or None)
            self.event.clear()
            try:
                self.registry.refresh()
            except Exception:  # noqa: BLE001 - a failed scan must not stop later ones
                log.exception("model repository rescan failed; serving what was loaded")
