"""Heartbeats: a small update sent now and then on behalf of a writer at work, so that it is not taken for dead.

Why: on a remote store another process takes a write-lock request or a journal entry older than a TTL
for a dead writer's (see :mod:`acse_kg.remote`), and a writer alive but slow (a bulk batch POSTed to
a slow engine) must say that it is still there. :func:`beating` runs a beat (one small update) every
``interval`` seconds for the length of a ``with`` block.

One scheduler thread serves the whole process (started on first use, a daemon), and each beat that
falls due runs in a thread of its own. Why not a thread for each block: a write enters one or two
blocks, and starting and joining a thread each time cost 0.6-0.8 ms of CPU a small write (measured:
6.0 → 6.8 ms, claimed writes over a history endpoint); registering a beat costs microseconds, and a
thread is started only when a beat is due (every 30 s by default). Why a thread for each beat: one
engine that hangs (a beat waits for the client's timeout) must not delay the beats of writers to
another engine. A beat still running when it falls due again is not started twice.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import AcseError

_log = logging.getLogger(__name__)


@dataclass
class _Beat:
    beat: Callable[[], None]
    what: str
    interval: float
    due: float


class _Heartbeats:
    """The process's beats and their scheduler thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._beats: dict[int, _Beat] = {}
        self._running: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, beat: Callable[[], None], what: str, interval: float) -> int:
        with self._cond:
            key = next(self._ids)
            self._beats[key] = _Beat(beat, what, interval, time.monotonic() + interval)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._schedule, name="acse-kg heartbeats", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return key

    def remove(self, key: int) -> None:
        """Stop beat ``key``, waiting for it if it is running: no beat lands after the caller has
        removed what it refreshes (a beat in flight takes at most the client's timeout)."""
        with self._cond:
            self._beats.pop(key, None)
            while key in self._running:
                self._cond.wait()

    def _schedule(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                waiting = [(b.due, key) for key, b in self._beats.items() if key not in self._running]
                if not waiting:
                    self._cond.wait()
                    continue
                due, key = min(waiting)
                if due > now:
                    self._cond.wait(due - now)
                    continue
                beat = self._beats[key]
                beat.due = now + beat.interval
                self._running.add(key)
                threading.Thread(target=self._run, args=(key, beat), name=f"acse-kg heartbeat: {beat.what}",
                                 daemon=True).start()

    def _run(self, key: int, beat: _Beat) -> None:
        try:
            beat.beat()
        except AcseError as exc:  # the engine down or slow: the writer's own requests will tell
            _log.warning("the heartbeat of %s failed: %s", beat.what, exc)
        finally:  # an unexpected exception (a bug) is printed by Python, and the next beat still runs
            with self._cond:
                self._running.discard(key)
                self._cond.notify_all()


_HEARTBEATS = _Heartbeats()


def _reset_in_child() -> None:
    """A forked child starts with no beats and no scheduler: the parent's writers are not its own,
    and a lock the scheduler held at the fork would never be released in the child."""
    global _HEARTBEATS
    _HEARTBEATS = _Heartbeats()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


@contextmanager
def beating(beat: Callable[[], None], what: str, interval: float) -> Iterator[None]:
    """Call ``beat`` every ``interval`` seconds (first after one interval) for the ``with`` block.

    A beat that fails with one of the project's errors (the engine down, a timeout) is logged and the
    next one still runs: the writer's own requests fail or not on their own, and it is never stopped
    by its heartbeat. The beat is stopped on the way out whatever happens, a beat in flight waited
    for."""
    heartbeats = _HEARTBEATS
    key = heartbeats.add(beat, what, interval)
    try:
        yield
    finally:
        heartbeats.remove(key)
