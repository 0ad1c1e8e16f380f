"""Protocol conformance with a client nobody here wrote: NVIDIA's tritonclient[http], JSON and binary."""
from __future__ import annotations

import base64

import numpy as np
import pytest

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

from tests.conftest import png_bytes  # noqa: E402
from training.photos import photo_bytes  # noqa: E402


@pytest.fixture(scope="module")
def client(server):
    triton = httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))
    yield triton
    triton.close()


def infer(client, model, name, array, datatype, binary_in, binary_out, version=""):
    tensor = httpclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary_in)
    output = httpclient.InferRequestedOutput("probabilities", binary_data=binary_out)
    result = client.infer(model, [tensor], model_version=version, outputs=[output], request_id="r-1")
    assert result.get_response()["id"] == "r-1"
    return result.as_numpy("probabilities")


def test_server_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    metadata = client.get_server_metadata()
    assert metadata["name"] == "axon" and "binary_tensor_data" in metadata["extensions"]


@pytest.mark.parametrize("model", ["mnist", "efficientnet_lite0", "sentiment", "yolov3", "nanodet", "minilm"])
def test_model_metadata_and_readiness(client, model):
    assert client.is_model_ready(model) and client.is_model_ready(model, "1")
    metadata = client.get_model_metadata(model)
    assert metadata["name"] == model and "1" in metadata["versions"]
    assert metadata["inputs"][0]["datatype"] in ("FP32", "INT32")


@pytest.mark.parametrize("binary_in, binary_out", [(False, False), (True, False), (False, True), (True, True)])
def test_mnist_fp32_tensors(client, heldout, binary_in, binary_out):
    digits, labels = heldout[0][:8].astype(np.float32) / 255.0, heldout[1][:8]
    probabilities = infer(client, "mnist", "pixels", digits, "FP32", binary_in, binary_out)
    assert probabilities.shape == (8, 10) and (probabilities.argmax(1) == labels).mean() >= 0.875


@pytest.mark.parametrize("binary", [False, True])
def test_lite0_encoded_images_as_bytes(client, binary):
    jpeg = photo_bytes("coffee.png")
    value = jpeg if binary else base64.b64encode(jpeg)  # JSON carries images as base64 text
    probabilities = infer(client, "efficientnet_lite0", "image", np.array([value], dtype=np.object_), "BYTES",
                          binary, binary, version="1")
    assert probabilities.shape == (1, 1000) and probabilities.argmax() == 967  # espresso


@pytest.mark.parametrize("version", ["", "1", "2", "3"])
@pytest.mark.parametrize("binary", [False, True])
def test_sentiment_texts_as_bytes(client, binary, version):
    texts = np.array(["I love this airline".encode(), "worst flight ever, so angry".encode()], dtype=np.object_)
    probabilities = infer(client, "sentiment", "text", texts, "BYTES", binary, binary, version=version)
    assert list(probabilities.argmax(1)) == [2, 0]


@pytest.mark.parametrize("binary", [False, True])
def test_embeddings_of_texts_and_of_their_token_ids(client, binary):
    texts = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply today."]
    tensor = httpclient.InferInput("text", [3], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_), binary_data=binary)
    result = client.infer("minilm", [tensor], outputs=[httpclient.InferRequestedOutput("embeddings", binary_data=binary)])
    vectors = result.as_numpy("embeddings")
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5) and vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    from preprocessing.transformer_text import TransformerTokenizer
    from tests.conftest import MODELS

    ids = TransformerTokenizer(MODELS / "minilm" / "1" / "tokenizer.json").encode_texts(texts).ids
    as_ids = httpclient.InferInput("input_ids", list(ids.shape), "INT32")
    as_ids.set_data_from_numpy(ids, binary_data=binary)
    again = client.infer("minilm", [as_ids]).as_numpy("embeddings")
    assert np.allclose(again, vectors, atol=1e-5)


def test_digit_png_through_binary_bytes(client, heldout):
    value = np.array([png_bytes(255 - heldout[0][0])], dtype=np.object_)
    probabilities = infer(client, "mnist", "image", value, "BYTES", True, True)
    assert probabilities.argmax() == heldout[1][0]


def test_errors_reach_the_client_with_their_status(client):
    digits = np.zeros((1, 27, 28), dtype=np.float32)
    with pytest.raises(InferenceServerException) as bad_shape:
        infer(client, "mnist", "pixels", digits, "FP32", True, True)
    assert bad_shape.value.status() == "400" and "expected shape" in bad_shape.value.message()
    with pytest.raises(InferenceServerException) as unknown:
        client.get_model_metadata("no_such_model")
    assert unknown.value.status() == "404"
    with pytest.raises(InferenceServerException) as bad_utf8:
        infer(client, "sentiment", "text", np.array([b"\xff\xfe"], dtype=np.object_), "BYTES", True, True)
    assert bad_utf8.value.status() == "400" and "UTF-8" in bad_utf8.value.message()
    assert not client.is_model_ready("no_such_model")


@pytest.mark.parametrize("model", ["yolov3", "nanodet"])
@pytest.mark.parametrize("binary", [False, True])
def test_detectors_take_encoded_images_and_give_boxes(client, model, binary):
    from training.photos import detection_photo_bytes

    photos = [detection_photo_bytes(name) for name in ("bus.jpg", "zidane.jpg")]
    values = np.array([p if binary else base64.b64encode(p) for p in photos], dtype=np.object_)
    tensor = httpclient.InferInput("image", [2], "BYTES")
    tensor.set_data_from_numpy(values, binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in ("boxes", "scores", "classes", "count")]
    result = client.infer(model, [tensor], outputs=outputs, parameters={"score_threshold": 0.3})
    boxes, scores, classes, count = (result.as_numpy(n) for n in ("boxes", "scores", "classes", "count"))
    assert count.dtype == np.int32 and count.shape == (2,) and count.min() >= 2
    assert boxes.shape == (2, count.max(), 4) and scores.shape == classes.shape == (2, count.max())
    assert 5 in classes[0, : count[0]] and (classes[1, : count[1]] == 0).sum() >= 1  # a bus; a person
    assert scores[0, : count[0]].min() >= 0.3 and boxes[1, : count[1], 2].max() <= 1280
