"""Axon serving: Flask + gunicorn + onnxruntime. Never imports TensorFlow."""
