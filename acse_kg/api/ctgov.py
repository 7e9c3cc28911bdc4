"""ClinicalTrials.gov API v2 compatible routes, the record history and the record check.

``GET /api/v2/studies/{nctId}``, ``GET /api/v2/studies`` (JSON or CSV),
``/api/v2/studies/metadata``, ``/api/v2/studies/enums``, ``/api/v2/stats/size``
and ``/api/v2/version`` answer as the API v2 spec (2.0.5) says (and
``/fhir/ResearchStudy/{nct}`` gives a study as FHIR R4B), so existing
ClinicalTrials.gov clients can point at this registry; their errors are
``text/plain`` as the spec's ``errorMessage`` is, worded as ClinicalTrials.gov
words them (```filter.phase` is unknown parameter``). The list search runs
through the server's query pool, so it has the same time limit as any public
query (503 when it runs past it). ``POST /api/v2/studies`` imports a record
(admin token: ``Authorization: Bearer <token>``, from the server settings or
``ACSE_KG_ADMIN_TOKEN``). ``/study/{nct}/history``,
``/study/{nct}/history/diff?from=&to=`` and ``/study/{nct}/check`` are pages
for a browser (HTML, the site's base template) and JSON for API clients, by
the Accept header; their errors are JSON (``{"error": ...}``) with no stack.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
import threading
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from acse_kg.ctgov import registry_info
from acse_kg.ctgov.csv_format import CsvError, parse_columns, write_csv
from acse_kg.ctgov.export import StudyNotFound, export_study
from acse_kg.ctgov.fhir_study import operation_outcome, research_study_json, search_bundle
from acse_kg.ctgov.fields import project
from acse_kg.ctgov.import_ import ImportRefused, import_study
from acse_kg.ctgov.query import (
    Finder,
    Page,
    QueryError,
    Select,
    StudyQuery,
    check_format,
    export_page,
    list_studies,
    parse_fields_param,
    parse_params,
    search,
    store_select,
)
from acse_kg.history import HistoryError, diff_versions, list_versions
from acse_kg.namespaces import NCT_HINT, is_nct, normalise_nct
from acse_kg.record_check import CheckError, ReasonerFailed, check_study
from acse_kg.search_index import SearchCancelled, can_answer, index_for
from acse_kg.store import GraphStore, StoreError

from .deps import get_store, require_admin
from .negotiation import choose
from .query_pool import QueryFailed, QueryRequest, QueryTimeout, ResultTooLarge, WorkerDied
from .reasoner import reasoned_check

router = APIRouter()

FHIR_JSON = "application/fhir+json"



def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _ctgov_error(status: int, message: str) -> PlainTextResponse:
    """An API v2 error as the spec has it: the message as plain text."""
    return PlainTextResponse(message, status_code=status)


class SearchBudgetExceeded(Exception):
    """The search ran past the query pool's time or size limit."""


def _bad_nct(nct: str) -> JSONResponse | None:
    return None if is_nct(nct) else _error(400, f"not an NCT number: {nct!r} (expected {NCT_HINT})")


def _admin_token(request: Request) -> str | None:
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "admin_token", None) or os.environ.get("ACSE_KG_ADMIN_TOKEN") or None


def _documented(name: str, what: str) -> Any:
    """A query parameter as the OpenAPI document shows it; the values are checked by acse_kg.ctgov.query
    (which answers a bad one with a 400 naming it, as ClinicalTrials.gov does, not FastAPI's 422)."""
    return Query(None, alias=name, description=what)


def _pool_select(request: Request, store: GraphStore) -> Select:
    """Run the search's SELECTs in the server's query pool (its time and size limits), or on a remote
    store directly (which enforces its own)."""
    pool = getattr(request.app.state, "query_pool", None)
    if pool is None:
        return store_select(store)

    def run(query: str) -> list[dict[str, str]]:
        try:
            _, body = pool.run(QueryRequest(query, "json", None))
        except (QueryTimeout, ResultTooLarge, WorkerDied) as exc:
            raise SearchBudgetExceeded(str(exc)) from None
        except QueryFailed as exc:  # the search writes its own SPARQL: a failure is ours, not the caller's
            raise RuntimeError(f"the search query failed: {exc}") from exc
        bindings = json.loads(body)["results"]["bindings"]
        return [{k: v["value"] for k, v in b.items()} for b in bindings]

    return run


def _finder(request: Request, store: GraphStore, cancel: threading.Event | None = None) -> Finder:
    """How a list search finds its page: the search index when it can answer the parameters (within the
    server's query time limit, stopped in the engine past it or once ``cancel`` is set), else the graph's
    SPARQL through the query pool (a geo filter)."""
    select = _pool_select(request, store)

    def find(q: StudyQuery) -> Page:
        if not can_answer(q):
            return search(select, q)
        timeout = _search_timeout(request)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return index_for(store).search(q, deadline=deadline, cancel=cancel)
        except SearchCancelled as exc:
            raise SearchBudgetExceeded(str(exc)) from None

    return find


async def _watching(request: Request, work: Callable[[threading.Event], Any]) -> Any:
    """Run ``work`` in a thread; if the client goes away meanwhile, set the event it was given (the
    search index stops its query in the engine as soon as it sees it)."""
    cancel = threading.Event()

    async def watch() -> None:
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        return await run_in_threadpool(work, cancel)
    finally:
        cancel.set()
        watcher.cancel()


def _search_timeout(request: Request) -> float | None:
    """Seconds a search in the index may run: the server's query time limit, as for any public query."""
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "query_timeout", None)


def _budget(request: Request) -> float | None:
    """Seconds a page's export may take: the server's query time limit (a page stops early past it)."""
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "query_timeout", None)


def _unknown(params: dict[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise QueryError(f"`{unknown[0]}` is unknown parameter")


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "false")
    if value.lower() not in ("true", "false"):
        raise QueryError(f"Invalid value in parameter {name}: {value!r} (true or false)")
    return value.lower() == "true"


@router.get("/api/v2/version", tags=["ClinicalTrials.gov API v2"],
            summary="The API version and when the data last changed")
def get_version(request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """The API version this registry speaks (the spec's) and when its data last changed."""
    try:
        _unknown(dict(request.query_params), set())
    except QueryError as exc:
        return _ctgov_error(400, str(exc))
    return registry_info.version(store)


@router.get("/api/v2/studies/metadata", tags=["ClinicalTrials.gov API v2"],
            summary="The study record's fields (names, pieces, types)")
def get_metadata(
    request: Request,
    indexed: str | None = _documented("includeIndexedOnly", "true: also fields that are only indexed."),
    historic: str | None = _documented("includeHistoricOnly", "true: also fields kept only in history."),
) -> Any:
    """The tree of the study record's fields: JSON names, piece names, types (FieldNodeList)."""
    params = dict(request.query_params)
    try:
        _unknown(params, {"includeIndexedOnly", "includeHistoricOnly"})
        flags = _flag(params, "includeIndexedOnly"), _flag(params, "includeHistoricOnly")
    except QueryError as exc:
        return _ctgov_error(400, str(exc))
    return registry_info.field_metadata(*flags)


@router.get("/api/v2/studies/enums", tags=["ClinicalTrials.gov API v2"],
            summary="Every enumeration of the study record and its values")
def get_enums(request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """Every enumeration of the record, its pieces and values (EnumInfoList)."""
    try:
        _unknown(dict(request.query_params), set())
    except QueryError as exc:
        return _ctgov_error(400, str(exc))
    return registry_info.enums(store)


@router.get("/api/v2/stats/size", tags=["ClinicalTrials.gov API v2"],
            summary="Sizes of the studies' records (gzip)")
def get_size_stats(request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """Gzip sizes of the studies' API v2 JSON (GzipStats)."""
    try:
        _unknown(dict(request.query_params), set())
    except QueryError as exc:
        return _ctgov_error(400, str(exc))
    return registry_info.size_stats(store)


@router.get("/api/v2/studies/{nct_id}", tags=["ClinicalTrials.gov API v2"],
            summary="One study record, as ClinicalTrials.gov API v2 gives it")
def get_study(
    nct_id: str,
    request: Request,
    store: GraphStore = Depends(get_store),
    fields: str | None = _documented("fields", "Piece names (NCTId), JSON names or dotted paths, comma- or pipe-separated; CSV column names with format=csv."),
    fmt: str | None = _documented("format", "json (default), csv or fhir.json (a FHIR R4B ResearchStudy)."),
    markup: str | None = _documented("markupFormat", "markdown (the only markup format here)."),
) -> Any:
    """One study as ClinicalTrials.gov API v2 JSON, CSV or FHIR (``fields``, ``format``, ``markupFormat=markdown``).

    The NCT number follows the spec's pattern (any case, leading zeros optional).
    """
    nct = normalise_nct(nct_id)
    if nct is None:
        return _ctgov_error(400, f"not an NCT number: {nct_id!r} (expected {NCT_HINT})")
    params = dict(request.query_params)
    columns = None
    try:
        _unknown(params, {"fields", "format", "markupFormat"})
        fmt = check_format(params, ("json", "csv", "fhir.json"))
        csv = fmt == "csv"
        if fmt == "fhir.json" and "fields" in params:
            raise QueryError("Parameter 'fields' is not applicable with format fhir.json")
        if csv and "fields" in params:
            columns = parse_columns(params["fields"])
        paths = None if csv else parse_fields_param(params)
    except (QueryError, CsvError) as exc:
        return _ctgov_error(400, str(exc))
    try:
        study = export_study(store, nct, full_text=True)
    except StudyNotFound as exc:
        return _ctgov_error(404, str(exc))
    if csv:
        return Response(write_csv([study], columns, header=True), media_type="text/csv; charset=utf-8")
    if fmt == "fhir.json":
        return Response(research_study_json(study, store), media_type=FHIR_JSON)
    return project(study, paths) if paths else study


@router.get("/fhir/ResearchStudy", tags=["FHIR"], summary="Search the studies as FHIR ResearchStudy resources")
def search_research_studies(request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """A FHIR ``searchset`` Bundle of ResearchStudy resources, searched with the ClinicalTrials.gov
    parameters of ``/api/v2/studies`` (``query.cond``, ``filter.advanced``, ``aggFilters``, ``sort``,
    ``pageSize``, ``pageToken``, ``countTotal`` ...; not ``fields`` or ``format``). Errors are OperationOutcomes."""
    params = dict(request.query_params)
    if "fields" in params or "format" in params:
        name = "fields" if "fields" in params else "format"
        return Response(operation_outcome("not-supported", f"{name}: a Bundle holds whole ResearchStudy resources"),
                        status_code=400, media_type=FHIR_JSON)
    try:
        q = parse_params(params)
        page = _finder(request, store)(q)
    except QueryError as exc:
        return Response(operation_outcome("invalid", str(exc)), status_code=400, media_type=FHIR_JSON)
    except SearchBudgetExceeded as exc:
        return Response(operation_outcome("too-costly", f"the search was stopped: {exc}"), status_code=503,
                        media_type=FHIR_JSON)
    base = str(request.base_url) + "fhir/"
    studies = list(export_page(store, page.ncts, _budget(request), page.records))
    next_url = None
    if (token := page.token_after(len(studies))) is not None:
        next_url = str(request.url.include_query_params(pageToken=token))
    body = search_bundle(studies, base=base, self_url=str(request.url), next_url=next_url, total=page.total)
    return Response(body, media_type=FHIR_JSON)


@router.get("/fhir/ResearchStudy/{nct_id}", tags=["FHIR"], summary="One study as a FHIR R4B ResearchStudy")
def get_research_study(nct_id: str, request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """One study as a FHIR R4B ResearchStudy (built and validated with fhir.resources; see
    acse_kg.ctgov.fhir_study). Errors are FHIR OperationOutcomes."""
    nct = normalise_nct(nct_id)
    if nct is None:
        return Response(operation_outcome("invalid", f"not an NCT number: {nct_id!r} (expected {NCT_HINT})"),
                        status_code=400, media_type=FHIR_JSON)
    unknown = sorted(set(request.query_params) - {"_format"})
    fmt = request.query_params.get("_format", "json")
    if unknown or fmt not in ("json", "application/fhir+json", "application/json"):
        what = f"unsupported parameter {unknown[0]!r}" if unknown else f"_format {fmt!r}: only JSON is written here"
        return Response(operation_outcome("not-supported", what), status_code=400, media_type=FHIR_JSON)
    try:
        study = export_study(store, nct, full_text=True)
    except StudyNotFound as exc:
        return Response(operation_outcome("not-found", str(exc)), status_code=404, media_type=FHIR_JSON)
    return Response(research_study_json(study, store), media_type=FHIR_JSON)


@router.get("/api/v2/studies", tags=["ClinicalTrials.gov API v2"],
            summary="Search the studies with ClinicalTrials.gov's query syntax")
async def get_studies(
    request: Request,
    store: GraphStore = Depends(get_store),
    cond: str | None = _documented("query.cond", "Conditions, keywords, condition MeSH terms. Every query.* takes Essie basics: terms ANDed, \"phrases\", OR, AND, NOT, parentheses, AREA[piece], RANGE[from, to], MISSING; case-insensitive substrings."),
    intr: str | None = _documented("query.intr", "Interventions, other names, arms, intervention MeSH terms."),
    term: str | None = _documented("query.term", "Any text of the record."),
    titles: str | None = _documented("query.titles", "Brief and official titles, acronym."),
    outc: str | None = _documented("query.outc", "Outcome measures, descriptions, time frames."),
    spons: str | None = _documented("query.spons", "Lead sponsor and collaborators."),
    lead: str | None = _documented("query.lead", "Lead sponsor."),
    locn: str | None = _documented("query.locn", "Facility, city, state, zip, country."),
    ids: str | None = _documented("query.id", "NCT number and other study ids."),
    status: str | None = _documented("filter.overallStatus", "Comma- or pipe-separated Status codes."),
    nct_ids: str | None = _documented("filter.ids", "Comma- or pipe-separated NCT numbers."),
    advanced: str | None = _documented("filter.advanced", "An Essie expression, e.g. AREA[Phase]PHASE2 AND AREA[StartDate]RANGE[2013-01-01,MAX]."),
    geo: str | None = _documented("filter.geo", "distance(latitude,longitude,radius) with the radius in mi (default) or km: studies with a site that near."),
    post_status: str | None = _documented("postFilter.overallStatus", "As filter.overallStatus (no aggregation counts are made here, so post-filters filter too)."),
    post_ids: str | None = _documented("postFilter.ids", "As filter.ids."),
    post_advanced: str | None = _documented("postFilter.advanced", "As filter.advanced."),
    post_geo: str | None = _documented("postFilter.geo", "As filter.geo."),
    synonyms: str | None = _documented("filter.synonyms", "Refused: the registry keeps no synonym lists."),
    post_synonyms: str | None = _documented("postFilter.synonyms", "Refused: the registry keeps no synonym lists."),
    patient: str | None = _documented("query.patient", "ClinicalTrials.gov's patient search; here any text of the record."),
    decay: str | None = _documented("geoDecay", "With filter.geo: how a site's distance lowers relevance, default func:exp,scale:300mi,offset:0mi,decay:0.5."),
    agg: str | None = _documented("aggFilters", "Facets of the search page: filter_id:options pairs, e.g. phase:2 3,status:rec,sex:f."),
    sort: str | None = _documented("sort", "At most two of piece[:asc|desc] (date or numeric pieces) or @relevance (the default)."),
    page_size: str | None = _documented("pageSize", "Studies per page: default 10 (also for 0), at most 1000."),
    page_token: str | None = _documented("pageToken", "The nextPageToken of the previous page (x-next-page-token with CSV)."),
    count_total: str | None = _documented("countTotal", "true: totalCount with the first page (x-total-count with CSV)."),
    fields: str | None = _documented("fields", "Piece names (NCTId), JSON names or dotted paths, comma- or pipe-separated; CSV column names with format=csv."),
    fmt: str | None = _documented("format", "json (default) or csv (ClinicalTrials.gov's CSV columns)."),
    markup: str | None = _documented("markupFormat", "markdown (the only markup format here)."),
) -> Any:
    """The list query with ClinicalTrials.gov's parameters, answered as PagedStudies or CSV (see acse_kg.ctgov.query).

    The search index answers it (acse_kg.search_index) unless a geo filter needs the graph; a search whose
    client goes away is stopped in the engine."""
    return await _watching(request, lambda cancel: _list_studies(request, store, cancel))


def _list_studies(request: Request, store: GraphStore, cancel: threading.Event) -> Any:
    params = dict(request.query_params)
    find = _finder(request, store, cancel)
    try:
        if params.get("format") != "csv":
            return list_studies(store, params, budget=_budget(request), find=find)
        q = parse_params(params)
        page = find(q)
    except QueryError as exc:
        return _ctgov_error(400, str(exc))
    except SearchBudgetExceeded as exc:
        return _ctgov_error(503, f"the search was stopped: {exc}")
    studies = list(export_page(store, page.ncts, _budget(request), page.records))
    headers = {}
    if (token := page.token_after(len(studies))) is not None:
        headers["x-next-page-token"] = token
    if page.total is not None:
        headers["x-total-count"] = str(page.total)
    body = write_csv(studies, q.columns, header=q.first_page)
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


#: The example OpenAPI shows for an import: a study record trimmed to its identification and status.
_IMPORT_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "a ClinicalTrials.gov API v2 study record"},
    "example": {"protocolSection": {
        "identificationModule": {"nctId": "NCT02034981", "briefTitle": "AcSé Crizotinib Programme"},
        "statusModule": {"overallStatus": "ACTIVE_NOT_RECRUITING"}}},
}}}}


@router.post("/api/v2/studies", tags=["ClinicalTrials.gov API v2"],
             summary="Import one study record (admin token)",
              openapi_extra=_IMPORT_DOC)
async def post_study(request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """Import one API v2 study record (all or nothing); 422 with the JSON path of each problem.

    201 when a new version was stored, 200 with ``unchanged: true`` when the
    registry holds that record already (no version is made). A study curated
    beyond what API v2 carries (cohorts, structured criteria) is replaced only
    with ``?replaceCurated=true`` (the curated version stays in the history).
    The record's eligibility is drafted in the same version, keeping the curator's
    decisions on earlier drafts; ``?draft=false`` stores the record alone.
    """
    token = _admin_token(request)
    if not token:
        return _error(403, "imports are disabled on this server (no admin token configured)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return JSONResponse({"error": "importing needs the admin token: Authorization: Bearer <token>"},
                            status_code=401, headers={"WWW-Authenticate": 'Bearer realm="acse-kg"'})
    try:
        record = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, f"body is not JSON: {exc}")
    except RecursionError:
        return _error(400, "body is not a study record: JSON nested too deeply")
    replace = request.query_params.get("replaceCurated", "false").lower()
    if replace not in ("true", "false"):
        return _error(400, f"replaceCurated: true or false, not {replace!r}")
    drafting = request.query_params.get("draft", "true").lower()
    if drafting not in ("true", "false"):
        return _error(400, f"draft: true or false, not {drafting!r}")
    try:
        result = import_study(store, record, agent="api (admin token)", replace_curated=replace == "true",
                              draft=drafting == "true")
    except ImportRefused as exc:
        return _error(422, "record refused; nothing was stored",
                      problems=[{"path": p.path, "message": p.message} for p in exc.problems])
    except StoreError as exc:
        return _error(500, f"store error, nothing was stored: {exc}")
    return JSONResponse(
        {"nctId": result.nct_id, "graph": result.graph, "triples": result.triples,
         "previousVersion": result.previous_version, "unchanged": result.unchanged,
         "warnings": [{"path": w.path, "message": w.message} for w in result.warnings]},
        status_code=200 if result.unchanged else 201, headers={"Location": f"/api/v2/studies/{result.nct_id}"},
    )


def _wants_html(request: Request) -> bool:
    """A browser asking for the page (text/html preferred to JSON); API clients get JSON."""
    return choose(request.headers.get("accept"), {"application/json": "json", "text/html": "html"}) == "html"


_PAGE_HEAD = """{% extends "base.html" %}
{% import "_macros.html" as mc %}
{% block crumbs %} › <a href="{{ links.study(nct) }}">{{ nct }}</a> › <span aria-current="page">{{ crumb }}</span>{% endblock %}
"""

HISTORY_PAGE = _PAGE_HEAD + """{% block title %}History of {{ nct }} — acse-kg{% endblock %}
{% block main %}
<article class="history">
<h1>History of {{ nct }}</h1>
<p>Every import or edit keeps the version before it, with who made it and when (PROV-O in the graph).</p>
<table class="versions">
<thead><tr><th scope="col">Version</th><th scope="col">When</th><th scope="col">Who</th><th scope="col">Note</th></tr></thead>
<tbody>
{% for v in versions %}
<tr class="version" data-version="{{ v.number }}"><td>v{{ v.number }}{% if v.current %} <strong>(current)</strong>{% endif %}</td>
<td>{% if v.time %}<time datetime="{{ html_time(v.time) }}">{{ v.time }}</time>{% endif %}</td><td>{{ v.agent or "" }}</td><td>{{ v.note or "" }}</td></tr>
{% endfor %}
</tbody>
</table>
{% if versions | length > 1 %}
<h2>Compare two versions</h2>
<ul class="diffs">
{% for a, b in steps %}<li><a href="{{ links.root }}study/{{ nct }}/history/diff?from={{ a }}&amp;to={{ b }}">v{{ a }} → v{{ b }}</a></li>{% endfor %}
</ul>
<form method="get" action="{{ links.root }}study/{{ nct }}/history/diff">
<label>from <select name="from">{% for v in versions %}<option value="{{ v.number }}">v{{ v.number }}</option>{% endfor %}</select></label>
<label>to <select name="to">{% for v in versions %}<option value="{{ v.number }}"{% if v.current %} selected{% endif %}>v{{ v.number }}</option>{% endfor %}</select></label>
<button type="submit">Compare</button>
</form>
{% endif %}
</article>
{% endblock %}"""

DIFF_PAGE = _PAGE_HEAD + """{% block title %}{{ nct }}: v{{ a }} → v{{ b }} — acse-kg{% endblock %}
{% block main %}
<article class="history-diff">
<h1>{{ nct }}: version {{ a }} → version {{ b }}</h1>
<p><a href="{{ links.root }}study/{{ nct }}/history">All versions</a>. Fields of the ClinicalTrials.gov API v2 record that differ, by JSON path.</p>
{% if changes %}
<table class="changes">
<thead><tr><th scope="col">Field</th><th scope="col">v{{ a }}</th><th scope="col">v{{ b }}</th></tr></thead>
<tbody>
{% for c in changes %}<tr class="change"><td><code>{{ c.field }}</code></td><td>{{ c["from"] if c["from"] is not none else "—" }}</td><td>{{ c.to if c.to is not none else "—" }}</td></tr>{% endfor %}
</tbody>
</table>
{% else %}<p class="none">No field differs.</p>{% endif %}
</article>
{% endblock %}"""

CHECK_PAGE = _PAGE_HEAD + """{% block title %}Record check of {{ nct }} — acse-kg{% endblock %}
{% block main %}
<article class="record-check">
<h1>Record check of {{ nct }}</h1>
<p>What a registry reviewer would flag before publishing: SHACL rules in <code>shapes/record_check.ttl</code>{% if reason %} and the OWL reasoner{% endif %}.</p>
{% if findings %}
<table class="findings">
<thead><tr><th scope="col">Rule</th><th scope="col">About</th><th scope="col">Offending value</th><th scope="col">Finding</th></tr></thead>
<tbody>
{% for f in findings %}<tr class="finding" data-rule="{{ f.rule }}"><td><code>{{ f.rule }}</code></td>
<td><a href="{{ links.iri(f.focus) }}">{{ f.focus }}</a></td><td>{{ f.value or "" }}</td><td>{{ f.message }}</td></tr>{% endfor %}
</tbody>
</table>
{% else %}<p class="clean">No findings: nothing a reviewer would flag.</p>{% endif %}
</article>
{% endblock %}"""


def html_time(value: str) -> str:
    """An xsd:dateTime as HTML's datetime attribute takes it (at most three digits of a second's fraction)."""
    return re.sub(r"(\.\d{3})\d+", r"\1", value)


def _page(template: str, **ctx: Any) -> HTMLResponse:
    from acse_kg.pages import Links
    from acse_kg.pages.render import ASSETS, environment

    html = environment().from_string(template).render(links=Links(), assets=ASSETS, html_time=html_time, **ctx)
    return HTMLResponse(html)


@router.get("/study/{nct}/history", tags=["record history"], summary="Every version of a study record")
def get_history(nct: str, request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """Every version of a study record, oldest first, with who and when (HTML page or JSON)."""
    if (bad := _bad_nct(nct)) is not None:
        return bad
    try:
        versions = list_versions(store, nct)
    except HistoryError as exc:
        return _error(404, str(exc))
    if _wants_html(request):
        numbers = [v.number for v in versions]
        return _page(HISTORY_PAGE, nct=nct, crumb="History", versions=versions,
                     steps=list(pairwise(numbers)))
    return {"nctId": nct, "versions": [v.as_dict() for v in versions]}


@router.get("/study/{nct}/history/diff", tags=["record history"], summary="What changed between two versions of a record")
def get_history_diff(nct: str, request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """Field-by-field differences between versions ``from`` and ``to`` (HTML page or JSON)."""
    if (bad := _bad_nct(nct)) is not None:
        return bad
    try:
        a, b = int(request.query_params["from"]), int(request.query_params["to"])
    except KeyError:
        return _error(400, "give both version numbers: ?from=N&to=M")
    except ValueError:
        return _error(400, "from and to must be version numbers (integers)")
    try:
        changes = diff_versions(store, nct, a, b)
    except HistoryError as exc:
        return _error(404, str(exc))
    if _wants_html(request):
        return _page(DIFF_PAGE, nct=nct, crumb=f"v{a} → v{b}", a=a, b=b, changes=changes)
    return {"nctId": nct, "from": a, "to": b, "changes": changes}


@router.get("/study/{nct}/check", tags=["record history"], summary="What a reviewer would flag on the record")
def get_check(nct: str, request: Request, store: GraphStore = Depends(get_store)) -> Any:
    """What a registry reviewer would flag on the record before publishing (``?reason=true``: with HermiT)."""
    if (bad := _bad_nct(nct)) is not None:
        return bad
    flag = request.query_params.get("reason", "false").lower()
    if flag not in ("true", "false"):
        return _error(400, f"reason: true or false, not {flag!r}")
    if flag == "true":
        require_admin(request, "the OWL reasoner (reason=true)")
    try:
        findings = reasoned_check(store, nct) if flag == "true" else check_study(store, nct)
    except CheckError as exc:
        return _error(404, str(exc))
    except ReasonerFailed as exc:
        return _error(503, str(exc))
    if _wants_html(request):
        return _page(CHECK_PAGE, nct=nct, crumb="Record check", findings=findings, reason=flag == "true")
    return {"nctId": nct, "clean": not findings, "findings": [f.as_dict() for f in findings]}
