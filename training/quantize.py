"""int8 for CNNs on x86 CPUs: static QDQ, per-channel, activations QUInt8, weights QInt8 (U8S8),
after quant_pre_process, MinMax calibration on real photos, Softmax left in float.

Measured here (ARCHITECTURE.md): dynamic quantization is 5x slower, S8S8 slower than fp32,
reduce_range and Entropy calibration worse; quantizing the Softmax hurts top-5.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def quantize_int8(fp32_onnx: bytes, input_name: str, calibration: np.ndarray,
                  exclude_op_types: tuple[str, ...] = ("Softmax",)) -> bytes:
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration[i : i + 1] for i in range(len(calibration)))

        def get_next(self):
            item = next(self.items, None)
            return None if item is None else {input_name: item}

    with tempfile.TemporaryDirectory() as tmp:
        fp32_path, pre_path, int8_path = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        fp32_path.write_bytes(fp32_onnx)
        quant_pre_process(str(fp32_path), str(pre_path))
        excluded = [node.name for node in onnx.load(str(pre_path)).graph.node if node.op_type in exclude_op_types]
        quantize_static(
            str(pre_path), str(int8_path), Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=excluded,
        )
        return int8_path.read_bytes()


CLEAR_MARGIN = 0.1


def agreement(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Top-1 agreement and mean top-5 overlap of two probability matrices.

    Also the top-1 agreement on the images the reference decides clearly (its top-1 beats its
    top-2 by >= CLEAR_MARGIN): on near-ties any perturbation flips top-1, quantized or not.
    """
    same = reference.argmax(1) == candidate.argmax(1)
    ranked = np.sort(reference, axis=1)
    clear = ranked[:, -1] - ranked[:, -2] >= CLEAR_MARGIN
    ref5 = np.argsort(-reference, axis=1)[:, :5]
    cand5 = np.argsort(-candidate, axis=1)[:, :5]
    overlap = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ref5, cand5)]))
    return {
        "top1_agreement": round(float(same.mean()), 4),
        "top5_overlap": round(overlap, 4),
        "images": int(len(reference)),
        "top1_agreement_clear": round(float(same[clear].mean()), 4) if clear.any() else None,
        "clear_images": int(clear.sum()),
    }
