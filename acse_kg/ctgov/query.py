"""``GET /api/v2/studies``: the ClinicalTrials.gov list query, answered from the graph.

Supported parameters, with ClinicalTrials.gov's meaning (spec 2.0.5):
``query.cond`` (conditions, keywords, condition MeSH terms), ``query.intr``
(interventions, their other names, intervention MeSH terms), ``query.term``
(any text of the record), ``query.titles`` (titles, acronym), ``query.outc``
(outcome measures), ``query.spons`` / ``query.lead`` (sponsor and
collaborators / lead sponsor), ``query.locn`` (facility, city, state, zip,
country), ``query.id`` (NCT number and other study ids),
``query.patient`` (ClinicalTrials.gov's patient-facing search; here any text
of the record, as ``query.term``), ``filter.overallStatus`` and
``filter.ids`` (comma- or pipe-separated), ``filter.advanced`` (an Essie
expression, any text of the record unless an ``AREA[piece]`` names a field),
``filter.geo`` (``distance(lat,lon,radius)``, see :mod:`.geo`), the same
``postFilter.*`` (ClinicalTrials.gov applies those after counting its
aggregations; no aggregation counts are made here, so they simply filter too;
``*.synonyms`` is refused: the registry has no synonym lists), ``geoDecay``
(how a site's distance lowers relevance, see :mod:`.geo`),
``aggFilters`` (the search page's facets, see
:mod:`.facets`), ``sort`` (see :func:`parse_sort`), ``pageSize`` (default 10;
0 means the default; more than 1000 is coerced down to 1000), ``pageToken``
(opaque, from ``nextPageToken``), ``countTotal`` (``totalCount`` on the first
page only), ``fields`` (see :mod:`.fields`; CSV column names with
``format=csv``, see :mod:`.csv_format`), ``format`` (json or csv) and
``markupFormat=markdown``. The ``query.*`` texts follow the part of
ClinicalTrials.gov's Essie syntax in :mod:`.essie`, each term matched as a
case-insensitive substring of the area's texts. Any other parameter is
refused by name, worded as ClinicalTrials.gov words it.

The search is one SPARQL SELECT (plus one for the sites' coordinates when
``filter.geo`` is given), run by the caller's ``select`` function: the server
passes its query pool, so a search has the same time limit as any public
query and a runaway one is stopped.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import AcseError
from ..loader import STUDY_GRAPH_PREFIX
from ..namespaces import normalise_nct, sparql_string
from ..store import GraphStore
from .essie import (
    And,
    Area,
    EssieError,
    Leaf,
    Missing,
    Node,
    Not,
    Or,
    Range,
    Term,
    areas,
    parse,
    positive_terms,
    to_sparql,
)
from .export import _codes, export_study
from .facets import AggFilter, FacetError, parse_agg_filters
from .fields import FieldsError, Path_, parse_fields, project
from .geo import DEFAULT_DECAY, GeoDecay, GeoError, GeoFilter, parse_decay, parse_geo
from .pieces import Piece, UnknownPiece, piece
from .spec import enum_values

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10
#: The spec's ``sort`` takes at most two keys (``maxItems: 2``).
MAX_SORT_KEYS = 2

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
#: Essie parameters whose area is the whole record (ClinicalTrials.gov's BasicSearch).
WHOLE_RECORD = ("query.term", "query.patient", "filter.advanced", "postFilter.advanced")
TITLES = AREAS["query.titles"]

KNOWN = frozenset({*AREAS, *WHOLE_RECORD, *(f"{kind}.{name}" for kind in ("filter", "postFilter")
                                             for name in ("overallStatus", "ids", "geo", "synonyms")),
                   "aggFilters", "geoDecay", "sort", "pageSize", "pageToken", "countTotal", "fields", "format", "markupFormat"})

Select = Callable[[str], list[dict[str, str]]]


class QueryError(AcseError, ValueError):
    """A parameter is malformed; the message names it."""


@dataclass(frozen=True)
class SortKey:
    """One ``sort`` item: a date or numeric piece (None for ``@relevance``) and its direction."""

    piece: Piece | None
    descending: bool

    @property
    def name(self) -> str:
        return "@relevance" if self.piece is None else self.piece.piece


@dataclass
class StudyQuery:
    essie: dict[str, Node] = field(default_factory=dict)  # query.* / filter.advanced -> its parsed Essie query
    status_sets: list[list[str]] = field(default_factory=list)  # filter.overallStatus, postFilter.overallStatus
    id_sets: list[list[str]] = field(default_factory=list)  # filter.ids, postFilter.ids
    geos: list[GeoFilter] = field(default_factory=list)  # filter.geo, postFilter.geo
    decay: GeoDecay = field(default_factory=lambda: parse_decay(DEFAULT_DECAY))
    agg: list[AggFilter] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=lambda: [SortKey(None, True)])
    page_size: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    after: list[Any] | None = None  # a keyset token: the sort values and NCT number of the last study seen
    first_page: bool = True
    count_total: bool = False
    csv: bool = False
    fields: list[Path_] | None = None
    columns: list[str] | None = None  # CSV columns asked for by ``fields``


def _invalid(name: str, value: str) -> QueryError:
    return QueryError(f"Invalid value in parameter {name}: {value!r}")


def check_format(params: dict[str, str], allowed: tuple[str, ...] = ("json",)) -> str:
    """``format`` and ``markupFormat``: only what this registry writes (JSON or CSV; markdown)."""
    fmt = params.get("format", "json")
    if fmt not in allowed:
        raise QueryError(f"Parameter 'format' has invalid value {fmt!r}: one of {', '.join(allowed)} here")
    if params.get("markupFormat", "markdown") != "markdown":
        raise QueryError(f"Parameter 'markupFormat' has invalid value {params['markupFormat']!r}: "
                         "only markdown is written here")
    return fmt


def parse_fields_param(params: dict[str, str]) -> list[Path_] | None:
    if "fields" not in params:
        return None
    try:
        return parse_fields(params["fields"])
    except FieldsError as exc:
        raise QueryError(str(exc)) from None


def _list(value: str) -> list[str]:
    return [c.strip() for c in value.replace("|", ",").split(",") if c.strip()]


def parse_sort(value: str) -> list[SortKey]:
    """``sort``: at most two of ``piece[:asc|desc]`` or ``@relevance[:asc|desc]``, comma- or pipe-separated.

    As the spec says: only date and numeric pieces sort; a date sorts
    descending, a number ascending and ``@relevance`` descending unless told;
    studies without the field come last either way.
    """
    items = _list(value)
    if not items:
        raise QueryError("Parameter 'sort' is empty: give a field name or @relevance")
    if len(items) > MAX_SORT_KEYS:
        raise QueryError(f"Parameter 'sort' has {len(items)} items; at most {MAX_SORT_KEYS} are allowed")
    keys = []
    for item in items:
        name, _, direction = item.partition(":")
        if direction and direction not in ("asc", "desc"):
            raise QueryError(f"Parameter 'sort' has invalid direction {direction!r} in {item!r}: asc or desc")
        if name == "@relevance":
            keys.append(SortKey(None, direction != "asc"))
            continue
        try:
            p = piece(name)
        except UnknownPiece:
            raise QueryError(f"Parameter 'sort' contains invalid field name: {name!r}") from None
        if not (p.is_date or p.is_numeric):
            raise QueryError(f"Parameter 'sort' contains field {name!r} which is not a date or numeric field; "
                             "only those can sort")
        if not p.held:
            raise QueryError(f"Parameter 'sort' contains field {name!r} which this registry does not hold")
        keys.append(SortKey(p, direction == "desc" if direction else p.is_date))
    return keys


def _parse_filters(params: dict[str, str], kind: str, q: StudyQuery) -> None:
    """``<kind>.overallStatus``, ``<kind>.ids``, ``<kind>.geo`` and ``<kind>.synonyms`` into ``q``."""
    name = f"{kind}.overallStatus"
    if params.get(name):
        codes = [c.upper() for c in _list(params[name])]
        bad = [c for c in codes if c not in enum_values("Status")]
        if bad:
            raise QueryError(f"Invalid value in parameter {name}: {', '.join(bad)} "
                             f"(one of {', '.join(enum_values('Status'))})")
        q.status_sets.append(codes)
    name = f"{kind}.ids"
    if params.get(name):
        raw = _list(params[name])
        bad = [c for c in raw if normalise_nct(c) is None]
        if bad:
            raise QueryError(f"Invalid value in parameter {name}: not an NCT number: {', '.join(bad)}")
        q.id_sets.append([n for c in raw if (n := normalise_nct(c)) is not None])  # none is None: checked above
    name = f"{kind}.geo"
    if name in params:
        try:
            q.geos.append(parse_geo(params[name]))
        except GeoError as exc:
            raise QueryError(f"{name}: {exc}") from None
    name = f"{kind}.synonyms"
    if name in params:
        raise QueryError(f"{name}: the registry keeps no synonym lists, so none can be switched on or off")


def parse_params(params: dict[str, str]) -> StudyQuery:
    """Check and convert the query-string parameters; raise :class:`QueryError` naming a bad one."""
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise QueryError(f"`{unknown[0]}` is unknown parameter")
    q = StudyQuery()
    q.csv = check_format(params, ("json", "csv")) == "csv"
    for name in (*AREAS, *WHOLE_RECORD):
        if params.get(name, "").strip():
            try:
                tree = parse(params[name])
                for area in areas(tree):
                    piece(area)
            except EssieError as exc:
                raise QueryError(f"{name}: {exc}") from None
            except UnknownPiece as exc:
                raise QueryError(f"{name}: AREA[{exc.args[0]}] names no field of the study record "
                                 "(the piece names are listed by /api/v2/studies/metadata)") from None
            q.essie[name] = tree
    for kind in ("filter", "postFilter"):  # no aggregation counts are made, so a post-filter is a filter
        _parse_filters(params, kind, q)
    if "aggFilters" in params:
        try:
            q.agg = parse_agg_filters(params["aggFilters"])
        except FacetError as exc:
            raise QueryError(f"aggFilters: {exc}") from None
    if "sort" in params:
        q.sort = parse_sort(params["sort"])
    if "geoDecay" in params:
        try:
            q.decay = parse_decay(params["geoDecay"])
        except GeoError as exc:
            raise QueryError(f"geoDecay: {exc}") from None
    if params.get("pageSize", "").strip():
        try:
            size = int(params["pageSize"])
        except ValueError:
            raise _invalid("pageSize", params["pageSize"]) from None
        if size < 0:
            raise QueryError(f"Invalid value in parameter pageSize: {size} (must not be negative)")
        q.page_size = min(size, MAX_PAGE_SIZE) if size else DEFAULT_PAGE_SIZE  # as ClinicalTrials.gov does
    if params.get("pageToken"):
        bad = QueryError("Invalid value in parameter pageToken: not a token this server issued")
        try:
            text = base64.urlsafe_b64decode(params["pageToken"].encode()).decode()
            if text.startswith("{"):
                after = json.loads(text)["after"]
                if not isinstance(after, list) or not after or not isinstance(after[-1], str) or \
                        not all(v is None or isinstance(v, (str, int, float)) for v in after):
                    raise bad
                q.after = after
            else:
                q.offset = int(text)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise bad from None
        if q.offset < 0:
            raise bad
        q.first_page = False
    if "countTotal" in params:
        if params["countTotal"].lower() not in ("true", "false"):
            raise QueryError(f"Invalid value in parameter countTotal: {params['countTotal']!r} (true or false)")
        q.count_total = params["countTotal"].lower() == "true"
    if q.csv:
        from .csv_format import CsvError, parse_columns

        if "fields" in params:
            try:
                q.columns = parse_columns(params["fields"])
            except CsvError as exc:
                raise QueryError(str(exc)) from None
    else:
        q.fields = parse_fields_param(params)
    search_query(q)  # writing the search finds what only the fields can tell (a RANGE bound that is no date ...)
    return q


# ------------------------------------------------------------------ SPARQL
class _Vars:
    """Fresh variable names, so that patterns written for different leaves never share one."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, stem: str = "v") -> str:
        self.n += 1
        return f"?{stem}{self.n}"


def _contains(var: str, text: str) -> str:
    return f"CONTAINS(LCASE(STR({var})), LCASE({sparql_string(text)}))"


def _in_area(paths: str, text: str, v: _Vars) -> str:
    t = v("t")
    return f"EXISTS {{ ?s {paths} {t} . FILTER({_contains(t, text)}) }}"


def _in_record(text: str, v: _Vars) -> str:
    """A term found in any literal of the study's own graph (``?graph``, bound once per study)."""
    t, x, p = v("t"), v("x"), v("p")
    return f"EXISTS {{ GRAPH ?graph {{ {x} {p} {t} FILTER(isLiteral({t}) && {_contains(t, text)}) }} }}"


def _partial_date(var: str) -> str:
    """A yyyy / yyyy-MM / yyyy-MM-dd value as a full date string, so that strings compare as dates."""
    s = f"STR({var})"
    return f'IF(STRLEN({s}) = 4, CONCAT({s}, "-01-01"), IF(STRLEN({s}) = 7, CONCAT({s}, "-01"), {s}))'


#: Units of ClinicalTrials.gov's normalised times ("18 Years", "6 Months") in years.
_TIME_UNITS = (("year", 1.0), ("month", 12.0), ("week", 52.1775), ("day", 365.25), ("hour", 8766.0),
               ("minute", 525960.0))


def _years(var: str) -> str:
    """A "16 Years" / "6 Months" text as a number of years (unreadable text gives no value)."""
    s = f"LCASE(STR({var}))"
    per_year = "1"
    for unit, factor in reversed(_TIME_UNITS):
        per_year = f"IF(CONTAINS({s}, {sparql_string(unit)}), {factor}, {per_year})"
    return f"(xsd:decimal(STRBEFORE(STR({var}), \" \")) / {per_year})"


def time_years(text: str) -> float:
    """``16 years`` -> 16.0, ``6 months`` -> 0.5: a RANGE bound on an age or duration field."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if m is None:
        raise ValueError(text)
    unit = m.group(2).lower() or "year"
    for name, factor in _TIME_UNITS:
        if unit.startswith(name) or unit.rstrip("s") == name:
            return _finite(m.group(1)) / factor
    raise ValueError(text)


def _finite(text: str) -> float:
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):  # nan, inf: no SPARQL number
        raise ValueError(text)
    return number


def _date_bound(text: str, high: bool) -> str:
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", text.strip())
    if m is None or not (1 <= int(m.group(2) or 1) <= 12):
        raise ValueError(text)
    year, month = int(m.group(1)), m.group(2)
    if m.group(3):
        return text.strip()
    if high:  # an upper bound of "2013" or "2013-05" includes that whole year or month
        last = month or "12"
        return f"{year}-{last}-{calendar.monthrange(year, int(last))[1]:02d}"
    return f"{year}-{month or '01'}-01"


def _range_test(p: Piece, r: Range, value: str) -> str:
    """The FILTER expression for ``RANGE[low, high]`` over the piece's value ``value``."""
    tests = []
    for bound, op, high in ((r.low, ">=", False), (r.high, "<=", True)):
        if bound is None:
            continue
        try:
            if p.is_date:
                tests.append(f"{_partial_date(value)} {op} {sparql_string(_date_bound(bound, high))}")
            elif p.is_time:
                tests.append(f"{_years(value)} {op} {time_years(bound)!r}")
            elif p.is_numeric:
                tests.append(f"xsd:decimal({value}) {op} {_finite(bound)!r}")
            else:
                tests.append(f"LCASE(STR({value})) {op} LCASE({sparql_string(bound)})")
        except ValueError:
            kind = "a date (yyyy, yyyy-MM or yyyy-MM-dd)" if p.is_date else \
                "an age or duration such as 16 years" if p.is_time else "a number" if p.is_numeric else "a value"
            raise EssieError(f"RANGE bound {bound!r} of AREA[{p.piece}] is not {kind}") from None
    return " && ".join(tests) or "true"


def _piece_test(p: Piece, leaf: Leaf, v: _Vars) -> str:
    value = v("v")
    pattern = p.pattern("?s", value, v("h"))
    if isinstance(leaf, Missing):
        return f"NOT EXISTS {{ {pattern} }}"
    if isinstance(leaf, Range):
        return f"EXISTS {{ {pattern} FILTER({_range_test(p, leaf, value)}) }}"
    if p.is_enum or p.source_type == "BOOLEAN" or p.is_numeric:  # a code, a flag, a number: the whole value
        return f"EXISTS {{ {pattern} FILTER(LCASE(STR({value})) = LCASE({sparql_string(leaf.text)})) }}"
    if p.is_date:  # AREA[StartDate]2022: the dates in 2022
        return f"EXISTS {{ {pattern} FILTER(STRSTARTS(STR({value}), {sparql_string(leaf.text)})) }}"
    return f"EXISTS {{ {pattern} FILTER({_contains(value, leaf.text)}) }}"


def _essie_filter(name: str, tree: Node, v: _Vars) -> str:
    """FILTER for an Essie query: each leaf tested in its AREA's field, else in the parameter's area."""

    def leaf(node: Leaf, area: str | None) -> str:
        if area is not None:
            return _piece_test(piece(area), node, v)
        if not isinstance(node, Term):
            kind = "RANGE[...]" if isinstance(node, Range) else "MISSING"
            raise EssieError(f"{kind} needs an AREA[field] before it")
        return _in_area(AREAS[name], node.text, v) if name in AREAS else _in_record(node.text, v)

    try:
        return "FILTER(" + to_sparql(tree, leaf) + ")"
    except EssieError as exc:
        raise QueryError(f"{name}: {exc}") from None


def _has_or(tree: Node) -> bool:
    if isinstance(tree, Or):
        return True
    if isinstance(tree, (And,)):
        return any(_has_or(o) for o in tree.operands)
    if isinstance(tree, (Not, Area)):
        return _has_or(tree.operand)
    return False


def _relevance(q: StudyQuery, v: _Vars) -> str:
    """A score for ``@relevance``: each searched term a title holds counts 2, each found elsewhere 1.

    ClinicalTrials.gov's Essie ranks by weighted term hits with titles
    weighing most; this keeps that order of things on the registry's substring
    search. Where a query has no OR, every match holds every term, so only the
    title hits are counted (the rest would add the same to every study).
    Without a search every study scores 0 and the NCT order decides.
    """
    parts = []
    for name, tree in q.essie.items():
        varies = _has_or(tree)
        for term, area in positive_terms(tree):
            parts.append(f"IF({_in_area(TITLES, term.text, v)}, 2, 0)")
            if not varies:
                continue
            if area is not None:
                found = _piece_test(piece(area), term, v)
            else:
                found = _in_area(AREAS[name], term.text, v) if name in AREAS else _in_record(term.text, v)
            parts.append(f"IF({found}, 1, 0)")
    return " + ".join(parts) or "0"


def search_query(q: StudyQuery) -> str:
    """The SELECT of the matching studies: ``?nct``, ``?score`` and one ``?k<i>`` per sort key."""
    v = _Vars()
    where = ["?s a/rdfs:subClassOf* acse:Study ; acse:nctId ?nct .",
             f"BIND(IRI(CONCAT({sparql_string(STUDY_GRAPH_PREFIX)}, STR(?nct))) AS ?graph)"]
    for ids in q.id_sets:
        where.append("FILTER(STR(?nct) IN (" + ", ".join(sparql_string(n) for n in ids) + "))")
    for statuses in q.status_sets:
        status = v("status")
        where.append(f"FILTER EXISTS {{ ?s acse:overallStatus/acse:code {status} . FILTER({status} IN ("
                     + ", ".join(sparql_string(c) for c in statuses) + ")) }")
    for name, tree in q.essie.items():
        where.append(_essie_filter(name, tree, v))
    for agg in q.agg:
        where.append("FILTER(" + " || ".join(_piece_test(piece(a), Term(value), v) for a, value in agg.tests) + ")")
    for geo in q.geos:
        where.append(geo.box_filter("?s", v("g"), v("la"), v("lo")))
    # the matches first; the score and sort keys are then computed for them alone
    outer = ["{ SELECT ?s ?nct ?graph WHERE {\n" + "\n".join(where) + "\n} }"]
    select = ["?nct"]
    if any(k.piece is None for k in q.sort):
        outer.append(f"BIND(({_relevance(q, v)}) AS ?score)")
        select.append("(SAMPLE(?score) AS ?relevance)")
    for i, key in enumerate(q.sort):
        if key.piece is None:
            continue
        value = v("v")
        sortable = _partial_date(value) if key.piece.is_date else f"xsd:decimal({value})"
        outer.append(f"OPTIONAL {{ {key.piece.pattern('?s', value, v('h'))} BIND({sortable} AS ?key{i}) }}")
        select.append(f"({'MAX' if key.descending else 'MIN'}(?key{i}) AS ?k{i})")
    return "SELECT " + " ".join(select) + " WHERE {\n" + "\n".join(outer) + "\n} GROUP BY ?nct"


def _order(rows: list[dict[str, str]], keys: list[SortKey]) -> list[str]:
    """NCT numbers sorted by the keys (missing values last, whatever the direction), then by NCT number."""

    def key(row: dict[str, str]) -> tuple[Any, ...]:
        out: list[Any] = []
        for i, k in enumerate(keys):
            raw = row.get("relevance" if k.piece is None else f"k{i}")
            if raw is None or raw == "":
                out.append((1, 0.0, ""))
                continue
            if k.piece is not None and k.piece.is_date:
                text = str(raw)
                # strings sort descending by inverting each character's order
                out.append((0, 0.0, "".join(chr(0x10FFFF - ord(c)) for c in text) if k.descending else text))
            else:
                num = float(raw)
                out.append((0, -num if k.descending else num, ""))
        return (*out, row["nct"])

    return [r["nct"] for r in sorted(rows, key=key)]


def store_select(store: GraphStore) -> Select:
    """A ``select`` over the store itself (the CLI; the server passes its query pool instead)."""

    def run(query: str) -> list[dict[str, str]]:
        result = store.select(query)
        return [{k: str(val) for k, val in row.items() if val is not None} for row in result]

    return run


def matching_ncts(source: GraphStore | Select, q: StudyQuery) -> list[str]:
    """NCT numbers of the live studies that match, in the asked order (``source``: a store, or a select)."""
    select: Select = store_select(source) if isinstance(source, GraphStore) else source
    rows = select(search_query(q))
    nearest: dict[str, float] = {}
    for geo in q.geos:
        near = geo.within(select, [r["nct"] for r in rows])
        rows = [r for r in rows if r["nct"] in near]
        nearest = {n: min(km, nearest.get(n, km)) for n, km in near.items()}
    if q.geos and any(k.piece is None for k in q.sort):  # relevance weighs the nearest site's distance
        for r in rows:
            r["relevance"] = repr((float(r.get("relevance") or 0) + 1) * q.decay.factor(nearest[r["nct"]]))
    return _order(rows, q.sort)


@dataclass
class Page:
    """One page of a search: its NCT numbers, where it starts, how many studies match (from the start),
    the total if asked for, and the sort values of each study of the page when the search index found it."""

    ncts: list[str]
    offset: int
    matched: int
    total: int | None
    keys: list[list[Any]] | None = None  # per study: its sort values and NCT number (a keyset token)
    #: The studies' API v2 JSON when the search index found them (its stored copy, in step with the
    #: graph): the page is then sent without exporting each study from the graph again.
    records: list[dict[str, Any]] | None = None

    def token_after(self, exported: int) -> str | None:
        """The next page's token once ``exported`` studies of this page went out (None: no study is left).

        With sort values (the search index), the token names the last study sent by its place in the order,
        so the next page starts right after it even if studies were added or removed meanwhile; otherwise
        it is the offset in the ordered list."""
        end = self.offset + exported
        if end >= self.matched:
            return None
        if self.keys is not None and exported > 0:
            text = json.dumps({"after": self.keys[exported - 1]}, separators=(",", ":"))
        else:
            text = str(end)
        return base64.urlsafe_b64encode(text.encode()).decode()

    @property
    def next_token(self) -> str | None:
        return self.token_after(len(self.ncts))


def search(select: Select, q: StudyQuery) -> Page:
    if q.after is not None:  # only the search index issues keyset tokens, and a search keeps its engine
        raise QueryError("Invalid value in parameter pageToken: not a token this server issued for this search")
    ncts = matching_ncts(select, q)
    total = len(ncts) if q.count_total and q.first_page else None  # "ignored for the subsequent pages"
    return Page(ncts[q.offset:q.offset + q.page_size], q.offset, len(ncts), total)


def export_page(store: GraphStore, ncts: list[str], budget: float | None = None,
                records: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """The studies' API v2 JSON, one by one; with a ``budget`` (seconds), the export stops once it is
    spent (after at least one study), and the caller's next page token starts where it stopped.
    ``records``: the same JSON as the search index holds it (:attr:`Page.records`), sent as it is.

    The spec allows it: "Page size is maximum number of studies to return in
    response. It does not have to be the same for every page." A page of 1,000
    large records would otherwise take minutes; this keeps every request within
    the server's time limit however large the page asked for.
    """
    if records is not None and len(records) == len(ncts):
        yield from records
        return
    codes = _codes(store) if ncts else {}  # the API code table, read once for the whole page
    deadline = None if budget is None else time.monotonic() + budget
    for i, n in enumerate(ncts):
        if i and deadline is not None and time.monotonic() > deadline:
            return
        yield export_study(store, n, full_text=True, codes=codes)


#: Finds one page of a search (the search index, else the graph's SPARQL): see :func:`api.ctgov._finder`.
Finder = Callable[[StudyQuery], Page]


def list_studies(store: GraphStore, params: dict[str, str], select: Select | None = None,
                 budget: float | None = None, find: Finder | None = None) -> dict[str, Any]:
    """The API v2 list response: ``studies``, ``nextPageToken`` if more, ``totalCount`` if asked
    (``budget``: seconds for exporting the page, see :func:`export_page`; ``find``: how the page is
    found, by default the SPARQL search through ``select``)."""
    q = parse_params(params)
    page = find(q) if find is not None else search(select or store_select(store), q)
    studies = list(export_page(store, page.ncts, budget, page.records))
    token = page.token_after(len(studies))
    if q.fields:
        studies = [project(s, q.fields) for s in studies]
    body: dict[str, Any] = {"studies": studies}
    if token is not None:
        body["nextPageToken"] = token
    if page.total is not None:
        body["totalCount"] = page.total
    return body
