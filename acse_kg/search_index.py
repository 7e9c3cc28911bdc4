"""A full-text search index beside the graph: SQLite FTS5, one row per live study.

Why SQLite FTS5 rather than tantivy: it ships inside Python's own ``sqlite3``
(no new dependency, no native wheel to build on this machine), its
``Connection.interrupt()`` and progress handler stop a running query at a
deadline, an index file is one ordinary file beside the store directory (and
``:memory:`` for a memory store), and boolean queries compose with plain SQL
(facets, sort keys and ``AREA[...]`` tests are joins on ordinary tables in
the same statement). Tantivy would rank better at millions of documents, but
the registry's 10^5 studies are well inside what FTS5 answers in milliseconds.

What a study's row holds is read from the study's ClinicalTrials.gov export
(:func:`acse_kg.ctgov.export.export_study`), the literals of its live graph
and the study model (:func:`acse_kg.model.read_study`: its cohorts'
pathologies and genes), never with SPARQL over cohorts or criteria:

* one FTS5 column per search area of :data:`acse_kg.ctgov.query.AREAS`
  (conditions, interventions, titles, outcomes, sponsors, lead sponsor,
  locations, ids) and ``whole``, every literal of the study's graph;
  the ``onco`` column (searched by ``query.cond`` too) holds, for each cohort pathology, the OncoTree
  codes and names of the class, of every class above it and (unless it is
  the OncoTree root, "any tumour type") of every class below it, so that a
  cohort of NSCLC is found by ``lung``, ``NSCLC``, ``LUAD`` and
  ``non-small cell lung cancer``;
* ``piece`` rows: the value of every field of the record the graph holds, by
  ClinicalTrials.gov piece name, with a date and a number form, for
  ``AREA[piece]`` tests, ``aggFilters`` and ``sort``;
* ``facet`` rows: the OncoTree classes a condition search takes the study for;
* the search page's card of the study (title, status, facets with labels);
* the study's ClinicalTrials.gov API v2 JSON (the export the row was read from): a list page is
  answered from the index alone, as a search engine answers from its stored fields, instead of
  exporting each study of the page from the graph again (about 30 ms a study; the index holds the
  same export, in step with the graph as every other column).

Text is tokenised by FTS5's ``porter unicode61`` tokenizer: case and
diacritics are ignored and English words are stemmed (``tumors`` finds
``tumor``), close to ClinicalTrials.gov's Essie, which stems too; a term is a
word or a phrase, not a substring. ``AREA[piece]`` tests keep the SPARQL
path's meaning (a code or number equal, a date by prefix or ``RANGE``, text
as a case-insensitive substring).

The index is kept in step with the graph lazily and per study: a study's
fingerprint is the number of the version the log holds for it (0 for a study
loaded without a logged version; :mod:`acse_kg.versions` logs every write of
a live graph), and before a search, when the store changed since the index
last looked (:func:`acse_kg.derived.store_version`), the studies whose
fingerprint differs are read again, new ones added and gone ones removed. So
a write from this process, from the CLI beside a server or from a bulk
loader that logs its versions is seen by the next search; ``acse-kg index
--rebuild`` rebuilds the whole index from the graph.

Where the index lives (:func:`index_path`): beside a store directory; in memory for a memory store;
for a remote engine (``oxigraph serve`` ...), in a file of the registry's data directory
(``$ACSE_KG_HOME/search/``) named after the endpoint, which the bulk import fills as it writes to the
engine and ``acse-kg serve`` on the same endpoint opens, so that its first search reads only the log's
fingerprints, not every study over SPARQL (minutes at 10,000). The file records the identity of the
dataset it indexes (a random id written once into the dataset, :func:`dataset_identity`); opened for
a dataset of another identity (another engine started at the same URL), it is emptied and rebuilt
from the graph, never served.

Every search runs with a deadline and an optional cancel event: a SQLite
progress handler checks both every few thousand virtual-machine steps and
aborts the statement (:class:`SearchCancelled`), so a query abandoned by its
client or past its time limit never goes on running in the engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ctgov.essie import (
    And,
    Area,
    Leaf,
    Missing,
    Node,
    Not,
    Or,
    Range,
    Term,
    positive_terms,
)
from .ctgov.pieces import Piece, pieces
from .derived import store_version
from .errors import AcseError
from .facet_bits import COHORTS, PATHOLOGY, FacetBits
from .loader import STUDY_GRAPH_PREFIX
from .store import GraphStore, StoreError, history_of

#: FTS5 column of each search area (``query.*`` parameter); ``whole`` is every literal of the study's graph.
#: ``query.cond`` searches the record's conditions and the OncoTree terms of its cohorts (``onco``);
#: ``record.cond`` (the search page's text condition) the record's conditions alone.
AREA_COLUMNS: dict[str, str] = {
    "query.cond": "cond onco", "record.cond": "cond", "query.intr": "intr", "query.titles": "titles",
    "query.outc": "outc", "query.spons": "spons", "query.lead": "lead", "query.locn": "locn", "query.id": "ids",
}
COLUMNS = ("cond", "onco", "intr", "titles", "outc", "spons", "lead", "locn", "ids", "whole")
#: Bump when what a row holds changes, the stored API v2 JSON included (a change to the export, in
#: acse_kg/ctgov/export.py, changes what a list page sends): an index of another layout is rebuilt
#: (``acse-kg index --rebuild`` rebuilds one by hand).
LAYOUT = "5"
#: The tables with a row per study and something else (the ``study`` table is the first).
_DOC_TABLES = ("study_json", "text", "piece", "facet", "card_facet")
#: How long an open waits for another process changing the file's layout (moving layout 4's rows
#: takes minutes at 100,000 studies): past it, the open fails (SQLite's usual wait is 5 s).
PREPARE_WAIT_S = 1800
#: SQLite virtual-machine steps between two looks at the deadline (about a millisecond of work).
PROGRESS_STEPS = 2000

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS study(doc INTEGER PRIMARY KEY, nct TEXT UNIQUE NOT NULL, fingerprint TEXT NOT NULL,
                                 status TEXT);
CREATE TABLE IF NOT EXISTS study_json(doc INTEGER PRIMARY KEY, card TEXT NOT NULL, record TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS text USING fts5({", ".join(COLUMNS)},
                                                   tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS piece(doc INTEGER NOT NULL, piece TEXT NOT NULL, value TEXT NOT NULL,
                                 lvalue TEXT NOT NULL, date TEXT, num REAL);
CREATE INDEX IF NOT EXISTS piece_by_doc ON piece(doc, piece);
CREATE TABLE IF NOT EXISTS facet(doc INTEGER NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS facet_by_value ON facet(facet, value, doc);
CREATE INDEX IF NOT EXISTS facet_by_doc ON facet(doc);
CREATE TABLE IF NOT EXISTS card_facet(doc INTEGER NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL,
                                      label TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS card_facet_by_doc ON card_facet(doc);
"""
#: The tables and indexes the schema makes (an open that finds them all, of this layout, changes nothing).
_SCHEMA_NAMES = frozenset(re.findall(r"IF NOT EXISTS (\w+)", _SCHEMA))
#: The search page's facet values of each study, made from the cards an index of layout 4 holds already
#: (an index opened by this code for the first time gets them so, without reading a study again).
_CARD_FACETS_FROM_CARDS = f"""
DELETE FROM card_facet;
INSERT INTO card_facet(doc, facet, value, label)
    SELECT s.doc, f.key, v.key, v.value FROM study_json s, json_each(s.card, '$.facets') f, json_each(f.value) v;
INSERT INTO card_facet(doc, facet, value, label)
    SELECT s.doc, '{PATHOLOGY}', p.value, '' FROM study_json s, json_each(s.card, '$.pathologies') p;
INSERT INTO card_facet(doc, facet, value, label)
    SELECT s.doc, '{COHORTS}', json_extract(s.card, '$.cohorts'), '' FROM study_json s
    WHERE json_extract(s.card, '$.cohorts') > 0;
"""
#: The piece whose value (lower case) is the ``study`` table's ``status`` column.
_STATUS_PIECE = "OverallStatus"
#: Layout 4 to 5: the cards and records leave the ``study`` table for ``study_json`` beside it, and
#: the overall status (lower case) joins it. A search reads ``study`` once per study its text finds
#: (``lung``: about 30,000 of 100,000); with each row holding its record (9 kB of JSON and more) every
#: row filled pages of its own, and ``filter.overallStatus`` looked the status up in ``piece`` for each
#: (the list with its count: 225 ms). What a row holds is unchanged, so the rows are moved in SQL rather
#: than read again from the graph (hours at 100,000 studies). (``study_json`` exists already: the
#: schema's ``CREATE TABLE IF NOT EXISTS`` ran first.)
_NARROW_STUDY_TABLE = f"""
DELETE FROM study_json;
INSERT INTO study_json(doc, card, record) SELECT doc, card, record FROM study;
CREATE TABLE study_narrow(doc INTEGER PRIMARY KEY, nct TEXT UNIQUE NOT NULL, fingerprint TEXT NOT NULL,
                          status TEXT);
INSERT INTO study_narrow(doc, nct, fingerprint, status)
    SELECT s.doc, s.nct, s.fingerprint,
           (SELECT x.lvalue FROM piece x WHERE x.doc = s.doc AND x.piece = '{_STATUS_PIECE}' LIMIT 1) FROM study s;
DROP TABLE study;
ALTER TABLE study_narrow RENAME TO study;
UPDATE meta SET value = '5' WHERE key = 'layout';
"""

_log = logging.getLogger(__name__)


class SearchIndexError(AcseError):
    """The search index cannot answer (a query it does not take, an index file it cannot open)."""


class SearchCancelled(SearchIndexError):
    """The search was stopped in the engine: past its deadline, or abandoned by its client."""


# ------------------------------------------------------------------ reading a study
@functools.lru_cache(maxsize=1)
def _held_pieces() -> tuple[Piece, ...]:
    seen: dict[str, Piece] = {}
    for p in pieces().values():
        if p.held and p.source_type != "STRUCT":
            seen.setdefault(p.piece, p)
    return tuple(seen.values())


#: A node of the held pieces' JSON paths as a tree: the pieces whose path ends here (their places in
#: :func:`_held_pieces`), and the next step's nodes by key.
_PathNode = tuple[list[int], dict[str, "_PathNode"]]


@functools.lru_cache(maxsize=1)
def _held_paths() -> _PathNode:
    root: _PathNode = ([], {})
    for i, p in enumerate(_held_pieces()):
        node = root
        for step in p.json_path.split("."):
            node = node[1].setdefault(step, ([], {}))
        node[0].append(i)
    return root


def _values_at(node: Any, steps: list[str]) -> Iterator[Any]:
    """The scalar values at a dotted JSON path, through any arrays on the way."""
    if isinstance(node, list):
        for item in node:
            yield from _values_at(item, steps)
        return
    if not steps:
        if node is not None and not isinstance(node, dict):
            yield node
        return
    if isinstance(node, dict) and steps[0] in node:
        yield from _values_at(node[steps[0]], steps[1:])


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def full_date(text: str) -> str | None:
    """yyyy / yyyy-MM / yyyy-MM-dd as a full date (the first day of a year or month), else None."""
    t = text.strip()
    if len(t) == 4 and t.isdigit():
        return t + "-01-01"
    if len(t) == 7 and t[4] == "-":
        return t + "-01"
    if len(t) >= 10 and t[4] == "-" and t[7] == "-":
        return t[:10]
    return None


def _number(p: Piece, text: str) -> float | None:
    from .ctgov.query import time_years

    try:
        if p.is_time:
            return time_years(text)
        if p.is_numeric:
            return float(text)
    except ValueError:
        return None
    return None


def piece_rows(record: dict[str, Any]) -> list[tuple[str, str, str | None, float | None]]:
    """(piece, value, full date, number) of every held field of an exported record, piece by piece
    (in :func:`_held_pieces`' order), each piece's values as :func:`_values_at` finds them. The record
    is walked once along the paths' tree (:func:`_held_paths`), not once a piece: 155 pieces, most
    of their paths sharing their first steps (0.65 ms a record walked a piece at a time)."""
    held = _held_pieces()
    found: list[list[Any]] = [[] for _ in held]

    def walk(node: Any, at: _PathNode) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, at)
        elif isinstance(node, dict):
            for key, below in at[1].items():
                if key in node:
                    walk(node[key], below)
        elif node is not None:
            for i in at[0]:
                found[i].append(node)

    walk(record, _held_paths())
    out = []
    for p, values in zip(held, found, strict=True):
        if not values:
            continue
        date, number = p.is_date, p.is_time or p.is_numeric
        for value in values:
            text = _scalar_text(value)
            out.append((p.piece, text, full_date(text) if date else None, _number(p, text) if number else None))
    return out


def _texts(record: dict[str, Any], *paths: str) -> list[str]:
    return [_scalar_text(v) for path in paths for v in _values_at(record, path.split("."))]


_PS = "protocolSection."
_AREA_PATHS: dict[str, tuple[str, ...]] = {
    "cond": (_PS + "conditionsModule.conditions", _PS + "conditionsModule.keywords",
             "derivedSection.conditionBrowseModule.meshes.term", "derivedSection.conditionBrowseModule.ancestors.term"),
    "intr": (*(_PS + "armsInterventionsModule.interventions." + k for k in ("name", "otherNames", "description")),
             *(_PS + "armsInterventionsModule.armGroups." + k for k in ("label", "description")),
             "derivedSection.interventionBrowseModule.meshes.term",
             "derivedSection.interventionBrowseModule.ancestors.term"),
    "titles": tuple(_PS + "identificationModule." + k for k in ("briefTitle", "officialTitle", "acronym")),
    "outc": tuple(f"{_PS}outcomesModule.{kind}Outcomes.{k}" for kind in ("primary", "secondary", "other")
                  for k in ("measure", "description", "timeFrame")),
    "spons": (_PS + "sponsorCollaboratorsModule.leadSponsor.name", _PS + "sponsorCollaboratorsModule.collaborators.name"),
    "lead": (_PS + "sponsorCollaboratorsModule.leadSponsor.name",),
    "locn": tuple(_PS + "contactsLocationsModule.locations." + k for k in ("facility", "city", "state", "zip", "country")),
    "ids": (_PS + "identificationModule.nctId", _PS + "identificationModule.orgStudyIdInfo.id",
            _PS + "identificationModule.secondaryIdInfos.id"),
}


@dataclass(frozen=True)
class OncotreeTerms:
    """The OncoTree hierarchy as a condition search needs it (read once per index sync)."""

    code_of: dict[str, str]  # class IRI -> code
    names: dict[str, str]  # class IRI -> name
    parents: dict[str, list[str]]
    children: dict[str, list[str]]
    root: frozenset[str]

    @classmethod
    def load(cls, store: GraphStore) -> OncotreeTerms:
        from .matching.candidates import Taxonomy
        from .vocab import ONCOTREE_ROOT

        tax = Taxonomy.load(store)
        names = {str(r["c"]): str(r["name"]) for r in store.select(
            "SELECT ?c ?name WHERE { ?c acse:oncotreeCode ?code ; rdfs:label ?name }")}
        children: dict[str, list[str]] = {}
        for child, ps in tax.parents.items():
            for p in ps:
                children.setdefault(p, []).append(child)
        root = frozenset(c for c, code in tax.code_of.items() if code == ONCOTREE_ROOT)
        return cls(dict(tax.code_of), names, dict(tax.parents), children, root)

    def _walk(self, iri: str, step: dict[str, list[str]]) -> set[str]:
        out, stack = {iri}, [iri]
        while stack:
            for n in step.get(stack.pop(), ()):
                if n not in out:
                    out.add(n)
                    stack.append(n)
        return out

    def covering(self, pathology: str) -> set[str]:
        """The classes whose condition search finds a cohort of ``pathology``: the class, those above it,
        and those below it unless it is the root (a cohort open to any tumour type is not found by each)."""
        found = self._walk(pathology, self.parents)
        if pathology not in self.root:
            found |= self._walk(pathology, self.children)
        return {c for c in found if c in self.code_of}


@dataclass(frozen=True)
class StudyRow:
    """What the index holds of one study."""

    nct: str
    texts: dict[str, str]  # FTS column -> text
    pieces: list[tuple[str, str, str | None, float | None]]
    oncotree: list[str]  # OncoTree codes a condition search takes the study for
    card: dict[str, Any]
    #: The API v2 JSON (export_study(..., full_text=True) when the model reads), or that JSON's text: a
    #: bulk import's workers send it serialized (:meth:`serialized`), so the importing process neither
    #: unpickles the record nor encodes it again.
    record: dict[str, Any] | str

    def serialized(self) -> StudyRow:
        """The row with its record as the text the index stores."""
        return self if isinstance(self.record, str) else dataclasses.replace(self, record=json.dumps(self.record))


@dataclass(frozen=True)
class RowContext:
    """What a study's row needs from the registry besides the study's own graph and model: the
    OncoTree hierarchy, the API codes' display labels and the enumerated individuals' codes. Read once
    per sync (and once per bulk import), and picklable: a bulk import's mapping workers build rows
    with it (:func:`record_row`) without the store."""

    tree: OncotreeTerms
    labels: dict[tuple[str, str], str]  # (enumeration class, code) -> display label
    codes: dict[Any, str]  # enumerated individual -> its API code

    @classmethod
    def load(cls, store: GraphStore) -> RowContext:
        from .ctgov.export import _codes
        from .pages.graph import code_labels

        return cls(OncotreeTerms.load(store), code_labels(store), _codes(store))


def read_row(store: GraphStore, nct: str, context: RowContext) -> StudyRow:
    """A study's row, read from the store: its live graph and its model (:func:`row_from_graph`)."""
    from .loader import study_graph_name
    from .model import ModelError, StudyNotFound, read_study

    graph = store.graph(study_graph_name(nct))  # read once: the export and the whole text both come from it
    try:
        study = read_study(store, nct, graph=graph)
    except (ModelError, StudyNotFound):  # a record the model cannot read is still found by its fields
        study = None
    return row_from_graph(graph, nct, context, study)


def record_row(graph: Any, nct: str, context: RowContext, vocabulary: Any) -> StudyRow:
    """The row a study's record graph will have once stored, made before it is (a bulk import's
    mapping workers hold the graph already): the model read from the graph and the registry's
    :class:`~acse_kg.model.reader.Vocabulary` (:func:`~acse_kg.model.reader.study_from_record`), then
    :func:`row_from_graph`, as :func:`read_row` does from the store."""
    from .model import ModelError, StudyNotFound
    from .model.reader import study_from_record

    try:
        study = study_from_record(graph, nct, vocabulary)
    except (ModelError, StudyNotFound):
        study = None
    return row_from_graph(graph, nct, context, study)


def row_from_graph(graph: Any, nct: str, context: RowContext, study: Any) -> StudyRow:
    """A study's row from its graph (an rdflib graph) and its model (None when the model cannot read
    the record): the export, the graph's literals and the model's cohorts. The one implementation,
    whether the graph was read from the store or is a record being imported."""
    import rdflib

    from .ctgov.export import export_from_graph
    from .pages import ctgov_view as cv

    tree, labels = context.tree, cv.Labels(context.labels)
    record = export_from_graph(graph, context.codes, nct, full_text=study is not None, study=study)
    texts = {col: "\n".join(_texts(record, *paths)) for col, paths in _AREA_PATHS.items()}
    texts["whole"] = "\n".join(sorted({str(o) for o in graph.objects() if isinstance(o, rdflib.Literal)}))
    covered: set[str] = set()
    pathologies: list[str] = []
    if study is not None:
        for cohort in study.cohorts:
            for t in cohort.pathologies:
                pathologies.append(t.iri)
                covered |= tree.covering(t.iri)
    onco_text = sorted({tree.code_of[c] for c in covered} | {tree.names[c] for c in covered if c in tree.names})
    texts["onco"] = "\n".join(onco_text)
    ident = record.get("protocolSection", {})
    status = str(ident.get("statusModule", {}).get("overallStatus", "") or "")
    phases = sorted(set(_texts(record, _PS + "designModule.phases")))
    ages = _texts(record, _PS + "eligibilityModule.stdAges")
    age_order = {"CHILD": 0, "ADULT": 1, "OLDER_ADULT": 2}
    card = {
        "nct": nct,
        "title": str(ident.get("identificationModule", {}).get("briefTitle", "") or ""),
        "status": labels("overallStatus", status),
        "recruiting": study.recruiting if study else None,
        "pathologies": sorted(set(pathologies)),
        "cohorts": len(study.cohorts) if study else 0,
        "facets": {
            "gene": {t.code or t.label: t.code or t.label for t in study.target_genes} if study else {},
            "type": {t.code or t.label: t.label or t.code for c in study.cohorts for t in c.accepts} if study else {},
            "status": {status: labels("overallStatus", status)} if status else {},
            "phase": {p: labels("phase", p) for p in phases},
            "age": {a: cv.humanise(a) for a in sorted(set(ages), key=lambda a: age_order.get(a, 9))},
            "sex": {x: cv.humanise(x) for x in sorted(set(_texts(record, _PS + "eligibilityModule.sex")))},
            "country": {c: c for c in sorted(set(_texts(record, _PS + "contactsLocationsModule.locations.country")))},
        },
    }
    return StudyRow(nct, texts, piece_rows(record), sorted(tree.code_of[c] for c in covered), card, record)


def fingerprints(store: GraphStore, among: Iterable[str] | None = None) -> dict[str, str]:
    """NCT number -> the version the log holds for each live study ("0": loaded without a logged version);
    ``among``: of these NCT numbers only (those whose graph is live), asking the log about them alone."""
    from .namespaces import is_nct, study_iri
    from .store import has_graph
    from .versions import LOG_GRAPH

    values = ""
    if among is None:
        ncts = [g[len(STUDY_GRAPH_PREFIX):] for g in store.live_graphs() if g.startswith(STUDY_GRAPH_PREFIX)]
    else:
        ncts = sorted(n for n in set(among) if is_nct(n) and has_graph(store, STUDY_GRAPH_PREFIX + n))
        if not ncts:
            return {}
        values = "VALUES ?study { " + " ".join(f"<{study_iri(n)}>" for n in ncts) + " } "
    out = {n: "0" for n in ncts}
    rows = history_of(store).select(
        f"SELECT ?study (MAX(?n) AS ?v) WHERE {{ {values}GRAPH <{LOG_GRAPH}> {{ ?ver prov:specializationOf ?study ; "
        "acse:versionNumber ?n } } GROUP BY ?study")
    for r in rows:
        nct = str(r["study"]).rstrip("/").rsplit("/", 1)[-1]
        if nct in out and r.get("v") is not None:
            out[nct] = str(r["v"])
    return out


# ------------------------------------------------------------------ Essie -> SQL
def fts_phrase(text: str) -> str | None:
    """An Essie term as an FTS5 phrase string (None: the term holds no word, so it matches nothing)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    if not any(ch.isalnum() for ch in cleaned):
        return None
    return '"' + cleaned.replace('"', '""') + '"'


class _Sql:
    """A WHERE expression under construction, with its parameters in order."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def bind(self, *values: Any) -> None:
        self.params.extend(values)


def _text_test(column: str, term: Term, sql: _Sql) -> str:
    phrase = fts_phrase(term.text)
    if phrase is None:
        return "0"
    sql.bind(f"{{{column}}} : {phrase}")
    return "s.doc IN (SELECT rowid FROM text WHERE text MATCH ?)"


def _piece_test(p: Piece, leaf: Leaf, sql: _Sql) -> str:
    """``AREA[piece]`` leaf, with the SPARQL path's meaning (see :func:`acse_kg.ctgov.query._piece_test`)."""
    from .ctgov.essie import EssieError
    from .ctgov.query import _date_bound, _finite, time_years

    if not p.held:
        return "0"
    head = "EXISTS (SELECT 1 FROM piece x WHERE x.doc = s.doc AND x.piece = ?"
    sql.bind(p.piece)
    if isinstance(leaf, Missing):
        return "NOT " + head + ")"
    if isinstance(leaf, Range):
        tests = []
        for bound, op, high in ((leaf.low, ">=", False), (leaf.high, "<=", True)):
            if bound is None:
                continue
            try:
                if p.is_date:
                    tests.append(f"x.date {op} ?")
                    sql.bind(_date_bound(bound, high))
                elif p.is_time or p.is_numeric:
                    tests.append(f"x.num {op} ?")
                    sql.bind(time_years(bound) if p.is_time else _finite(bound))
                else:
                    tests.append(f"x.lvalue {op} ?")
                    sql.bind(bound.lower())
            except ValueError:
                kind = "a date (yyyy, yyyy-MM or yyyy-MM-dd)" if p.is_date else \
                    "an age or duration such as 16 years" if p.is_time else "a number" if p.is_numeric else "a value"
                raise EssieError(f"RANGE bound {bound!r} of AREA[{p.piece}] is not {kind}") from None
        return head + "".join(" AND " + t for t in tests) + ")"
    assert isinstance(leaf, Term)
    if p.is_enum or p.source_type == "BOOLEAN" or p.is_numeric:
        sql.bind(leaf.text.lower())
        return head + " AND x.lvalue = ?)"
    if p.is_date:
        sql.bind(_like_prefix(leaf.text))
        return head + " AND x.value LIKE ? ESCAPE '\\')"
    sql.bind(leaf.text.lower())
    return head + " AND instr(x.lvalue, ?) > 0)"


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def essie_sql(tree: Node, column: str, sql: _Sql, area: str | None = None) -> str:
    """The Essie tree as an SQL boolean over the study row ``s``: each term searched in ``column`` (an
    FTS5 column) or in its ``AREA[...]`` piece."""
    from .ctgov.essie import EssieError
    from .ctgov.pieces import piece

    if isinstance(tree, (Term, Range, Missing)):
        if area is not None:
            return _piece_test(piece(area), tree, sql)
        if not isinstance(tree, Term):
            kind = "RANGE[...]" if isinstance(tree, Range) else "MISSING"
            raise EssieError(f"{kind} needs an AREA[field] before it")
        return _text_test(column, tree, sql)
    if isinstance(tree, Area):
        return essie_sql(tree.operand, column, sql, tree.piece)
    if isinstance(tree, Not):
        return f"NOT ({essie_sql(tree.operand, column, sql, area)})"
    joiner = " AND " if isinstance(tree, And) else " OR "
    assert isinstance(tree, (And, Or))
    return "(" + joiner.join(essie_sql(o, column, sql, area) for o in tree.operands) + ")"


def _has_or(tree: Node) -> bool:
    if isinstance(tree, Or):
        return True
    if isinstance(tree, And):
        return any(_has_or(o) for o in tree.operands)
    if isinstance(tree, (Not, Area)):
        return _has_or(tree.operand)
    return False


def _relevance_sql(q: Any, sql: _Sql) -> str:
    """``@relevance`` as the SPARQL path scores it (:func:`acse_kg.ctgov.query._relevance`): each searched
    term a title holds counts 2; where a query has an OR, each term found in its area counts 1 more."""
    from .ctgov.pieces import piece

    parts = []
    for name, tree in q.essie.items():
        varies = _has_or(tree)
        for term, area in positive_terms(tree):
            parts.append(f"({_text_test('titles', term, sql)}) * 2")
            if varies:
                found = _piece_test(piece(area), term, sql) if area is not None else \
                    _text_test(AREA_COLUMNS.get(name, "whole"), term, sql)
                parts.append(f"({found})")
    return "(" + (" + ".join(parts) or "0") + ") AS score"


def can_answer(q: Any) -> bool:
    """Whether the index answers this :class:`~acse_kg.ctgov.query.StudyQuery` (a geo filter needs the
    sites' coordinates, which the index does not keep: that search goes to the graph)."""
    return not q.geos


# ------------------------------------------------------------------ the index
class SearchIndex:
    """The index of one store: an SQLite database (a file beside the store directory, or in memory)."""

    def __init__(self, store: GraphStore, path: Path | None = None, *, identity: str | None = None) -> None:
        """``identity``: the dataset's (:func:`dataset_identity`), for an index file of a remote store;
        a file holding another dataset's rows (or of another layout) is emptied, to be filled by the
        next :meth:`sync`."""
        self._store = weakref.ref(store)
        self.path = path
        self._lock = threading.RLock()
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False,
                                      isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        except (sqlite3.Error, OSError) as exc:
            raise SearchIndexError(f"cannot open the search index at {path}: {exc}") from exc
        self._synced: Hashable = None
        #: The store's write counts at the last sync (writes to shared graphs, writes per graph).
        self._writes: tuple[int, dict[str, int]] | None = None
        try:
            self._prepare(identity)
        except sqlite3.Error as exc:
            self.db.close()
            raise SearchIndexError(f"cannot rebuild the search index at {path}: {exc}") from exc
        #: Bumped by every change of the rows this connection commits; with SQLite's ``data_version``
        #: (which moves when another connection to the file commits: a bulk import, ``acse-kg index``),
        #: what :meth:`facet_bits` was built from and what :meth:`sync` last looked at.
        self._generation = 0
        self._bits: tuple[tuple[int, int], FacetBits] | None = None
        self._seen_file: int | None = None

    def _prepare(self, identity: str | None) -> None:
        """Tables of another layout (their columns differ) or rows of another dataset are made again
        (layout 4's rows are moved into this layout's tables: they hold the same), and an index made
        before the facet table gets it from its cards.

        All in one transaction that takes the write lock first (``BEGIN IMMEDIATE``) and only then
        reads the layout: a process killed part-way leaves the file as it was (the next open does it
        again), and of processes opening an old file at once (a server's workers, a bulk import)
        the first changes it while the others wait, then find it changed and do nothing. (With the
        layout read before the transaction, a second process moved layout 4's rows again, from
        columns that were gone, and failed to open.) A file already of this layout and dataset is
        only read, so the usual open takes no lock."""
        with self._lock:
            if self._ready(identity):
                return
            waited = self.db.execute("PRAGMA busy_timeout").fetchone()[0]
            self.db.execute(f"PRAGMA busy_timeout = {int(PREPARE_WAIT_S * 1000)}")
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    self._in_transaction(_SCHEMA)
                    if self._meta("layout") == "4" and self._meta("dataset") == identity:
                        self._in_transaction(_NARROW_STUDY_TABLE)
                    if self._meta("layout") != LAYOUT or self._meta("dataset") != identity:
                        drops = "".join(f"DROP TABLE IF EXISTS {t};" for t in ("study", *_DOC_TABLES))
                        self._in_transaction(f"DELETE FROM meta; {drops} {_SCHEMA}")
                        self._set_meta("layout", LAYOUT)
                        if identity is not None:
                            self._set_meta("dataset", identity)
                        self._set_meta("card-facets", "1")
                    if self._meta("card-facets") != "1":
                        self._in_transaction(_CARD_FACETS_FROM_CARDS)
                        self._set_meta("card-facets", "1")
                    self.db.execute("COMMIT")
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
            finally:
                self.db.execute(f"PRAGMA busy_timeout = {int(waited)}")

    def _ready(self, identity: str | None) -> bool:
        """Whether the file is of this layout and dataset, with its facet table and every table and
        index of the schema, already (read without a lock; False for a new file)."""
        held = {str(r[0]) for r in self.db.execute("SELECT name FROM sqlite_master")}
        if not held >= _SCHEMA_NAMES:
            return False
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        return (meta.get("layout"), meta.get("dataset"), meta.get("card-facets")) == (LAYOUT, identity, "1")

    def _in_transaction(self, script: str) -> None:
        """Run the statements of ``script`` one by one in the open transaction (``executescript``
        would commit it first). :func:`sqlite3.complete_statement` tells a statement's end from a
        semicolon inside a string."""
        statement = ""
        for part in script.split(";"):
            statement += part + ";"
            if sqlite3.complete_statement(statement):
                if statement.strip(" \n;"):
                    self.db.execute(statement)
                statement = ""

    def _file_version(self) -> int:
        """SQLite's count of other connections' commits to the file (0 for an index in memory)."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    # -- bookkeeping
    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def store(self) -> GraphStore:
        store = self._store()
        if store is None:
            raise SearchIndexError("the store of this search index was closed")
        return store

    def close(self) -> None:
        self.db.close()

    # -- keeping in step
    def _remove(self, nct: str) -> None:
        row = self.db.execute("SELECT doc FROM study WHERE nct = ?", (nct,)).fetchone()
        if row is None:
            return
        doc = row[0]
        for table in ("study_json", "piece", "facet", "card_facet"):
            self.db.execute(f"DELETE FROM {table} WHERE doc = ?", (doc,))
        self.db.execute("DELETE FROM text WHERE rowid = ?", (doc,))
        self.db.execute("DELETE FROM study WHERE doc = ?", (doc,))

    def _write(self, row: StudyRow, fingerprint: str) -> None:
        self._remove(row.nct)
        status = next((v.lower() for p, v, _, _ in row.pieces if p == _STATUS_PIECE), None)
        cur = self.db.execute("INSERT INTO study(nct, fingerprint, status) VALUES (?, ?, ?)",
                              (row.nct, fingerprint, status))
        doc = cur.lastrowid
        self.db.execute("INSERT INTO study_json(doc, card, record) VALUES (?, ?, ?)",
                        (doc, json.dumps(row.card), row.serialized().record))
        self.db.execute(f"INSERT INTO text(rowid, {', '.join(COLUMNS)}) VALUES (?{', ?' * len(COLUMNS)})",
                        (doc, *(row.texts.get(c, "") for c in COLUMNS)))
        self.db.executemany("INSERT INTO piece(doc, piece, value, lvalue, date, num) VALUES (?, ?, ?, ?, ?, ?)",
                            [(doc, p, v, v.lower(), d, n) for p, v, d, n in row.pieces])
        self.db.executemany("INSERT INTO facet(doc, facet, value) VALUES (?, 'oncotree', ?)",
                            [(doc, code.upper()) for code in row.oncotree])
        self.db.executemany("INSERT INTO card_facet(doc, facet, value, label) VALUES (?, ?, ?, ?)",
                            [*((doc, f, v, label) for f, vs in row.card.get("facets", {}).items()
                               for v, label in vs.items()),
                             *((doc, PATHOLOGY, iri, "") for iri in row.card.get("pathologies", ())),
                             *([(doc, COHORTS, str(row.card["cohorts"]), "")] if row.card.get("cohorts") else [])])

    def sync(self, *, full: bool = False) -> list[str]:
        """Bring the index in step with the graph; returns the NCT numbers read again or removed.

        Only when the store changed since the last look, or another connection
        committed to the index file (a bulk import, ``acse-kg index``), or
        ``full``: the studies whose log version differs from the indexed one
        are read again.
        After the first look, a store that counts its writes per graph (the
        embedded store: one process owns it, so every write goes through it)
        names the study graphs written since, and only those studies are asked
        about; otherwise (a remote engine, a write to the vocabularies) the log
        is read for every study.
        """
        store = self.store
        with self._lock:
            version = store_version(store)
            seen = self._file_version()
            if not full and version == self._synced and seen == self._seen_file:
                return []
            counted = getattr(store, "writes_by_graph", None)
            writes: tuple[int, dict[str, int]] | None = counted() if counted is not None else None
            touched = None if full else self._touched(writes)
            if touched is None:
                wanted = fingerprints(store)
                held = dict(self.db.execute("SELECT nct, fingerprint FROM study").fetchall())
            else:
                wanted = fingerprints(store, touched)
                held = dict(self.db.execute(
                    f"SELECT nct, fingerprint FROM study WHERE nct IN ({', '.join('?' * len(touched))})",
                    touched).fetchall()) if touched else {}
            if full:
                held = {}
            changed = sorted(n for n, fp in wanted.items() if held.get(n) != fp)
            gone = sorted(set(held) - set(wanted))
            # A rebuild empties the tables in the transaction that refills them: a server reading the
            # same file meanwhile keeps answering from the old rows, and a rebuild killed part-way
            # leaves them as they were.
            self._replace({n: wanted[n] for n in changed}, gone, clear=full)
            self._synced = version
            self._seen_file = seen
            self._writes = writes
            return [*changed, *gone]

    def _touched(self, writes: tuple[int, dict[str, int]] | None) -> list[str] | None:
        """NCT numbers of the study graphs written since the last sync, or None when that cannot be
        told (no earlier look, a store that does not count, a write to a graph no study owns)."""
        before = self._writes
        if writes is None or before is None or writes[0] != before[0]:
            return None
        return sorted(g[len(STUDY_GRAPH_PREFIX):] for g, n in writes[1].items()
                      if g.startswith(STUDY_GRAPH_PREFIX) and before[1].get(g) != n)

    def put(self, rows: list[tuple[StudyRow, str]]) -> None:
        """Write rows a writer made of the studies it has just written (each with the version it
        logged), in one transaction; what else changed is left to the next :meth:`sync`.

        Why: a bulk import of thousands of studies keeps the index in step as it writes, batch by
        batch, so that the server's first search does not read every study (80 s at 1,000 studies);
        its mapping workers make the rows (:func:`record_row`) from the graphs they hold already. A
        row carries the fingerprint :func:`fingerprints` will read for its study, so the next sync
        finds it in step and reads it no more.
        """
        with self._lock:
            self._commit([], rows)

    def _replace(self, changed: dict[str, str], gone: list[str], *, clear: bool = False) -> None:
        store = self.store
        if changed:
            context = RowContext.load(store)
            rows = [(read_row(store, n, context), fp) for n, fp in sorted(changed.items())]
        else:
            rows = []
        self._commit(gone, rows, clear=clear)

    def _commit(self, gone: list[str], rows: list[tuple[StudyRow, str]], *, clear: bool = False) -> None:
        """Remove ``gone``, write ``rows`` (every row first removed when ``clear``), in one transaction."""
        if not (gone or rows or clear):
            return
        self.db.execute("BEGIN")
        try:
            if clear:
                for table in ("study", *_DOC_TABLES):
                    self.db.execute(f"DELETE FROM {table}")
            for n in gone:
                self._remove(n)
            for row, fp in rows:
                self._write(row, fp)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._generation += 1

    def rebuild(self) -> int:
        """Rebuild the whole index from the graph; returns how many studies it holds."""
        self.sync(full=True)
        return self.count()

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM study").fetchone()[0])

    # -- searching
    def _run(self, sql: str, params: Iterable[Any], deadline: float | None,
             cancel: threading.Event | None) -> list[tuple[Any, ...]]:
        """Run one statement, aborted in the engine past ``deadline`` (time.monotonic) or once ``cancel`` is set."""
        stopped: list[str] = []

        def check() -> int:
            if cancel is not None and cancel.is_set():
                stopped.append("abandoned by its client")
                return 1
            if deadline is not None and time.monotonic() > deadline:
                stopped.append("past its time limit")
                return 1
            return 0

        with self._lock:
            if check():  # already past it (the wait for the lock counts too)
                raise SearchCancelled(f"the search was stopped: {stopped[0]}")
            self.db.set_progress_handler(check, PROGRESS_STEPS)
            try:
                return self.db.execute(sql, list(params)).fetchall()
            except sqlite3.OperationalError as exc:
                if stopped or "interrupt" in str(exc):
                    raise SearchCancelled(f"the search was stopped: {stopped[0] if stopped else 'interrupted'}") \
                        from None
                raise
            finally:
                self.db.set_progress_handler(None, PROGRESS_STEPS)

    def search(self, q: Any, *, deadline: float | None = None, cancel: threading.Event | None = None) -> Any:
        """One page of the studies that match a :class:`acse_kg.ctgov.query.StudyQuery`, as a
        :class:`acse_kg.ctgov.query.Page`, in the order :func:`acse_kg.ctgov.query._order` gives: the
        sort keys (missing values last, either way), then the NCT number, a total order.

        The page carries each study's sort values, from which the next page token is made (a keyset:
        the next page starts right after the last study sent, in that order), so walking the tokens
        meets every study that stays in the registry once, even while studies are added or removed.
        It carries the studies' API v2 JSON too (:meth:`records`), so the page needs no export.
        """
        from .ctgov.query import Page

        if not can_answer(q):
            raise SearchIndexError("this search needs the graph (filter.geo)")
        head, where, after = _Sql(), _Sql(), _Sql()
        inner = ["s.nct AS nct", _relevance_sql(q, head)]
        keys: list[str] = []  # the outer columns a token records, in order
        parts: list[tuple[str, str, int, bool]] = []  # (expression, direction, index in keys, is a null test)
        for i, key in enumerate(q.sort):
            direction = "DESC" if key.descending else "ASC"
            if key.piece is None:
                parts.append(("score", direction, len(keys), False))
                keys.append("score")
                continue
            column = "date" if key.piece.is_date else "num"
            inner.append(f"(SELECT {'MAX' if key.descending else 'MIN'}(x.{column}) FROM piece x "
                         f"WHERE x.doc = s.doc AND x.piece = ?) AS k{i}")
            head.bind(key.piece.piece)
            parts += [(f"(k{i} IS NULL)", "ASC", len(keys), True), (f"k{i}", direction, len(keys), False)]
            keys.append(f"k{i}")
        parts.append(("nct", "ASC", len(keys), False))
        keys.append("nct")
        keyset = "1"
        if q.after is not None:
            if len(q.after) != len(keys):
                from .ctgov.query import QueryError

                raise QueryError("Invalid value in parameter pageToken: not a token this server issued for this sort")
            alternatives = []
            for n, (expr, direction, k, null_test) in enumerate(parts):
                same = []
                for expr2, _, k2, null2 in parts[:n]:
                    same.append(f"{expr2} IS ?")
                    after.bind(int(q.after[k2] is None) if null2 else q.after[k2])
                alternatives.append("(" + " AND ".join([*same, f"{expr} {'>' if direction == 'ASC' else '<'} ?"]) + ")")
                after.bind(int(q.after[k] is None) if null_test else q.after[k])
            keyset = " OR ".join(alternatives)
        sql = (f"SELECT {', '.join(keys)}, COUNT(*) OVER () FROM "
               f"(SELECT {', '.join(inner)} FROM study s WHERE {self._where(q, where)}) "
               f"WHERE {keyset} ORDER BY {', '.join(f'{e} {d}' for e, d, _, _ in parts)} LIMIT ? OFFSET ?")
        self.sync()
        rows = self._run(sql, [*head.params, *where.params, *after.params, q.page_size, q.offset], deadline, cancel)
        left = int(rows[0][-1]) if rows else 0  # the matches from this page's first study on
        total = left if q.count_total and q.first_page else None  # "ignored for the subsequent pages"
        ncts = [str(r[keys.index("nct")]) for r in rows]
        return Page(ncts, q.offset, q.offset + left, total, [list(r[:-1]) for r in rows], self.records(ncts))

    def _where(self, q: Any, where: _Sql) -> str:
        tests = ["1"]
        for ids in q.id_sets:
            tests.append("s.nct IN (" + ", ".join("?" * len(ids)) + ")")
            where.bind(*ids)
        for statuses in q.status_sets:
            # The row's own column: looking the status up in ``piece`` study by study was most of a
            # status-filtered search's time.
            tests.append("s.status IN (" + ", ".join("?" * len(statuses)) + ")")
            where.bind(*(v.lower() for v in statuses))
        for name, tree in q.essie.items():
            tests.append(essie_sql(tree, AREA_COLUMNS.get(name, "whole"), where))
        for agg in q.agg:
            from .ctgov.pieces import piece

            tests.append("(" + " OR ".join(_piece_test(piece(a), Term(v), where) for a, v in agg.tests) + ")")
        return " AND ".join(tests)

    def matching(self, q: Any, *, oncotree: str | None = None, deadline: float | None = None,
                 cancel: threading.Event | None = None) -> set[str]:
        """Every NCT number the query finds (no order, no page); ``oncotree``: only studies a condition
        search for that OncoTree code takes (a cohort of the class, of a subtype, or of a broader type)."""
        where = _Sql()
        tests = self._where(q, where)
        if oncotree is not None:
            tests += " AND s.doc IN (SELECT doc FROM facet WHERE facet = 'oncotree' AND value = ?)"
            where.bind(oncotree.upper())
        self.sync()
        return {str(r[0]) for r in self._run(f"SELECT s.nct FROM study s WHERE {tests}", where.params,
                                              deadline, cancel)}

    def records(self, ncts: list[str]) -> list[dict[str, Any]] | None:
        """The API v2 JSON of these studies as the index holds them, in the order given (None if one is
        not in the index: the caller exports from the graph). Read with the page the search found, so
        in step with the graph as that search was."""
        if not ncts:
            return []
        with self._lock:
            rows = dict(self.db.execute("SELECT s.nct, j.record FROM study s JOIN study_json j ON j.doc = s.doc "
                                        f"WHERE s.nct IN ({', '.join('?' * len(ncts))})", ncts).fetchall())
        if any(n not in rows for n in ncts):
            return None
        return [json.loads(rows[n]) for n in ncts]

    def cards(self, ncts: Sequence[str]) -> list[dict[str, Any]]:
        """The search page's cards (title, status, cohorts, facet values) of these studies, in the
        order given (a study not in the index is left out)."""
        if not ncts:
            return []
        with self._lock:
            rows = dict(self.db.execute("SELECT s.nct, j.card FROM study s JOIN study_json j ON j.doc = s.doc "
                                        f"WHERE s.nct IN ({', '.join('?' * len(ncts))})", list(ncts)).fetchall())
        return [json.loads(rows[n]) for n in ncts if n in rows]

    def facet_bits(self) -> FacetBits:
        """Every study's facet values as bitsets (:mod:`acse_kg.facet_bits`), made once per change of
        the rows: the search page counts and pages with them without reading a card it does not show."""
        self.sync()
        with self._lock:
            key = (self._generation, self._file_version())
            if self._bits is None or self._bits[0] != key:
                # Two narrow reads, no card: reading every card is 2 s at 18,000 studies; the facet rows
                # come grouped by value, their studies as one text each.
                ncts: list[str] = []
                position: dict[int, int] = {}
                for doc, nct in self.db.execute("SELECT doc, nct FROM study ORDER BY nct"):
                    position[doc] = len(ncts)
                    ncts.append(nct)
                groups = ((f, v, label, [p for p in map(position.get, map(int, docs.split(","))) if p is not None])
                          for f, v, label, docs in self.db.execute(
                              "SELECT facet, value, MIN(label), group_concat(doc) FROM card_facet GROUP BY facet, value"))
                self._bits = (key, FacetBits.from_groups(ncts, groups))
            return self._bits[1]

    def count_matches(self, q: Any, *, deadline: float | None = None) -> int:
        """How many studies match (the page's totalCount whatever the page)."""
        from dataclasses import replace

        return int(self.search(replace(q, offset=0, first_page=True, count_total=True, page_size=1),
                               deadline=deadline).total or 0)

    def interrupt(self) -> None:
        """Stop the statement running now (from another thread)."""
        self.db.interrupt()


# ------------------------------------------------------------------ one index per store
_indexes: weakref.WeakKeyDictionary[Any, SearchIndex] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def copy_index(source: Path, target: Path, identity: str) -> None:
    """The index file ``source`` copied to ``target`` and tied to the dataset ``identity``: for a dataset
    copied byte for byte to another place (an embedded store's datasets served by ``oxigraph serve``), whose
    studies and log versions are the index's already. A file of another layout is refused: opening it
    would empty it, and the studies would be read again (hours at 100,000 over HTTP). The next
    :meth:`SearchIndex.sync` checks the rows against the log as after any open."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
            layout = src.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
            if layout is None or layout[0] != LAYOUT:
                raise SearchIndexError(f"the search index {source} is of layout {layout and layout[0]}, not {LAYOUT}: "
                                       "open it once with this code (`acse-kg index` on its store) before copying it")
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
                stale.unlink(missing_ok=True)
            with contextlib.closing(sqlite3.connect(target)) as dst:
                src.backup(dst)
                dst.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('dataset', ?)", (identity,))
                dst.commit()
    except sqlite3.Error as exc:
        raise SearchIndexError(f"cannot copy the search index {source} to {target}: {exc}") from exc


def index_path(store: GraphStore) -> Path | None:
    """Where the store's index file lives; None for a memory store (and a remote one that has no identity).

    A store directory: beside it (``<store>.search.sqlite``). A remote store (a SPARQL endpoint): in
    the registry's data directory (:func:`acse_kg.paths.remote_index_dir`, under ``ACSE_KG_HOME``),
    one file per endpoint, named after its URL (its history endpoint's too) and a digest of it, so
    that the bulk import writing to the endpoint and ``acse-kg serve`` reading it on the same machine
    meet in one file. A URL may come to serve another dataset, so the file is tied to the dataset
    by its identity (:func:`dataset_identity`), checked when the index is opened.
    """
    path = getattr(store, "path", None)
    if path is not None:
        path = Path(path)
        return path.with_name(path.name + ".search.sqlite")
    key = _endpoint_key(store)
    if key is None:
        return None
    import hashlib
    import re

    from .paths import remote_index_dir

    slug = re.sub(r"[^A-Za-z0-9]+", "-", key.split("://", 1)[-1]).strip("-")[:80]
    return remote_index_dir() / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.sqlite"


def _endpoint_key(store: GraphStore) -> str | None:
    """What names a remote store's endpoints (its query URL, and its history's), or None for a local store."""
    url = getattr(store, "query_url", None)
    if url is None:
        return None
    history = getattr(store, "history", store)
    return str(url) if history is store else f"{url} {getattr(history, 'query_url', '')}"


def dataset_identity(store: GraphStore) -> str | None:
    """The identity of a remote store's dataset (:meth:`acse_kg.remote.SparqlEndpointStore.dataset_id`,
    written on first need), recorded in its index file's meta table: an index file whose identity is
    not the dataset's is emptied and rebuilt from the graph, never served. None for a local store (its
    index file sits beside its directory and goes with it) and for a remote store that has none and
    may not write one (its index is then kept in memory, as before)."""
    ask = getattr(store, "dataset_id", None)
    return ask() if ask is not None else None


def index_for(store: GraphStore, *, sync: bool = True) -> SearchIndex:
    """The store's index (opened once per store), in step with the graph unless ``sync`` is False."""
    with _indexes_lock:
        index = _indexes.get(store)
        if index is None:
            path = index_path(store)
            remote = getattr(store, "query_url", None) is not None
            try:
                identity = dataset_identity(store) if remote else None
            except StoreError as exc:  # e.g. Virtuoso's 500 to an anonymous update: no id, an index in memory
                _log.warning("the search index of %s is kept in memory: its dataset has no identity (%s)",
                             getattr(store, "query_url", store), exc)
                identity = None
            if remote and identity is None:
                path = None  # a dataset that cannot be told apart from another at its URL: an index in memory
            try:
                index = SearchIndex(store, path, identity=identity)
            except SearchIndexError:
                if path is None:
                    raise
                index = SearchIndex(store, None)  # a directory we cannot write beside: kept in memory
            _indexes[store] = index
    if sync:
        index.sync()
    return index


__all__ = [
    "AREA_COLUMNS",
    "OncotreeTerms",
    "RowContext",
    "SearchCancelled",
    "SearchIndex",
    "SearchIndexError",
    "StudyRow",
    "can_answer",
    "dataset_identity",
    "essie_sql",
    "fingerprints",
    "fts_phrase",
    "index_for",
    "index_path",
    "piece_rows",
    "read_row",
    "record_row",
    "row_from_graph",
]
