"""The one small interface behind which the graph lives.

Everything else in the project (CLI, pages, matching, the SPARQL endpoint)
talks to a :class:`GraphStore`, never to a particular engine, so that the
registry can move from the embedded Oxigraph store to an external SPARQL 1.1
engine (Oxigraph server, Virtuoso, QLever, GraphDB) without touching callers.

Graph layout: each source of triples lives in its own named graph (the
ontology, each vocabulary, each study record). Earlier versions of a study are
kept in graphs under ``HISTORY_PREFIX``; they are not part of the default graph
that queries see, which is the union of the *live* named graphs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyoxigraph as ox
import rdflib
from rdflib.term import Node

from .namespaces import BASE, PREFIXES, sparql_prologue

GRAPH_PREFIX = BASE + "id/graph/"
HISTORY_PREFIX = GRAPH_PREFIX + "history/"
MEMORY = "memory"
ENV_VAR = "ACSE_KG_STORE"


class StoreError(Exception):
    """A store could not be opened or written; the message says why."""


class QuerySyntaxError(ValueError):
    """A SPARQL query or update did not parse; the message is the parser's."""


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
        return [r[var].toPython() if r.get(var) is not None else None for r in self.rows]


@runtime_checkable
class GraphStore(Protocol):
    """What the registry needs of a triple store, and nothing more."""

    def select(self, query: str) -> SelectResult: ...

    def ask(self, query: str) -> bool: ...

    def construct(self, query: str) -> rdflib.Graph: ...

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

    def update(self, update: str) -> None: ...

    def replace_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        """Swap a graph's content atomically: all or nothing; bad data changes nothing."""
        ...

    def add_to_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None: ...

    def drop_graph(self, graph: str) -> None: ...

    def graph(self, graph: str) -> rdflib.Graph: ...

    def named_graphs(self) -> list[str]: ...

    def dump(self, rdf_format: str = "nquads", *, include_history: bool = True) -> bytes: ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


def _to_rdflib(term: Any) -> Node | None:
    """Convert a pyoxigraph term to its rdflib twin."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        dt = term.datatype.value
        if dt == "http://www.w3.org/2001/XMLSchema#string":
            return rdflib.Literal(term.value)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(dt))
    if isinstance(term, ox.DefaultGraph):
        return None
    raise TypeError(f"unsupported term {term!r}")


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
    """

    def __init__(self, path: Path | None = None, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        self._live_cache: list[ox.NamedNode] | None = None
        #: Bumped by every write through this object, so that readers holding a
        #: copy (the SPARQL worker pool) know when to refresh without hashing.
        self.generation = 0
        try:
            if path is None:
                self._store = ox.Store()
            elif read_only:
                self._store = ox.Store.read_only(str(path))
            else:
                path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(path))
        except OSError as exc:
            if path is not None and not read_only and (path / "CURRENT").exists():
                # Another process (a running server) holds the write lock: reading still works on
                # a snapshot, so `acse-kg sparql` beside `acse-kg serve` answers instead of failing.
                try:
                    self._store = ox.Store.read_only(str(path))
                    self.read_only = True
                    return
                except OSError:
                    pass
            raise StoreError(
                f"cannot open the store at {path}: {exc}. "
                "Is another acse-kg process (a server?) using it? "
                "Use --store memory, another --store PATH, or stop that process."
            ) from exc

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(
                f"the store at {self.path} is open read-only: another process (a server?) holds it. "
                "Stop that process to write here, or write through the server: "
                "--store http://HOST:PORT/sparql with the server's admin token (ACSE_KG_REMOTE_TOKEN)."
            )

    # -- reading -----------------------------------------------------------
    def _written(self) -> None:
        self._live_cache = None
        self.generation += 1

    def _live_graphs(self) -> list[ox.NamedNode]:
        if self._live_cache is None:
            self._live_cache = [
                g
                for g in self._store.named_graphs()
                if isinstance(g, ox.NamedNode) and not g.value.startswith(HISTORY_PREFIX)
            ]
        return self._live_cache

    def _query(
        self,
        query: str,
        default_graph_uris: Sequence[str] = (),
        named_graph_uris: Sequence[str] = (),
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if default_graph_uris:
            kwargs["default_graph"] = [ox.NamedNode(u) for u in default_graph_uris]
        else:
            live = self._live_graphs()
            kwargs["default_graph"] = live if live else ox.DefaultGraph()
        if named_graph_uris:
            kwargs["named_graphs"] = [ox.NamedNode(u) for u in named_graph_uris]
        try:
            return self._store.query(query, prefixes=PREFIXES, **kwargs)
        except SyntaxError as exc:
            raise _parse_error(exc) from exc

    def select(self, query: str) -> SelectResult:
        res = self._query(query)
        if not isinstance(res, ox.QuerySolutions):
            raise QuerySyntaxError("expected a SELECT query")
        variables = [v.value for v in res.variables]
        rows = [{v: _to_rdflib(sol[v]) for v in variables} for sol in res]
        return SelectResult(variables, rows)

    def ask(self, query: str) -> bool:
        res = self._query(query)
        if not isinstance(res, ox.QueryBoolean):
            raise QuerySyntaxError("expected an ASK query")
        return bool(res)

    def construct(self, query: str) -> rdflib.Graph:
        res = self._query(query)
        if not isinstance(res, ox.QueryTriples):
            raise QuerySyntaxError("expected a CONSTRUCT or DESCRIBE query")
        g = rdflib.Graph()
        for t in res:
            g.add((_to_rdflib(t.subject), _to_rdflib(t.predicate), _to_rdflib(t.object)))  # type: ignore[arg-type]
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
            fmt = RDF_FORMATS[result_format][0]
            return "graph", res.serialize(format=fmt)
        fmt = RESULT_FORMATS[result_format][0]
        kind = "boolean" if isinstance(res, ox.QueryBoolean) else "bindings"
        return kind, res.serialize(format=fmt)

    def graph(self, graph: str) -> rdflib.Graph:
        g = rdflib.Graph()
        for q in self._store.quads_for_pattern(None, None, None, ox.NamedNode(graph)):
            g.add((_to_rdflib(q.subject), _to_rdflib(q.predicate), _to_rdflib(q.object)))  # type: ignore[arg-type]
        return g

    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    def dump(self, rdf_format: str = "nquads", *, include_history: bool = True) -> bytes:
        fmt = RDF_FORMATS[rdf_format][0]
        if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            quads = self._store if include_history else (
                q for g in self._live_graphs() for q in self._store.quads_for_pattern(None, None, None, g)
            )
            return ox.serialize(quads, format=fmt)
        triples = (
            ox.Triple(q.subject, q.predicate, q.object)
            for g in (self._live_graphs() if not include_history else [
                g for g in self._store.named_graphs() if isinstance(g, ox.NamedNode)
            ])
            for q in self._store.quads_for_pattern(None, None, None, g)
        )
        prefixes = PREFIXES if fmt is ox.RdfFormat.TURTLE else None  # readable Turtle, as a person gets it
        return ox.serialize(triples, format=fmt, prefixes=prefixes)

    def __len__(self) -> int:
        return len(self._store)

    # -- writing -----------------------------------------------------------
    def _parse(self, data: bytes | str, rdf_format: str, graph: str) -> list[ox.Quad]:
        fmt = RDF_FORMATS[rdf_format][0]
        raw = data.encode() if isinstance(data, str) else data
        g = ox.NamedNode(graph)
        try:
            return [
                ox.Quad(t.subject, t.predicate, t.object, g)
                for t in ox.parse(raw, format=fmt, without_named_graphs=True, rename_blank_nodes=True)
            ]
        except (SyntaxError, ValueError) as exc:
            raise StoreError(f"cannot parse {rdf_format} for graph <{graph}>: {exc}") from exc

    def replace_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        """Swap a graph's content in one SPARQL update, which Oxigraph runs as one transaction:
        readers never see the graph half-written, and a bad file (parsed first) changes nothing."""
        self._check_writable()
        quads = self._parse(data, rdf_format, graph)
        body = " .\n".join(str(ox.Triple(q.subject, q.predicate, q.object)) for q in quads)
        with self._lock:
            self._store.update(
                f"DROP SILENT GRAPH <{graph}> ;\n"
                f"CREATE SILENT GRAPH <{graph}> ;\n"
                f"INSERT DATA {{ GRAPH <{graph}> {{ {body} }} }}"
            )
            self._written()

    def add_to_graph(self, graph: str, data: bytes | str, rdf_format: str = "turtle") -> None:
        self._check_writable()
        quads = self._parse(data, rdf_format, graph)
        with self._lock:
            self._store.extend(quads)
            self._written()

    def drop_graph(self, graph: str) -> None:
        self._check_writable()
        with self._lock:
            self._store.update(f"DROP SILENT GRAPH <{graph}>")
            self._written()

    def update(self, update: str) -> None:
        self._check_writable()
        try:
            with self._lock:
                self._store.update(update, prefixes=PREFIXES)
                self._written()
        except SyntaxError as exc:
            raise _parse_error(exc) from exc

    def close(self) -> None:
        try:
            self._store.flush()
        except Exception:  # read-only or memory stores have nothing to flush
            pass
        del self._store


def resolve_store_spec(spec: str | None) -> str:
    """--store wins, then $ACSE_KG_STORE, then the default data directory."""
    from .paths import DEFAULT_STORE

    return spec or os.environ.get(ENV_VAR) or str(DEFAULT_STORE)


def open_store(spec: str | None = None, *, bootstrap: bool = True, read_only: bool = False) -> GraphStore:
    """Open the store named by ``spec`` and, when it is empty, load the bundle.

    ``spec`` is ``memory``, a directory path, or an ``http(s)://`` SPARQL 1.1
    endpoint (query URL; see :mod:`acse_kg.remote`).
    """
    spec = resolve_store_spec(spec)
    store: GraphStore
    if spec == MEMORY:
        store = OxigraphStore(None)
    elif spec.startswith(("http://", "https://")):
        from .remote import SparqlEndpointStore

        store = SparqlEndpointStore(spec)
    else:
        local = OxigraphStore(Path(spec), read_only=read_only)
        read_only = local.read_only  # a store another process holds is opened read-only
        store = local
    if bootstrap and not read_only and len(store) == 0:
        from .loader import load_bundle

        load_bundle(store)
    return store


def iter_graph_names(store: GraphStore, prefix: str) -> Iterable[str]:
    return (g for g in store.named_graphs() if g.startswith(prefix))
