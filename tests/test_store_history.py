"""The history apart from the live graphs: the embedded store keeps archived versions and the log in
a second dataset, so live queries run over the union default graph without naming a graph, and
versions are still written all or nothing."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox
import pytest
from ctgov_fixtures import load_record
from rdflib import RDF, URIRef

from acse_kg.ctgov.import_ import import_study
from acse_kg.history import diff_versions, list_versions
from acse_kg.loader import study_graph_name
from acse_kg.store import (
    BULK_QUADS,
    HISTORY_PREFIX,
    JOURNAL_DIR,
    JOURNAL_GRAPH,
    PENDING_QUADS,
    PENDING_UPDATE,
    AddQuads,
    AddToGraph,
    Claim,
    CopyGraph,
    GraphStore,
    OxigraphStore,
    ReplaceGraph,
    StoreError,
    WriteConflict,
    _replay,
    history_of,
    is_live_graph,
    open_store,
    update_request,
)
from acse_kg.versions import LOG_GRAPH, version_iri

RDF_FIRST, RDF_REST, RDF_NIL = str(RDF.first), str(RDF.rest), str(RDF.nil)

NCT = "NCT06171568"
STATUS_DIFF = [{"field": "protocolSection.statusModule.overallStatus", "from": "NOT_YET_RECRUITING", "to": "COMPLETED"}]
LIVE = study_graph_name("NCT99999999")
ARCHIVE = HISTORY_PREFIX + "NCT99999999/v1"


def reimport(store: GraphStore) -> GraphStore:
    """The APHP record imported, then imported again with another status: versions 1 and 2."""
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    import_study(store, record, agent="alice")
    changed = copy.deepcopy(record)
    changed["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    import_study(store, changed, agent="bob")
    return store


def graph_triples(store: GraphStore, graph: str) -> set[tuple[str, str, str]]:
    return {(str(s), str(p), str(o)) for s, p, o in store.graph(graph)}


@pytest.fixture()
def reimported(fresh_store: GraphStore) -> GraphStore:
    return reimport(fresh_store)


def test_a_live_query_sees_no_archived_graph(reimported: GraphStore) -> None:
    graphs = reimported.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").values("g")
    assert study_graph_name(NCT) in graphs
    assert [g for g in graphs if not is_live_graph(g)] == []


def test_the_history_is_read_from_its_own_dataset(reimported: GraphStore) -> None:
    archive = {"g": URIRef(version_iri(NCT, 1))}
    assert not reimported.ask("ASK { GRAPH ?g { ?s ?p ?o } }", archive)
    assert history_of(reimported).ask("ASK { GRAPH ?g { ?s ?p ?o } }", archive)
    assert len(reimported.graph(version_iri(NCT, 1))) > 0  # a graph is read where it is kept


class _QuerySpy:
    """An Oxigraph store that notes the keyword arguments of every query."""

    def __init__(self, inner: ox.Store) -> None:
        self.inner, self.calls = inner, list[dict[str, Any]]()

    def query(self, query: str, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.inner.query(query, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_live_query_names_no_graph_and_reads_the_union(reimported: GraphStore) -> None:
    assert isinstance(reimported, OxigraphStore)
    spy = _QuerySpy(reimported._store)
    reimported._store = spy  # type: ignore[assignment]
    statuses = reimported.select(f"SELECT ?c WHERE {{ id:study\\/{NCT} acse:overallStatus/acse:code ?c }}").values("c")
    assert statuses == ["COMPLETED"]
    assert spy.calls == [{"prefixes": spy.calls[0]["prefixes"], "use_default_graph_as_union": True}]


def test_versions_diffs_and_named_graphs_read_both_datasets(reimported: GraphStore) -> None:
    assert [(v.number, v.agent) for v in list_versions(reimported, NCT)] == [(1, "alice"), (2, "bob")]
    assert diff_versions(reimported, NCT, 1, 2) == STATUS_DIFF
    assert {version_iri(NCT, 1), LOG_GRAPH, study_graph_name(NCT)} <= set(reimported.named_graphs())
    assert version_iri(NCT, 1) not in reimported.live_graphs()


def test_a_store_of_the_one_dataset_layout_is_migrated_on_open(tmp_path: Path) -> None:
    source = reimport(open_store("memory"))
    old = ox.Store(str(tmp_path / "store"))  # the earlier layout: history graphs beside the live ones
    old.load(source.dump("nquads", include_history=True), format=ox.RdfFormat.N_QUADS)
    old.flush()
    del old

    store = OxigraphStore(tmp_path / "store")
    try:
        assert [v.number for v in list_versions(store, NCT)] == [1, 2]
        assert diff_versions(store, NCT, 1, 2) == STATUS_DIFF
        assert (len(store), store.named_graphs()) == (len(source), source.named_graphs())
        assert all(is_live_graph(g) for g in store.live_graphs())
        assert not store.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(version_iri(NCT, 1))})
    finally:
        store.close()
    again = OxigraphStore(tmp_path / "store")  # the next open finds it done
    try:
        assert (len(again), [v.number for v in list_versions(again, NCT)]) == (len(source), [1, 2])
    finally:
        again.close()


def test_a_write_to_both_datasets_interrupted_after_the_first_is_finished_on_open(tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "store")
    # What the first transaction of a write to both leaves when the process dies before the second:
    # the history's part written, and the journal entry holding the live dataset's part.
    pending = update_request([ReplaceGraph(LIVE, "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    assert store._hist is not None
    store._hist.add(ox.Quad(ox.NamedNode("urn:acse-kg:journal:test"), ox.NamedNode(PENDING_UPDATE),
                            ox.Literal(pending), ox.NamedNode(JOURNAL_GRAPH)))
    store.close()
    reopened = OxigraphStore(tmp_path / "store")
    try:
        assert graph_triples(reopened, LIVE) == {("urn:x:a", "urn:x:p", "1")}
        assert not history_of(reopened).ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(JOURNAL_GRAPH)})
    finally:
        reopened.close()


def test_a_write_to_both_datasets_interrupted_after_the_second_is_not_applied_twice(tmp_path: Path) -> None:
    # The process died after the live dataset took the entry's quads (blank nodes: an addition that
    # is not idempotent) but before the entry was removed: the next open must not add them again.
    store = OxigraphStore(tmp_path / "store")
    quads = f"_:b <urn:x:p> \"1\" <{LIVE}> .\n"
    entry = ox.Quad(ox.NamedNode("urn:acse-kg:journal:done"), ox.NamedNode(PENDING_QUADS), ox.Literal(quads),
                    ox.NamedNode(JOURNAL_GRAPH))
    assert store._hist is not None
    store._hist.add(entry)
    _replay(store._store, entry)
    store.close()
    reopened = OxigraphStore(tmp_path / "store")
    try:
        assert len(list(reopened._store.quads_for_pattern(None, None, None, ox.NamedNode(LIVE)))) == 1
        assert not history_of(reopened).ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(JOURNAL_GRAPH)})
        assert not reopened.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(JOURNAL_GRAPH)})
    finally:
        reopened.close()


def test_a_bulk_write_to_both_datasets_leaves_no_journal_behind(tmp_path: Path) -> None:
    """A bulk import's batch (its studies live, their log entries in the history): the live half is
    journalled in a file, not in a literal the history would keep on disk for ever."""
    store = OxigraphStore(tmp_path / "store")
    try:
        quads = b"".join(b'<urn:x:s%d> <urn:x:p> "%d" <%s> .\n' % (i, i, LIVE.encode()) for i in range(20_000))
        store.write([AddQuads(quads + f'<urn:x:v1> <urn:x:p> "1" <{LOG_GRAPH}> .\n'.encode())])
        assert len(list(store._store.quads_for_pattern(None, None, None, ox.NamedNode(LIVE)))) == 20_000
        assert not history_of(store).ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(JOURNAL_GRAPH)})
        assert list((tmp_path / "store" / JOURNAL_DIR).iterdir()) == []
        assert store._hist is not None
        store._hist.flush()
        history_bytes = sum(f.stat().st_size for f in (tmp_path / "store" / "history").rglob("*") if f.is_file())
        assert history_bytes < len(quads) // 2  # (with the batch in a literal: more than the batch)
    finally:
        store.close()


#: A process that bulk-loads a write's live half and is killed before it marks it applied (the bulk
#: loader is not one transaction: the entry stays, and the next open applies it again).
_KILLED_AFTER_THE_BULK_LOAD = """
import os, sys
from pathlib import Path
import acse_kg.store as s

def killed(dataset, quads, mark):
    dataset.bulk_extend(quads)
    dataset.flush()
    os._exit(9)

s._apply_quads = killed
store = s.OxigraphStore(Path(sys.argv[1]))
store.write([s.AddQuads(sys.stdin.buffer.read())])
"""


def test_a_bulk_write_killed_after_its_load_is_not_applied_twice_on_open(tmp_path: Path) -> None:
    # Enough quads for the bulk loader, and a blank-node list (a study's keywords): adding those again
    # under new labels would double the list.
    quads = b"".join(b'<urn:x:s%d> <urn:x:p> "%d" <%s> .\n' % (i, i, LIVE.encode()) for i in range(BULK_QUADS))
    keywords = (f'<urn:x:study> <urn:x:keywords> _:k1 <{LIVE}> .\n'
                f'_:k1 <{RDF_FIRST}> "lung" <{LIVE}> .\n_:k1 <{RDF_REST}> _:k2 <{LIVE}> .\n'
                f'_:k2 <{RDF_FIRST}> "ALK" <{LIVE}> .\n_:k2 <{RDF_REST}> <{RDF_NIL}> <{LIVE}> .\n')
    log = f'<urn:x:v1> <urn:x:p> "1" <{LOG_GRAPH}> .\n'
    killed = subprocess.run([sys.executable, "-c", _KILLED_AFTER_THE_BULK_LOAD, str(tmp_path / "store")],
                            input=quads + keywords.encode() + log.encode(), capture_output=True)
    assert killed.returncode == 9, killed.stderr.decode()
    reopened = OxigraphStore(tmp_path / "store")
    try:
        firsts = reopened._store.quads_for_pattern(None, ox.NamedNode(RDF_FIRST), None, ox.NamedNode(LIVE))
        assert sorted(cast(ox.Literal, q.object).value for q in firsts) == ["ALK", "lung"]
        assert len(list(reopened._store.quads_for_pattern(None, None, None, ox.NamedNode(LIVE)))) == BULK_QUADS + 5
        assert list((tmp_path / "store" / JOURNAL_DIR).iterdir()) == []
    finally:
        reopened.close()


def test_a_write_interrupted_after_its_journal_file_is_finished_on_open(tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "store")
    # What the first transaction leaves when the process dies before the second: the entry names the
    # file that holds the live dataset's part (written before the entry was committed).
    literal = store._journal_text("test", f'<urn:x:a> <urn:x:p> "1" <{LIVE}> .\n'.encode())
    assert store._hist is not None
    store._hist.add(ox.Quad(ox.NamedNode("urn:acse-kg:journal:test"), ox.NamedNode(PENDING_QUADS), literal,
                            ox.NamedNode(JOURNAL_GRAPH)))
    (tmp_path / "store" / JOURNAL_DIR / "stray").write_bytes(b"written by a process that died before its entry")
    store.close()
    reopened = OxigraphStore(tmp_path / "store")
    try:
        assert graph_triples(reopened, LIVE) == {("urn:x:a", "urn:x:p", "1")}
        assert not history_of(reopened).ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(JOURNAL_GRAPH)})
        assert list((tmp_path / "store" / JOURNAL_DIR).iterdir()) == []
    finally:
        reopened.close()


def test_a_claimed_write_to_both_datasets_that_loses_writes_nothing_in_either(fresh_store: GraphStore) -> None:
    claim = "urn:x:version-1"
    fresh_store.write([CopyGraph(LIVE, ARCHIVE), ReplaceGraph(LIVE, "<urn:x:a> <urn:x:p> 1 .", "turtle"),
                       AddToGraph(LOG_GRAPH, "<urn:x:a> <urn:x:by> 'first' .", "turtle")],
                      claim=Claim(LOG_GRAPH, claim))
    with pytest.raises(WriteConflict):
        fresh_store.write([CopyGraph(LIVE, ARCHIVE), ReplaceGraph(LIVE, "<urn:x:a> <urn:x:p> 2 .", "turtle"),
                           AddToGraph(LOG_GRAPH, "<urn:x:a> <urn:x:by> 'second' .", "turtle")],
                          claim=Claim(LOG_GRAPH, claim))
    assert graph_triples(fresh_store, LIVE) == {("urn:x:a", "urn:x:p", "1")}
    assert ("urn:x:a", "urn:x:by", "second") not in graph_triples(fresh_store, LOG_GRAPH)
    assert graph_triples(fresh_store, ARCHIVE) == set()  # the first write found no live graph to archive


def test_a_claimed_write_that_loses_leaves_no_journal_file(tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "store")
    claim = "urn:x:version-1"
    try:
        store.write([CopyGraph(LIVE, ARCHIVE), ReplaceGraph(LIVE, "<urn:x:a> <urn:x:p> 1 .", "turtle"),
                     AddToGraph(LOG_GRAPH, "<urn:x:a> <urn:x:by> 'first' .", "turtle")], claim=Claim(LOG_GRAPH, claim))
        for attempt in range(3):
            with pytest.raises(WriteConflict):
                store.write([CopyGraph(LIVE, ARCHIVE), ReplaceGraph(LIVE, f"<urn:x:a> <urn:x:p> {attempt} .", "turtle"),
                             AddToGraph(LOG_GRAPH, "<urn:x:a> <urn:x:by> 'late' .", "turtle")],
                            claim=Claim(LOG_GRAPH, claim))
        assert list((tmp_path / "store" / JOURNAL_DIR).iterdir()) == []
    finally:
        store.close()


def test_a_copy_between_datasets_of_a_graph_changed_in_the_same_write_is_refused(fresh_store: GraphStore) -> None:
    with pytest.raises(StoreError, match="copy it first"):
        fresh_store.write([ReplaceGraph(LIVE, "<urn:x:a> <urn:x:p> 1 .", "turtle"), CopyGraph(LIVE, ARCHIVE)])
    assert graph_triples(fresh_store, LIVE) == set()


def test_a_snapshot_holds_the_history(tmp_path: Path) -> None:
    store = reimport(open_store(str(tmp_path / "store")))
    try:
        store.snapshot(tmp_path / "copy")
    finally:
        store.close()
    copied = OxigraphStore(tmp_path / "copy")
    try:
        assert diff_versions(copied, NCT, 1, 2) == STATUS_DIFF
    finally:
        copied.close()


def test_a_snapshot_taken_while_a_journal_entry_is_pending_opens_holding_the_entrys_write(tmp_path: Path) -> None:
    """A write to both datasets whose second half did not happen (it failed, and the entry waits for
    the next open) is pending in the snapshot as in the store: the snapshot holds the entry's file
    too, so that it opens as the store would, with the write replayed (before, it could not be opened)."""
    store = OxigraphStore(tmp_path / "store")
    try:
        literal = store._journal_text("pending", f'<urn:x:a> <urn:x:p> "1" <{LIVE}> .\n'.encode())
        assert store._hist is not None
        store._hist.add(ox.Quad(ox.NamedNode("urn:acse-kg:journal:pending"), ox.NamedNode(PENDING_QUADS), literal,
                                ox.NamedNode(JOURNAL_GRAPH)))
        store.snapshot(tmp_path / "copy")
    finally:
        store.close()
    copied = OxigraphStore(tmp_path / "copy")
    try:
        assert graph_triples(copied, LIVE) == {("urn:x:a", "urn:x:p", "1")}
        assert not history_of(copied).ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(JOURNAL_GRAPH)})
        assert list((tmp_path / "copy" / JOURNAL_DIR).iterdir()) == []
    finally:
        copied.close()
    assert (tmp_path / "store" / JOURNAL_DIR / "pending").is_file()  # the store's own entry is its own to finish
