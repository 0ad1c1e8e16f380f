"""Prometheus metrics: defined once here, correct across gunicorn workers (multiprocess mode).

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set by service/gunicorn.conf.py before any
worker imports prometheus_client; every worker writes its own files there and /metrics
aggregates them all. Without it (tests, the batch script) the metrics live in-process.
"""
from __future__ import annotations

import os
from typing import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MAX_KEPT_CHILDREN = 10_000  # label sets whose metric children are kept (endpoints are route rules: few)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
PIXEL_BUCKETS = (28 * 28, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000,
                 12_000_000, 20_000_000, 40_000_000)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The metric objects. Created per app (registry=None), so building many apps in tests is safe."""

    def __init__(self) -> None:
        self.requests = Counter(
            "axon_requests", "requests by model, version, endpoint, status code (HTTP's, or the HTTP status of "
            "a gRPC call's error) and protocol (http, grpc)",
            ["model", "version", "endpoint", "code", "protocol"], registry=None,
        )
        self.request_seconds = Histogram(
            "axon_request_duration_seconds", "request latency, from routing to response, by endpoint and protocol",
            ["endpoint", "protocol"], buckets=LATENCY_BUCKETS, registry=None,
        )
        self.inference_seconds = Histogram(
            "axon_inference_duration_seconds", "onnxruntime session.run latency per call",
            ["model", "version"], buckets=LATENCY_BUCKETS, registry=None,
        )
        self.inference_items = Counter(
            "axon_inference_items", "items (images, digits, texts) inferred",
            ["model", "version"], registry=None,
        )
        self.in_flight = Gauge(
            "axon_requests_in_flight", "HTTP and gRPC requests being served now (all workers)",
            registry=None, multiprocess_mode="livesum",
        )
        self.model_load_seconds = Gauge(
            "axon_model_load_seconds", "time to load and warm up a model version (slowest worker)",
            ["model", "version"], registry=None, multiprocess_mode="max",
        )

        self.queue_wait_seconds = Histogram(
            "axon_batch_queue_wait_seconds", "time a request waited in its model's batching queue",
            ["model", "version"], buckets=LATENCY_BUCKETS, registry=None,
        )
        self.batch_size = Histogram(
            "axon_batch_size", "rows per merged onnxruntime call (dynamic batching)",
            ["model", "version"], buckets=(1, 2, 4, 8, 16, 32, 64), registry=None,
        )
        self.queue_depth = Gauge(
            "axon_batch_queue_depth", "requests waiting in batching queues (all workers)",
            ["model", "version"], registry=None, multiprocess_mode="livesum",
        )
        # What the models see and say (service/monitoring.py): a shift in what users send, or in how
        # sure the model is, shows here before anyone reports it.
        self.prediction_confidence = Histogram(
            "axon_prediction_confidence", "per item: the top class's probability (classifiers), each box's "
            "score (detectors)", ["model", "version"], buckets=CONFIDENCE_BUCKETS, registry=None,
        )
        self.predicted_classes = Counter(
            "axon_predicted_classes", "items (classifiers) and boxes (detectors) by predicted class; models "
            "with more than 100 classes by class-id range", ["model", "version", "class_name"], registry=None,
        )
        self.detections_per_image = Histogram(
            "axon_detections_per_image", "boxes found per image (detectors)", ["model", "version"],
            buckets=(0, 1, 2, 3, 5, 10, 20, 50, 100), registry=None,
        )
        self.input_pixels = Histogram(
            "axon_input_pixels", "decoded size of each image sent (width x height, EXIF-upright, before any "
            "resizing)", ["model", "version"], buckets=PIXEL_BUCKETS, registry=None,
        )
        self._request_children: dict[tuple, tuple] = {}
        self._inference_children: dict[tuple, tuple] = {}

    def all(self) -> list:
        return [self.requests, self.request_seconds, self.inference_seconds, self.inference_items,
                self.in_flight, self.model_load_seconds, self.queue_wait_seconds, self.batch_size, self.queue_depth,
                self.prediction_confidence, self.predicted_classes, self.detections_per_image, self.input_pixels]

    def observe_request(self, model: str, version: str, endpoint: str, status: int, seconds: float,
                        protocol: str = "http") -> None:
        """One request: counted by status, timed by endpoint. The labelled children are kept, as
        looking them up again costs more than the update itself (prometheus_client's labels())."""
        children = _kept(self._request_children, (model, version, endpoint, status, protocol), lambda: (
            self.requests.labels(model, version, endpoint, str(status), protocol),
            self.request_seconds.labels(endpoint, protocol)))
        children[0].inc()
        children[1].observe(seconds)

    def observe_inference(self, model: str, version: str, seconds: float, items: int) -> None:
        """One onnxruntime call: timed, and its items counted (the children kept, as for requests)."""
        children = _kept(self._inference_children, (model, version), lambda: (
            self.inference_seconds.labels(model, version), self.inference_items.labels(model, version)))
        children[0].observe(seconds)
        children[1].inc(items)

    def observe_batch(self, model: str, version: str, rows: int, waits: list[float], depth: int) -> None:
        for wait in waits:
            self.queue_wait_seconds.labels(model, version).observe(wait)
        self.batch_size.labels(model, version).observe(rows)
        self.queue_depth.labels(model, version).set(depth)

    def exposition(self) -> tuple[bytes, str]:
        """The /metrics body: every worker's values when multiprocess, else this process's."""
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)
        else:
            for metric in self.all():
                registry.register(metric)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _kept(cache: dict[tuple, tuple], key: tuple, make: Callable[[], tuple]) -> tuple:
    """The labelled children for a label set: made once and kept, up to MAX_KEPT_CHILDREN label sets."""
    children = cache.get(key)
    if children is None:
        children = make()
        if len(cache) < MAX_KEPT_CHILDREN:
            cache[key] = children
    return children
