"""The OpenAPI 3 document of every route, built from the served models (so it never drifts)."""
from __future__ import annotations

from typing import Any

ERROR_STATUSES = {
    "400": "Invalid input",
    "401": "Missing or invalid API key (when AXON_API_KEYS is set; an admin key for model control)",
    "403": "Model control is off (AXON_ADMIN_KEYS is not set)",
    "404": "Unknown model or version",
    "413": "Body, batch, image or text over its limit",
    "415": "Unsupported content type",
    "503": "Model or version not loadable, or overloaded (Retry-After)",
    "504": "Timed out waiting for its batch (model control: a worker did not confirm)",
}
OBJECT = {"type": "object", "additionalProperties": True}
TENSOR_DATA = {"description": "row-major values, flat or nested; BYTES: strings (images base64-encoded)"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: str, schema: dict, *errors: str) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": ok, "content": _json(schema)}}
    for status in ("400", "401", "403", "404", "413", "415", "503", "504"):
        if status in errors:
            responses[status] = {"description": ERROR_STATUSES[status], "content": _json(_ref("Error"))}
    return responses


def _operation(summary: str, ok: str, schema: dict, *errors: str, params: list | None = None,
               body: dict | None = None, optional_body: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": _responses(ok, schema, *errors)}
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = {"required": not optional_body, "content": body}
    return operation


def _readiness(summary: str, *errors: str, params: list | None = None) -> dict[str, Any]:
    """Readiness answers {"ready": ...} both ways: 200 when ready, 503 when not."""
    operation = _operation(summary, "Ready", _ref("Ready"), *errors, params=params)
    operation["responses"]["503"] = {"description": "Not ready", "content": _json(_ref("Ready"))}
    return operation


def build(models: list[str]) -> dict[str, Any]:
    model = {"name": "model", "in": "path", "required": True,
             "schema": {"type": "string", **({"enum": models} if models else {})}}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
    top_k = {"name": "top_k", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1},
             "description": "classifiers: labels per prediction"}
    detection = [{"name": name, "in": "query", "required": False, "schema": schema, "description": "detectors"}
                 for name, schema in (("score_threshold", {"type": "number", "minimum": 0, "maximum": 1}),
                                      ("iou_threshold", {"type": "number", "minimum": 0, "maximum": 1}),
                                      ("max_detections", {"type": "integer", "minimum": 1, "maximum": 1000}))]
    drawn = {"name": "format", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json", "png"]},
             "description": "detectors: png answers the image with its boxes drawn"}
    model_errors = ("401", "404", "503")
    infer_errors = ("400", "401", "404", "413", "415", "503", "504")
    binary = {"type": "string", "format": "binary"}
    predict_body = {
        "application/json": {"schema": _ref("PredictRequest")},
        "multipart/form-data": {"schema": {"type": "object", "properties": {"file": binary}}},
        "image/*": {"schema": binary},
        "text/plain": {"schema": {"type": "string"}},
    }
    paths: dict[str, Any] = {
        "/v2/health/live": {"get": _operation("Liveness", "The process answers", _ref("Live"))},
        "/v2/health/ready": {"get": _readiness("Readiness: every model loaded and warmed")},
        "/v2": {"get": _operation("Server metadata", "Server metadata", _ref("ServerMetadata"), "401")},
        "/metrics": {"get": {"summary": "Prometheus metrics, all workers", "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    }
    for prefix, params in (("/v2/models/{model}", [model]), ("/v2/models/{model}/versions/{version}", [model, version])):
        paths[prefix] = {"get": _operation("Model metadata", "Model metadata", _ref("ModelMetadata"), *model_errors,
                                           params=params)}
        paths[prefix + "/ready"] = {"get": _readiness("Model readiness", "401", "404", params=params)}
        for suffix, media, what in (("/card", "text/html", "one HTML page, plots inline"),
                                    ("/card.md", "text/markdown", "Markdown")):
            card = _operation(f"Model card ({what}): data, training curves, evaluation, calibration, latency, "
                              "limits", "The model card", {"type": "string"}, *model_errors, params=params)
            card["responses"]["200"]["content"] = {media: {"schema": {"type": "string"}}}
            paths[prefix + suffix] = {"get": card}
        paths[prefix + "/infer"] = {"post": _operation(
            "Open Inference Protocol infer (JSON; the binary tensor extension with Inference-Header-Content-Length)",
            "Inference response", _ref("InferenceResponse"), *infer_errors, params=params,
            body=_json(_ref("InferenceRequest")))}
    paths["/v2/repository/index"] = {"post": _operation(
        "Repository index: every model and version with its state", "The index",
        {"type": "array", "items": _ref("RepositoryEntry")}, "400", "401", optional_body=True,
        body=_json({"type": "object", "properties": {"ready": {"type": "boolean"}}}))}
    any_model = {**model, "schema": {"type": "string"}}  # an unloaded model is not among the served ones
    for action, summary in (("load", "Load a model in every worker"), ("unload", "Unload a model from every worker")):
        paths[f"/v2/repository/models/{{model}}/{action}"] = {"post": _operation(
            f"{summary} (admin key)", "Every worker did it", _ref("ModelControl"), "400", "401", "403", "404", "503",
            "504", params=[any_model], optional_body=True, body=_json(OBJECT))}
    for prefix, params in (("/v1/models/{model}", [model]), ("/v1/models/{model}/versions/{version}", [model, version])):
        paths[prefix] = {"get": _operation("TF Serving model status", "Model status", _ref("ModelStatus"),
                                           *model_errors, params=params)}
        predict = _operation(
            "Predict: TF Serving JSON (instances / inputs), multipart upload, raw image or text body",
            "Predictions", _ref("PredictResponse"), *infer_errors, params=[*params, top_k, *detection, drawn],
            body=predict_body)
        predict["responses"]["200"]["content"]["image/png"] = {"schema": binary}
        paths[prefix + ":predict"] = {"post": predict}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Axon", "version": "0.1.0",
                 "description": "CPU model serving: Open Inference Protocol (V2), TF Serving REST (V1), uploads."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    tensor_head = {"name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                   "datatype": {"type": "string"}, "parameters": OBJECT}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "Live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
        "Ready": {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}},
        "ServerMetadata": {"type": "object", "required": ["name", "version", "extensions"], "properties": {
            "name": {"type": "string"}, "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}}}},
        "TensorMetadata": {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
            "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}}}},
        "ModelMetadata": {"type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"], "properties": {
            "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": _ref("TensorMetadata")},
            "outputs": {"type": "array", "items": _ref("TensorMetadata")}, "parameters": OBJECT}},
        "RepositoryEntry": {"type": "object", "required": ["name", "state"], "properties": {
            "name": {"type": "string"}, "version": {"type": "string"},
            "state": {"type": "string", "enum": ["READY", "UNAVAILABLE"]}, "reason": {"type": "string"}}},
        "ModelControl": {"type": "object", "required": ["name", "state", "workers"], "properties": {
            "name": {"type": "string"}, "state": {"type": "string"},
            "workers": {"type": "object", "description": "each worker's pid: the model's state there",
                        "additionalProperties": OBJECT}}},
        "ModelStatus": {"type": "object", "required": ["model_version_status"], "properties": {
            "model_version_status": {"type": "array", "items": OBJECT}}},
        "RequestInput": {"type": "object", "required": ["name", "shape", "datatype"],
                         "properties": {**tensor_head, "data": TENSOR_DATA}},
        "InferenceRequest": {"type": "object", "required": ["inputs"], "properties": {
            "id": {"type": "string"}, "parameters": OBJECT,
            "inputs": {"type": "array", "minItems": 1, "items": _ref("RequestInput")},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "parameters": OBJECT}}}}},
        "InferenceResponse": {"type": "object", "required": ["model_name", "outputs"], "properties": {
            "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
            "parameters": OBJECT,
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name", "shape", "datatype"],
                                                   "properties": {**tensor_head, "data": {"type": "array"}}}}}},
        "PredictRequest": {"type": "object", "properties": {
            "instances": {"type": "array", "description": 'texts, (nested) lists of numbers, or {"b64": "..."}'},
            "inputs": {"description": "columnar: a list, or {input name: list}"},
            "signature_name": {"type": "string"}, "parameters": OBJECT}},
        "Prediction": {"oneOf": [_ref("Classification"), _ref("Detections"), _ref("Ranked")]},
        "Ranked": {"type": "object", "required": ["ranked"], "description": "sentence embeddings with "
                   "parameters.candidates: the candidates by cosine similarity, highest first", "properties": {
            "ranked": {"type": "array", "items": {"type": "object", "required": ["candidate", "index", "score"],
                                                  "properties": {"candidate": {"type": "string"},
                                                                 "index": {"type": "integer"},
                                                                 "score": {"type": "number"}}}},
            "truncated": OBJECT}},
        "Detections": {"type": "object", "required": ["detections"], "properties": {"detections": {
            "type": "array", "items": {"type": "object", "required": ["label", "class_id", "score", "box"], "properties": {
                "label": {"type": "string"}, "class_id": {"type": "integer"}, "score": {"type": "number"},
                "box": {"type": "object", "required": ["x_min", "y_min", "x_max", "y_max"],
                        "properties": {k: {"type": "number"} for k in ("x_min", "y_min", "x_max", "y_max")}}}}}}},
        "Classification": {"type": "object", "required": ["label", "class_id", "probability"], "properties": {
            "label": {"type": "string"}, "class_id": {"type": "integer"}, "probability": {"type": "number"},
            "top_k": {"type": "array", "items": OBJECT}, "probabilities": OBJECT,
            "truncated": {"type": "object", "description": "the text was longer than the model reads: "
                                                           "its tokens, and how many were kept"}}},
        "PredictResponse": {"type": "object", "oneOf": [{"required": ["predictions"]}, {"required": ["embeddings"]}],
                            "properties": {
            "predictions": {"type": "array", "items": _ref("Prediction")},
            "embeddings": {"type": "array", "description": "sentence embeddings: one unit vector per text",
                           "items": {"type": "array", "items": {"type": "number"}}},
            "truncated": {"type": "object", "description": "texts longer than the model reads: which, and how long"},
            "model_name": {"type": "string"}, "model_version": {"type": "string"}, "warning": {"type": "string"}}},
    }
