"""One model's own directory as the repository (KServe's storage initializer writes it to /mnt/models),
served under AXON_MODEL_NAME."""
from __future__ import annotations

import shutil

from service.app import create_app
from service.repository import Repository
from service.settings import Settings

DIGIT = {"inputs": [{"name": "pixels", "shape": [1, 28, 28], "datatype": "FP32", "data": [0.0] * 784}]}


def test_a_model_directory_is_served_under_the_name_given(built_models, tmp_path):
    mounted = tmp_path / "mnt" / "models"
    shutil.copytree(built_models / "mnist", mounted)  # what the storage initializer leaves: config, labels, versions
    client = create_app(Settings(model_dir=mounted, model_name="digits", reload_interval_s=0)).test_client()
    assert client.get("/v2/health/ready").status_code == 200
    metadata = client.get("/v2/models/digits").json
    assert metadata["name"] == "digits" and metadata["versions"] == ["1", "2"]
    answer = client.post("/v2/models/digits/infer", json=DIGIT)
    assert answer.status_code == 200 and answer.json["model_name"] == "digits"
    assert client.get("/v2/models/mnist").status_code == 404
    assert [e["name"] for e in client.post("/v2/repository/index").json] == ["digits", "digits"]
    assert 'model="digits"' in client.get("/metrics").text


def test_without_a_name_the_config_names_it_and_a_repository_is_a_repository(built_models, tmp_path):
    shutil.copytree(built_models / "mnist", tmp_path / "one")
    assert Repository.at(tmp_path / "one").model_names() == ["mnist"]  # config.json's "name"
    assert Repository.at(tmp_path / "one", "digits").model_names() == ["digits"]
    assert Repository.at(tmp_path, "digits").model_names() == ["one"]  # a directory of models: each its own name
    assert set(Repository.at(built_models, "ignored").model_names()) >= {"mnist", "sentiment"}
