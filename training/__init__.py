"""Training and export: TensorFlow/Keras models -> ONNX in models/."""
