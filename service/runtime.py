"""OnnxModel: one onnxruntime session, its I/O read from the session itself."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from preprocessing.onnx_session import cpu_session


class OnnxModel:
    def __init__(self, path: Path, threads: int = 1):
        # Workers x intra-op threads must stay <= cores (ARCHITECTURE.md: oversubscription halves throughput).
        self.session = cpu_session(str(path), threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        # A graph exported for batch 1 only (NanoDet's TF.js graph reshapes with a fixed 1): run it row by row.
        self.batch_of_one = self.session.get_inputs()[0].shape[0] == 1

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the session; onnxruntime sessions are safe to call from several threads."""
        rows = len(next(iter(inputs.values())))
        if self.batch_of_one and rows > 1:
            parts = [self.run({name: value[i : i + 1] for name, value in inputs.items()}) for i in range(rows)]
            return {name: np.concatenate([part[name] for part in parts]) for name in self.output_names}
        values = self.session.run(self.output_names, inputs)
        return dict(zip(self.output_names, values))
