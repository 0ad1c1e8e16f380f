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

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the session; onnxruntime sessions are safe to call from several threads."""
        values = self.session.run(self.output_names, inputs)
        return dict(zip(self.output_names, values))
