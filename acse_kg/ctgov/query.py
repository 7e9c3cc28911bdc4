"""``GET /api/v2/studies``: the ClinicalTrials.gov list query, answered from the graph.

Supported parameters, with ClinicalTrials.gov's meaning: ``query.cond``
(conditions, keywords, condition MeSH terms), ``query.intr`` (interventions,
their other names, intervention MeSH terms), ``query.term`` (any text of the
record), ``filter.overallStatus`` (comma- or pipe-separated codes),
``pageSize`` (default 10, at most 1000), ``pageToken`` (opaque, from
``nextPageToken``), ``countTotal`` and ``fields`` (dotted paths such as
``protocolSection.identificationModule`` or bare field names such as
``nctId``/``NCTId``, ``briefTitle``). Matching is case-insensitive substring
matching; studies come in NCT order so pages are stable.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ..loader import STUDY_GRAPH_PREFIX
from ..store import GraphStore
from .export import export_study
from .spec import enum_values

MAX_PAGE_SIZE = 1000


class QueryError(ValueError):
    """A parameter is malformed; the message names it."""


def _lit(text: str) -> str:
    """A SPARQL string literal for user text (no injection: every special character escaped)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{out}"'


@dataclass
class StudyQuery:
    cond: str | None = None
    intr: str | None = None
    term: str | None = None
    statuses: list[str] | None = None
    page_size: int = 10
    offset: int = 0
    count_total: bool = False
    fields: list[str] | None = None


def parse_params(params: dict[str, str]) -> StudyQuery:
    """Check and convert the query-string parameters; raise :class:`QueryError` naming a bad one."""
    known = {"query.cond", "query.intr", "query.term", "filter.overallStatus", "pageSize", "pageToken",
             "countTotal", "fields", "format"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise QueryError(f"unsupported parameter(s): {', '.join(unknown)}")
    if params.get("format", "json") != "json":
        raise QueryError("format: only json is supported")
    q = StudyQuery(cond=params.get("query.cond") or None, intr=params.get("query.intr") or None,
                   term=params.get("query.term") or None)
    if params.get("filter.overallStatus"):
        codes = [c.strip().upper() for c in params["filter.overallStatus"].replace("|", ",").split(",") if c.strip()]
        bad = [c for c in codes if c not in enum_values("Status")]
        if bad:
            raise QueryError(f"filter.overallStatus: unknown status {', '.join(bad)}")
        q.statuses = codes
    if "pageSize" in params:
        try:
            q.page_size = int(params["pageSize"])
        except ValueError:
            raise QueryError("pageSize: not an integer") from None
        if not 0 < q.page_size <= MAX_PAGE_SIZE:
            raise QueryError(f"pageSize: must be between 1 and {MAX_PAGE_SIZE}")
    if params.get("pageToken"):
        try:
            q.offset = int(base64.urlsafe_b64decode(params["pageToken"].encode()).decode())
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise QueryError("pageToken: not a token this server issued") from None
        if q.offset < 0:
            raise QueryError("pageToken: not a token this server issued")
    if "countTotal" in params:
        if params["countTotal"].lower() not in ("true", "false"):
            raise QueryError("countTotal: true or false")
        q.count_total = params["countTotal"].lower() == "true"
    if params.get("fields"):
        q.fields = [f.strip() for f in params["fields"].replace("|", ",").split(",") if f.strip()]
    return q


def _text_filter(var_paths: str, text: str) -> str:
    return f"FILTER EXISTS {{ ?s {var_paths} ?t . FILTER(CONTAINS(LCASE(STR(?t)), LCASE({_lit(text)}))) }}"


def matching_ncts(store: GraphStore, q: StudyQuery) -> list[str]:
    """NCT numbers of the live studies that match, in NCT order."""
    where = ["?s a/rdfs:subClassOf* acse:Study ; acse:nctId ?nct ."]
    if q.cond:
        where.append(_text_filter(
            "(acse:condition/rdfs:label)|acse:keyword|(acse:meshTerm/rdfs:label)", q.cond))
    if q.intr:
        where.append(_text_filter(
            "(acse:hasIntervention/(rdfs:label|acse:otherName))|(acse:meshTerm/rdfs:label)", q.intr))
    if q.term:
        where.append(
            f"FILTER EXISTS {{ GRAPH ?g {{ ?x ?p ?t }} FILTER(?g = IRI(CONCAT({_lit(STUDY_GRAPH_PREFIX)}, ?nct))) "
            f"FILTER(isLiteral(?t) && CONTAINS(LCASE(STR(?t)), LCASE({_lit(q.term)}))) }}")
    if q.statuses:
        where.append("?s acse:overallStatus/acse:code ?status . FILTER(?status IN ("
                     + ", ".join(_lit(c) for c in q.statuses) + "))")
    rows = store.select("SELECT DISTINCT ?nct WHERE { " + "\n".join(where) + " } ORDER BY ?nct")
    return [str(v) for v in rows.values("nct")]


def _pick(study: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Only the asked fields: a dotted path keeps that subtree, a bare name every key of that name."""
    out: dict[str, Any] = {}

    def put(path: list[str], value: Any) -> None:
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    def find(node: Any, name: str, path: list[str]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k.lower() == name.lower():
                    put([*path, k], v)
                else:
                    find(v, name, [*path, k])

    for f in fields:
        if "." in f:
            node: Any = study
            parts = f.split(".")
            for part in parts:
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                put(parts, node)
        else:
            find(study, f, [])
    return out


def list_studies(store: GraphStore, params: dict[str, str]) -> dict[str, Any]:
    """The API v2 list response: ``studies``, ``nextPageToken`` if more, ``totalCount`` if asked."""
    q = parse_params(params)
    ncts = matching_ncts(store, q)
    page = ncts[q.offset:q.offset + q.page_size]
    studies = [export_study(store, n, full_text=True) for n in page]
    if q.fields:
        studies = [_pick(s, q.fields) for s in studies]
    body: dict[str, Any] = {"studies": studies}
    if q.offset + q.page_size < len(ncts):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(q.offset + q.page_size).encode()).decode()
    if q.count_total:
        body["totalCount"] = len(ncts)
    return body
