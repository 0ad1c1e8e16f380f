"""The batch script's pipeline parts: chunk preparation, chunk sizes, the shared-memory fallback,
and what happens when a helper process dies or the output cannot be written."""
from __future__ import annotations

import json
import logging
import os
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from service.batch import decoding, runner
from service.batch.backends import LocalBackend
from service.codecs.predictions import Labeller
from service.batch.decoding import prepare_chunk
from service.batch.items import Item
from service.batch.output import WriterProcess, resume
from service.settings import Settings


class Fussy:
    """A preparer that refuses 'bad' values, in a batch or alone; picklable for the workers."""

    group_size = 4
    item_shape = (2,)
    dtype = np.dtype(np.float32)

    def prepare(self, value):
        if value == "bad":
            raise ValueError("bad value")
        if value == "die":
            os._exit(3)
        return np.full((1, 2), float(len(value)), np.float32)

    def prepare_many(self, values):
        return np.concatenate([self.prepare(value) for value in values])


def test_a_bad_item_fails_alone_and_its_group_is_still_decoded_together(tmp_path):
    loads = ["a", "bb", "bad", "cccc", "ddddd", tmp_path / "missing.png"]
    positions, parts, errors = prepare_chunk(Fussy(), loads, group_size=4)
    assert positions == [0, 1, 3, 4]
    assert errors[2] == "ValueError: bad value" and "No such file" in errors[5]
    assert np.concatenate(parts)[:, 0].tolist() == [1, 2, 4, 5]


Shape = namedtuple("Shape", "item_shape dtype")


@pytest.mark.parametrize("batch, preparer, size", [
    (1, Shape((224, 224, 3), np.dtype(np.float32)), 13),  # 8 MB of images
    (32, Shape((224, 224, 3), np.dtype(np.float32)), 32),  # never less than one batch
    (1, Shape((48,), np.dtype(np.int32)), 256),  # texts: 256 at a time
    (32, Shape((48,), np.dtype(np.int32)), 256),
    (24, Shape((48,), np.dtype(np.int32)), 240),  # a whole number of batches
    (8, Shape(None, None), 128),  # --url: sizes unknown
])
def test_chunks_are_whole_batches_of_bounded_size(batch, preparer, size):
    assert runner.chunk_size(batch, preparer) == size


@pytest.fixture
def mnist(built_models):
    return LocalBackend(Settings(model_dir=built_models), "mnist", "2", threads=1)


def digits_run(backend, heldout, output: Path, workers: int = 1) -> list[dict]:
    rows = heldout[0][:300].astype(np.float32) / 255.0
    items = [Item(f"digit {i}", row) for i, row in enumerate(rows)]
    summary = runner.run(backend, items, output, "jsonl", resume(output, "jsonl", True), 8, workers)
    assert summary.done == 300 and summary.failed == 0
    return [json.loads(line) for line in output.read_text().splitlines()]


def test_without_room_in_dev_shm_inputs_go_through_pipes_with_the_same_results(mnist, heldout, tmp_path,
                                                                                monkeypatch, caplog):
    through_shared_memory = digits_run(mnist, heldout, tmp_path / "shm.jsonl", workers=2)
    monkeypatch.setattr(decoding.shutil, "disk_usage", lambda path: SimpleNamespace(free=0))
    with caplog.at_level(logging.WARNING):
        through_pipes = digits_run(mnist, heldout, tmp_path / "pipes.jsonl")
    assert "go through pipes" in caplog.text
    assert through_pipes == through_shared_memory
    assert [r["id"] for r in through_pipes] == [f"digit {i}" for i in range(300)]  # in input order


def test_a_decode_worker_that_dies_stops_the_run_with_a_message(mnist, tmp_path):
    mnist.preparer = Fussy()
    items = [Item(str(i), "x" * i) for i in range(1, 40)] + [Item("40", "die")]
    with pytest.raises(RuntimeError, match=r"decode worker axon-decode-0 died \(exit code 3\)"):
        runner.run(mnist, items, tmp_path / "o.jsonl", "jsonl", set(), 8, 1)


def test_an_output_that_cannot_be_written_stops_the_run_with_the_reason(tmp_path):
    writer = WriterProcess(tmp_path, "jsonl", {"model": "m", "version": "1"}, Labeller(["a", "b"], "", 1))
    with pytest.raises(RuntimeError, match="the output writer stopped: IsADirectoryError"):
        writer.write(["x"], [0], np.array([[0.2, 0.8]], np.float32), {})  # or it fails here, if already gone
        writer.finish()
