"""The table of requests in flight that the gunicorn master shares with its workers."""
from __future__ import annotations

import os

import pytest

from service import busy_workers


@pytest.fixture
def table(monkeypatch):
    """A fresh table, as the master makes it; this process holds slot 0."""
    monkeypatch.setattr(busy_workers, "_table", None)
    monkeypatch.setattr(busy_workers, "_slot", None)
    busy_workers.share()
    busy_workers.take(0)
    return busy_workers._table


def test_without_a_table_no_other_request_is_ever_being_served(monkeypatch):
    monkeypatch.setattr(busy_workers, "_table", None)
    monkeypatch.setattr(busy_workers, "_slot", None)
    with busy_workers.serving(), busy_workers.serving():
        assert not busy_workers.others_busy()


def test_a_lone_request_sees_no_other_and_a_second_one_in_the_same_worker_does(table):
    assert not busy_workers.others_busy()
    with busy_workers.serving():
        assert not busy_workers.others_busy()
        with busy_workers.serving():  # a gthread worker's second thread
            assert busy_workers.others_busy()
        assert not busy_workers.others_busy()
    assert table[0] == 0


def test_a_request_that_fails_is_no_longer_counted(table):
    with pytest.raises(ValueError):
        with busy_workers.serving():
            raise ValueError("a bad request")
    assert sum(table) == 0


def test_another_worker_s_request_is_seen_across_the_fork(table):
    """The table is memory shared with the processes forked after it was made, as gunicorn's workers are."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    child = os.fork()
    if child == 0:  # the other worker: one request in flight until told to finish
        try:
            busy_workers.take(1)
            with busy_workers.serving():
                os.write(ready_w, b"x")
                os.read(done_r, 1)
        finally:
            os._exit(0)
    try:
        os.read(ready_r, 1)
        with busy_workers.serving():
            assert busy_workers.others_busy()
    finally:
        os.write(done_w, b"x")
        os.waitpid(child, 0)
    with busy_workers.serving():
        assert not busy_workers.others_busy()


def test_a_worker_killed_in_a_request_is_cleared_by_the_master_and_its_slot_given_again(table):
    table[3] = 1  # the worker in slot 3 died in the middle of a request
    with busy_workers.serving():
        assert busy_workers.others_busy()
    busy_workers.clear(3)  # the master, in child_exit
    with busy_workers.serving():
        assert not busy_workers.others_busy()
    assert busy_workers.free_slot([0, 1, 2, 4]) == 3
    assert busy_workers.free_slot([]) == 0
    assert busy_workers.free_slot(range(busy_workers.SLOTS)) is None  # more workers than slots: not counted
    busy_workers.clear(None)
