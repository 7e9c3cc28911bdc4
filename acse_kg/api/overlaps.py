"""GET /overlaps: which cohorts compete for the same patients, decided by HermiT (see acse_kg.owl.overlaps).

A JSON list of ``{"a", "b", "relation", "shared"}``, for every pair of cohorts
of the studies named by ``?nct=`` (repeatable; default: the whole registry).
Read-only: the inferred graph is written by ``acse-kg overlaps``, and a pair it
holds with the digests both cohorts have now is read from it, not asked of
HermiT again (see ``compute_overlaps(incremental=True)``). Each answer
is computed once per store version; a request has a budget: the reasoner's
time (the server's ``reasoner_budget``; beyond it a 504 problem saying so) and a
cap on the cohorts compared (beyond it a 422 saying how to narrow the question).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from acse_kg.derived import DerivedCache
from acse_kg.model import ModelError, read_study, structured_studies
from acse_kg.namespaces import NCT_HINT, normalise_nct
from acse_kg.reasoning import ReasonerError

from .deps import get_store
from .reasoner import reasoner_problem

router = APIRouter(tags=["reasoning"])
JSON = "application/json"
#: The most cohorts one answer compares (HermiT's time is the server's ``reasoner_budget``).
MAX_COHORTS = 80
_answers = DerivedCache()


def _error(status: int, detail: str) -> Response:
    return Response(orjson.dumps({"detail": detail}), status_code=status, media_type=JSON)


@router.get("/overlaps", summary="Subsumption, overlap or disjointness of every pair of cohorts (HermiT)",
            responses={200: {"description": "a list of {a, b, relation, shared}"},
                       400: {"description": "an nct is not an NCT number"},
                       404: {"description": "no study with cohorts for an nct"},
                       422: {"description": "too many cohorts for one request's budget"},
                       503: {"description": "the reasoner could not run"},
                       504: {"description": "the reasoner ran out of its time budget (reasoner_budget)"}})
async def overlaps(request: Request, nct: Annotated[list[str] | None, Query(description="NCT id (repeatable)")] = None) -> Response:
    from acse_kg.owl.overlaps import compute_overlaps

    wanted = []
    for n in nct or []:
        got = normalise_nct(n)
        if got is None:
            return _error(400, f"nct {n!r} is not an NCT number ({NCT_HINT})")
        wanted.append(got)
    store = get_store(request)
    known = structured_studies(store)
    missing = [n for n in wanted if n not in known]
    if missing:
        return _error(404, f"no study with cohorts in the graph for {', '.join(missing)}")
    ncts = sorted(set(wanted)) or known
    try:
        size = sum(len(read_study(store, n).cohorts) for n in ncts)
    except ModelError as exc:
        return _error(422, str(exc))
    if size > MAX_COHORTS:
        return _error(422, f"{size} cohorts to compare; at most {MAX_COHORTS} per request: name studies with "
                           "?nct=, or run `acse-kg overlaps` and query the inferred graph over /sparql")

    def answer() -> bytes:
        report = compute_overlaps(store, ncts, budget=request.app.state.settings.reasoner_budget, incremental=True)
        out: list[dict[str, Any]] = [p.as_json() for p in report.pairs]
        return orjson.dumps(out)

    try:
        body = await run_in_threadpool(_answers.get, store, "overlaps-" + ",".join(ncts), answer)
    except ReasonerError as exc:
        raise reasoner_problem(exc) from exc
    return Response(body, media_type=JSON)
