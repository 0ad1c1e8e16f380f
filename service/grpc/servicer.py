"""inference.GRPCInferenceService: the six rpcs of the Open Inference Protocol, answered by the dataplane.

Each call is what the REST route does, with the same errors: an AxonError's HTTP status becomes its
gRPC code (STATUS_CODES) with the same message; any other exception is logged with its traceback and
answered INTERNAL with the request id only. The API key comes from `authorization: Bearer <key>`
metadata; the health rpcs (live, ready, model ready) need none, like /v2/health/*, unless AXON_AUTH_OPS.
Every call is counted and logged as a REST request is (hooks.account), with protocol "grpc".
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import grpc

from service import busy_workers
from service.api.errors import log_bug, log_refused, request_id_for
from service.api.hooks import account, key_accepted
from service.codecs import jsontext
from service.dataplane import SERVER_NAME, SERVER_VERSION, DataPlane
from service.errors import AxonError, Timeout, Unauthorized
from service.grpc import messages
from service.grpc.tensors import to_inference_request, to_infer_response
from service.metrics import Metrics
from service.settings import Settings

STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED, 404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED, 415: grpc.StatusCode.INVALID_ARGUMENT, 503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
HEALTH_RPCS = ("ServerLive", "ServerReady", "ModelReady")  # open without a key, as /v2/health/* is


@dataclass
class Call:
    """What one rpc found out that its metrics are labelled with: the model and version it used."""

    labels: tuple[str, str] = ("", "")


class InferenceService:
    def __init__(self, plane: DataPlane, settings: Settings, metrics: Metrics):
        self.plane, self.settings, self.metrics = plane, settings, metrics

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(messages.SERVICE, {
            name: grpc.unary_unary_rpc_method_handler(
                self._accounted(name), request_deserializer=request.FromString,
                response_serializer=response.SerializeToString)
            for name, (request, response) in messages.METHODS.items()})

    # --- the rpcs ------------------------------------------------------------------------

    def ServerLive(self, request: Any, context: grpc.ServicerContext, call: Call) -> Any:
        return messages.ServerLiveResponse(live=True)

    def ServerReady(self, request: Any, context: grpc.ServicerContext, call: Call) -> Any:
        return messages.ServerReadyResponse(ready=self.plane.ready())

    def ModelReady(self, request: Any, context: grpc.ServicerContext, call: Call) -> Any:
        self.plane.registry.state(request.name)  # an unknown model is NOT_FOUND, not "not ready"
        return messages.ModelReadyResponse(ready=self.plane.model_ready(request.name, request.version or None))

    def ServerMetadata(self, request: Any, context: grpc.ServicerContext, call: Call) -> Any:
        metadata = self.plane.server_metadata()
        return messages.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION,
                                               extensions=metadata["extensions"])

    def ModelMetadata(self, request: Any, context: grpc.ServicerContext, call: Call) -> Any:
        call.labels = self.plane.registry.get(request.name, request.version or None).labels
        found = self.plane.model_metadata(request.name, request.version or None)
        response = messages.ModelMetadataResponse(name=found["name"], versions=found["versions"], platform=found["platform"])
        for target, tensors in ((response.inputs, found["inputs"]), (response.outputs, found["outputs"])):
            for tensor in tensors:
                target.add(name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"])
        for key, value in found["parameters"].items():  # map<string, string>: JSON text for what is not a string
            response.properties[key] = value if isinstance(value, str) else jsontext.dumps(value).decode()
        return response

    def ModelInfer(self, request: Any, context: grpc.ServicerContext, call: Call) -> Any:
        call.labels = self.plane.registry.get(request.model_name, request.model_version or None).labels
        inference = to_inference_request(request)
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise Timeout("the call's deadline passed before inference started")
        response = self.plane.infer(request.model_name, request.model_version or None, inference)
        return to_infer_response(response, raw=bool(request.raw_input_contents))

    # --- around every rpc ----------------------------------------------------------------

    def _accounted(self, name: str) -> Callable[[Any, grpc.ServicerContext], Any]:
        rpc, path = getattr(self, name), f"/{messages.SERVICE}/{name}"
        response_class = messages.METHODS[name][1]
        needs_key = name not in HEALTH_RPCS or self.settings.auth_ops

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            metadata = dict(context.invocation_metadata())
            rid = request_id_for(metadata.get("x-request-id", ""))
            context.set_trailing_metadata((("x-request-id", rid),))
            status, call = 200, Call()
            self.metrics.in_flight.inc()
            try:
                if needs_key and self.settings.api_keys and not key_accepted(self.settings.api_keys, metadata.get("authorization", "")):
                    raise Unauthorized("missing or invalid API key: send 'authorization: Bearer <key>' metadata")
                with busy_workers.serving():
                    return rpc(request, context, call)
            except AxonError as exc:
                status = exc.status
                log_refused("GRPC", path, status, exc.message)
                context.set_code(STATUS_CODES.get(status, grpc.StatusCode.INTERNAL))
                context.set_details(exc.message)
            except Exception:  # noqa: BLE001 - a bug: logged with its traceback, answered without details
                status = 500
                context.set_code(grpc.StatusCode.INTERNAL)
                context.set_details(log_bug("GRPC", path, rid))
            finally:
                self.metrics.in_flight.dec()
                account(self.metrics, rid=rid, method="GRPC", path=path, endpoint=path, status=status,
                        seconds=time.perf_counter() - started, model=call.labels[0], version=call.labels[1],
                        bytes_in=request.ByteSize(), protocol="grpc")
            return response_class()

        return call
