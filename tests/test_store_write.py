"""Writing to the store: a transaction of graph operations, claims, values bound into queries.

Every behaviour holds on the embedded store and on a real Oxigraph server
(``oxigraph serve``, reached over the SPARQL 1.1 Protocol), so each test runs
on both through the ``engine`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oxigraph_server_fixtures import OxigraphServer, start_oxigraph
from rdflib import Literal, URIRef

from acse_kg.loader import bundle_graph_names, load_bundle, study_graph_name
from acse_kg.store import (
    HISTORY_PREFIX,
    AddQuads,
    AddToGraph,
    Claim,
    CopyGraph,
    DropGraph,
    GraphStore,
    OxigraphStore,
    QuerySyntaxError,
    ReplaceGraph,
    StoreError,
    WriteConflict,
    bind_values,
    is_live_graph,
    open_store,
)

G1, G2, G3 = "urn:x:g1", "urn:x:g2", "urn:x:g3"
LOG = HISTORY_PREFIX + "test-log"


def triples(store: GraphStore, graph: str) -> set[tuple[str, str, str]]:
    return {(str(s), str(p), str(o)) for s, p, o in store.graph(graph)}


@pytest.fixture(params=["embedded", "oxigraph"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """An empty store (no bundle): the embedded one, or the store over a real Oxigraph server."""
    if request.param == "embedded":
        yield open_store("memory", bootstrap=False)
        return
    server: OxigraphServer = start_oxigraph(tmp_path / "oxigraph")
    try:
        yield open_store(server.query, bootstrap=False)
    finally:
        server.stop()


# ------------------------------------------------------------------ transactions
def test_a_write_applies_its_operations_in_order(engine: GraphStore) -> None:
    engine.write([ReplaceGraph(G3, "<urn:x:gone> <urn:x:p> 1 .", "turtle")])
    engine.write([
        ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"),
        AddToGraph(G1, "<urn:x:b> <urn:x:p> 2 .", "turtle"),
        CopyGraph(G1, G2),  # sees what the operations before it wrote
        ReplaceGraph(G1, "<urn:x:c> <urn:x:p> 3 .", "turtle"),
        DropGraph(G3),
    ])
    assert triples(engine, G1) == {("urn:x:c", "urn:x:p", "3")}
    assert triples(engine, G2) == {("urn:x:a", "urn:x:p", "1"), ("urn:x:b", "urn:x:p", "2")}
    assert triples(engine, G3) == set()


def test_bad_data_in_any_operation_refuses_the_whole_write_naming_its_graph(engine: GraphStore) -> None:
    engine.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    with pytest.raises(StoreError, match="urn:x:g2"):
        engine.write([DropGraph(G1), ReplaceGraph(G2, "<urn:x:a> <urn:x:p> .", "turtle")])
    assert triples(engine, G1) == {("urn:x:a", "urn:x:p", "1")} and G2 not in engine.named_graphs()


def test_a_malformed_graph_name_is_refused_before_anything_is_written(engine: GraphStore) -> None:
    with pytest.raises(StoreError, match="not an IRI"):
        engine.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"), DropGraph("urn:x:g> } ; DROP ALL ; #")])
    assert engine.named_graphs() == []


def test_blank_nodes_stay_apart_between_operations(engine: GraphStore) -> None:
    engine.write([AddToGraph(G1, "_:b <urn:x:p> 1 .", "turtle"), AddToGraph(G1, "_:b <urn:x:p> 2 .", "turtle")])
    assert len({s for s, _, _ in engine.graph(G1)}) == 2


def test_quads_of_many_graphs_are_added_in_one_write(engine: GraphStore) -> None:
    engine.write([AddQuads(b"<urn:x:a> <urn:x:p> \"1\" <urn:x:g1> .\n<urn:x:b> <urn:x:p> \"t\"@en <urn:x:g2> .\n")])
    assert triples(engine, G1) == {("urn:x:a", "urn:x:p", "1")} and triples(engine, G2) == {("urn:x:b", "urn:x:p", "t")}


@pytest.mark.parametrize("bad", [b"<urn:x:a> <urn:x:p> <urn:x:g2> .\n",  # a quad in the default graph
                                 b"<urn:x:a> <urn:x:p> . <urn:x:g2>\n"])
def test_bad_quads_refuse_the_whole_write(engine: GraphStore, bad: bytes) -> None:
    with pytest.raises(StoreError, match="N-Quads"):
        engine.write([AddQuads(b"<urn:x:a> <urn:x:p> \"1\" <urn:x:g1> .\n" + bad)])
    assert engine.named_graphs() == []


def test_blank_nodes_of_two_quad_writes_stay_apart(engine: GraphStore) -> None:
    engine.write([AddQuads(b"_:b <urn:x:p> \"1\" <urn:x:g1> .\n")])
    engine.write([AddQuads(b"_:b <urn:x:p> \"2\" <urn:x:g1> .\n")])
    assert len({s for s, _, _ in engine.graph(G1)}) == 2


def test_quads_under_a_taken_claim_write_nothing(engine: GraphStore) -> None:
    engine.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")], claim=Claim(LOG, "urn:x:v1"))
    with pytest.raises(WriteConflict):
        engine.write([AddQuads(b"<urn:x:b> <urn:x:p> \"2\" <urn:x:g2> .\n")], claim=Claim(LOG, "urn:x:v1"))
    assert triples(engine, G2) == set()


# ------------------------------------------------------------------ claims
def test_a_claim_taken_once_makes_a_second_claim_of_it_write_nothing(engine: GraphStore) -> None:
    engine.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")], claim=Claim(LOG, "urn:x:v1"))
    with pytest.raises(WriteConflict):
        engine.write([DropGraph(G1), AddToGraph(G2, "<urn:x:b> <urn:x:p> 2 .", "turtle")],
                     claim=Claim(LOG, "urn:x:v1"))
    assert triples(engine, G1) == {("urn:x:a", "urn:x:p", "1")} and triples(engine, G2) == set()
    assert engine.live_graphs() == [G1]  # the write's own flag graph is gone either way


def test_a_claim_is_tested_once_at_the_start_whatever_the_write_says_about_its_subject(engine: GraphStore) -> None:
    claim = Claim(LOG, "urn:x:v1")
    entry = "<urn:x:v1> <urn:x:number> 1 ."  # the caller's own log entry, written before the later operations
    engine.write([AddToGraph(LOG, entry, "turtle"), ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")],
                 claim=claim)
    assert triples(engine, G1) == {("urn:x:a", "urn:x:p", "1")}
    assert ("urn:x:v1", "http://purl.org/dc/terms/identifier", claim.token) in triples(engine, LOG)


def test_claims_of_different_subjects_do_not_conflict(engine: GraphStore) -> None:
    engine.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")], claim=Claim(LOG, "urn:x:v1"))
    engine.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 2 .", "turtle")], claim=Claim(LOG, "urn:x:v2"))
    assert len(triples(engine, G1)) == 2


# ------------------------------------------------------------------ bindings
def test_bound_values_select_as_the_text_would(engine: GraphStore) -> None:
    engine.write([ReplaceGraph(G1, '<urn:x:a> <urn:x:p> "one" . <urn:x:b> <urn:x:p> "two" .', "turtle")])
    rows = engine.select("SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o } }",
                         {"g": URIRef(G1), "o": Literal("two")})
    assert rows.values("s") == ["urn:x:b"]
    assert engine.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(G2)}) is False


def test_a_bound_variable_outside_the_projection_and_under_an_aggregate_still_binds(engine: GraphStore) -> None:
    """Oxigraph's own ``substitutions`` refuse both; a VALUES block in the WHERE group does not."""
    engine.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 . <urn:x:a> <urn:x:q> 2 .", "turtle"),
                  ReplaceGraph(G2, "<urn:x:a> <urn:x:p> 3 .", "turtle")])
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert engine.select(count, {"g": URIRef(G1)}).values("n") == [2]


def test_a_construct_binds_in_its_where_group_not_its_template(engine: GraphStore) -> None:
    engine.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"), ReplaceGraph(G2, "<urn:x:b> <urn:x:p> 2 .", "turtle")])
    g = engine.construct("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(G2)})
    assert {str(s) for s in g.subjects()} == {"urn:x:b"}


def test_a_bound_literal_is_data_even_when_it_looks_like_sparql(engine: GraphStore) -> None:
    engine.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    sneaky = Literal('x" } } ; DROP ALL ; # {')
    assert engine.select("SELECT ?s WHERE { ?s ?p ?o }", {"o": sneaky}).rows == []
    assert triples(engine, G1) == {("urn:x:a", "urn:x:p", "1")}


def test_a_binding_must_be_an_rdf_term() -> None:
    with pytest.raises(TypeError, match="URIRef or Literal"):
        bind_values("SELECT * WHERE { ?s ?p ?o }", {"s": "urn:x:a"})  # type: ignore[dict-item]


def test_a_query_without_a_where_group_cannot_take_bindings() -> None:
    with pytest.raises(QuerySyntaxError, match="WHERE"):
        bind_values("DESCRIBE <urn:x:a>", {"s": URIRef("urn:x:a")})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
       lang=st.sampled_from([None, "en", "fr-CA"]))
def test_any_bound_string_finds_exactly_the_literal_it_equals(text: str, lang: str | None) -> None:
    store = _PROPERTY_STORE
    literal = Literal(text, lang=lang)
    store.write([ReplaceGraph(G1, f"<urn:x:a> <urn:x:p> {rdflib.Literal(text, lang=lang).n3()} .", "turtle")])
    assert store.select("SELECT ?s WHERE { ?s ?p ?o }", {"o": literal}).values("s") == ["urn:x:a"]
    assert store.select("SELECT ?s WHERE { ?s ?p ?o }", {"o": Literal(text + "!", lang=lang)}).rows == []


_PROPERTY_STORE = OxigraphStore(None)


# ------------------------------------------------------------------ live graphs
def test_the_live_graphs_are_every_named_graph_but_the_history() -> None:
    assert is_live_graph(study_graph_name("NCT02034981"))
    assert not is_live_graph(HISTORY_PREFIX + "log") and not is_live_graph(HISTORY_PREFIX + "NCT02034981/v0")


def test_a_store_lists_its_live_graphs_without_the_history(fresh_store: GraphStore) -> None:
    fresh_store.write([AddToGraph(HISTORY_PREFIX + "log", "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    assert fresh_store.live_graphs() == sorted(bundle_graph_names())


# ------------------------------------------------------------------ the first load, one owner
class _CountingStore:
    """The embedded store, counting the write transactions it is given."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner, self.writes = inner, []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def write(self, ops, *, claim=None) -> None:  # type: ignore[no-untyped-def]
        self.writes.append([getattr(op, "graph", None) for op in ops])
        self.inner.write(ops, claim=claim)


def test_the_first_load_of_an_empty_store_is_one_transaction_of_every_bundle_graph() -> None:
    counting = _CountingStore(open_store("memory", bootstrap=False))
    load_bundle(counting)  # type: ignore[arg-type]
    assert len(counting.writes) == 1 and sorted(counting.writes[0]) == sorted(bundle_graph_names())


def test_a_store_missing_part_of_the_bundle_is_completed_when_opened(tmp_path: Path) -> None:
    """What a load interrupted before loads were one transaction left: the next start completes it."""
    path = tmp_path / "store"
    partial = open_store(str(path), bootstrap=False)
    partial.write([ReplaceGraph(bundle_graph_names()[0], "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    partial.close()
    reopened = open_store(str(path))
    assert set(bundle_graph_names()) <= set(reopened.named_graphs())
    assert reopened.select("SELECT (COUNT(?c) AS ?n) WHERE { ?c a acse:Cohort }").values("n") == [23]


def test_a_snapshot_of_a_live_store_opens_as_a_store_of_its_own_and_keeps_its_moment(tmp_path: Path) -> None:
    live = open_store(str(tmp_path / "store"))
    assert isinstance(live, OxigraphStore)
    live.snapshot(tmp_path / "snapshot")
    live.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")])  # after the snapshot
    copy = open_store(str(tmp_path / "snapshot"), bootstrap=False)
    assert set(copy.named_graphs()) == set(bundle_graph_names())  # the live store's G1 is not there
    copy.write([AddToGraph(G2, "<urn:x:b> <urn:x:p> 2 .", "turtle")])  # nor is this in the live store
    assert G2 not in live.named_graphs()


@pytest.mark.parametrize("after_s", [0.5, 1.0, 1.5, 2.0])
def test_a_first_load_killed_at_any_moment_leaves_all_of_the_bundle_or_none_of_it(tmp_path: Path, after_s: float) -> None:
    """A real kill -9 of ``acse-kg load`` on an empty directory: the load is one transaction."""
    import signal
    import subprocess
    import sys
    import time

    from acse_kg.paths import ROOT

    path = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "acse_kg.cli", "load", "--store", str(path)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    left = open_store(str(path), bootstrap=False)
    present = [g for g in bundle_graph_names() if g in left.named_graphs() and len(left.graph(g))]
    assert present in ([], bundle_graph_names()), present
    left.close()
    assert open_store(str(path)).select("SELECT (COUNT(?c) AS ?n) WHERE { ?c a acse:Cohort }").values("n") == [23]


def test_a_binding_is_named_by_a_sparql_variable_name() -> None:
    with pytest.raises(ValueError, match="variable name"):
        bind_values("SELECT * WHERE { ?s ?p ?o }", {"?s": URIRef("urn:x:a")})


# ------------------------------------------------------------------ a remote engine
@pytest.fixture()
def oxigraph(tmp_path: Path) -> Iterator[OxigraphServer]:
    server = start_oxigraph(tmp_path / "oxigraph")
    try:
        yield server
    finally:
        server.stop()


def test_a_write_to_a_remote_engine_is_one_update_request(oxigraph: OxigraphServer) -> None:
    import httpx

    from acse_kg.remote import SparqlEndpointStore

    sent: list[str] = []
    client = httpx.Client(event_hooks={"request": [lambda r: sent.append(str(r.url))]})
    store = SparqlEndpointStore(oxigraph.query, client=client)
    store.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"), CopyGraph(G1, G2), DropGraph(G3),
                 AddToGraph(G2, "<urn:x:b> <urn:x:p> 2 .", "turtle")])
    assert sent == [oxigraph.update]
    assert triples(store, G2) == {("urn:x:a", "urn:x:p", "1"), ("urn:x:b", "urn:x:p", "2")}


def test_a_lock_request_left_by_a_dead_writer_does_not_block_the_next_one(oxigraph: OxigraphServer) -> None:
    from acse_kg import remote

    store = open_store(oxigraph.query, bootstrap=False)
    stale = f'<urn:x:v1> <{remote.LOCK_REQUEST}> "{1.0:.6f} dead-writer" .'  # made in 1970, never withdrawn
    store.write([AddToGraph(remote.LOCK_GRAPH, stale, "ntriples")])
    assert len(triples(store, remote.LOCK_GRAPH)) == 1
    store.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")], claim=Claim(LOG, "urn:x:v1"))
    assert triples(store, G1) == {("urn:x:a", "urn:x:p", "1")}
    assert triples(store, remote.LOCK_GRAPH) == set()  # the dead request was removed, and ours withdrawn


def test_a_writer_waits_for_a_held_lock_and_gives_up_saying_so(oxigraph: OxigraphServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from acse_kg import remote

    monkeypatch.setattr(remote, "LOCK_WAIT_S", 0.5)
    store = open_store(oxigraph.query, bootstrap=False)
    held = f'<urn:x:study> <{remote.LOCK_REQUEST}> "{time.time():.6f} other-writer" .'
    store.write([AddToGraph(remote.LOCK_GRAPH, held, "ntriples")])
    with pytest.raises(StoreError, match="could not take the write lock"):
        store.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")],
                    claim=Claim(LOG, "urn:x:v1", scope="urn:x:study"))
    assert triples(store, G1) == set()


def test_a_remote_store_tells_a_change_by_any_client_without_counting_quads(oxigraph: OxigraphServer) -> None:
    """Every write through the store interface, from any process, leaves a new generation token in the
    same request: a same-size edit by another client is seen, and nothing changes it between writes."""
    from acse_kg.derived import DerivedCache

    reader, writer = open_store(oxigraph.query, bootstrap=False), open_store(oxigraph.query, bootstrap=False)
    writer.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    cache, made = DerivedCache(), []

    def make() -> int:
        made.append(1)
        return len(made)

    assert cache.get(reader, "k", make) == cache.get(reader, "k", make) == 1
    writer.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 2 .", "turtle")])  # same size, another client
    assert cache.get(reader, "k", make) == 2
    writer.update("INSERT DATA { GRAPH <urn:x:g2> { <urn:x:b> <urn:x:p> 3 } } ;")  # raw text, trailing ';'
    assert cache.get(reader, "k", make) == 3
    assert G2 in reader.named_graphs() and not any("bookkeeping" in g for g in reader.named_graphs())


def test_a_store_directory_is_opened_once_in_a_process(tmp_path: Path) -> None:
    first = OxigraphStore(tmp_path / "store")
    with pytest.raises(StoreError, match="already open in this process"):
        OxigraphStore(tmp_path / "store")
    first.close()


@pytest.mark.parametrize("text", ["", "PREFIX ex: <urn:x:>", "INSERT DATA { <urn:x:a> <urn:x:p> 1 }",
                                  "INSERT DATA { <urn:x:a> <urn:x:p> 1 } ;", "CLEAR SILENT GRAPH <urn:x:g9> # done"])
def test_any_valid_update_text_stays_valid_with_the_generation_token_added(oxigraph: OxigraphServer, text: str) -> None:
    store = open_store(oxigraph.query, bootstrap=False)
    before = store.generation  # type: ignore[attr-defined]
    store.update(text)
    assert store.generation != before  # type: ignore[attr-defined]


def test_new_studies_in_one_bulk_write_change_the_vocabulary_only_with_a_term_no_other_graph_declares() -> None:
    """A bulk batch's studies are all new: what they declare outside themselves is told from the batch's own quads."""
    store = OxigraphStore(None)
    drug = "https://w3id.org/acse-kg/id/drug/x"
    typed = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/acse-kg/ontology#Drug>"

    def study(nct: str, label: str) -> bytes:
        g = study_graph_name(nct)
        return (f'<https://w3id.org/acse-kg/id/study/{nct}> <urn:x:p> "own" <{g}> .\n'
                f'<{drug}> {typed} <{g}> .\n<{drug}> <http://www.w3.org/2000/01/rdf-schema#label> "{label}" <{g}> .\n'
                ).encode()

    version = store.vocabulary_version()
    store.write([AddQuads(study("NCT00000001", "x"))])
    assert store.vocabulary_version() != version
    version = store.vocabulary_version()
    store.write([AddQuads(study("NCT00000002", "x") + study("NCT00000003", "x"))])  # declared alike
    assert store.vocabulary_version() == version
    store.write([AddQuads(study("NCT00000004", "x") + study("NCT00000005", "another label"))])
    assert store.vocabulary_version() != version
