"""The dynamic batcher: merging, limits, timeouts, and isolation of a failing request."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from service.batching import Batcher, BatchingConfig
from service.errors import Overloaded, Timeout


class Recorder:
    def __init__(self, delay: float = 0.0, fail_on_negative: bool = False):
        self.calls: list[int] = []
        self.delay = delay
        self.fail_on_negative = fail_on_negative
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.gate.wait()
        self.calls.append(len(batch))
        time.sleep(self.delay)
        if self.fail_on_negative and (batch < 0).any():
            raise ValueError("negative input")
        return batch * 2


def test_concurrent_requests_are_merged_and_answered_in_order():
    run = Recorder(delay=0.05)  # while the first runs alone, the other seven queue up behind it
    observed = []
    batcher = Batcher("m", run, BatchingConfig(max_batch_size=8, max_queue_delay_ms=50, max_queue_size=64),
                      lambda rows, waits, depth: observed.append((rows, len(waits))))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: batcher.submit(np.array([[i]], np.float32), 5), range(8)))
    assert [int(r[0, 0]) for r in results] == [2 * i for i in range(8)]
    assert len(run.calls) < 8 and max(run.calls) <= 8
    assert sum(rows for rows, _ in observed) == 8
    batcher.close()


def test_no_merged_run_exceeds_max_batch_size():
    run = Recorder(delay=0.005)
    batcher = Batcher("m", run, BatchingConfig(max_batch_size=4, max_queue_delay_ms=20, max_queue_size=64))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: batcher.submit(np.ones((3, 1), np.float32), 5), range(12)))
    assert max(run.calls) <= 4 and sum(run.calls) == 36
    batcher.close()


def test_full_queue_is_overloaded_with_retry_after():
    run = Recorder()
    run.gate.clear()  # the batcher thread blocks on the first batch
    batcher = Batcher("m", run, BatchingConfig(max_batch_size=1, max_queue_delay_ms=0, max_queue_size=1))
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.submit, np.ones((1, 1), np.float32), 5) for _ in range(4)]
        time.sleep(0.3)
        run.gate.set()
        errors = [f.exception() for f in futures]
    overloaded = [e for e in errors if isinstance(e, Overloaded)]
    assert overloaded and overloaded[0].status == 503 and overloaded[0].retry_after
    batcher.close()


def test_a_request_that_waits_too_long_times_out():
    run = Recorder()
    run.gate.clear()
    batcher = Batcher("m", run, BatchingConfig(max_batch_size=1, max_queue_delay_ms=0, max_queue_size=8))
    threading.Thread(target=batcher.submit, args=(np.ones((1, 1), np.float32), 5), daemon=True).start()
    time.sleep(0.05)
    with pytest.raises(Timeout) as timed_out:
        batcher.submit(np.ones((1, 1), np.float32), 0.2)
    assert timed_out.value.status == 504
    run.gate.set()
    batcher.close()


def test_one_failing_request_does_not_fail_the_others_in_its_batch():
    run = Recorder(fail_on_negative=True)
    batcher = Batcher("m", run, BatchingConfig(max_batch_size=8, max_queue_delay_ms=100, max_queue_size=64))
    values = [1, 2, -3, 4]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.submit, np.array([[v]], np.float32), 5) for v in values]
        outcomes = [(f.exception(), None if f.exception() else f.result()) for f in futures]
    assert isinstance(outcomes[2][0], ValueError)
    assert [int(o[1][0, 0]) for i, o in enumerate(outcomes) if i != 2] == [2, 4, 8]
    batcher.close()


@pytest.mark.parametrize("raw", [{"max_batch_size": 0}, {"max_queue_size": 0}, {"max_queue_delay_ms": -1}])
def test_invalid_config_is_rejected(raw):
    with pytest.raises(ValueError):
        BatchingConfig.from_json(raw)
