"""The dynamic batcher: merging, limits, timeouts, and isolation of a failing request."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from service.batching import Batcher, BatchingConfig
from service.errors import Overloaded, Timeout


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


class Recorder:
    def __init__(self, delay: float = 0.0, fail_on_negative: bool = False):
        self.calls: list[int] = []
        self.delay = delay
        self.fail_on_negative = fail_on_negative
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # a batch has reached the model

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.entered.set()
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
        # every request is in the model (one), queued (at most one), or refused at once
        wait_until(lambda: run.entered.is_set() and sum(f.done() for f in futures) == 3 - batcher.queue.qsize())
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
    run.entered.wait(5)  # the first request holds the model
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


def test_close_answers_what_is_queued_and_a_later_submit_runs_alone():
    run = Recorder()
    run.gate.clear()
    batcher = Batcher("m", run, BatchingConfig(max_batch_size=1, max_queue_delay_ms=0, max_queue_size=8))
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(batcher.submit, np.array([[1.0]], np.float32), 5)
        run.entered.wait(5)
        queued = pool.submit(batcher.submit, np.array([[2.0]], np.float32), 5)
        wait_until(lambda: batcher.queue.qsize() == 1)
        closing = pool.submit(batcher.close)
        wait_until(lambda: batcher.closed)
        run.gate.set()
        assert float(first.result(5)[0, 0]) == 2 and float(queued.result(5)[0, 0]) == 4
        closing.result(5)
    assert not batcher.thread.is_alive()
    started = time.monotonic()
    assert float(batcher.submit(np.array([[3.0]], np.float32), 5)[0, 0]) == 6  # no queue, no wait
    assert time.monotonic() - started < 1


def test_token_ids_of_different_lengths_are_padded_with_0_when_merged():
    from service.batching import merged

    out = merged([np.array([[5, 6, 7]], np.int32), np.array([[8], [9]], np.int32)])
    assert out.tolist() == [[5, 6, 7], [8, 0, 0], [9, 0, 0]] and out.dtype == np.int32
    assert merged([np.ones((1, 2)), np.zeros((2, 2))]).shape == (3, 2)
