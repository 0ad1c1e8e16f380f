"""create_app(): settings -> registry -> dataplane -> reloader -> blueprints -> error handlers -> hooks -> fast path.

gunicorn runs `service.app:create_app()`; each worker builds its own app (and its own
onnxruntime sessions) after the fork. Nothing happens at import time.
"""
from __future__ import annotations

from flask import Flask

from service import logs
from service.api import hooks, ops, v1, v2
from service.api.fast_path import FastPath
from service.api.common import AxonRequest
from service.api.errors import register_error_handlers
from service.codecs import jsontext
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
        registry = Registry(Repository(settings.model_dir), settings.ort_threads, on_loaded=record_load)
        registry.load_all()

    app = Flask("axon")
    app.request_class = AxonRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json = jsontext.FastJSONProvider(app)
    app.json.sort_keys = False
    app.extensions["axon.settings"] = settings
    app.extensions["axon.metrics"] = metrics
    app.extensions["axon.dataplane"] = DataPlane(registry, settings, metrics)
    app.extensions["axon.reloader"] = Reloader(registry, settings.reload_interval_s)

    for blueprint in (v2.bp, v1.bp, ops.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    hooks.install(app, settings, metrics)
    app.wsgi_app = FastPath(app.wsgi_app, app.extensions["axon.dataplane"], settings, metrics, app.json.dumps)
    return app
