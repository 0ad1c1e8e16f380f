"""KServe objects checked strictly, offline, against KServe's own Python SDK models.

No package on PyPI or npm ships KServe's CRD schemas (searched: kserve's wheel and sdist, the npm
registry; the CRDs live in its GitHub repository and Helm chart, which are not reachable here). Its
SDK (`kserve` on PyPI) is generated from the same OpenAPI definitions: each model class names its
fields, their JSON keys, their types and the required ones. Those classes are read from the pinned
wheel's source, never imported (the SDK pulls in FastAPI, Kubernetes' client and more), and a
manifest is walked against them: an unknown key, a wrong type or a missing required field fails.
The Kubernetes types inside (V1ObjectMeta, V1Container) are collected and validated strictly with
kubernetes-validate, embedded in the core object that holds them.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from training.sources import Archive, Member, fetch

SDK_MODELS = {  # the classes a ServingRuntime and an InferenceService are walked through
    "v1alpha1_serving_runtime": "a18a2969abfbdfc4e2194bfd4bb428518f5eb29b5b07ac807582d02c0db80775",
    "v1alpha1_serving_runtime_spec": "30647644882386890aabf6e73a464c57c60b2c7ed0957a6070122bbaba0256be",
    "v1alpha1_supported_model_format": "dea2afd3520358aecdd9fac65eeecb288e89bf140149787f39193def711c3866",
    "v1beta1_inference_service": "161620737c6097b9d37f2bdfde41df35e11d5f73a6ffd38a3328f9e38ddaeca5",
    "v1beta1_inference_service_spec": "f21d73fcb54bd51c91d20e99dea3b9a228f322fb835ba4804b73ca20e73eade8",
    "v1beta1_predictor_spec": "efbdc63532875d3271895a73f61ab98d0d0f128efacef5cd02682cbc6c9eb6d7",
    "v1beta1_model_spec": "634acb4e0bc1558bf9ecd7d51d25dc79068b7feb2461ae093112951ce6b428b3",
    "v1beta1_model_format": "baa09b48334f15544cbd325c4965be56a248864180a7a5c6adee3f3a28417dae",
}
KSERVE_SDK = Archive(name="kserve-sdk-0.21.0", spec="kserve==0.21.0", tool="pip", licence="Apache-2.0",
                     members={f"{name}.py": Member(f"kserve/models/{name}.py", sha) for name, sha in SDK_MODELS.items()})
KINDS = {("serving.kserve.io/v1alpha1", "ServingRuntime"): "V1alpha1ServingRuntime",
         ("serving.kserve.io/v1beta1", "InferenceService"): "V1beta1InferenceService"}
# Kubernetes types met inside, and the core object each is validated in: (kind, where it goes)
CORE_HOLDERS = {"V1ObjectMeta": ("ConfigMap", "metadata"), "V1Container": ("Pod", "container")}


class Model:
    def __init__(self, types: dict[str, str], keys: dict[str, str], required: set[str]):
        self.types, self.keys, self.required = types, keys, required


def load_models() -> dict[str, Model]:
    models = {}
    for path in fetch(KSERVE_SDK).values():
        for node in ast.parse(Path(path).read_text()).body:
            if isinstance(node, ast.ClassDef):
                models[node.name] = _model(node)
    return models


def _model(node: ast.ClassDef) -> Model:
    values = {target.id: ast.literal_eval(statement.value) for statement in node.body
              if isinstance(statement, ast.Assign) for target in statement.targets
              if isinstance(target, ast.Name) and target.id in ("openapi_types", "attribute_map")}
    source = ast.unparse(node)
    required = set(re.findall(r"Invalid value for `(\w+)`, must not be `None`", source))
    return Model(values["openapi_types"], values["attribute_map"], required)


def validate(document: dict, models: dict[str, Model]) -> tuple[list[str], list[dict]]:
    """(the problems found, the core Kubernetes objects to validate with kubernetes-validate)."""
    kind = KINDS.get((document.get("apiVersion"), document.get("kind")))
    if kind is None:
        return [f"not a KServe object this checks: {document.get('apiVersion')} {document.get('kind')}"], []
    problems: list[str] = []
    core: list[dict] = []
    _walk(document, kind, document.get("kind", ""), models, problems, core)
    return problems, core


def _walk(value: Any, type_name: str, where: str, models: dict[str, Model], problems: list[str], core: list[dict]) -> None:
    if type_name.startswith("list["):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _walk(item, type_name[5:-1], f"{where}[{index}]", models, problems, core)
        return
    if type_name.startswith("dict("):
        inner = type_name[5:-1].split(", ", 1)[1]
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, got {type(value).__name__}")
            return
        for key, item in value.items():
            _walk(item, inner, f"{where}.{key}", models, problems, core)
        return
    primitive = {"str": str, "bool": bool, "int": int, "float": (int, float), "object": object}.get(type_name)
    if primitive is not None:
        if not isinstance(value, primitive) or (primitive is int and isinstance(value, bool)):
            problems.append(f"{where}: expected {type_name}, got {value!r}")
        return
    if type_name in CORE_HOLDERS:
        core.append(_held(type_name, value))
        return
    model = models.get(type_name)
    if model is None:
        problems.append(f"{where}: type {type_name} is not among the pinned SDK models (add its file to SDK_MODELS)")
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object ({type_name}), got {type(value).__name__}")
        return
    by_key = {key: attribute for attribute, key in model.keys.items()}
    for key, item in value.items():
        attribute = by_key.get(key)
        if attribute is None:
            problems.append(f"{where}: unknown field {key!r} for {type_name}")
            continue
        _walk(item, model.types[attribute], f"{where}.{key}", models, problems, core)
    for attribute in model.required:
        if model.keys[attribute] not in value:
            problems.append(f"{where}: the required field {model.keys[attribute]!r} is missing")


def _held(type_name: str, value: Any) -> dict:
    kind, place = CORE_HOLDERS[type_name]
    if place == "metadata":
        return {"apiVersion": "v1", "kind": kind, "metadata": value}
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "holder"}, "spec": {"containers": [value]}}
