"""A study's computable criteria as JSON, and a curator's review of its drafts, over HTTP.

``GET /study/{nct}/criteria.json`` answers the criteria-JSON list of
docs/criteria-json.md (curated criteria, the stored drafts with their review
states, or a draft of the record made now: :func:`acse_kg.drafting.criteria.study_criteria`).
``POST /study/{nct}/criteria/{id}/accept|reject|edit`` reviews one stored
draft with the admin token (``Authorization: Bearer <token>``, as imports
do); each review is a new version of the study in its history, the agent
``api (admin token)`` with the reviewer the body names. An edit's body is
JSON ``{"expression": "anc >= 1.5 10*9/L", "reviewer": "alice"}``. Errors are
JSON ``{"error": ...}``: 400 (bad NCT number, unreadable body), 401/403 (token),
404 (no such study or item), 422 (an edit that does not read).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from acse_kg.drafting import DraftingError
from acse_kg.drafting.criteria import study_criteria
from acse_kg.drafting.review import ReviewError, review
from acse_kg.namespaces import NCT_HINT, normalise_nct
from acse_kg.store import GraphStore

from .ctgov import _admin_token
from .deps import get_store

router = APIRouter()

DECISIONS = {"accept": "accepted", "reject": "rejected", "edit": "edited"}


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _nct(value: str) -> str | JSONResponse:
    nct = normalise_nct(value)
    return nct if nct is not None else _error(400, f"not an NCT number: {value!r} (expected {NCT_HINT})")


@router.get("/study/{nct}/criteria.json", tags=["drafting"],
            summary="A study's computable criteria (criteria JSON: drafted and curated)")
async def criteria_json(nct: str, store: GraphStore = Depends(get_store)) -> Any:
    """One object per atomic requirement, with its source words, the rule that drafted it and its review state."""
    got = _nct(nct)
    if isinstance(got, JSONResponse):
        return got
    try:
        items, _ = study_criteria(store, got)
    except DraftingError as exc:
        return _error(404, str(exc))
    return JSONResponse(items)


def _refused(request: Request) -> JSONResponse | None:
    token = _admin_token(request)
    if not token:
        return _error(403, "reviews are disabled on this server (no admin token configured)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return _error(401, "reviewing needs the admin token: Authorization: Bearer <token>",
                      **{"WWW-Authenticate": 'Bearer realm="acse-kg"'})
    return None


@router.post("/study/{nct}/criteria/{item_id}/{decision}", tags=["drafting"],
             summary="Accept, reject or edit a drafted criterion (admin token); a new version in the history",
             openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
                 "schema": {"type": "object", "properties": {
                     "reviewer": {"type": "string", "description": "who decides (kept in the history)"},
                     "expression": {"type": "string", "description": "with decision=edit: the rule as written"}}},
                 "example": {"reviewer": "a curator", "expression": "anc >= 1.5 10*9/L"}}}}})
async def review_item(nct: str, item_id: str, decision: str, request: Request,
                      store: GraphStore = Depends(get_store)) -> Any:
    """The reviewed item (criteria JSON); the body of an edit holds the new ``expression``."""
    if decision not in DECISIONS:
        return _error(404, f"no review {decision!r}: accept, reject or edit")
    refused = _refused(request)
    if refused is not None:
        return refused
    got = _nct(nct)
    if isinstance(got, JSONResponse):
        return got
    raw = await request.body()
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return _error(400, f"body is not JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "body: a JSON object, e.g. {\"expression\": \"anc >= 1.5 10*9/L\", \"reviewer\": \"alice\"}")
    reviewer = body.get("reviewer")
    if reviewer is not None and not isinstance(reviewer, str):
        return _error(400, "reviewer: a string")
    expression = body.get("expression")
    if decision == "edit" and not isinstance(expression, str):
        return _error(422, "an edit needs {\"expression\": \"VARIABLE COMPARATOR [VALUE [UNIT]] [if CONDITION]\"}")
    agent = f"{reviewer} via api (admin token)" if reviewer else "api (admin token)"
    try:
        item = review(store, got, item_id, DECISIONS[decision], agent=agent,
                      edit=expression if decision == "edit" else None)
    except ReviewError as exc:
        status = 422 if decision == "edit" and ("cannot read the edit" in str(exc) or "takes no value" in str(exc)) else 404
        return _error(status, str(exc))
    return JSONResponse(item)
