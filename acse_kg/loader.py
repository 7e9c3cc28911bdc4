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
import hashlib
import threading
from collections.abc import Callable, Sequence
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
    """One named graph of the bundle and how to produce its N-Triples from its ``files``.

    ``produce()`` is kept per process and made again only when a file's bytes change: every
    store opened in a process (a test suite opens hundreds; a server, its reader and the CLI each
    one) would otherwise rebuild the vocabularies' graphs (0.3 s for OncoTree alone). The key is
    the files' content, not their times, which a file rewritten within the clock's tick keeps.
    """

    graph: str
    label: str
    build: Callable[[], bytes]
    files: tuple[Path, ...]

    def produce(self) -> bytes:
        key = _content_key(self.files)
        if key is None:  # a file that cannot be read: the builder says which, and how
            return self.build()
        with _PRODUCED_LOCK:
            kept = _PRODUCED.get(self.graph)
        if kept is not None and kept[0] == key:
            return kept[1]
        data = self.build()
        if _content_key(self.files) == key:  # not kept when a file changed while it was built
            with _PRODUCED_LOCK:
                _PRODUCED[self.graph] = (key, data)  # one product a graph: bounded by the bundle
        return data


#: The last product of each source's graph in this process, with the content key it was made from.
_PRODUCED: dict[str, tuple[bytes, bytes]] = {}
_PRODUCED_LOCK = threading.Lock()


def _content_key(files: Sequence[Path]) -> bytes | None:
    """A digest of the files' names and bytes, or None when one cannot be read."""
    digest = hashlib.blake2b(digest_size=20)
    try:
        for path in files:
            digest.update(str(path.resolve()).encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.digest()


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
        Source(ONTOLOGY_GRAPH, "ontology", lambda: _turtle_to_ntriples(onto_files), tuple(onto_files)),
        Source(ONCOTREE_GRAPH, "OncoTree", _graph_ntriples(vocab.oncotree_graph), (vocab.ONCOTREE_FILE,)),
        Source(SO_GRAPH, "Sequence Ontology", _graph_ntriples(vocab.so_graph), (vocab.SO_FILE,)),
        Source(HGNC_GRAPH, "HGNC", _graph_ntriples(vocab.hgnc_graph), (vocab.HGNC_FILE,)),
    ]
    for path in study_files(data_dir):
        sources.append(Source(study_graph_name(path.stem), path.stem,
                              functools.partial(_turtle_to_ntriples, [path]), (path,)))
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
