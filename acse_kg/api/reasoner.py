"""The on-demand OWL reasoner behind ``/study/{nct}/check?reason=true``: one at a time, once per store version.

HermiT runs in a Java process with a 2 GB heap for seconds. Unbounded, a few
requests at once could take the machine's memory; so the route is behind the
admin token, one check runs at a time, and its findings are kept until the
store changes (the same record gives the same verdict).
"""

from __future__ import annotations

import threading

from acse_kg.derived import DerivedCache
from acse_kg.owl.reasoner import ReasonerTimeout
from acse_kg.reasoning import ReasonerError
from acse_kg.record_check import Finding, check_study
from acse_kg.store import GraphStore

from .errors import ApiError

_cache = DerivedCache()
_one_at_a_time = threading.Lock()


def reasoned_check(store: GraphStore, nct: str) -> list[Finding]:
    """check_study(..., reason=True), computed once per version of the store (blocking: call it in a thread)."""
    with _one_at_a_time:  # a second caller waits, then finds the first one's answer kept
        return list(_cache.get(store, "reason-" + nct, lambda: check_study(store, nct, reason=True)))


def reasoner_problem(exc: ReasonerError) -> ApiError:
    """The answer to a reasoner that failed: 504 when it ran out of its time budget, else 503.

    Why two statuses: HermiT is a process the server waits on, like an upstream; a 504 says
    the question was too large for the budget (narrow it, or ask the operator for a larger
    ``reasoner_budget``), a 503 that the reasoner could not run at all (no Java, a HermiT error).
    """
    if isinstance(exc, ReasonerTimeout):
        return ApiError(str(exc), status=504)
    return ApiError(f"the reasoner could not run: {exc}", status=503)
