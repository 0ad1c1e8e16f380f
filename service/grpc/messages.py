"""The Open Inference Protocol's gRPC messages (package `inference`, KServe's grpc_predict_v2).

They come from the compiled proto that the `open-inference-grpc` package ships (the Open Inference
Protocol working group's own build of open_inference_grpc.proto, pinned in pyproject.toml). Its
module registers the messages in protobuf's default pool, where tritonclient's grpc_service.proto
registers the same names (inference.ModelInferRequest, ...): the two cannot be imported into one
process. So the compiled file is read from that module's source, without running it, and loaded
into a pool of Axon's own.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SOURCE_MODULE = "open_inference.grpc.protocol"
SERVICE = "inference.GRPCInferenceService"


def _compiled_proto() -> descriptor_pb2.FileDescriptorProto:
    spec = importlib.util.find_spec(SOURCE_MODULE)
    if spec is None or spec.origin is None:
        raise ImportError(f"{SOURCE_MODULE} is missing: pip install open-inference-grpc")
    for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "AddSerializedFile"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, bytes)):
            return descriptor_pb2.FileDescriptorProto.FromString(node.args[0].value)
    raise ImportError(f"{spec.origin} holds no compiled proto")


_FILE = _compiled_proto()
POOL = descriptor_pool.DescriptorPool()
POOL.Add(_FILE)
_CLASSES = message_factory.GetMessageClassesForFiles([_FILE.name], POOL)


def message(name: str) -> type:
    """A message class by its short name: message("ModelInferRequest")."""
    return _CLASSES[f"inference.{name}"]


ServerLiveRequest, ServerLiveResponse = message("ServerLiveRequest"), message("ServerLiveResponse")
ServerReadyRequest, ServerReadyResponse = message("ServerReadyRequest"), message("ServerReadyResponse")
ModelReadyRequest, ModelReadyResponse = message("ModelReadyRequest"), message("ModelReadyResponse")
ServerMetadataRequest, ServerMetadataResponse = message("ServerMetadataRequest"), message("ServerMetadataResponse")
ModelMetadataRequest, ModelMetadataResponse = message("ModelMetadataRequest"), message("ModelMetadataResponse")
ModelInferRequest, ModelInferResponse = message("ModelInferRequest"), message("ModelInferResponse")
InferTensorContents = message("InferTensorContents")
# rpc name -> (request, response): the methods Axon serves, as the proto's service declares them
METHODS = {method.name: (_CLASSES[method.input_type.lstrip(".")], _CLASSES[method.output_type.lstrip(".")])
           for service in _FILE.service for method in service.method}
