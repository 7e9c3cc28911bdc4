"""Heartbeats of writers at work (``acse_kg.heartbeat``): beats while the block runs, none after it,
one writer's hanging beat never delays another's, a failing beat is logged and the next one runs."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from acse_kg.heartbeat import beating
from acse_kg.store import StoreError

INTERVAL = 0.05


def test_beats_run_while_the_block_runs_and_never_after_it() -> None:
    beats: list[float] = []
    with beating(lambda: beats.append(time.monotonic()), "a writer", INTERVAL):
        time.sleep(20 * INTERVAL)
    ended = len(beats)
    time.sleep(4 * INTERVAL)
    assert ended >= 3 and len(beats) == ended


def test_the_block_ends_only_once_a_beat_in_flight_has_landed() -> None:
    started, landed = threading.Event(), threading.Event()

    def slow_beat() -> None:
        started.set()
        time.sleep(0.3)
        landed.set()

    with beating(slow_beat, "a writer", INTERVAL):
        assert started.wait(5)
    assert landed.is_set()


def test_a_hanging_beat_does_not_delay_another_writers_beats() -> None:
    release = threading.Event()
    beats: list[float] = []
    with beating(lambda: release.wait(5), "a writer to a hung engine", INTERVAL), \
            beating(lambda: beats.append(time.monotonic()), "another writer", INTERVAL):
        try:
            time.sleep(20 * INTERVAL)
            assert len(beats) >= 3
        finally:
            release.set()  # the hung engine answers: the block may end


def test_a_failing_beat_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    tries: list[int] = []

    def failing() -> None:
        tries.append(1)
        raise StoreError("cannot reach the SPARQL endpoint")

    with caplog.at_level(logging.WARNING, logger="acse_kg.heartbeat"), beating(failing, "a writer", INTERVAL):
        time.sleep(8 * INTERVAL)
    assert len(tries) >= 2
    assert "the heartbeat of a writer failed: cannot reach the SPARQL endpoint" in caplog.text
