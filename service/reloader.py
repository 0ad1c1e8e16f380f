"""Hot reload: rescan the model repository every AXON_RELOAD_INTERVAL_S seconds, or when woken
(SIGHUP to a worker, see gunicorn.conf.py). Runs in a background thread of each worker.

The thread holds the registry only weakly: an app that is dropped (tests build hundreds) frees its
models instead of keeping them alive through its reloader.
"""
from __future__ import annotations

import logging
import threading
import weakref

from service.registry import Registry

log = logging.getLogger(__name__)
IDLE_CHECK_S = 30.0  # with polling off, how often the thread looks whether its registry still exists


class Reloader:
    def __init__(self, registry: Registry, interval_s: float):
        self.interval_s = interval_s
        self.event = threading.Event()
        self.thread = threading.Thread(target=_rescan, args=(weakref.ref(registry), self.event, interval_s),
                                       name="model-reloader", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        """Rescan now (safe to call from a signal handler: it only sets an event)."""
        self.event.set()


def _rescan(registry_ref: weakref.ref, event: threading.Event, interval_s: float) -> None:
    while True:
        woken = event.wait(interval_s or IDLE_CHECK_S)
        event.clear()
        registry = registry_ref()
        if registry is None:
            return
        if woken or interval_s:
            try:
                registry.refresh()
            except Exception:  # noqa: BLE001 - a failed scan must not stop later ones
                log.exception("model repository rescan failed; serving what was loaded")
        del registry
