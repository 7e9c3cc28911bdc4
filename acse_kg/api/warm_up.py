"""The matcher built at start-up, beside the first requests (the ``warm_up`` setting).

Why: the first ``POST /match/trials`` after a start read the registry's matching
vocabulary (every gene, with its aliases) and compiled every study the profile
could enter: 16-36 s at 2,000 studies with 1,000 structured trials, paid by one
client. A thread started with the server does that work instead, study by study,
while requests are served (a request that needs a study not compiled yet compiles
it itself, as without the warm-up). Compiled studies are kept per study
(:func:`~acse_kg.matching.engine.registry_matcher_for`), so a write later re-reads
only the study it touched. ``GET /match/status`` says how far it got, for a
readiness probe or a benchmark that must not time the warm-up.

Guarantees: ``ready`` means every study the registry matched *when the pass ended*
was gone through (compiled, found unmatchable, or counted in ``failures``) under the
vocabulary of that moment. A write during the warm-up (a new matcher) starts a pass
over the new matcher's studies: on a store that says which graphs a write touched (the
embedded store) those compiled already cost a cache look-up; on a remote engine, or
after a write to the vocabulary, they are compiled again. After :data:`MAX_PASSES`
passes cut short by writes it stops (``stopped``, and says so). A study that fails to
compile is counted and named, and the warm-up goes on; a registry that cannot be read
(:data:`MAX_FAILURES_IN_A_ROW` studies failing one after the other: an engine gone) is
``failed``. Either way the server goes on, and matching reads what it needs on request.

A cost: the compiled plans of every matchable study stay in memory (about 260 MB
more at 1,000 structured trials than after one match). Hence a budget: at most
``max_studies`` (the ``warm_up_max_studies`` setting, at most ``matcher_max_studies``: the
compiled studies matching keeps) are compiled; a registry with
more ends the warm-up as ``stopped``, the setting named in ``error``, and its other
studies compile on request as without the warm-up. And a risk shared with
concurrent match requests: on the embedded store a ``/sparql`` query forks while this
thread may be reading the store; a child that inherits a lock the engine held at that
moment waits for its time limit and is stopped like any query past it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from acse_kg.store import GraphStore

log = logging.getLogger("acse_kg.warm_up")


#: Passes started over after writes before the warm-up gives up (a store written faster than it compiles).
MAX_PASSES = 4
#: Studies failing one after the other before the warm-up takes the registry for unreadable (an engine gone).
MAX_FAILURES_IN_A_ROW = 5


class WarmUp:
    """One background warm-up of one store's matcher: started with the app, stopped with it.

    States: ``pending`` (the server has not started it yet: a host that never runs the app's
    lifespan leaves it so), ``running``, ``ready``, ``failed`` (``error`` says why) and
    ``stopped`` (the server stopped first, the store kept changing under it, or more studies than its budget).
    """

    def __init__(self, store: GraphStore, max_studies: int = 5_000) -> None:
        self.store = store
        self.max_studies = max_studies
        self.state = "pending"
        self._reset()
        self.seconds: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _reset(self) -> None:
        self.studies = 0
        self.matchable: int | None = None
        self.failures = 0
        self.error: str | None = None

    def start(self) -> None:
        self._stop = threading.Event()  # its own: a thread of an earlier start that outlived stop() keeps its stop
        self._reset()
        self.state, self.seconds = "running", None
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="acse-kg-warm-up", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        """Ask the thread to stop after the study it is compiling, and wait for it (at most ``wait`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)

    def _run(self, stop: threading.Event) -> None:
        t0 = time.monotonic()
        try:
            state = self._passes(stop)
        except Exception as exc:  # noqa: BLE001 - reported; matching reads on request as before
            state = "stopped" if stop.is_set() else "failed"  # (a store closed with the server: no news)
            if state == "failed":
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("the matcher's warm-up failed (matching reads what it needs on request): %s", self.error)
        self.seconds = round(time.monotonic() - t0, 3)
        self.state = state  # last: whoever reads "ready" reads the seconds too

    def _passes(self, stop: threading.Event) -> str:
        """Decide every study of the current matcher; start again over a new matcher made by a write meanwhile."""
        from acse_kg.matching.engine import registry_matcher_for

        for _ in range(MAX_PASSES):
            matcher = registry_matcher_for(self.store)
            self._reset()
            self.matchable = len(matcher.ncts)
            ncts = matcher.ncts[:self.max_studies]  # the memory budget: the rest compile on request
            checked = time.monotonic()  # (after the matcher: reading it may take seconds)
            in_a_row = 0
            for nct in ncts:
                if stop.is_set():
                    return "stopped"
                # Asked at most once a second, as a request asks: the store's version may cost a query.
                if time.monotonic() - checked >= 1.0:
                    if registry_matcher_for(self.store) is not matcher:
                        break  # a write: a pass over its matcher's studies
                    checked = time.monotonic()
                try:
                    matcher.study(nct)
                    in_a_row = 0
                except Exception as exc:  # noqa: BLE001 - one study's failure (a remote time-out) is not all's
                    if stop.is_set():
                        return "stopped"
                    self.failures += 1
                    in_a_row += 1
                    self.error = f"{nct}: {type(exc).__name__}: {exc}"
                    log.warning("the matcher's warm-up could not compile %s", self.error)
                    if in_a_row >= MAX_FAILURES_IN_A_ROW:
                        self.error = f"{in_a_row} studies in a row could not be compiled; the last, {self.error}"
                        return "failed"
                self.studies += 1
            else:
                if registry_matcher_for(self.store) is matcher:
                    if len(ncts) < self.matchable:
                        self.error = (f"compiled {len(ncts)} of the registry's {self.matchable} matchable studies "
                                      "(warm_up_max_studies, its memory budget, at most matcher_max_studies): the others "
                                      "compile on request")
                        return "stopped"
                    return "ready"
        self.error = (f"the store changed during each of {MAX_PASSES} passes: matching compiles what it needs "
                      "on request")
        return "stopped"

    def report(self) -> dict[str, Any]:
        return {"warm_up": self.state, "studies": self.studies, "matchable": self.matchable,
                "failures": self.failures, "seconds": self.seconds, "error": self.error}

    @property
    def busy(self) -> bool:
        return self.state in ("pending", "running")


#: What ``GET /match/status`` says when the setting is off.
OFF: dict[str, Any] = {"warm_up": "off", "studies": 0, "matchable": None, "failures": 0, "seconds": None,
                       "error": None}
