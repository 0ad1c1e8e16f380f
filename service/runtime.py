"""OnnxModel: one onnxruntime session, its I/O read from the session itself."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from preprocessing.onnx_session import cpu_session
from service import busy_workers


class OnnxModel:
    """max_tokens_per_run: a transformer's rows are run in parts of at most this many tokens (rows x
    sequence length), so that one request of 64 long texts cannot make attention's [rows, heads, L, L]
    buffers take gigabytes (measured: 64 x 256 tokens in one call, 1.9 GB resident per model with
    onnxruntime's arena; in parts of 4,096 tokens without the arena, 190 MB after and 410 MB at peak).
    Such sessions run without the arena: their buffers vary with the text lengths."""

    def __init__(self, path: Path, threads: int = 1, max_tokens_per_run: int | None = None, spinning: bool = True):
        # Threads that spin take cores from the other workers: a session with more threads than one
        # worker's share of the cores runs without spinning (registry.WIDE_RUN_MS).
        self.path = path
        self.session = cpu_session(str(path), threads, arena=max_tokens_per_run is None, spinning=spinning)
        self.threads = threads
        self.busy_session = None  # one thread, run instead while other requests are served (add_busy_session)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        # A graph exported for batch 1 only (NanoDet's TF.js graph reshapes with a fixed 1): run it row by row.
        self.batch_of_one = self.session.get_inputs()[0].shape[0] == 1
        self.max_tokens_per_run = max_tokens_per_run

    def add_busy_session(self) -> None:
        """A second session of the same graph with one thread, run while other requests are being served
        (service/busy_workers.py), so that a session with every core's threads runs only when the cores
        are idle. Its cost is the model's memory twice (ResNet50 fp32: +124 MB a worker)."""
        self.busy_session = cpu_session(str(self.path), 1, arena=self.max_tokens_per_run is None)

    def warm_up(self, inputs: dict[str, np.ndarray]) -> None:
        """One run of each session (onnxruntime allocates and tunes on the first)."""
        for session in filter(None, (self.session, self.busy_session)):
            session.run(self.output_names, inputs)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the session; onnxruntime sessions are safe to call from several threads."""
        first = next(iter(inputs.values()))
        rows = len(first)
        step = 1 if self.batch_of_one else rows
        if self.max_tokens_per_run and first.ndim == 2:
            step = max(1, min(step, self.max_tokens_per_run // max(1, first.shape[1])))
        if step < rows:
            parts = [self.run({name: value[i : i + step] for name, value in inputs.items()})
                     for i in range(0, rows, step)]
            return {name: np.concatenate([part[name] for part in parts]) for name in self.output_names}
        session = self.session
        if self.busy_session is not None and busy_workers.others_busy():
            session = self.busy_session
        values = session.run(self.output_names, inputs)
        return dict(zip(self.output_names, values))
