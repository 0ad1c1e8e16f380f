"""create_app(): settings -> registry (and model control) -> dataplane -> reloader -> blueprints -> error handlers -> hooks -> fast path.

gunicorn runs `service.app:create_app()`; each worker builds its own app (and its own
onnxruntime sessions) after the fork. Nothing happens at import time.
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from service import logs
from service.api import hooks, ops, page, repository, v1, v2
from service.api.fast_path import FastPath
from service.api.common import AxonRequest
from service.api.errors import register_error_handlers
from service.codecs import jsontext
from service.control import ModelControl
from service.dataplane import DataPlane
from service.metrics import Metrics
from service.registry import LoadedModel, Registry
from service.reloader import Reloader
from service.repository import Repository
from service.settings import Settings

def create_app(settings: Settings | None = None, registry: Registry | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    metrics = Metrics()

    def record_load(model: LoadedModel, seconds: float) -> None:
        metrics.model_load_seconds.labels(*model.labels).set(seconds)

    if registry is None:
        registry = Registry(Repository.at(settings.model_dir, settings.model_name), settings.ort_threads,
                            on_loaded=record_load)
        control_dir = os.environ.get("AXON_CONTROL_DIR")  # shared by one server's workers (gunicorn.conf.py)
        control = ModelControl(registry, Path(control_dir) if control_dir else None)  # unloads hold from the start
        registry.load_all()
    else:
        control = ModelControl(registry, None)
    control.start_watching()

    app = Flask("axon")
    app.request_class = AxonRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json = jsontext.FastJSONProvider(app)
    app.json.sort_keys = False
    app.extensions["axon.settings"] = settings
    app.extensions["axon.metrics"] = metrics
    app.extensions["axon.dataplane"] = DataPlane(registry, settings, metrics)
    app.extensions["axon.reloader"] = Reloader(registry, settings.reload_interval_s)
    app.extensions["axon.control"] = control

    for blueprint in (v2.bp, v1.bp, repository.bp, ops.bp, page.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    hooks.install(app, settings, metrics)
    app.wsgi_app = FastPath(app.wsgi_app, app.extensions["axon.dataplane"], settings, metrics, app.json.dumps)
    return app
