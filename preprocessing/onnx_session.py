"""onnxruntime session options, shared by export verification (training) and serving (service), so
that the figures measured before a model is written are the figures of the model as served.

`session.x64quantprecision`: on x86 CPUs without VNNI (AVX2, or AVX-512 without VNNI), onnxruntime's
fast U8S8 int8 kernels add pairs of u8 x s8 products in 16 bits and saturate. Measured on such a CPU
(AMD EPYC, AVX2 only), EfficientNet-Lite0 int8 agreed with fp32 on 0.59 of the held-out photo variants
(0.81 of the clear ones) with the fast kernels and on 0.79 (1.00) with this option, which costs speed
there (7.6 -> 10.9 ms at batch 1, 1 thread; fp32 12.3 ms). On VNNI CPUs it changes nothing.
"""
from __future__ import annotations

import onnxruntime as ort


def session_options(threads: int = 1, arena: bool = True, spinning: bool = True) -> ort.SessionOptions:
    """spinning=False: the intra-op threads sleep between runs instead of spinning, so that a session
    with more threads than are idle does not take cores from the other workers' runs."""
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = arena
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.x64quantprecision", "1")  # correct int8 on every x86 CPU
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def cpu_session(model: str | bytes, threads: int = 1, arena: bool = True, spinning: bool = True) -> ort.InferenceSession:
    """An onnxruntime CPU session from a path or serialized ONNX bytes. arena=False: memory goes back
    after each call instead of staying reserved for the largest call seen."""
    return ort.InferenceSession(model, session_options(threads, arena, spinning), providers=["CPUExecutionProvider"])
