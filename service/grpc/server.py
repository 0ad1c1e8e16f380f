"""The V2 gRPC server that runs beside HTTP in each gunicorn worker (AXON_GRPC_PORT, default 8081).

Every worker binds the same port with SO_REUSEPORT, and the kernel spreads new connections over them,
as it spreads HTTP connections over the workers' shared socket; each worker serves its own connections
with its own models, in AXON_GRPC_THREADS threads. A message over AXON_MAX_REQUEST_BYTES is refused
(RESOURCE_EXHAUSTED), like a REST body over it (413), and so are calls beyond QUEUED_PER_THREAD per
thread waiting in one worker.

The standard health service (grpc.health.v1) answers for "" and for inference.GRPCInferenceService:
SERVING while the worker's models are ready, NOT_SERVING before that and once the worker is stopping,
for Kubernetes' gRPC probes. On SIGTERM, `stop` refuses new calls and lets the ones in flight finish
within the grace period (AXON_GRACEFUL_TIMEOUT).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from service.dataplane import DataPlane
from service.grpc import messages
from service.grpc.servicer import InferenceService
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger("axon.grpc")
# Calls a worker holds at once, running or waiting for a thread; more are refused RESOURCE_EXHAUSTED
# at once (as REST's full queues answer 503), so that many large messages cannot pile up in memory.
QUEUED_PER_THREAD = 4


class ReadinessHealth(health.HealthServicer):
    """grpc.health.v1 Check, answered from the models' readiness at the time of the call."""

    def __init__(self, plane: DataPlane):
        super().__init__()
        self.plane, self.stopping = plane, False

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.service not in ("", messages.SERVICE):
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        serving = self.plane.ready() and not self.stopping
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING if serving
                                              else health_pb2.HealthCheckResponse.NOT_SERVING)


class GrpcServer:
    def __init__(self, plane: DataPlane, settings: Settings, metrics: Metrics, host: str):
        self.port = settings.grpc_port
        self.server = grpc.server(
            ThreadPoolExecutor(settings.grpc_threads, thread_name_prefix="axon-grpc"),
            maximum_concurrent_rpcs=QUEUED_PER_THREAD * settings.grpc_threads,
            options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", settings.max_request_bytes),
                     ("grpc.max_send_message_length", -1)])
        self.server.add_generic_rpc_handlers([InferenceService(plane, settings, metrics).handler()])
        self.health = ReadinessHealth(plane)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.address = f"{'[::]' if host in ('', '0.0.0.0', '::') else host}:{self.port}"
        self.stopped = None

    def start(self) -> None:
        try:
            self.server.add_insecure_port(self.address)
        except RuntimeError as exc:
            raise RuntimeError(f"cannot serve gRPC on {self.address} (AXON_GRPC_PORT; 0 turns gRPC off): {exc}") from None
        self.server.start()
        for service in ("", messages.SERVICE):  # what Watch streams (Check asks the models each time)
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving V2 gRPC on %s", self.address)

    def stop(self, grace_s: float) -> None:
        """Refuse new calls from now on; the calls in flight have `grace_s` to finish."""
        if self.stopped is None:
            self.health.stopping = True
            self.health.enter_graceful_shutdown()
            self.stopped = self.server.stop(grace_s)

    def wait_stopped(self, timeout_s: float) -> None:
        if self.stopped is not None:
            self.stopped.wait(timeout_s)


def serve(app: Any, host: str) -> GrpcServer:
    """Start the gRPC server of the worker whose Flask app this is."""
    settings: Settings = app.extensions["axon.settings"]
    server = GrpcServer(app.extensions["axon.dataplane"], settings, app.extensions["axon.metrics"], host)
    server.start()
    return server
