"""The one small interface behind which the graph lives.

Everything else in the project (CLI, pages, matching, the SPARQL endpoint)
talks to a :class:`GraphStore`, never to a particular engine, so that the
registry can move from the embedded Oxigraph store to an external SPARQL 1.1
engine (Oxigraph server, Virtuoso, QLever, GraphDB) without touching callers.

Graph layout: each source of triples lives in its own named graph (the
ontology, each vocabulary, each study record). Earlier versions of a study are
kept in graphs under ``HISTORY_PREFIX``; they are not part of the default graph
that queries see, which is the union of the *live* named graphs
(:func:`is_live_graph` says which: the one place that decides it). The
embedded store keeps the history in a dataset of its own, so that its live
dataset's union default graph is exactly that and no query names a graph
(:class:`OxigraphStore`); :func:`history_of` is where history is read.

Writing. A caller never writes SPARQL Update text: it hands the store a list
of graph operations (:class:`ReplaceGraph`, :class:`AddToGraph`,
:class:`RemoveFromGraph`, :class:`DropGraph`, :class:`CopyGraph`, :class:`AddQuads`) that :meth:`GraphStore.write` applies
all or nothing, optionally under a :class:`Claim` (a precondition that makes
two concurrent writers of the same thing conflict instead of both writing).
Values go into queries as ``bindings``, never spliced into the text.
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import pyoxigraph as ox
import rdflib
from rdflib.term import Node

from .errors import AcseError
from .namespaces import BASE, PREFIXES, sparql_prologue
from .rdf_io import readable_turtle

GRAPH_PREFIX = BASE + "id/graph/"
HISTORY_PREFIX = GRAPH_PREFIX + "history/"
#: Graphs the store keeps for itself (a remote engine's write locks and generation token): outside
#: the live graphs like the history, and left out of ``named_graphs()``, dumps and counts.
BOOKKEEPING_PREFIX = HISTORY_PREFIX + "bookkeeping/"
#: Each study's record graph (the loader names them): what a study's derived values depend on.
STUDY_GRAPH_PREFIX = GRAPH_PREFIX + "study/"
#: Where a study's own resources live: ``STUDY_PREFIX + nct`` and below (its cohorts, criteria, arms).
STUDY_PREFIX = BASE + "id/study/"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
#: The embedded store's history dataset: a second Oxigraph store in this subdirectory of its own.
HISTORY_DIR = "history"
#: Writes an embedded store remembers for :meth:`OxigraphStore.changes_since` (a bulk import writes a
#: hundred studies a write, so this is a hundred thousand studies' worth).
RECENT_WRITES = 1000
#: Writes to both datasets not yet finished (see ``OxigraphStore._write_both``).
JOURNAL_GRAPH = BOOKKEEPING_PREFIX + "journal"
PENDING_UPDATE = "urn:acse-kg:pending-update"
PENDING_QUADS = "urn:acse-kg:pending-quads"
#: Written with a journal entry's operations, in their transaction, into the dataset they changed: a
#: replay after a crash skips an entry already applied (additions with blank nodes are not idempotent).
JOURNAL_APPLIED = "urn:acse-kg:journal-applied"
#: On a store directory, a journal entry's text is a file in this subdirectory, and the entry's literal
#: (of the datatype below) its name: a bulk import's batch is ~10 MB of N-Quads, and Oxigraph never
#: deletes a string it has stored (a literal removed with its entry stays on disk), so as literals the
#: entries grew the history dataset by the size of everything ever written to the live one, and its
#: compactions with it.
JOURNAL_DIR = "journal"
JOURNAL_FILE = "urn:acse-kg:journal-file"
#: Which layout the embedded store's directory holds (history apart since this one).
LAYOUT_GRAPH = BOOKKEEPING_PREFIX + "layout"
LAYOUT = "urn:acse-kg:layout"
LAYOUT_VERSION = "history-apart-1"
MEMORY = "memory"
ENV_VAR = "ACSE_KG_STORE"


class StoreError(AcseError):
    """A store could not be opened or written; the message says why."""


class WriteConflict(StoreError):
    """A write's :class:`Claim` was already taken by another writer: nothing was written."""


class StoreHeld(StoreError):
    """The store's directory is held by another process (one process owns a store directory)."""


class QuerySyntaxError(AcseError, ValueError):
    """A SPARQL query or update did not parse; the message is the parser's."""


def is_live_graph(name: str) -> bool:
    """Whether a named graph is part of the registry as it stands (the default graph of queries):
    every named graph except the archived versions and the log under ``HISTORY_PREFIX``."""
    return not name.startswith(HISTORY_PREFIX)


def is_bookkeeping_graph(name: str) -> bool:
    """Whether a named graph is the store's own bookkeeping (see ``BOOKKEEPING_PREFIX``)."""
    return name.startswith(BOOKKEEPING_PREFIX)


# Media types and the names used on the command line, for each result format.
RESULT_FORMATS: dict[str, tuple[ox.QueryResultsFormat, str]] = {
    "json": (ox.QueryResultsFormat.JSON, "application/sparql-results+json"),
    "xml": (ox.QueryResultsFormat.XML, "application/sparql-results+xml"),
    "csv": (ox.QueryResultsFormat.CSV, "text/csv"),
    "tsv": (ox.QueryResultsFormat.TSV, "text/tab-separated-values"),
}
RDF_FORMATS: dict[str, tuple[ox.RdfFormat, str]] = {
    "turtle": (ox.RdfFormat.TURTLE, "text/turtle"),
    "ntriples": (ox.RdfFormat.N_TRIPLES, "application/n-triples"),
    "nquads": (ox.RdfFormat.N_QUADS, "application/n-quads"),
    "trig": (ox.RdfFormat.TRIG, "application/trig"),
    "rdfxml": (ox.RdfFormat.RDF_XML, "application/rdf+xml"),
    "jsonld": (ox.RdfFormat.JSON_LD, "application/ld+json"),
}


@dataclass
class SelectResult:
    """Rows of a SELECT query, with values as rdflib terms (None when unbound)."""

    variables: list[str]
    rows: list[dict[str, Node | None]] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Node | None]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def values(self, var: str) -> list[Any]:
        """The Python values of one column, for the common one-column question."""
        return [term_value(r.get(var)) for r in self.rows]


def term_value(v: Node | None) -> Any:
    """A row value's Python value (a literal's, an IRI's string), None when unbound.

    rdflib types a row's values as Node, which has no value of its own; every term a query
    returns is a Literal or an IdentifiedNode (URIRef, BNode), which do."""
    if isinstance(v, (rdflib.Literal, rdflib.term.IdentifiedNode)):
        return v.toPython()
    return None


# -- graph operations: what a write does, as data -------------------------------------------------
@dataclass(frozen=True)
class ReplaceGraph:
    """The graph's content becomes ``data`` (parsed before anything is written)."""

    graph: str
    data: bytes | str
    rdf_format: str = "turtle"


@dataclass(frozen=True)
class AddToGraph:
    """``data``'s triples are added to the graph."""

    graph: str
    data: bytes | str
    rdf_format: str = "turtle"


@dataclass(frozen=True)
class RemoveFromGraph:
    """``data``'s triples are removed from the graph (those it does not hold are ignored)."""

    graph: str
    data: bytes | str
    rdf_format: str = "turtle"


@dataclass(frozen=True)
class DropGraph:
    """The graph and its triples go (nothing happens if there is no such graph)."""

    graph: str


@dataclass(frozen=True)
class CopyGraph:
    """``target``'s content becomes a copy of ``source``'s, as it is when the operation runs
    (inside the transaction: what an earlier operation of the same write left there)."""

    source: str
    target: str


@dataclass(frozen=True)
class AddQuads:
    """``data``'s quads (N-Quads: each names its graph) are added: the bulk import's operation, many
    graphs in one document. Alone in a write without a claim, the embedded store loads it with
    Oxigraph's parser in Rust (one transaction, no SPARQL text); any engine gets it as INSERT DATA."""

    data: bytes


GraphOp = ReplaceGraph | AddToGraph | RemoveFromGraph | DropGraph | CopyGraph | AddQuads


def iter_quads(data: bytes, *, rename_blank_nodes: bool = True) -> Iterator[ox.Quad]:
    """The quads of N-Quads ``data`` (blank nodes renamed: each write's are its own; a journal entry's
    keep their labels), each checked to be in a named graph (the registry keeps every triple in one);
    a bad document or a quad in the default graph is a :class:`StoreError`, raised while iterating."""
    try:
        for q in ox.parse(data, format=ox.RdfFormat.N_QUADS, rename_blank_nodes=rename_blank_nodes):
            if not isinstance(q.graph_name, ox.NamedNode):
                raise StoreError(f"a quad outside any named graph in the N-Quads: {q}")
            yield q
    except (SyntaxError, ValueError) as exc:
        raise StoreError(f"cannot parse N-Quads: {one_line(str(exc))}") from exc


def quads_by_graph(data: bytes) -> dict[str, list[ox.Quad]]:
    """The quads of N-Quads ``data`` by graph name (see :func:`iter_quads`). Grouped as parsed: the
    registry's documents hold each graph's quads together (a bulk batch: 100 graphs, ~48,000 quads), so
    the graph's check and name are made once a run of quads, not once a quad."""
    out: dict[str, list[ox.Quad]] = {}
    try:
        for graph, run in itertools.groupby(ox.parse(data, format=ox.RdfFormat.N_QUADS, rename_blank_nodes=True),
                                            key=_GRAPH_NAME):
            quads = list(run)
            if not isinstance(graph, ox.NamedNode):
                raise StoreError(f"a quad outside any named graph in the N-Quads: {quads[0]}")
            out.setdefault(graph.value, []).extend(quads)
    except (SyntaxError, ValueError) as exc:
        raise StoreError(f"cannot parse N-Quads: {one_line(str(exc))}") from exc
    return out


_GRAPH_NAME = operator.attrgetter("graph_name")


def parse_quads(data: bytes) -> dict[str, list[ox.Triple]]:
    """N-Quads ``data`` as triples by graph name (see :func:`quads_by_graph`)."""
    return {g: [ox.Triple(q.subject, q.predicate, q.object) for q in quads] for g, quads in quads_by_graph(data).items()}


#: The property a :class:`Claim` writes its token with.
CLAIM_TOKEN = "http://purl.org/dc/terms/identifier"


@dataclass(frozen=True)
class Claim:
    """The precondition of a write: it applies only if ``subject`` has no triple in ``graph`` when
    it starts, and it then writes ``<subject> dcterms:identifier "<token>"`` there.

    Two writers that claim the same subject can never both write: the claim
    is checked and taken inside the write's one transaction, and the store
    reads the token back afterwards (a remote engine cannot tell whether a
    conditional update applied), raising :class:`WriteConflict` when another
    writer's token is there. The caller's own triples about ``subject`` (a
    log entry ...) belong in the same write.

    ``scope`` names what writers of such claims contend for (a study, for the
    versions of its record; the subject when not given). An engine that does
    not isolate concurrent updates from each other (the Oxigraph server
    evaluates an update's conditions on a snapshot, so two conditional
    updates sent at once can both apply) is written under a lock on it (see
    :mod:`acse_kg.remote`); the embedded store serialises its writes itself.
    """

    graph: str
    subject: str
    scope: str | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().urn)

    @property
    def lock(self) -> str:
        return self.scope or self.subject


def parse_triples(data: bytes | str, rdf_format: str, graph: str) -> list[ox.Triple]:
    """Triples of ``data``; a bad document is a :class:`StoreError` naming the graph it was meant for."""
    try:
        fmt = RDF_FORMATS[rdf_format][0]
    except KeyError:
        raise StoreError(f"unknown RDF format {rdf_format!r} for graph <{graph}> "
                         f"(one of: {', '.join(RDF_FORMATS)})") from None
    raw = data.encode() if isinstance(data, str) else data
    try:
        return list(ox.parse(raw, format=fmt, without_named_graphs=True, rename_blank_nodes=True))
    except (SyntaxError, ValueError) as exc:
        raise StoreError(f"cannot parse {rdf_format} for graph <{graph}>: {exc}") from exc


def _quads_in_graph(data: bytes | str, rdf_format: str, graph: str) -> list[ox.Quad]:
    """The triples of ``data`` as quads of ``graph`` (blank nodes renamed); a bad document is a
    :class:`StoreError` naming the graph, as :func:`parse_triples` says it.

    N-Triples (what the registry writes itself: the bundle, a study) is checked by its own parser,
    then read once more as the body of a TriG graph block, so that Oxigraph makes the quads: a quad
    made in Python from a triple's three terms costs 7 µs, a third of a store's first load.
    """
    g = _named_node(graph)
    triples = parse_triples(data, rdf_format, graph)  # strict: what is not N-Triples is refused as before
    if rdf_format == "ntriples":
        raw = data.encode() if isinstance(data, str) else data
        try:
            quads = list(ox.parse(b"%b {\n%b\n}" % (str(g).encode(), raw), format=ox.RdfFormat.TRIG,
                                  rename_blank_nodes=True))
        except (SyntaxError, ValueError):
            quads = []  # cannot be, for valid N-Triples; made in Python below, then
        if len(quads) == len(triples):
            return quads
    return [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples]


def _iri(value: str) -> str:
    """An IRI as SPARQL text, checked and escaped by Oxigraph (a malformed IRI is a StoreError)."""
    return str(_named_node(value))


def _named_node(value: str) -> ox.NamedNode:
    """An IRI checked by Oxigraph (a malformed IRI is a StoreError)."""
    try:
        return ox.NamedNode(value)
    except ValueError as exc:
        raise StoreError(f"not an IRI: {value!r} ({exc})") from exc


#: Triples per ``GRAPH`` block of an ``INSERT DATA``/``DELETE DATA``: Virtuoso's SPARQL parser runs out
#: of stack ("memory exhausted") on one block of some 7,000 triples; many blocks in one operation are fine.
DATA_BLOCK = 1000
#: Triples per ``INSERT { ... } WHERE { ... }`` operation: Virtuoso turns a template into SQL and refuses
#: one longer than 10,000 lines (some thousands of triples); 500 stays well inside.
TEMPLATE_BLOCK = 500


def _graph_blocks(quads: Sequence[tuple[str, ox.Triple]], size: int) -> list[str]:
    """``GRAPH g { ... }`` blocks of at most ``size`` triples each (a graph's triples may span blocks)."""
    out: list[str] = []
    for i in range(0, len(quads), size):
        by_graph: dict[str, list[str]] = {}
        for g, t in quads[i:i + size]:
            by_graph.setdefault(g, []).append(str(t))
        out.append("\n".join(f"GRAPH {g} {{\n" + " .\n".join(ts) + " }" for g, ts in by_graph.items()))
    return out


@dataclass
class _Data:
    """The triples of one operation (each with its graph, as SPARQL text), split as every engine takes them.

    Triples without blank nodes go as ``INSERT DATA``. Virtuoso refuses blank nodes there ("not
    allowed in a constant clause"), so triples with them go as ``INSERT { ... } WHERE { ... }``
    templates, where a blank node is a new node per operation on every engine: the triples that
    share blank nodes (an expression tree) are kept in one operation, never split.
    """

    quads: list[tuple[str, ox.Triple]]

    def _split(self) -> tuple[list[tuple[str, ox.Triple]], list[list[tuple[str, ox.Triple]]]]:
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        ground: list[tuple[str, ox.Triple]] = []
        blank: list[tuple[str, ox.Triple, str]] = []
        for g, t in self.quads:
            nodes = [x.value for x in (t.subject, t.object) if isinstance(x, ox.BlankNode)]
            if not nodes:
                ground.append((g, t))
                continue
            for other in nodes[1:]:
                parent[find(other)] = find(nodes[0])
            blank.append((g, t, nodes[0]))
        components: dict[str, list[tuple[str, ox.Triple]]] = {}
        for g, t, node in blank:
            components.setdefault(find(node), []).append((g, t))
        packs: list[list[tuple[str, ox.Triple]]] = []
        for part in components.values():
            if packs and len(packs[-1]) + len(part) <= TEMPLATE_BLOCK:
                packs[-1].extend(part)
            else:
                packs.append(list(part))
        return ground, packs

    def deletes(self, condition: str) -> list[str]:
        """The operations that delete the data (which has no blank nodes: the caller checks)."""
        if condition:
            return [f"DELETE {{\n{b} }} WHERE {{ {condition} }}" for b in _graph_blocks(self.quads, TEMPLATE_BLOCK)]
        blocks = _graph_blocks(self.quads, DATA_BLOCK)
        return ["DELETE DATA {\n" + "\n".join(blocks) + " }"] if blocks else []

    def inserts(self, condition: str) -> list[str]:
        """The operations that insert the data; under a claim's ``condition`` each is conditional on it."""
        ground, packs = self._split()
        out: list[str] = []
        if condition:
            out += [f"INSERT {{\n{b} }} WHERE {{ {condition} }}" for b in _graph_blocks(ground, TEMPLATE_BLOCK)]
        elif ground:
            out.append("INSERT DATA {\n" + "\n".join(_graph_blocks(ground, DATA_BLOCK)) + " }")
        out += [f"INSERT {{\n{_graph_blocks(p, len(p))[0]} }} WHERE {{ {condition} }}" for p in packs]
        return out


def update_request(ops: Sequence[GraphOp], claim: Claim | None = None, *,
                   made: Sequence[tuple[str, ox.Triple]] = ()) -> str:
    """The one SPARQL 1.1 Update request that applies ``ops`` in order (and takes ``claim``), then
    adds ``made``: triples already made of Oxigraph's terms, each with its graph, for what a document
    cannot carry (Oxigraph's N-Triples parser takes no token over 16 MB, and a bulk batch's journal
    entry, its live request in pieces, is tens of MB).

    Every document is parsed first, so bad data raises before any text is
    sent. Terms are written by Oxigraph's own serialiser (N-Triples syntax,
    which is SPARQL syntax), never spliced from caller text.

    Under a claim, the first two operations set a flag in a graph of its own
    and take it away again if the claim is taken; every later operation is conditional on that flag
    (``DELETE``/``INSERT ... WHERE``: ``DROP`` and ``INSERT DATA`` cannot be
    conditional), the claim's token is written last and the flag graph
    dropped. So the claim is tested once, at the start, whatever the
    operations write, and a taken claim makes the whole request a no-op.
    """
    bodies: list[_Data | None] = []
    for op in ops:
        if isinstance(op, (ReplaceGraph, AddToGraph, RemoveFromGraph)):
            triples = parse_triples(op.data, op.rdf_format, op.graph)
            if isinstance(op, RemoveFromGraph) and any(
                isinstance(x, ox.BlankNode) for t in triples for x in (t.subject, t.object)
            ):
                raise StoreError(f"cannot remove triples with blank nodes from <{op.graph}>: name them")
            g = _iri(op.graph)
            bodies.append(_Data([(g, t) for t in triples]))
        elif isinstance(op, AddQuads):
            bodies.append(_Data([(_iri(g), t) for g, ts in parse_quads(op.data).items() for t in ts]))
        elif isinstance(op, (DropGraph, CopyGraph)):
            bodies.append(None)
        else:
            raise TypeError(f"not a graph operation: {op!r}")
    extra = _Data([(_iri(g), t) for g, t in made]) if made else None
    out: list[str] = []

    def drop(g: str) -> str:
        # Emptied by DELETE, then dropped: Virtuoso decides whether DROP SILENT has anything to do
        # from the graph as it was when the request began, so a graph filled earlier in the same
        # request would keep its triples; DELETE WHERE runs in order everywhere.
        return f"DELETE WHERE {{ GRAPH {g} {{ ?s ?p ?o }} }} ;\nDROP SILENT GRAPH {g}"

    if claim is None:
        for op, data in zip(ops, bodies, strict=True):
            if isinstance(op, ReplaceGraph):
                # No CREATE: a graph is made by its triples (Virtuoso, too, keeps no empty graph).
                out.append(drop(_iri(op.graph)))
            if isinstance(op, (ReplaceGraph, AddToGraph, AddQuads)):
                assert data is not None
                out += data.inserts("")
            elif isinstance(op, RemoveFromGraph):
                assert data is not None
                out += data.deletes("")
            elif isinstance(op, DropGraph):
                out.append(drop(_iri(op.graph)))
            elif isinstance(op, CopyGraph):
                src, dst = _iri(op.source), _iri(op.target)
                out += [drop(dst),
                        f"INSERT {{ GRAPH {dst} {{ ?s ?p ?o }} }} WHERE {{ GRAPH {src} {{ ?s ?p ?o }} }}"]
        if extra is not None:
            out += extra.inserts("")
        return " ;\n".join(out)
    flag = _iri(f"urn:acse-kg:write:{uuid.uuid4()}")
    go = f"GRAPH {flag} {{ {flag} {flag} {flag} }}"
    cg, cs = _iri(claim.graph), _iri(claim.subject)
    # The flag is set, then taken away if the claim is taken: a WHERE holding a real pattern. Virtuoso
    # evaluates neither "WHERE { FILTER NOT EXISTS {...} }" nor "OPTIONAL {...} FILTER (!BOUND(...))" right.
    out.append(f"INSERT DATA {{ {go} }}")
    out.append(f"DELETE {{ {go} }} WHERE {{ GRAPH {cg} {{ {cs} ?claimed ?by }} }}")

    def clear(g: str) -> str:
        return f"DELETE {{ GRAPH {g} {{ ?s ?p ?o }} }} WHERE {{ {go} GRAPH {g} {{ ?s ?p ?o }} }}"

    for op, data in zip(ops, bodies, strict=True):
        if isinstance(op, ReplaceGraph):
            out.append(clear(_iri(op.graph)))
        if isinstance(op, (ReplaceGraph, AddToGraph, AddQuads)):
            assert data is not None
            out += data.inserts(go)
        elif isinstance(op, RemoveFromGraph):
            assert data is not None
            out += data.deletes(go)
        elif isinstance(op, DropGraph):
            out.append(clear(_iri(op.graph)))
        elif isinstance(op, CopyGraph):
            src, dst = _iri(op.source), _iri(op.target)
            out += [clear(dst),
                    f"INSERT {{ GRAPH {dst} {{ ?s ?p ?o }} }} WHERE {{ {go} GRAPH {src} {{ ?s ?p ?o }} }}"]
    if extra is not None:
        out += extra.inserts(go)
    token = ox.Literal(claim.token)
    out.append(f"INSERT {{ GRAPH {cg} {{ {cs} <{CLAIM_TOKEN}> {token} }} }} WHERE {{ {go} }}")
    out.append(drop(flag))
    return " ;\n".join(out)


def check_claim(store: GraphStore, claim: Claim) -> None:
    """After a claimed write: return if it applied, raise :class:`WriteConflict` if another writer
    holds the claim, :class:`StoreError` if both wrote (an engine that does not isolate updates)."""
    tokens = store.select(
        "SELECT ?token WHERE { GRAPH ?g { ?s ?claimed ?token } }",
        bindings={"g": rdflib.URIRef(claim.graph), "s": rdflib.URIRef(claim.subject),
                  "claimed": rdflib.URIRef(CLAIM_TOKEN)},
    ).values("token")
    if tokens == [claim.token]:
        return
    if claim.token in tokens:
        raise StoreError(f"two writers both took <{claim.subject}> in <{claim.graph}>: "
                         "the engine does not isolate concurrent updates")
    raise WriteConflict(f"<{claim.subject}> in <{claim.graph}> was written by another writer first; "
                        "nothing was written")


# -- values bound into queries ------------------------------------------------------------------
Bindings = Mapping[str, Node]
_VARNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _term_text(name: str, value: Node) -> str:
    """A bound value as SPARQL text, written by Oxigraph's serialiser."""
    if isinstance(value, rdflib.URIRef):
        return _iri(str(value))
    if isinstance(value, rdflib.Literal):
        if value.language:
            return str(ox.Literal(str(value), language=value.language))
        if value.datatype is not None:
            return str(ox.Literal(str(value), datatype=ox.NamedNode(str(value.datatype))))
        return str(ox.Literal(str(value)))
    raise TypeError(f"binding ?{name}: an rdflib URIRef or Literal is needed, not {type(value).__name__}")


def _where_brace(query: str) -> int | None:
    """The offset just after the ``{`` that opens the query's WHERE group, or None if not found.

    Found with the SPARQL lexer (strings, IRIs and comments are single tokens):
    the brace after the ``WHERE`` keyword at the top level, or, for a query
    that leaves ``WHERE`` out (``SELECT * { ... }``, ``ASK { ... }``), the first
    top-level brace after the query form (a CONSTRUCT's first one is its template).
    """
    from .sparql_safety import _TOKEN as SPARQL_TOKEN  # the endpoint's own SPARQL lexer
    from .sparql_safety import QUERY_FORMS

    form: str | None = None
    depth = 0  # parentheses and braces
    after_where = False
    for m in SPARQL_TOKEN.finditer(query):
        kind, tok = m.lastgroup, m.group()
        if kind == "word":
            upper = tok.upper()
            if form is None and upper in QUERY_FORMS:
                form = upper
            elif upper == "WHERE" and depth == 0:
                after_where = True
        elif kind == "other" and tok in "({":
            if tok == "{" and depth == 0 and form is not None and (after_where or form != "CONSTRUCT"):
                return m.end()
            depth += 1
        elif kind == "other" and tok in ")}":
            depth -= 1
    return None


def bind_values(query: str, bindings: Bindings | None) -> str:
    """``query`` with a ``VALUES`` block for ``bindings`` at the start of its WHERE group.

    The values are data, not text: each is written by Oxigraph's serialiser.
    At the start of the group they join with everything in it, so they work
    where Oxigraph's ``substitutions`` refuse (a variable outside the SELECT
    projection, an aggregate) and on any SPARQL 1.1 engine alike.
    """
    if not bindings:
        return query
    names = list(bindings)
    for name in names:
        if not _VARNAME.fullmatch(name):
            raise ValueError(f"not a SPARQL variable name: {name!r} (give it without the '?')")
    row = " ".join(_term_text(n, bindings[n]) for n in names)
    block = f" VALUES ({' '.join('?' + n for n in names)}) {{ ({row}) }} "
    at = _where_brace(query)
    if at is None:
        raise QuerySyntaxError("cannot bind values: no WHERE group found in the query")
    return query[:at] + block + query[at:]


@runtime_checkable
class GraphStore(Protocol):
    """What the registry needs of a triple store, and nothing more.

    Queries see the live graphs (:func:`is_live_graph`) as their default
    graph and every named graph through ``GRAPH``; ``bindings`` give variables
    their values (see :func:`bind_values`). Writes are :meth:`write`.
    """

    def select(self, query: str, bindings: Bindings | None = None) -> SelectResult: ...

    def ask(self, query: str, bindings: Bindings | None = None) -> bool: ...

    def construct(self, query: str, bindings: Bindings | None = None) -> rdflib.Graph: ...

    def query_serialized(
        self,
        query: str,
        result_format: str,
        *,
        default_graph_uris: Sequence[str] = (),
        named_graph_uris: Sequence[str] = (),
    ) -> tuple[str, bytes]:
        """Run any query; return (query form, body) in the asked format name."""
        ...

    def write(self, ops: Sequence[GraphOp], *, claim: Claim | None = None) -> None:
        """Apply the operations in order, all or nothing (one transaction); bad data changes
        nothing. Under ``claim``, raise :class:`WriteConflict` (nothing written) if it was taken."""
        ...

    def update(self, update: str) -> None:
        """Run SPARQL Update text as it is (the endpoint's admin route; the registry's own code uses :meth:`write`)."""
        ...

    def replace_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        """``write([ReplaceGraph(graph, data, rdf_format)])``."""
        ...

    def add_to_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None: ...

    def drop_graph(self, graph: str) -> None: ...

    def graph(self, graph: str) -> rdflib.Graph: ...

    def graph_quads(self, graph: str) -> list[ox.Quad]:
        """One graph's quads (live or archived) as Oxigraph's terms, literals in Oxigraph's canonical
        form on every engine: what a comparison needs, with no rdflib graph made (a study of 5,000
        triples: 0.3 s through rdflib)."""
        ...

    def named_graphs(self) -> list[str]: ...

    def live_graphs(self) -> list[str]:
        """The named graphs queries see as their default graph (sorted)."""
        ...

    def dump(self, rdf_format: str = "nquads", *, include_history: bool = True) -> bytes: ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


@functools.lru_cache(maxsize=1 << 16)
def _uri(value: str) -> rdflib.URIRef:
    """An rdflib IRI, made once for the IRIs met again and again (predicates, classes, codes): rdflib
    checks every IRI it makes, and reading a study's graph made each of its terms afresh."""
    return rdflib.URIRef(value)


#: Literals longer than this are made each time (a description is one study's own; the cache stays small).
_SHORT = 120


@functools.lru_cache(maxsize=1 << 16)
def _short_literal(value: str, language: str | None, datatype: str) -> rdflib.Literal:
    """A short literal, made once (codes, dates, numbers, names recur across studies; rdflib terms are
    immutable, so one object serves every graph that holds it)."""
    return _make_literal(value, language, datatype)


def _literal(value: str, language: str | None, datatype: str) -> rdflib.Literal:
    if len(value) <= _SHORT:
        return _short_literal(value, language, datatype)
    return _make_literal(value, language, datatype)


def _make_literal(value: str, language: str | None, datatype: str) -> rdflib.Literal:
    if language:
        return rdflib.Literal(value, lang=language)
    if datatype == "http://www.w3.org/2001/XMLSchema#string":
        return rdflib.Literal(value)
    return rdflib.Literal(value, datatype=_uri(datatype))


def _to_rdflib(term: Any) -> Node | None:
    """Convert a pyoxigraph term to its rdflib twin."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return _uri(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        return _literal(term.value, term.language, term.datatype.value)
    if isinstance(term, ox.DefaultGraph):
        return None
    raise TypeError(f"unsupported term {term!r}")


def _term(term: Any) -> Node:
    """A triple's subject, predicate or object in rdflib (always a term, never the default graph)."""
    node = _to_rdflib(term)
    if node is None:
        raise TypeError(f"not a term of a triple: {term!r}")
    return node


def rdflib_triples(quads: Iterable[ox.Quad]) -> list[tuple[Node, Node, Node]]:
    """The quads' triples in rdflib's terms, with no :class:`rdflib.Graph` made.

    Why: a reader that walks a study's triples into its own index (the model's reader) paid
    more for rdflib's graph than for everything else it did (each ``Graph.add`` builds an event
    and a context entry: 30 of the 44 s of the first match at 1,000 structured trials). Each
    distinct term is converted once: a study's ~2,000 triples hold a few hundred terms.

    >>> q = ox.Quad(ox.NamedNode("urn:x:s"), ox.NamedNode("urn:x:p"), ox.Literal("1"), ox.NamedNode("urn:x:g"))
    >>> rdflib_triples([q, q])[1] == (rdflib.URIRef("urn:x:s"), rdflib.URIRef("urn:x:p"), rdflib.Literal("1"))
    True
    """
    memo: dict[Any, Node] = {}
    out: list[tuple[Node, Node, Node]] = []
    for q in quads:
        s, p, o = q.subject, q.predicate, q.object
        ts = memo.get(s)
        if ts is None:
            ts = memo[s] = _term(s)
        tp = memo.get(p)
        if tp is None:
            tp = memo[p] = _term(p)
        to = memo.get(o)
        if to is None:
            to = memo[o] = _term(o)
        out.append((ts, tp, to))
    return out


def rdflib_graph(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    """The quads' triples as an rdflib graph: what every store's ``graph()`` answers, from its quads."""
    g = rdflib.Graph()
    for t in rdflib_triples(quads):
        g.add(t)
    return g


def serialized(out: bytes | None) -> bytes:
    """What ``pyoxigraph.serialize`` returns when given no output file: the bytes (never None)."""
    if out is None:
        raise StoreError("the serialiser wrote nothing")
    return out


def one_line(text: str, limit: int | None = None) -> str:
    """A parser's message on one line: engines (Oxigraph) write multi-line messages with a caret,
    and the registry's errors are one line (the CLI prints them as they are)."""
    flat = " ".join(text.split())
    return flat if limit is None else flat[:limit]


def _parse_error(exc: Exception) -> QuerySyntaxError:
    return QuerySyntaxError(one_line(str(exc)))


def with_prologue(query: str) -> str:
    """Declare the registry's prefixes ahead of the query's own, for a remote engine (the
    embedded store takes them as Oxigraph's ``prefixes=``, which leaves error positions alone).

    A query's own PREFIX declarations come later and so win. The prologue is
    kept on the query's first line so that parser errors keep their line numbers.
    """
    return _PROLOGUE_ONE_LINE + query


_PROLOGUE_ONE_LINE = sparql_prologue().replace("\n", " ")


class OxigraphStore:
    """The embedded default: Oxigraph, on disk or in memory.

    Oxigraph is used directly (not through rdflib's store plugin) because the
    registry's hot paths (the SPARQL endpoint, dumps) can then hand serialised
    results straight through without building Python objects per row.

    Two datasets. The live graphs are one Oxigraph store, queried over its
    union default graph: a query names no graphs, so its cost does not grow
    with the number of studies (at 1,000 studies, listing every live graph
    made "ids of recruiting studies" take 90 s against 0.03 s). The history
    (archived versions, the log) is a second store, in the ``history/``
    subdirectory, read through :attr:`history`; no live query can see it.
    :meth:`write` sends each operation to the store of its graph; a write that
    touches both stays all or nothing through a journal (see :meth:`_write_both`).
    A store written by the earlier one-dataset layout is migrated on open.

    One process owns a store directory. Oxigraph documents opening a
    directory read-only while another process writes it as undefined
    behaviour (a frozen view at best), so a directory another process holds
    is refused with a message saying how to reach it instead (through the
    server that holds it); ``read_only`` takes the directory's lock like any
    owner and only refuses the caller's writes (an interrupted write or the
    old layout is still repaired on open). A reader that wants a copy of a
    live store takes one with :meth:`snapshot` (Oxigraph's backup) from the owner.
    """

    def __init__(self, path: Path | None = None, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        self._live_cache: list[ox.NamedNode] | None = None
        #: Bumped by every write through this object, so that readers holding a
        #: copy (the SPARQL worker pool) know when to refresh without hashing.
        self.generation = 0
        #: Writes by graph, and writes to anything but a study's own graphs (the vocabularies, the
        #: ontology, raw updates): a study's derived values hold while both are unchanged.
        self._graph_writes: dict[str, int] = {}
        self._shared_writes = 0
        #: Writes that changed what the studies declare of things outside themselves (a drug other
        #: studies name): with the shared writes, what :meth:`vocabulary_version` counts.
        self._vocabulary_writes = 0
        #: The last writes, oldest first: (generation after the write, graphs it touched or None for
        #: any). What :meth:`changes_since` reads; bounded, a look older than its start sees "anything".
        self._recent: deque[tuple[int, tuple[str, ...] | None]] = deque(maxlen=RECENT_WRITES)
        self._view: OxigraphStore | None = None
        self._store = self._open(path)
        self._hist: ox.Store | None = self._open(None if path is None else path / HISTORY_DIR)
        self._recover()

    @staticmethod
    def _open(path: Path | None) -> ox.Store:
        try:
            if path is None:
                return ox.Store()
            path.mkdir(parents=True, exist_ok=True)
            return ox.Store(str(path))
        except OSError as exc:
            if "current process" in str(exc):
                raise StoreError(f"the store at {path} is already open in this process: "
                                 "open it once and share that store") from exc
            if "lock" in str(exc).lower():
                raise StoreHeld(
                    f"the store at {path} is held by another process (a running acse-kg server?): "
                    "one process owns a store directory. Go through that server instead, "
                    "--store http://HOST:PORT/sparql (writes with its admin token in ACSE_KG_REMOTE_TOKEN), "
                    "or stop it, or use --store memory or another --store PATH."
                ) from exc
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc

    @classmethod
    def _history_view(cls, hist: ox.Store, owner: OxigraphStore) -> OxigraphStore:
        """The history dataset as a store of its own, for reading (writes go through the owner)."""
        view = cls.__new__(cls)
        view.path, view.read_only, view._lock = owner.path, True, owner._lock
        view._live_cache, view.generation, view._graph_writes, view._shared_writes = None, 0, {}, 0
        view._recent, view._vocabulary_writes = deque(maxlen=RECENT_WRITES), 0
        view._store, view._hist, view._view = hist, None, view
        return view

    @property
    def history(self) -> OxigraphStore:
        """The history dataset (archived versions and the log), read like any store: its default
        graph is the union of its graphs; ``GRAPH`` reaches each."""
        if self._view is None:
            assert self._hist is not None
            self._view = OxigraphStore._history_view(self._hist, self)
        return self._view

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the store at {self.path} was opened read-only: writes are refused")

    # -- the two datasets ----------------------------------------------------
    def _in_history(self, graph: str) -> bool:
        return self._hist is not None and not is_live_graph(graph)

    def _dataset(self, graph: str) -> ox.Store:
        return self._hist if self._hist is not None and self._in_history(graph) else self._store

    def _reader(self, graph: str) -> OxigraphStore:
        return self.history if self._in_history(graph) else self

    def _recover(self) -> None:
        """Finish what an interrupted write left in a journal, and move a store of the earlier
        one-dataset layout's history out of the live dataset (once: a marker says it is done)."""
        if self._hist is None:
            return
        journal, applied = ox.NamedNode(JOURNAL_GRAPH), ox.NamedNode(JOURNAL_APPLIED)
        for first, second in ((self._hist, self._store), (self._store, self._hist)):
            for q in list(first.quads_for_pattern(None, None, None, journal)):
                if q.predicate.value not in (PENDING_QUADS, PENDING_UPDATE):
                    continue
                marks = list(second.quads_for_pattern(q.subject, applied, None, journal))
                if not marks:  # not applied before the process died: apply it now (with its mark)
                    _replay(second, q, self._journal_dir())
                first.remove(q)
                for m in marks or second.quads_for_pattern(q.subject, applied, None, journal):
                    second.remove(m)
        for dataset in (self._store, self._hist):  # marks whose entry was already gone
            for m in list(dataset.quads_for_pattern(None, applied, None, journal)):
                dataset.remove(m)
        directory = self._journal_dir()
        if directory is not None and directory.is_dir():  # every entry is done: their files, and any
            for f in directory.iterdir():  # a process wrote before it died ahead of its entry, go
                f.unlink()
        marker = ox.Quad(ox.NamedNode(LAYOUT), ox.NamedNode(LAYOUT), ox.Literal(LAYOUT_VERSION),
                         ox.NamedNode(LAYOUT_GRAPH))
        if marker in self._hist:
            return
        old = [g for g in self._store.named_graphs() if isinstance(g, ox.NamedNode) and not is_live_graph(g.value)]
        if old:  # copy, then drop: a crash in between copies again (the same quads) on the next open
            self._hist.extend(q for g in old for q in self._store.quads_for_pattern(None, None, None, g))
            for g in old:
                self._store.remove_graph(g)
        self._hist.add(marker)
        if self.path is not None:
            self._store.flush()
            self._hist.flush()

    # -- reading -----------------------------------------------------------
    def _written(self, graphs: Iterable[str] | None) -> None:
        """Count a write: ``graphs`` it touched, or None for a write that may have touched any."""
        self._live_cache = None
        self.generation += 1
        touched = None if graphs is None else tuple(graphs)
        self._recent.append((self.generation, touched))
        if touched is None:
            self._shared_writes += 1
            return
        graphs = touched
        for g in graphs:
            self._graph_writes[g] = self._graph_writes.get(g, 0) + 1
            if is_live_graph(g) and not g.startswith(STUDY_GRAPH_PREFIX):
                self._shared_writes += 1

    def graph_version(self, graph: str) -> Hashable:
        """What changes when a value derived from ``graph`` (a study's graph and the vocabularies it
        points into) may have: writes to that graph, and to any graph not a study's own. A write to
        another study's graph leaves it as it was (see :class:`acse_kg.derived.DerivedCache`)."""
        return ("graph", self.vocabulary_version(), self._graph_writes.get(graph, 0))

    def vocabulary_version(self) -> Hashable:
        """What changes when the registry's shared terms may have: a write to a graph no study owns
        (the ontology, a vocabulary, a raw update), or a write that changed what the studies together
        declare of things outside themselves — not a write to a study's cohorts or criteria.

        >>> s = OxigraphStore(None); study = STUDY_GRAPH_PREFIX + "NCT00000001"; v = s.vocabulary_version()
        >>> own = f'<{STUDY_PREFIX}NCT00000001> <http://www.w3.org/2000/01/rdf-schema#label> "%s" .'
        >>> s.replace_graph(study, own % "a", "ntriples"); s.vocabulary_version() == v
        True
        >>> drug = f'<{BASE}id/drug/x> <{RDF_TYPE.value}> <{BASE}ontology#Drug> .'
        >>> s.replace_graph(study, drug, "ntriples"); s.vocabulary_version() == v
        False
        """
        return ("vocabulary", self._shared_writes, self._vocabulary_writes)

    def changes_since(self, generation: int) -> frozenset[str] | None:
        """The graphs written through this object since it was at ``generation``, or None when a write
        since may have touched any graph (a raw update) or is too old to be remembered.

        Why: values kept in step with the registry (the matcher's cohort index, the vocabulary's
        version) are updated from the studies a write touched instead of read again whole, so a write
        costs what it changed, not the size of the registry.

        >>> s = OxigraphStore(None); g = s.generation
        >>> s.replace_graph("http://example.org/g", '<http://example.org/a> <http://example.org/b> "1" .', "ntriples")
        >>> sorted(s.changes_since(g))
        ['http://example.org/g']
        >>> s.changes_since(s.generation)
        frozenset()
        """
        with self._lock:
            if generation == self.generation:
                return frozenset()
            recent = list(self._recent)
        if generation > self.generation or not recent or recent[0][0] > generation + 1:
            return None
        out: set[str] = set()
        for gen, graphs in recent:
            if gen <= generation:
                continue
            if graphs is None:
                return None
            out.update(graphs)
        return frozenset(out)

    def writes_by_graph(self) -> tuple[int, dict[str, int]]:
        """(writes to graphs no study owns, writes per graph) made through this object since it was
        opened: what changed since an earlier look, without asking the engine (the search index reads
        again only the studies whose graphs were written)."""
        return self._shared_writes, dict(self._graph_writes)

    def _live_graphs(self) -> list[ox.NamedNode]:
        if self._live_cache is None:
            self._live_cache = [
                g for g in self._store.named_graphs() if isinstance(g, ox.NamedNode) and is_live_graph(g.value)
            ]
        return self._live_cache

    def live_graphs(self) -> list[str]:
        return sorted(g.value for g in self._live_graphs())

    @property
    def engine(self) -> ox.Store:
        """The pyoxigraph store itself, for the SPARQL endpoint, which queries it from threads and
        worker processes of its own (reads: pyoxigraph reads a consistent snapshot)."""
        return self._store

    def default_graph_kwargs(self) -> dict[str, Any]:
        """How a query without a dataset of its own sees the live graphs: as Oxigraph's union default
        graph, naming no graphs (2-3x faster on the registry's queries than naming them, and flat in the
        number of studies). The history lives in a dataset of its own, so the live dataset's union is
        exactly the live graphs (and the history view's union is the history)."""
        return {"use_default_graph_as_union": True}

    def writes_held(self) -> threading.RLock:
        """The lock every write through this object holds: held, no write is half-way (the endpoint
        holds it for the instant it forks a query process, so the child never starts inside a write)."""
        return self._lock

    def _query(
        self,
        query: str,
        default_graph_uris: Sequence[str] = (),
        named_graph_uris: Sequence[str] = (),
        bindings: Bindings | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if default_graph_uris:
            kwargs["default_graph"] = [ox.NamedNode(u) for u in default_graph_uris]
        else:  # the live graphs are the whole dataset: its union is the default graph, no list needed
            kwargs.update(self.default_graph_kwargs())
        if named_graph_uris:
            kwargs["named_graphs"] = [ox.NamedNode(u) for u in named_graph_uris]
        try:
            return self._store.query(bind_values(query, bindings), prefixes=PREFIXES, **kwargs)
        except SyntaxError as exc:
            raise _parse_error(exc) from exc

    def select(self, query: str, bindings: Bindings | None = None) -> SelectResult:
        res = self._query(query, bindings=bindings)
        if not isinstance(res, ox.QuerySolutions):
            raise QuerySyntaxError("expected a SELECT query")
        variables = [v.value for v in res.variables]
        rows = [{v: _to_rdflib(sol[v]) for v in variables} for sol in res]
        return SelectResult(variables, rows)

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        res = self._query(query, bindings=bindings)
        if not isinstance(res, ox.QueryBoolean):
            raise QuerySyntaxError("expected an ASK query")
        return bool(res)

    def construct(self, query: str, bindings: Bindings | None = None) -> rdflib.Graph:
        res = self._query(query, bindings=bindings)
        if not isinstance(res, ox.QueryTriples):
            raise QuerySyntaxError("expected a CONSTRUCT or DESCRIBE query")
        g = rdflib.Graph()
        for t in res:
            g.add((_term(t.subject), _term(t.predicate), _term(t.object)))
        return g

    def query_serialized(
        self,
        query: str,
        result_format: str,
        *,
        default_graph_uris: Sequence[str] = (),
        named_graph_uris: Sequence[str] = (),
    ) -> tuple[str, bytes]:
        res = self._query(query, default_graph_uris, named_graph_uris)
        if isinstance(res, ox.QueryTriples):
            return "graph", serialized(res.serialize(format=RDF_FORMATS[result_format][0]))
        kind = "boolean" if isinstance(res, ox.QueryBoolean) else "bindings"
        return kind, serialized(res.serialize(format=RESULT_FORMATS[result_format][0]))

    def graph(self, graph: str) -> rdflib.Graph:
        """One graph's triples, live or archived (from the dataset that holds it)."""
        return rdflib_graph(self._dataset(graph).quads_for_pattern(None, None, None, ox.NamedNode(graph)))

    def graph_quads(self, graph: str) -> list[ox.Quad]:
        return list(self._dataset(graph).quads_for_pattern(None, None, None, _named_node(graph)))

    def _datasets(self) -> list[ox.Store]:
        return [self._store] if self._hist is None else [self._store, self._hist]

    def named_graphs(self) -> list[str]:
        """Every named graph, live and archived (not the store's bookkeeping)."""
        return sorted(g.value for d in self._datasets() for g in d.named_graphs()
                      if isinstance(g, ox.NamedNode) and not is_bookkeeping_graph(g.value))

    def _history_quads(self) -> Iterator[ox.Quad]:
        if self._hist is not None:
            for q in self._hist:
                if not (isinstance(q.graph_name, ox.NamedNode) and is_bookkeeping_graph(q.graph_name.value)):
                    yield q

    def dump(self, rdf_format: str = "nquads", *, include_history: bool = True) -> bytes:
        fmt = RDF_FORMATS[rdf_format][0]
        if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            quads: Iterable[ox.Quad]
            if include_history:  # the live dataset whole (as before the history moved out), then the history
                quads = itertools.chain(self._store, self._history_quads())
            else:
                quads = (q for g in self._live_graphs() for q in self._store.quads_for_pattern(None, None, None, g))
            return serialized(ox.serialize(quads, format=fmt))
        triples = (
            ox.Triple(q.subject, q.predicate, q.object)
            for g in (self._live_graphs() if not include_history else [ox.NamedNode(n) for n in self.named_graphs()])
            for q in self._dataset(g.value).quads_for_pattern(None, None, None, g)
        )
        if fmt is ox.RdfFormat.TURTLE:  # readable Turtle, as a person gets it: prefixed names where they fit
            return readable_turtle(triples)
        return serialized(ox.serialize(triples, format=fmt))

    def __len__(self) -> int:
        """Quads in the live graphs and the history (not the store's bookkeeping)."""
        if self._hist is None:
            return len(self._store)
        kept = sum(1 for g in (LAYOUT_GRAPH, JOURNAL_GRAPH)
                   for _ in self._hist.quads_for_pattern(None, None, None, ox.NamedNode(g)))
        return len(self._store) + len(self._hist) - kept

    def snapshot(self, target: Path) -> Path:
        """A consistent copy of the store in ``target`` (a new directory), which any process may
        open as a store of its own: Oxigraph's backup of both datasets, taken between writes
        (hard links where it can, so it is cheap), and the journal's files (``JOURNAL_DIR``). A
        write to both datasets whose second half failed leaves its entry for the next open to
        finish; the copy holds it too, and without the file the entry names it could not be opened.
        With the files the copy opens as the store would, the write replayed."""
        if self.path is None:
            raise StoreError("an in-memory store has no snapshot: dump it instead")
        try:
            with self._lock:
                self._store.backup(str(target))
                if self._hist is not None:
                    self._hist.backup(str(target / HISTORY_DIR))
                self._copy_journal(target / JOURNAL_DIR)
        except OSError as exc:
            raise StoreError(f"cannot snapshot the store at {self.path} into {target}: {exc}") from exc
        return target

    def compact_refusal(self) -> str | None:
        """Why this process may not compact the store, or None: a memory store has no files; a closed
        one is gone; a store opened read-only, or the history's reader, holds files that are the
        owner's to rewrite.

        >>> OxigraphStore(None).compact_refusal()
        'a memory store has no files to compact'
        """
        if self.path is None:
            return MEMORY_COMPACT
        if not hasattr(self, "_store"):
            return f"the store at {self.path} is closed: open it again to compact it"
        if self._hist is None:
            return (f"this is the history's reader of the store at {self.path}: "
                    "compact the store that owns it (both datasets are compacted together)")
        if self.read_only:
            return (f"the store at {self.path} is open read-only here: it is compacted by the process "
                    "that owns it for writing (acse-kg compact, or POST /admin/compact on its server)")
        return None

    def compact(self) -> float:
        """Rewrite both datasets' files into their most compact layout (RocksDB's full compaction,
        Oxigraph's ``optimize``); return the seconds it took. Content, generation and every derived
        value are unchanged; reads and writes may go on meanwhile (the engine's own concurrency).

        Why: a bulk import writes a batch at a time and flushes each (so that the importer's memory
        stays flat), which leaves the engine's files in layers that every point lookup must visit
        in turn; nothing compacts them once writes stop. At 100,000 studies a lookup of one subject
        took 0.32 ms before and 0.023 ms after, and a remote reader's one-triple read of the
        generation token 2.2–4.6 ms against 0.41–0.46 ms (BENCHMARKS.md). It costs a rewrite of the files
        (about 2 minutes at 100,000 studies), so it is asked for, not done after every write.

        What is refused, and why, is :meth:`compact_refusal`'s. No lock is held (writes would wait
        minutes): a query process the server forks meanwhile (:mod:`acse_kg.api.query_pool`) starts
        beside a compaction as it may beside the background compactions any write sets off. Writes and reads
        made while it runs are kept (a test writes eight versions beside back-to-back compactions).

        >>> import tempfile
        >>> store = OxigraphStore(Path(tempfile.mkdtemp()))
        >>> store.compact() >= 0
        True
        >>> store.close(); store.compact()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        acse_kg.store.StoreError: the store at ... is closed: open it again to compact it
        """
        why = self.compact_refusal()
        if why is not None:
            raise StoreError(why)
        started = time.monotonic()
        try:
            for dataset in self._datasets():
                dataset.optimize()
        except (OSError, RuntimeError) as exc:
            raise StoreError(f"cannot compact the store at {self.path}: {exc}") from exc
        return time.monotonic() - started

    # -- writing -----------------------------------------------------------
    def write(self, ops: Sequence[GraphOp], *, claim: Claim | None = None) -> None:
        """Each operation goes to the dataset of its graph, all or nothing: a write within one
        dataset is one transaction (a SPARQL update, see :func:`update_request`, or the bulk path's
        ``extend`` when it only fills empty graphs), so readers never see a graph half-written; one
        that touches both is journalled (see :meth:`_write_both`): all or nothing once its entry is
        applied, but a large second half that only adds quads goes through the non-atomic loader
        (:func:`_apply_quads`), and a reader meanwhile may see part of it. Bad data (parsed first)
        changes nothing."""
        self._check_writable()
        if self._hist is None:
            raise StoreError("the history is written through the store that owns it, not its reader")
        with self._lock:
            live, hist = self._split(ops, loads=claim is None and self._loads_only(ops))
            studies = sorted(g for g in live.graphs if g.startswith(STUDY_GRAPH_PREFIX))
            added = live.added()
            # A graph that was empty and to which the write only adds quads will declare what those
            # quads declare: told from them, not read back from the store (a bulk batch: 400 new
            # study graphs, 0.7 ms a study read back).
            fresh = {g: added[g] for g in studies if added is not None and self._empty(g)}
            before = {g: self._declared(g) for g in studies if g not in fresh}
            first = claim is not None and self._in_history(claim.graph)
            written = False
            try:
                if not hist.ops and not first:
                    self._write_one(self._store, live, claim)
                elif not live.ops and (claim is None or first):
                    self._write_one(self._hist, hist, claim)
                else:
                    self._write_both(live, hist, claim)
                written = True
            finally:
                if not written:  # what a failed write left is read from the store
                    before.update((g, set()) for g in fresh)
                    fresh = {}
                if (any(self._declarations_changed(g, old) for g, old in before.items())
                        or any(self._declarations_changed(g, set(), _declared_in(g, quads))
                               for g, quads in fresh.items())):
                    # After the write's own count: a reader between the two made its values under the
                    # old vocabulary; one more generation (touching no graph) makes it look again.
                    self._vocabulary_writes += 1
                    self.generation += 1
                    self._recent.append((self.generation, ()))

    def _declared(self, graph: str) -> set[ox.Quad]:
        """What a study's graph states about IRIs outside the study that it types (a drug, a gene, a
        variable, an organisation): the part of a record other studies can see (quads of ``graph``).
        :func:`_declared_in` tells the same of quads in hand."""
        g = ox.NamedNode(graph)
        outside = _outside_the_study(graph)
        subjects = {q.subject for q in self._store.quads_for_pattern(None, RDF_TYPE, None, g) if outside(q.subject)}
        return {q for s in subjects for q in self._store.quads_for_pattern(s, None, None, g)}

    def _empty(self, graph: str) -> bool:
        """Whether ``graph`` holds no quad, in the dataset that keeps it (a malformed name: StoreError)."""
        return next(self._dataset(graph).quads_for_pattern(None, None, None, _named_node(graph)), None) is None

    def _declarations_changed(self, graph: str, old: set[ox.Quad], new: set[ox.Quad] | None = None) -> bool:
        """Whether a write that left ``graph`` stating what it states now (``new``, else read from the
        store), after ``old``, changed what the live graphs together declare: a statement it added or
        removed that no other graph makes."""
        for q in old ^ (self._declared(graph) if new is None else new):
            if not any(o.graph_name != q.graph_name
                       for o in self._store.quads_for_pattern(q.subject, q.predicate, q.object, None)):
                return True
        return False

    def _loads_only(self, ops: Sequence[GraphOp]) -> bool:
        """Whether every operation replaces or adds to a graph that is empty now (the caller holds the
        write lock) and that no other operation names: the write then only adds triples, and goes
        through Oxigraph's bulk path with no SPARQL text made and parsed again (the bundle's first
        load: 0.55 -> 0.18 s a store opened in memory)."""
        named: Counter[str] = Counter()
        for op in ops:
            if not isinstance(op, (ReplaceGraph, AddToGraph)):
                return False
            named[op.graph] += 1
        return all(n == 1 and self._empty(g) for g, n in named.items())

    def _split(self, ops: Sequence[GraphOp], *, loads: bool = False) -> tuple[_Part, _Part]:
        """The operations for the live dataset and for the history. A copy from one dataset to
        the other becomes a replacement with the source's triples as they are now (so a copy of a
        graph an earlier operation of the same write changes is refused: it would copy the old one).
        With ``loads`` (see :meth:`_loads_only`), replacements and additions become parsed quads."""
        live, hist = _Part(), _Part()
        for op in ops:
            if loads and isinstance(op, (ReplaceGraph, AddToGraph)):
                quads = _quads_in_graph(op.data, op.rdf_format, op.graph)
                (hist if self._in_history(op.graph) else live).add(_Quads(quads, {op.graph: quads}), {op.graph})
                continue
            if isinstance(op, AddQuads):
                by_graph = quads_by_graph(op.data)
                for side, part in ((True, hist), (False, live)):
                    names = [g for g in by_graph if self._in_history(g) == side]
                    if names:
                        part.add(_Quads([q for g in names for q in by_graph[g]], {g: by_graph[g] for g in names}),
                                 set(names))
                continue
            if isinstance(op, CopyGraph) and self._in_history(op.source) != self._in_history(op.target):
                if op.source in live.graphs | hist.graphs:
                    raise StoreError(f"cannot copy <{op.source}> into <{op.target}> (another dataset) after "
                                     "changing it in the same write: copy it first")
                data = serialized(ox.serialize(
                    (ox.Triple(q.subject, q.predicate, q.object) for q in
                     self._dataset(op.source).quads_for_pattern(None, None, None, ox.NamedNode(op.source))),
                    format=ox.RdfFormat.N_TRIPLES))
                op = ReplaceGraph(op.target, data, "ntriples")
            if isinstance(op, CopyGraph):
                target = op.target
            elif isinstance(op, (ReplaceGraph, AddToGraph, RemoveFromGraph, DropGraph)):
                target = op.graph
            else:
                raise TypeError(f"not a graph operation: {op!r}")
            (hist if self._in_history(target) else live).add(op, {target})
        return live, hist

    def _write_one(self, dataset: ox.Store, part: _Part, claim: Claim | None) -> None:
        if claim is None and part.quads_only:
            self._load(dataset, part.quads(), part.graphs)
            return
        self._update(dataset, update_request(part.public(), claim), part.graphs | _claimed(claim))
        if claim is not None:
            check_claim(self._reader(claim.graph), claim)

    def _write_both(self, live: _Part, hist: _Part, claim: Claim | None) -> None:
        """A write to both datasets, all or nothing: the first (the claim's, else the history) takes
        its operations, the claim, and a journal entry holding the second's operations (in a file it
        names, on a store directory: ``JOURNAL_DIR``) in ONE transaction; then the second's are applied
        and the entry removed. A process that dies in
        between leaves the entry, and the next open applies it (:meth:`_recover`): the operations
        (replacements, additions, removals, drops) give the same result when applied again."""
        live_first = claim is not None and not self._in_history(claim.graph)
        assert self._hist is not None
        (first, first_part), (second, second_part) = (
            ((self._store, live), (self._hist, hist)) if live_first else ((self._hist, hist), (self._store, live)))
        key = str(uuid.uuid4())
        entry = ox.NamedNode(f"urn:acse-kg:journal:{key}")
        if second_part.quads_only:
            kind, text = PENDING_QUADS, second_part.nquads()
        else:  # parsed here: bad data writes nothing
            kind, text = PENDING_UPDATE, update_request(second_part.public()).encode("utf-8")
        journal = ox.Quad(entry, ox.NamedNode(kind), self._journal_text(key, text), ox.NamedNode(JOURNAL_GRAPH))
        directory = self._journal_dir()
        try:
            if claim is None and first_part.quads_only:
                self._load(first, [*first_part.quads(), journal], first_part.graphs)
            else:
                note = AddToGraph(JOURNAL_GRAPH, serialized(ox.serialize(
                    [ox.Triple(journal.subject, journal.predicate, journal.object)], format=ox.RdfFormat.N_TRIPLES)),
                    "ntriples")
                self._update(first, update_request([*first_part.public(), note], claim),
                             first_part.graphs | _claimed(claim))
                if claim is not None:
                    check_claim(self._reader(claim.graph), claim)  # a conflict: nothing was written anywhere
        except BaseException:
            # The entry was not committed (a refused write, a lost claim): its file names nothing. A
            # server whose curators lose claims all day would otherwise keep one file a conflict.
            if directory is not None:
                (directory / key).unlink(missing_ok=True)
            raise
        try:
            if second_part.quads_only:  # parsed already: applied as they are, not parsed again from the entry
                _apply_quads(second, second_part.quads(), _applied_mark(journal))
            else:
                _replay(second, journal, directory)
        finally:
            self._written(second_part.graphs)
        first.remove(journal)
        second.remove(_applied_mark(journal))
        if directory is not None:
            (directory / key).unlink(missing_ok=True)

    def _journal_dir(self) -> Path | None:
        return None if self.path is None else self.path / JOURNAL_DIR

    def _copy_journal(self, target: Path) -> None:
        """The journal's files copied into ``target``, each synced, then the directory, as
        :meth:`_journal_text` writes them: a snapshot on disk never has an entry without its file."""
        directory = self._journal_dir()
        if directory is None or not directory.is_dir():
            return
        target.mkdir(exist_ok=True)
        for f in directory.iterdir():
            _synced_write(target / f.name, f.read_bytes())
        _sync_directory(target)

    def _journal_text(self, key: str, text: bytes) -> ox.Literal:
        """A journal entry's literal: on a store directory, the name of the file that holds ``text``
        (written and synced before the entry is committed, so an entry never names a file the disk
        lacks; see ``JOURNAL_DIR``); in memory, the text itself."""
        directory = self._journal_dir()
        if directory is None:
            return ox.Literal(text.decode("utf-8"))
        directory.mkdir(exist_ok=True)
        _synced_write(directory / key, text)
        _sync_directory(directory)  # the file's name too must be on disk before an entry names it
        return ox.Literal(key, datatype=ox.NamedNode(JOURNAL_FILE))

    def _update(self, dataset: ox.Store, text: str, graphs: set[str]) -> None:
        try:
            dataset.update(text)
        except SyntaxError as exc:  # the request is generated: this is a bug, not the caller's data
            raise StoreError(f"the store refused a generated update: {one_line(str(exc))}") from exc
        finally:
            self._written(graphs)

    def _load(self, dataset: ox.Store, quads: list[ox.Quad], graphs: set[str]) -> None:
        """The bulk path: Oxigraph parsed in Rust and ``extend`` applies every quad in one
        transaction (a bad quad anywhere aborts it). Not ``bulk_load``: that one is not atomic, and a
        bulk import killed half-way must leave whole batches only, so that a re-run can trust what
        it finds (see :mod:`acse_kg.ctgov.bulk`). (The second half of a write to both datasets may go
        through the non-atomic loader, :func:`_apply_quads`: its journal entry, marked applied only
        after, makes it whole on the next open; until then that dataset may hold part of the batch.)"""
        try:
            dataset.extend(quads)
            if self.path is not None:
                # Written data stays in RocksDB's memory until a flush: without one the importing
                # process grew by ~0.35 MB a study (780 MB at 2,000); with it, memory stays flat.
                dataset.flush()
        except OSError as exc:
            raise StoreError(f"the store at {self.path} refused the write: {exc}") from exc
        finally:
            self._written(graphs)

    def replace_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        self.write([ReplaceGraph(graph, data, rdf_format)])

    def add_to_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        self.write([AddToGraph(graph, data, rdf_format)])

    def drop_graph(self, graph: str) -> None:
        self.write([DropGraph(graph)])

    def update(self, update: str) -> None:
        """SPARQL Update text as it is (the endpoint's admin route), on the live dataset: the
        history is written by the registry's own versions only."""
        self._check_writable()
        try:
            with self._lock:
                try:
                    self._store.update(update, prefixes=PREFIXES)
                finally:
                    self._written(None)
        except SyntaxError as exc:
            raise _parse_error(exc) from exc

    def close(self) -> None:
        if not self.read_only:  # a read-only store wrote nothing; a failed flush is an error, not silence
            for dataset in self._datasets():
                dataset.flush()
        # Oxigraph lets a directory go when its last reference does: the history's reader holds one.
        if self._view is not None and self._view is not self:
            del self._view._store
        self._view = None
        del self._store
        self._hist = None


def _claimed(claim: Claim | None) -> set[str]:
    return set() if claim is None else {claim.graph}


@dataclass(frozen=True)
class _Quads:
    """Parsed quads bound for one dataset (an :class:`AddQuads` split between the two), and by graph."""

    quads: list[ox.Quad]
    by_graph: dict[str, list[ox.Quad]]


@dataclass
class _Part:
    """A write's operations for one dataset, and the graphs they change."""

    ops: list[GraphOp | _Quads] = field(default_factory=list)
    graphs: set[str] = field(default_factory=set)

    def add(self, op: GraphOp | _Quads, graphs: set[str]) -> None:
        self.ops.append(op)
        self.graphs |= graphs

    @property
    def quads_only(self) -> bool:
        return bool(self.ops) and all(isinstance(op, _Quads) for op in self.ops)

    def quads(self) -> list[ox.Quad]:
        return [q for op in self.ops if isinstance(op, _Quads) for q in op.quads]

    def nquads(self) -> bytes:
        """The part's quads as N-Quads (a part that only adds quads), written from the parsed quads: with
        the labels their blank nodes have in the store, which a journal entry must keep (see :func:`_replay`).
        Not the document they came from: its labels are renamed when it is parsed."""
        return serialized(ox.serialize(self.quads(), format=ox.RdfFormat.N_QUADS))

    def added(self) -> dict[str, list[ox.Quad]] | None:
        """The quads added to each graph when the part only adds quads, else None."""
        if not self.quads_only:
            return None
        out: dict[str, list[ox.Quad]] = {}
        for op in self.ops:
            assert isinstance(op, _Quads)
            for g, quads in op.by_graph.items():
                out.setdefault(g, []).extend(quads)
        return out

    def public(self) -> list[GraphOp]:
        """The operations as :func:`update_request` takes them."""
        return [AddQuads(serialized(ox.serialize(op.quads, format=ox.RdfFormat.N_QUADS)))
                if isinstance(op, _Quads) else op for op in self.ops]


def _synced_write(path: Path, data: bytes) -> None:
    """``data`` in the file at ``path``, on disk when this returns (a journal file)."""
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_directory(path: Path) -> None:
    """The names the directory at ``path`` holds, on disk when this returns."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _outside_the_study(graph: str) -> Callable[[object], bool]:
    """Whether a subject of the study graph ``graph`` is an IRI outside the study (what its graph may
    declare for other studies to see: :meth:`OxigraphStore._declared`, :func:`_declared_in`)."""
    own = STUDY_PREFIX + graph[len(STUDY_GRAPH_PREFIX):]
    return lambda s: isinstance(s, ox.NamedNode) and not s.value.startswith(own)


def _declared_in(graph: str, quads: list[ox.Quad]) -> set[ox.Quad]:
    """What ``quads`` (all of ``graph``) declare: see :meth:`OxigraphStore._declared`."""
    outside = _outside_the_study(graph)
    subjects = {q.subject for q in quads if q.predicate == RDF_TYPE and outside(q.subject)}
    return {q for q in quads if q.subject in subjects} if subjects else set()


def _applied_mark(entry: ox.Quad) -> ox.Quad:
    return ox.Quad(entry.subject, ox.NamedNode(JOURNAL_APPLIED), ox.Literal("true", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#boolean")), ox.NamedNode(JOURNAL_GRAPH))


#: Quads from which the second half of a write to both datasets goes through Oxigraph's bulk loader
#: (``bulk_extend``) rather than one transaction: half the CPU and wall time (a bulk import's batch of
#: a hundred studies is ~48,000 quads: 0.3 s against 0.65 s of CPU). Smaller writes stay one transaction.
BULK_QUADS = 10_000


def _apply_quads(dataset: ox.Store, quads: list[ox.Quad], mark: ox.Quad) -> None:
    """Add a journal entry's quads to ``dataset`` with the entry's applied-mark. A small set in one
    transaction with its mark; a large one by the bulk loader, then the mark: the bulk loader is not
    atomic, but the entry stays in the journal until the mark is written, so a process that dies
    part-way leaves the entry unmarked and the next open applies it again (adding quads already there
    changes nothing). Meanwhile a reader of the dataset may see part of the write, as it may see the
    first dataset's half before this one's (:meth:`OxigraphStore._write_both`)."""
    if len(quads) >= BULK_QUADS:
        dataset.bulk_extend(quads)
        dataset.add(mark)
    else:
        dataset.extend([*quads, mark])


def _replay(dataset: ox.Store, entry: ox.Quad, directory: Path | None = None) -> None:
    """Apply a journal entry's operations to ``dataset`` (see :meth:`OxigraphStore._write_both`),
    with the entry's applied-mark in the same transaction, so that a recovery never applies it twice.
    ``directory``: where the store keeps the entries' files (``JOURNAL_DIR``)."""
    literal = cast(ox.Literal, entry.object)
    text = literal.value
    if literal.datatype.value == JOURNAL_FILE:
        try:
            if directory is None:
                raise FileNotFoundError(text)
            text = (directory / text).read_text("utf-8")
        except OSError as exc:
            raise StoreError(f"an unfinished write's journal file is missing or unreadable ({exc}): "
                             "the store cannot be completed") from exc
    mark = _applied_mark(entry)
    if entry.predicate.value == PENDING_QUADS:
        # The blank nodes keep the labels the entry gives them, which are the ones the write gave the
        # dataset (:meth:`_Part.nquads`): a bulk load killed part-way, applied again, adds nothing twice
        # (renamed, a study's list of keywords would be added again as new nodes).
        _apply_quads(dataset, list(iter_quads(text.encode("utf-8"), rename_blank_nodes=False)), mark)
    else:
        dataset.update(f"{text} ;\nINSERT DATA {{ GRAPH <{JOURNAL_GRAPH}> {{ {mark.subject} {mark.predicate} {mark.object} }} }}")


def history_of(store: GraphStore) -> GraphStore:
    """Where ``store`` keeps its history (archived versions, the log), to be read: the embedded
    store's second dataset (:attr:`OxigraphStore.history`); an engine that keeps everything in one
    dataset is its own."""
    return cast(GraphStore, getattr(store, "history", store))


def has_graph(store: GraphStore, graph: str) -> bool:
    """Whether the named graph holds any triple (one cheap question, on any engine), live or archived."""
    if not is_live_graph(graph):
        store = history_of(store)
    return store.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": rdflib.URIRef(graph)})


MEMORY_COMPACT = "a memory store has no files to compact"
REMOTE_COMPACT = ("this store is a remote SPARQL endpoint: its files are compacted where they are. An acse-kg "
                  "server: POST /admin/compact on it (admin token), or acse-kg compact --store DIR with the "
                  "server stopped; oxigraph serve: stop it, then oxigraph optimize --location DIR for each of "
                  "its directories (docs/engines.md); another engine: its own tool")


def compactable_spec(spec: str | None, *, existing: bool = True) -> str:
    """The store directory ``spec`` names, resolved, or a :class:`StoreError` saying why it cannot be
    compacted here, asked before anything is opened (opening writes the bundle into an empty store,
    and creates a directory that is not there).

    >>> compactable_spec("memory")
    Traceback (most recent call last):
    acse_kg.store.StoreError: a memory store has no files to compact
    >>> compactable_spec("https://sparql.example.org/query")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    acse_kg.store.StoreError: this store is a remote SPARQL endpoint: ...
    >>> compactable_spec("/nonexistent/acse-kg-store")
    Traceback (most recent call last):
    acse_kg.store.StoreError: no store at /nonexistent/acse-kg-store (no such directory): nothing to compact
    >>> compactable_spec("/nonexistent/acse-kg-store", existing=False)  # an import creates it first
    '/nonexistent/acse-kg-store'
    """
    spec = resolve_store_spec(spec)
    if spec == MEMORY:
        raise StoreError(MEMORY_COMPACT)
    if spec.startswith(("http://", "https://")):
        raise StoreError(REMOTE_COMPACT)
    if existing and not (Path(spec) / "CURRENT").is_file():  # a store's directory is RocksDB's: CURRENT names its files
        what = "no such directory" if not Path(spec).exists() else "not a store's directory"
        raise StoreError(f"no store at {spec} ({what}): nothing to compact")
    return spec


@runtime_checkable
class Compactable(Protocol):
    """A store whose files this process may rewrite (see :meth:`OxigraphStore.compact`)."""

    def compact_refusal(self) -> str | None: ...

    def compact(self) -> float: ...


def compaction_refusal(store: GraphStore) -> str | None:
    """Why ``store`` cannot be compacted here, or None: the one answer the CLI, the server's routes
    and :func:`compact_store` give (a remote engine keeps its own files; see also
    :meth:`OxigraphStore.compact_refusal`).

    >>> compaction_refusal(OxigraphStore(None))
    'a memory store has no files to compact'
    """
    return store.compact_refusal() if isinstance(store, Compactable) else REMOTE_COMPACT


def compact_store(store: GraphStore) -> float:
    """Compact ``store`` (seconds taken), or a :class:`StoreError` saying why it cannot be (a store
    that can be compacted refuses in :meth:`~OxigraphStore.compact` itself, by its ``compact_refusal``)."""
    if not isinstance(store, Compactable):
        raise StoreError(REMOTE_COMPACT)
    return store.compact()


def resolve_store_spec(spec: str | None) -> str:
    """--store wins, then $ACSE_KG_STORE, then the default data directory."""
    from .paths import DEFAULT_STORE

    return spec or os.environ.get(ENV_VAR) or str(DEFAULT_STORE)


def stored_quads(data: bytes | str, rdf_format: str, graph: str) -> list[ox.Quad]:
    """``data`` read back as a store reads it (literals in Oxigraph's canonical form), so that it
    compares equal to a graph's :meth:`GraphStore.graph_quads` when it says the same thing; a bad
    document is a StoreError."""
    staged = ox.Store()  # a bare in-memory dataset: storing is what makes the literals canonical
    staged.extend(_quads_in_graph(data, rdf_format, graph))
    return list(staged.quads_for_pattern(None, None, None, _named_node(graph)))


def open_store(spec: str | None = None, *, bootstrap: bool = True, read_only: bool = False) -> GraphStore:
    """Open the store named by ``spec`` and, when the bundle is not all there, load it.

    ``spec`` is ``memory``, a directory path, or an ``http(s)://`` SPARQL 1.1
    endpoint (query URL; see :mod:`acse_kg.remote`). The first load is one
    transaction; a store that lacks any graph of the bundle (one written by a
    load that was interrupted before loads were one transaction, or a graph
    dropped by hand) is completed on open, without counting its quads.
    """
    spec = resolve_store_spec(spec)
    store: GraphStore
    if spec == MEMORY:
        store = OxigraphStore(None)
    elif spec.startswith(("http://", "https://")):
        from .remote import SparqlEndpointStore

        store = SparqlEndpointStore(spec)
    else:
        store = OxigraphStore(Path(spec), read_only=read_only)
    if bootstrap and not read_only:
        from .loader import bundle_graph_names, load_bundle

        if any(not has_graph(store, g) for g in bundle_graph_names()):
            load_bundle(store)
            check = getattr(store, "_check_union_default_graph", None)
            if check is not None and getattr(store, "split", False):
                check()  # an empty endpoint could not be checked before it was loaded
    return store
