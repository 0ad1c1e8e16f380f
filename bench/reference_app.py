"""A REFERENCE, not part of the service: the bare Flask + onnxruntime app that Axon's overhead is
measured against (`make bench`, bench/overhead.py). No validation, metrics, logs, ids or keys.

    REFERENCE_MODEL=models/mnist/2/model.onnx gunicorn -w 2 'bench.reference_app:app'
"""
import io
import os

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request
from PIL import Image

options = ort.SessionOptions()
options.intra_op_num_threads = int(os.environ.get("REFERENCE_THREADS", "1"))
session = ort.InferenceSession(os.environ["REFERENCE_MODEL"], options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
app = Flask(__name__)


@app.post("/v2/models/<name>/infer")
def infer(name):
    tensor = request.get_json()["inputs"][0]
    batch = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    output = session.run(None, {input_name: batch})[0]
    return jsonify(model_name=name, outputs=[
        {"name": "probabilities", "shape": list(output.shape), "datatype": "FP32", "data": output.ravel().tolist()}])


@app.post("/v1/models/<name>:predict")
def predict(name):
    image = Image.open(io.BytesIO(request.get_data())).convert("L").resize((28, 28))
    probabilities = session.run(None, {input_name: np.asarray(image, np.float32)[None] / 255.0})[0][0]
    top = np.argsort(probabilities)[::-1][:3]
    return jsonify(predictions=[[{"label": str(i), "probability": float(probabilities[i])} for i in top]])
