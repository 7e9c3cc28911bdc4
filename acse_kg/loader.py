"""Load the bundle (ontology, vocabularies, study records) into a store.

Each source goes into its own named graph, swapped in whole, so that loading
twice changes nothing and a reload of one source never touches another. Every
source is parsed before the first graph is replaced: a broken file aborts the
load with a message naming it, and the store keeps what it had. The graphs
are written in ONE transaction (the first load of an empty store is all or
nothing); a study already in the store whose record file changed becomes a
new version of it through :func:`acse_kg.versions.save_study`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from . import vocab
from .namespaces import is_nct
from .paths import DATA_DIR, ONTOLOGY_DIR
from .store import (
    GRAPH_PREFIX,
    STUDY_GRAPH_PREFIX,
    GraphOp,
    GraphStore,
    ReplaceGraph,
    StoreError,
    has_graph,
    is_bookkeeping_graph,
    serialized,
    term_value,
)

if TYPE_CHECKING:  # the vocabularies build rdflib graphs; this module only serialises them
    import rdflib

ONTOLOGY_GRAPH = GRAPH_PREFIX + "ontology"
ONCOTREE_GRAPH = GRAPH_PREFIX + f"vocab/oncotree/{vocab.ONCOTREE_RELEASE_ID}"
SO_GRAPH = GRAPH_PREFIX + "vocab/so"
HGNC_GRAPH = GRAPH_PREFIX + "vocab/hgnc"



@dataclass(frozen=True)
class Source:
    """One named graph of the bundle and how to produce its N-Triples."""

    graph: str
    label: str
    produce: Callable[[], bytes]


def study_graph_name(nct_id: str) -> str:
    return STUDY_GRAPH_PREFIX + nct_id


def _turtle_to_ntriples(paths: list[Path]) -> bytes:
    """Parse Turtle files into one N-Triples document (blank nodes kept apart per file)."""
    triples: list[ox.Triple] = []
    for path in paths:
        try:
            data = path.read_bytes()
            triples.extend(
                ox.parse(data, format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri(),
                         rename_blank_nodes=True)
            )
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        except (SyntaxError, ValueError) as exc:
            raise StoreError(f"{path}: not valid Turtle: {exc}") from exc
    return serialized(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES))


def _graph_ntriples(build: Callable[[], rdflib.Graph]) -> Callable[[], bytes]:
    def produce() -> bytes:
        try:
            g = build()
        except vocab.VocabularyError as exc:
            raise StoreError(str(exc)) from exc
        return g.serialize(format="nt", encoding="utf-8")

    return produce


def study_files(data_dir: Path = DATA_DIR) -> list[Path]:
    """The bundled study records: data/NCTxxxxxxxx.ttl."""
    return sorted(p for p in data_dir.glob("*.ttl") if is_nct(p.stem))  # a record file is named after its study


def _study_nct(path: Path) -> str:
    if not is_nct(path.stem):
        raise StoreError(f"{path}: a study record file must be named NCTnnnnnnnn.ttl")
    return path.stem


def bundle_sources(ontology_dir: Path = ONTOLOGY_DIR, data_dir: Path = DATA_DIR) -> list[Source]:
    """Every source of the bundle, in load order."""
    onto_files = sorted(ontology_dir.glob("*.ttl"))
    sources = [
        Source(ONTOLOGY_GRAPH, "ontology", lambda: _turtle_to_ntriples(onto_files)),
        Source(ONCOTREE_GRAPH, "OncoTree", _graph_ntriples(vocab.oncotree_graph)),
        Source(SO_GRAPH, "Sequence Ontology", _graph_ntriples(vocab.so_graph)),
        Source(HGNC_GRAPH, "HGNC", _graph_ntriples(vocab.hgnc_graph)),
    ]
    for path in study_files(data_dir):
        sources.append(Source(study_graph_name(path.stem), path.stem, functools.partial(_turtle_to_ntriples, [path])))
    return sources


def bundle_graph_names() -> list[str]:
    """The named graphs that :func:`load_bundle` fills."""
    return [s.graph for s in bundle_sources()]


def load_bundle(
    store: GraphStore, *, ontology_dir: Path = ONTOLOGY_DIR, data_dir: Path = DATA_DIR
) -> dict[str, int]:
    """Load (or reload) the whole bundle; return the triple count of each graph loaded.

    All sources are produced and parsed first; only then are the graphs
    replaced, so a broken file leaves the store as it was. Study graphs of
    records that are not in ``data_dir`` (imported later, e.g. from
    ClinicalTrials.gov) are left alone.
    """
    payloads = [(s.graph, s.produce()) for s in bundle_sources(ontology_dir, data_dir)]
    ops: list[GraphOp] = []
    edited: list[tuple[str, bytes]] = []
    for graph, data in payloads:
        if graph.startswith(STUDY_GRAPH_PREFIX) and has_graph(store, graph):
            edited.append((graph, data))  # a study in the store: a new version only if its file changed
        else:
            ops.append(ReplaceGraph(graph, data, "ntriples"))
    store.write(ops)
    for graph, data in edited:
        _load_study(store, graph, data)
    counts = graph_counts(store)
    return {graph: counts.get(graph, 0) for graph, _ in payloads}


def _load_study(store: GraphStore, graph: str, data: bytes) -> None:
    """A record file's study graph: new, it is loaded (version 0, as the bundle has it); unchanged,
    nothing is written; edited, it becomes a new version, the one in the store kept in the history."""
    from .versions import save_study  # versions reads the loader's graph names

    nct = graph[len(STUDY_GRAPH_PREFIX):]
    if not has_graph(store, graph):
        store.write([ReplaceGraph(graph, data, "ntriples")])
        return
    save_study(store, nct, data, "ntriples", agent="acse-kg load", note=f"reloaded from data/{nct}.ttl")


def load_study_file(store: GraphStore, path: Path) -> str:
    """Load one study record (Turtle, named NCTxxxxxxxx.ttl) into its graph; return the graph name.

    The file is parsed before anything is replaced: a bad file raises
    :class:`StoreError` and the store is unchanged.
    """
    path = Path(path)
    graph = study_graph_name(_study_nct(path))
    _load_study(store, graph, _turtle_to_ntriples([path]))
    return graph


def graph_counts(store: GraphStore) -> dict[str, int]:
    """Triples in each named graph of the store (history included, the store's bookkeeping not)."""
    rows = store.select(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
    )
    return {str(r["g"]): int(term_value(r["n"])) for r in rows
            if not is_bookkeeping_graph(str(r["g"]))}
