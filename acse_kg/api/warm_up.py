"""The matcher built at start-up, beside the first requests (the ``warm_up`` setting).

Why: the first ``POST /match/trials`` after a start read the registry's matching
vocabulary (every gene, with its aliases) and compiled every study the profile
could enter: 16-19 s at 2,000 studies with 1,000 structured trials, 20-40 s at
100,000, paid by one client. A thread started with the server does that work
instead, study by study, while requests are served (a request that needs a study
not compiled yet compiles it itself, as without the warm-up). Compiled studies are
kept per study (:func:`~acse_kg.matching.engine.registry_matcher_for`), so a write
later re-reads only the study it touched. ``GET /match/status`` says how far it got,
for a readiness probe or a benchmark that must not time the warm-up.

A failure here (a store that cannot be read) is reported there and logged; the
server goes on, and matching reads what it needs on request as before.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from acse_kg.store import GraphStore

log = logging.getLogger("acse_kg.warm_up")


class WarmUp:
    """One background warm-up of one store's matcher: started with the app, stopped with it.

    States: ``pending`` (the server has not started it yet), ``running``, ``ready`` (every matchable study decided: compiled, or
    found unmatchable), ``failed`` (``error`` says why) and ``stopped`` (the server
    stopped first).
    """

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.state = "pending"
        self.studies = 0
        self.matchable: int | None = None
        self.error: str | None = None
        self.seconds: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name="acse-kg-warm-up", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        """Ask the thread to stop after the study it is compiling, and wait for it (at most ``wait`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)

    def _run(self) -> None:
        from acse_kg.matching.engine import registry_matcher_for

        t0 = time.monotonic()
        try:
            matcher = registry_matcher_for(self.store)
            ncts = matcher.ncts
            self.matchable = len(ncts)
            for nct in ncts:
                if self._stop.is_set():
                    self.state = "stopped"
                    return
                matcher.study(nct)
                self.studies += 1
            self.state = "ready"
        except Exception as exc:  # noqa: BLE001 - any failure is reported, and matching reads on request as before
            if self._stop.is_set():  # the store went away with the server: nothing to report
                self.state = "stopped"
                return
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"
            log.warning("the matcher's warm-up failed (matching reads what it needs on request): %s", self.error)
        finally:
            self.seconds = round(time.monotonic() - t0, 3)

    def report(self) -> dict[str, Any]:
        return {"warm_up": self.state, "studies": self.studies, "matchable": self.matchable,
                "seconds": self.seconds, "error": self.error}


#: What ``GET /match/status`` says when the setting is off.
OFF: dict[str, Any] = {"warm_up": "off", "studies": 0, "matchable": None, "seconds": None, "error": None}
