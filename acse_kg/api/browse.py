"""The registry for people in a browser: the match form and its answer, and the search.

``GET /match`` is the form for a browser (and for any client that takes
HTML); a program asking for JSON still gets the API's answer (405: matching
is ``POST /match`` with a JSON profile). The form posts to ``POST /match/form`` as a plain HTML form, so it
works with JavaScript off; the answer is rendered on the server by the same
matcher as the API, and nothing is stored. ``GET /search`` holds the whole
query in its URL.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from acse_kg.matching.engine import TrialNotFound, matcher_for, registry_matcher_for
from acse_kg.matching.profile import ProfileError
from acse_kg.matching.rules import GraphModelError
from acse_kg.namespaces import NCT_HINT, normalise_nct
from acse_kg.pages import Links
from acse_kg.pages.browse import answer_of, match_page, search_page
from acse_kg.pages.profile_form import FormError, profile_form, profile_from_form
from acse_kg.pages.search import FACETS, Search, SearchError, oncotree, search
from acse_kg.search_index import SearchCancelled
from acse_kg.store import GraphStore

from .deps import get_store
from .negotiation import choose

router = APIRouter(tags=["pages"])

#: What GET /match offers: the form first (a link followed with Accept */* opens it); a program asking
#: for JSON keeps the API's answer, 405 (matching is POST /match).
_GET_MATCH = {"text/html": "html", "application/xhtml+xml": "html", "application/json": "json"}


def _links(request: Request) -> Links:
    return Links(static=False, root=request.scope.get("root_path", "").rstrip("/") + "/")


def _trial(request: Request) -> str:
    """The study ``?trial=`` pre-sets the form to ('' for none); BadRequest names a malformed one."""
    raw = request.query_params.get("trial", "").strip()
    if not raw:
        return ""
    nct = normalise_nct(raw)
    if nct is None:
        raise BadRequest(f"trial {raw!r} is not an NCT number ({NCT_HINT})")
    return nct


_FORM_BODY = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
    "schema": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "the form's fields, named by the profile's dotted paths (labs.anc, alterations.0.gene; "
                              "a unit in <field>.unit), or profile_json: a whole profile as JSON",
               "properties": {"profile_json": {"type": "string"}, "id": {"type": "string"},
                              "age_years": {"type": "string"}, "diagnosis": {"type": "string"}}},
    "example": {"id": "patient-1", "age_years": "63", "diagnosis": "LUAD", "alterations.0.gene": "MET",
                "alterations.0.type": "amplification", "labs.anc": "1800", "labs.anc.unit": "/uL"}}}}}
_TRIAL_PARAM = {"name": "trial", "in": "query", "required": False, "schema": {"type": "string"},
                "description": "pre-set the form to one study (NCT number)", "example": "NCT02034981"}
_SEARCH_PARAMS = {"parameters": [
    {"name": "q", "in": "query", "schema": {"type": "string"}, "example": "crizotinib",
     "description": "any text of a record, in ClinicalTrials.gov's syntax (AND, OR, NOT, quotes, parentheses)"},
    {"name": "cond", "in": "query", "schema": {"type": "string"}, "example": "NSCLC",
     "description": "an OncoTree code or name (subtypes included; found through the cohorts' pathologies)"},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    *({"name": name, "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "explode": True,
       "description": f"facet: {title.lower()} (any of the values)"} for name, title in FACETS)]}


class BadRequest(ValueError):
    """A query parameter of a page is malformed: answered 400 with the form and the reason."""


@router.get("/match", response_class=HTMLResponse,
            summary="The match form (HTML for a browser; programs POST a JSON profile to /match)",
            responses={405: {"description": "asked for JSON (not HTML): matching is POST /match"}},
            openapi_extra={"parameters": [_TRIAL_PARAM]})
async def match_form(request: Request, store: GraphStore = Depends(get_store)) -> Response:
    """The form is generated from the profile's JSON Schema (``/match/schema``); ``?trial=NCT…`` pre-sets it
    to one study."""
    if choose(request.headers.get("accept"), _GET_MATCH) != "html":
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": "POST"})
    links = _links(request)
    try:
        trial = _trial(request)
        if trial:
            await run_in_threadpool(matcher_for, store, trial)  # a study that cannot be matched: 404 here already
        html = await run_in_threadpool(match_page, store, links, trial=trial)
    except BadRequest as exc:
        return HTMLResponse(await run_in_threadpool(match_page, store, links, errors=[("trial", str(exc))]), 400)
    except TrialNotFound as exc:
        return HTMLResponse(await run_in_threadpool(match_page, store, links, errors=[("trial", str(exc))]), 404)
    return HTMLResponse(html)


def _profile(form: dict[str, str], store: GraphStore) -> dict[str, Any]:
    """The profile a submitted form gives: the pasted JSON when there is one, else the fields."""
    pasted = form.get("profile_json", "").strip()
    if pasted:
        try:
            data = json.loads(pasted)
        except ValueError as exc:
            raise FormError("profile_json", f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise FormError("profile_json", "a profile is a JSON object")
        return data
    profile = profile_from_form(form, profile_form(store))
    diagnosis = profile.get("diagnosis")
    if isinstance(diagnosis, str):  # the type-ahead offers names too: a name is sent as its OncoTree code
        tree = oncotree(store)
        found = tree.resolve(diagnosis)
        if found is not None and tree.taxonomy.resolve(diagnosis) is None:
            profile["diagnosis"] = tree.taxonomy.code_of[found]
    return profile


def _answer(store: GraphStore, links: Links, trial: str, form: dict[str, str]) -> tuple[str, int]:
    pasted = form.get("profile_json", "")
    try:
        profile = _profile(form, store)
    except FormError as exc:
        return match_page(store, links, trial=trial, errors=[(exc.field, exc.message)], pasted=pasted,
                          submitted=None if pasted.strip() else form), 422
    try:
        if trial:
            results, notes = [matcher_for(store, trial).match(profile)], []
        else:
            both = registry_matcher_for(store).match_all(profile)
            results, notes = both["results"], both.get("notes", [])
    except ProfileError as exc:
        return match_page(store, links, trial=trial, errors=[(exc.field, exc.message)], pasted=pasted,
                          submitted=None if pasted.strip() else form), 422
    answer = answer_of(store, results, profile, profile_form(store), notes)
    return match_page(store, links, trial=trial, profile=profile, answer=answer), 200


@router.post("/match/form", response_class=HTMLResponse,
             summary="The match form submitted (HTML form fields, or a pasted JSON profile): the answer page",
             openapi_extra={**_FORM_BODY, "parameters": [_TRIAL_PARAM]},
             responses={422: {"description": "the profile breaks the contract: the form again, the field named"}})
async def match_form_post(request: Request, store: GraphStore = Depends(get_store)) -> Response:
    """Server-rendered: per study and cohort the verdict, the deciding criteria first, what the profile
    lacks, what to confirm, the dose and the study's recruitment status. Nothing is stored."""
    links = _links(request)
    try:
        trial = _trial(request)
        if trial:
            await run_in_threadpool(matcher_for, store, trial)  # an unknown study is a 404 before reading the form
    except BadRequest as exc:
        return HTMLResponse(await run_in_threadpool(match_page, store, links, errors=[("trial", str(exc))]), 400)
    except TrialNotFound as exc:
        return HTMLResponse(await run_in_threadpool(match_page, store, links, errors=[("trial", str(exc))]), 404)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        html, status = await run_in_threadpool(_answer, store, links, trial, form)
    except GraphModelError as exc:
        return HTMLResponse(await run_in_threadpool(
            match_page, store, links, errors=[(None, f"the graph cannot be matched against: {exc}")]), 503)
    return HTMLResponse(html, status)


@router.get("/search", response_class=HTMLResponse,
            summary="Search the studies: free text (ClinicalTrials.gov syntax), OncoTree condition, facets (HTML)",
            openapi_extra=_SEARCH_PARAMS, responses={400: {"description": "a malformed parameter, named"}})
async def search_studies(request: Request, store: GraphStore = Depends(get_store)) -> Response:
    """``q`` (any text of a record), ``cond`` (an OncoTree code or name, subtypes included; a study is found by
    its cohorts' pathologies), facets ``gene``, ``type``, ``status``, ``phase``, ``age``, ``sex``, ``country``
    (repeatable: any of the values), ``page``."""
    links = _links(request)
    timeout = getattr(getattr(request.app.state, "settings", None), "query_timeout", None)
    try:
        s = Search.from_params(list(request.query_params.multi_items()))
        deadline = None if timeout is None else time.monotonic() + timeout
        results = await run_in_threadpool(search, store, s, None, deadline)
    except SearchError as exc:
        return HTMLResponse(await run_in_threadpool(search_page, store, links, None, str(exc)), 400)
    except SearchCancelled as exc:
        return HTMLResponse(await run_in_threadpool(search_page, store, links, None, str(exc)), 503)
    return HTMLResponse(await run_in_threadpool(search_page, store, links, results))
