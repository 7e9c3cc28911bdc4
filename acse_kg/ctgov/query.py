"""``GET /api/v2/studies``: the ClinicalTrials.gov list query, answered from the graph.

Supported parameters, with ClinicalTrials.gov's meaning (spec 2.0.5):
``query.cond`` (conditions, keywords, condition MeSH terms), ``query.intr``
(interventions, their other names, intervention MeSH terms), ``query.term``
(any text of the record), ``query.titles`` (titles, acronym), ``query.outc``
(outcome measures), ``query.spons`` / ``query.lead`` (sponsor and
collaborators / lead sponsor), ``query.locn`` (facility, city, state, zip,
country), ``query.id`` (NCT number and other study ids),
``filter.overallStatus`` and ``filter.ids`` (comma- or pipe-separated),
``pageSize`` (default 10; 0 means the default; more than 1000 is coerced down
to 1000), ``pageToken`` (opaque, from ``nextPageToken``), ``countTotal``
(``totalCount`` on the first page only), ``fields`` (see :mod:`.fields`),
``format=json`` and ``markupFormat=markdown``. The ``query.*`` texts follow
the part of ClinicalTrials.gov's Essie syntax in :mod:`.essie` (terms ANDed,
"quoted phrases", OR, AND, NOT, parentheses), each term matched as a
case-insensitive substring of the area's texts; studies come in NCT order so
pages are stable. Any other parameter is refused by name.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..loader import STUDY_GRAPH_PREFIX
from ..namespaces import normalise_nct, sparql_string
from ..store import GraphStore
from .essie import EssieError, Node, parse, to_sparql
from .export import _codes, export_study
from .fields import FieldsError, Path_, parse_fields, project
from .spec import enum_values

#: Runs a SELECT and returns one column's values as strings: (query text, variable name) -> values.
Search = Callable[[str, str], list[str]]

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10

#: query.* search areas -> the property paths (from the study) whose text they search.
AREAS: dict[str, str] = {
    "query.cond": "(acse:condition/rdfs:label)|acse:keyword|(acse:meshTerm/rdfs:label)",
    "query.intr": "(acse:hasIntervention/(rdfs:label|acse:otherName|acse:description))|(acse:meshTerm/rdfs:label)"
                  "|(acse:hasArm/(rdfs:label|acse:description))",
    "query.titles": "acse:briefTitle|acse:officialTitle|acse:acronym",
    "query.outc": "(acse:primaryOutcome|acse:secondaryOutcome|acse:otherOutcome)/(acse:measure|acse:description|acse:timeFrame)",
    "query.spons": "(acse:leadSponsor|acse:collaborator)/rdfs:label",
    "query.lead": "acse:leadSponsor/rdfs:label",
    "query.locn": "acse:site/((acse:facility/rdfs:label)|acse:city|acse:state|acse:zip|acse:country)",
    "query.id": "acse:nctId|(acse:identifier/acse:identifierValue)",
}


class QueryError(ValueError):
    """A parameter is malformed; the message names it."""


@dataclass
class StudyQuery:
    areas: dict[str, Node] = field(default_factory=dict)  # query.* parameter -> its parsed Essie query
    term: Node | None = None
    statuses: list[str] | None = None
    ids: list[str] | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    first_page: bool = True
    count_total: bool = False
    fields: list[Path_] | None = None


def check_format(params: dict[str, str]) -> None:
    """``format`` and ``markupFormat``: only what this registry writes (JSON, markdown)."""
    if params.get("format", "json") != "json":
        raise QueryError(f"format: only json is supported here, not {params['format']!r}")
    if params.get("markupFormat", "markdown") != "markdown":
        raise QueryError(f"markupFormat: only markdown is supported here, not {params['markupFormat']!r}")


def parse_fields_param(params: dict[str, str]) -> list[Path_] | None:
    if "fields" not in params:
        return None
    try:
        return parse_fields(params["fields"])
    except FieldsError as exc:
        raise QueryError(str(exc)) from None


def parse_params(params: dict[str, str]) -> StudyQuery:
    """Check and convert the query-string parameters; raise :class:`QueryError` naming a bad one."""
    known = {*AREAS, "query.term", "filter.overallStatus", "filter.ids", "pageSize", "pageToken",
             "countTotal", "fields", "format", "markupFormat"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise QueryError(f"unsupported parameter(s): {', '.join(unknown)} (supported: {', '.join(sorted(known))})")
    check_format(params)
    q = StudyQuery()
    for name in (*AREAS, "query.term"):
        if params.get(name, "").strip():
            try:
                tree = parse(params[name])
            except EssieError as exc:
                raise QueryError(f"{name}: {exc}") from None
            if name == "query.term":
                q.term = tree
            else:
                q.areas[name] = tree
    if params.get("filter.overallStatus"):
        codes = [c.strip().upper() for c in params["filter.overallStatus"].replace("|", ",").split(",") if c.strip()]
        bad = [c for c in codes if c not in enum_values("Status")]
        if bad:
            raise QueryError(f"filter.overallStatus: unknown status {', '.join(bad)} "
                             f"(one of {', '.join(enum_values('Status'))})")
        q.statuses = codes
    if params.get("filter.ids"):
        raw = [c.strip() for c in params["filter.ids"].replace("|", ",").split(",") if c.strip()]
        bad = [c for c in raw if normalise_nct(c) is None]
        if bad:
            raise QueryError(f"filter.ids: not an NCT number: {', '.join(bad)}")
        q.ids = [normalise_nct(c) for c in raw]  # type: ignore[misc]
    if params.get("pageSize", "").strip():
        try:
            size = int(params["pageSize"])
        except ValueError:
            raise QueryError(f"pageSize: not an integer: {params['pageSize']!r}") from None
        if size < 0:
            raise QueryError("pageSize: must not be negative")
        q.page_size = min(size, MAX_PAGE_SIZE) if size else DEFAULT_PAGE_SIZE  # as ClinicalTrials.gov does
    if params.get("pageToken"):
        try:
            q.offset = int(base64.urlsafe_b64decode(params["pageToken"].encode()).decode())
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise QueryError("pageToken: not a token this server issued") from None
        if q.offset < 0:
            raise QueryError("pageToken: not a token this server issued")
        q.first_page = False
    if "countTotal" in params:
        if params["countTotal"].lower() not in ("true", "false"):
            raise QueryError(f"countTotal: true or false, not {params['countTotal']!r}")
        q.count_total = params["countTotal"].lower() == "true"
    q.fields = parse_fields_param(params)
    return q


def _contains(text: str) -> str:
    return f"CONTAINS(LCASE(STR(?t)), LCASE({sparql_string(text)}))"


def _area_filter(var_paths: str, tree: Node) -> str:
    """FILTER for an Essie query over one search area: each term found in some text of the area."""
    return "FILTER(" + to_sparql(tree, lambda t: f"EXISTS {{ ?s {var_paths} ?t . FILTER({_contains(t)}) }}") + ")"


def _term_filter(tree: Node) -> str:
    """FILTER for query.term: each term found in some text of the study's own graph."""
    graph = f"IRI(CONCAT({sparql_string(STUDY_GRAPH_PREFIX)}, ?nct))"
    return "FILTER(" + to_sparql(tree, lambda t: (
        f"EXISTS {{ GRAPH ?g {{ ?x ?p ?t }} FILTER(?g = {graph}) FILTER(isLiteral(?t) && {_contains(t)}) }}")) + ")"


def matching_ncts(store: GraphStore, q: StudyQuery, search: Search | None = None) -> list[str]:
    """NCT numbers of the live studies that match, in NCT order.

    ``search`` runs the SELECT and returns its ``?nct`` column; the server passes one that runs
    it in its query pool, under the query time limit (a query.* of thousands of OR-ed terms is
    minutes of work); without it the store answers in this thread.
    """
    where = ["?s a/rdfs:subClassOf* acse:Study ; acse:nctId ?nct ."]
    for area, tree in q.areas.items():
        where.append(_area_filter(AREAS[area], tree))
    if q.ids:
        where.append("FILTER(STR(?nct) IN (" + ", ".join(sparql_string(n) for n in q.ids) + "))")
    if q.term is not None:
        where.append(_term_filter(q.term))
    if q.statuses:
        where.append("?s acse:overallStatus/acse:code ?status . FILTER(?status IN ("
                     + ", ".join(sparql_string(c) for c in q.statuses) + "))")
    text = "SELECT DISTINCT ?nct WHERE { " + "\n".join(where) + " } ORDER BY ?nct"
    if search is not None:
        return search(text, "nct")
    return [str(v) for v in store.select(text).values("nct")]


def list_studies(store: GraphStore, params: dict[str, str], search: Search | None = None) -> dict[str, Any]:
    """The API v2 list response: ``studies``, ``nextPageToken`` if more, ``totalCount`` if asked."""
    q = parse_params(params)
    ncts = matching_ncts(store, q, search)
    page = ncts[q.offset:q.offset + q.page_size]
    codes = _codes(store) if page else {}  # the API code table, read once for the whole page
    studies = [export_study(store, n, full_text=True, codes=codes) for n in page]
    if q.fields:
        studies = [project(s, q.fields) for s in studies]
    body: dict[str, Any] = {"studies": studies}
    if q.offset + q.page_size < len(ncts):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(q.offset + q.page_size).encode()).decode()
    if q.count_total and q.first_page:  # "ignored for the subsequent pages"
        body["totalCount"] = len(ncts)
    return body
