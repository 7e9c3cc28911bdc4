"""The store interface's compliance suite: every behaviour the registry needs of an engine, run on each engine.

Like oaklib's compliance tester, one module holds the behaviours and each
engine is a parameter: the embedded store (pyoxigraph), the Oxigraph server
(``oxigraph serve``) and Virtuoso (``virtuoso-opensource``), the last two
reached over the SPARQL 1.1 Protocol through :class:`~acse_kg.remote.SparqlEndpointStore`.
An engine documented as supported in docs/engines.md passes all of it; one
that cannot hold a behaviour skips exactly that test, saying why.

Two kinds of engine fixture: ``empty`` (a new, empty store for a test that
writes; a server started for the test) and ``loaded`` (the bundle loaded once
per engine for the session, read-only by convention), checked against the
embedded ``store`` where the answer is the registry's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from matching_fixtures import profile
from oxigraph_server_fixtures import OxigraphServer, oxigraph_server, start_oxigraph  # noqa: F401 (fixtures)
from rdflib import Literal, URIRef
from virtuoso_fixtures import VirtuosoServer, start_virtuoso, virtuoso_server  # noqa: F401 (fixtures)

from acse_kg import remote
from acse_kg.history import edit_study, list_versions, same_quads, stored_quads
from acse_kg.loader import graph_counts, study_graph_name
from acse_kg.matching.engine import Matcher
from acse_kg.model.reader import read_study
from acse_kg.namespaces import ACSE, cohort_iri, study_iri
from acse_kg.remote import ENGINE_GRAPHS, SparqlEndpointStore
from acse_kg.store import (
    HISTORY_PREFIX,
    AddQuads,
    AddToGraph,
    Claim,
    CopyGraph,
    DropGraph,
    GraphStore,
    RemoveFromGraph,
    ReplaceGraph,
    StoreError,
    WriteConflict,
    history_of,
    open_store,
    rdflib_triples,
)

#: "oxigraph /store": the Oxigraph server with its bulk path (N-Quads POSTed to /store) for AddQuads.
#: "oxigraph split": the history on a second server, the live one queried over its union default graph
#: (the set-up docs/engines.md gives for scale, and the one the scale bench measures), with the bulk path.
ENGINES = ["embedded", "oxigraph", "oxigraph /store", "oxigraph split", "virtuoso"]
G1, G2, G3 = "urn:x:g1", "urn:x:g2", "urn:x:g3"
LOG = HISTORY_PREFIX + "compliance-log"
OLD = HISTORY_PREFIX + "compliance-old"
NCT = "NCT02034981"


def triples(store: GraphStore, graph: str) -> set[tuple[str, str, str]]:
    return {(str(s), str(p), str(o)) for s, p, o in store.graph(graph)}


class _Engines:
    """One server of each kind for the whole session, started on first use (starting one takes
    seconds, Virtuoso's tens under load); :func:`empty` wipes it before each test."""

    def __init__(self, where: pytest.TempPathFactory) -> None:
        self.where = where
        self.openers: dict[str, Callable[[], GraphStore]] = {}
        self.stops: list[Callable[[], None]] = []

    def open(self, engine: str) -> GraphStore:
        if engine not in self.openers:
            where = self.where.mktemp(engine.replace(" /", "-"))
            if engine == "oxigraph":
                ox_server = start_oxigraph(where / "oxigraph")
                self.openers[engine] = lambda: open_store(ox_server.query, bootstrap=False)
                self.stops.append(ox_server.stop)
            elif engine == "oxigraph /store":
                bulk = start_oxigraph(where / "oxigraph")
                self.openers[engine] = lambda: SparqlEndpointStore(bulk.query, dataset_url=bulk.base + "/store")
                self.stops.append(bulk.stop)
            elif engine == "oxigraph split":
                live, hist = _split_servers(where)
                self.openers[engine] = lambda: _split_store(live, hist)
                self.stops += [live.stop, hist.stop]
            else:
                v_server = start_virtuoso(where / "virtuoso")
                self.openers[engine] = lambda: v_server.open(bootstrap=False)
                self.stops.append(v_server.stop)
        return self.openers[engine]()


def _split_servers(where: Path) -> tuple[OxigraphServer, OxigraphServer]:
    """A live ``oxigraph serve --union-default-graph`` and a second one for the history."""
    live = start_oxigraph(where / "live", union_default_graph=True)
    try:
        return live, start_oxigraph(where / "history")
    except BaseException:
        live.stop()
        raise


def _split_store(live: OxigraphServer, hist: OxigraphServer) -> SparqlEndpointStore:
    return SparqlEndpointStore(live.query, dataset_url=live.base + "/store", history_url=hist.query)


@pytest.fixture(scope="session")
def engine_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Engines]:
    engines = _Engines(tmp_path_factory)
    yield engines
    for stop in engines.stops:
        stop()


def _wiped(store: GraphStore) -> None:
    """Every graph of the engine dropped (but the engine's own: Virtuoso's system graphs), the
    bookkeeping's too: the store as a new engine holds it."""
    assert isinstance(store, SparqlEndpointStore)
    for side in {store, store.history}:  # a history endpoint is wiped too
        graphs = [g for g in side._every_graph() if g not in ENGINE_GRAPHS]
        if graphs:
            side._send(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs))


@pytest.fixture(params=ENGINES)
def empty(request: pytest.FixtureRequest) -> GraphStore:
    """An empty store (no bundle) on each engine, for a test that writes: a new embedded store, or
    the session's server of that kind wiped of every graph and opened anew (no cache carried over)."""
    if request.param == "embedded":
        return open_store("memory", bootstrap=False)
    engines: _Engines = request.getfixturevalue("engine_servers")
    _wiped(engines.open(request.param))
    return engines.open(request.param)


@pytest.fixture(scope="session", params=ENGINES)
def loaded(request: pytest.FixtureRequest, store: GraphStore) -> GraphStore:
    """The bundle on each engine, loaded and opened once for the session (the model reader's
    cache is per store object): read-only by convention."""
    if request.param == "embedded":
        return store
    if request.param == "oxigraph /store":
        ox_server: OxigraphServer = request.getfixturevalue("oxigraph_server")
        return SparqlEndpointStore(ox_server.query, dataset_url=ox_server.base + "/store")
    if request.param == "oxigraph split":
        from acse_kg.loader import load_bundle

        live, hist = _split_servers(request.getfixturevalue("tmp_path_factory").mktemp("oxigraph-split-bundle"))
        request.addfinalizer(hist.stop)
        request.addfinalizer(live.stop)
        split = _split_store(live, hist)
        load_bundle(split)
        return split
    server = request.getfixturevalue(f"{request.param}_server")
    return server.open()


# ------------------------------------------------------------------ writes: all or nothing, in order
def test_a_write_applies_its_operations_in_order(empty: GraphStore) -> None:
    empty.write([ReplaceGraph(G3, "<urn:x:gone> <urn:x:p> 1 .", "turtle")])
    empty.write([
        ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"),
        AddToGraph(G1, "<urn:x:b> <urn:x:p> 2 .", "turtle"),
        CopyGraph(G1, G2),
        RemoveFromGraph(G2, "<urn:x:a> <urn:x:p> 1 .", "turtle"),
        ReplaceGraph(G1, "<urn:x:c> <urn:x:p> 3 .", "turtle"),
        DropGraph(G3),
    ])
    assert triples(empty, G1) == {("urn:x:c", "urn:x:p", "3")}
    assert triples(empty, G2) == {("urn:x:b", "urn:x:p", "2")}
    assert triples(empty, G3) == set()


def test_bad_data_in_any_operation_writes_nothing_and_names_its_graph(empty: GraphStore) -> None:
    empty.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    with pytest.raises(StoreError, match="urn:x:g2"):
        empty.write([DropGraph(G1), ReplaceGraph(G2, "<urn:x:a> <urn:x:p> .", "turtle")])
    assert triples(empty, G1) == {("urn:x:a", "urn:x:p", "1")}
    assert empty.named_graphs() == [G1]


def test_new_graphs_filled_in_one_write_are_all_or_nothing(empty: GraphStore) -> None:
    # Every operation fills an empty graph: the embedded store takes its bulk path, still one transaction.
    with pytest.raises(StoreError, match="urn:x:g2"):
        empty.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"),
                     ReplaceGraph(G2, "<urn:x:a> <urn:x:p> .", "turtle")])
    with pytest.raises(StoreError, match="compliance-old"):  # the history's part bad (another dataset, if kept apart)
        empty.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"),
                     ReplaceGraph(OLD, "<urn:x:a> <urn:x:p> .", "turtle")])
    with pytest.raises(StoreError, match="not an IRI"):
        empty.write([ReplaceGraph("not an iri", "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    with pytest.raises(StoreError, match="urn:x:g1"):  # Turtle's bare number is not N-Triples
        empty.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "ntriples")])
    assert empty.named_graphs() == []
    empty.write([ReplaceGraph(OLD, "<urn:x:a> <urn:x:p> 0 .", "turtle"), ReplaceGraph(G2, "<urn:x:a> <urn:x:p> 2 .", "turtle")])
    assert triples(empty, OLD) == {("urn:x:a", "urn:x:p", "0")} and triples(empty, G2) == {("urn:x:a", "urn:x:p", "2")}
    empty.drop_graph(OLD)
    empty.drop_graph(G2)
    empty.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"), AddToGraph(G2, "_:n <urn:x:p> 2 .", "turtle")])
    assert triples(empty, G1) == {("urn:x:a", "urn:x:p", "1")}
    assert [o for s, _, o in empty.graph(G2) if isinstance(s, rdflib.BNode)] == [Literal(2)]


def test_a_graphs_quads_are_its_triples_in_it_with_blank_nodes_linked_as_written(empty: GraphStore) -> None:
    empty.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:q> [ <urn:x:r> [ <urn:x:s> 1 ] ] .", "turtle"),
                 ReplaceGraph(G2, "<urn:x:b> <urn:x:p> 2 .", "turtle")])
    quads = empty.graph_quads(G1)
    assert {q.graph_name for q in quads} == {ox.NamedNode(G1)} and len(quads) == 3
    assert same_quads(quads, stored_quads("<urn:x:a> <urn:x:q> _:x . _:x <urn:x:r> _:y . _:y <urn:x:s> 1 .",
                                          "turtle", G1))


def test_a_graph_is_its_quads_triples_with_literals_in_one_spelling_on_every_engine(empty: GraphStore) -> None:
    """graph() and graph_quads() fill one cache entry of the model reader between them: one spelling of a value."""
    data = ('<urn:x:a> <urn:x:p> 1.50, "2026-12-03"^^<http://www.w3.org/2001/XMLSchema#date>, "NCT1"^^'
            '<http://www.w3.org/2001/XMLSchema#string>, "Lung"@EN-gb .')
    empty.write([ReplaceGraph(G1, data, "turtle")])
    from_graph = {(s, p, o) for s, p, o in empty.graph(G1)}
    assert from_graph == set(rdflib_triples(empty.graph_quads(G1)))
    objects = {o for _, _, o in from_graph}
    assert Literal("1.5", datatype=rdflib.XSD.decimal) in objects and Literal("NCT1") in objects
    assert Literal("Lung", lang="en-gb") in objects


def test_saving_the_same_content_again_makes_no_version_whatever_the_engines_spelling(empty: GraphStore) -> None:
    # Numbers, dates and booleans as an engine may write them back (Virtuoso's decimals, dates). Not a
    # double 1 beside true: Virtuoso keeps one value of the two (its booleans are numbers).
    from acse_kg.versions import save_study

    data = ('<urn:x:a> <urn:x:p> 1.50, "2026-12-03"^^<http://www.w3.org/2001/XMLSchema#date>, true, '
            '"+5"^^<http://www.w3.org/2001/XMLSchema#int> ; <urn:x:q> [ <urn:x:r> 2 ] .')
    first = save_study(empty, "NCT00000042", data, "turtle", agent="test")
    again = save_study(empty, "NCT00000042", data, "turtle", agent="test")
    assert first.version == 1 and again.unchanged


def test_one_blank_node_label_in_two_new_graphs_names_two_nodes(empty: GraphStore) -> None:
    empty.write([ReplaceGraph(G1, '_:b <urn:x:p> "1" .\n', "ntriples"), ReplaceGraph(G2, '_:b <urn:x:p> "2" .\n', "ntriples")])
    got = empty.select("SELECT ?s WHERE { GRAPH ?g { ?s <urn:x:p> ?o } }")
    assert len(got) == 2 and len({r["s"] for r in got}) == 2


def test_an_addition_then_a_replacement_of_a_new_graph_leaves_the_replacement(empty: GraphStore) -> None:
    empty.write([AddToGraph(G1, "<urn:x:b> <urn:x:p> 2 .", "turtle"), ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")])
    assert triples(empty, G1) == {("urn:x:a", "urn:x:p", "1")}


def test_quads_of_many_graphs_are_added_in_one_write_with_their_terms_intact(empty: GraphStore) -> None:
    empty.write([AddQuads(b'<urn:x:a> <urn:x:p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> <urn:x:g1> .\n'
                          b'<urn:x:b> <urn:x:p> "t\\u00e9"@en <urn:x:g2> .\n'
                          b'_:n <urn:x:p> "plain" <urn:x:g2> .\n')])
    assert set(empty.graph(G1)) == {(URIRef("urn:x:a"), URIRef("urn:x:p"), Literal(1))}
    g2 = empty.graph(G2)
    assert (URIRef("urn:x:b"), URIRef("urn:x:p"), Literal("té", lang="en")) in g2
    assert [o for s, _, o in g2 if isinstance(s, rdflib.BNode)] == [Literal("plain")]


@pytest.mark.parametrize("bad", [b"<urn:x:a> <urn:x:p> <urn:x:g2> .\n",  # a quad in the default graph
                                 b"<urn:x:a> <urn:x:p> . <urn:x:g2>\n"])
def test_bad_quads_refuse_the_whole_write(empty: GraphStore, bad: bytes) -> None:
    with pytest.raises(StoreError, match="N-Quads"):
        empty.write([AddQuads(b"<urn:x:a> <urn:x:p> \"1\" <urn:x:g1> .\n" + bad)])
    assert empty.named_graphs() == []


def test_a_bulk_write_is_seen_by_the_next_query(empty: GraphStore) -> None:
    quads = b"".join(b'<urn:x:s%d> <urn:x:p> "%d" <urn:x:g%d> .\n' % (i, i, i % 3) for i in range(3000))
    empty.write([AddQuads(quads)])
    assert empty.select("SELECT (COUNT(*) AS ?n) WHERE { ?s <urn:x:p> ?o }").values("n") == [3000]
    assert empty.named_graphs() == ["urn:x:g0", "urn:x:g1", "urn:x:g2"]


def test_blank_node_trees_beyond_one_operations_size_come_back_whole(empty: GraphStore) -> None:
    """700 expression-like trees (4 triples each, two blank nodes): more than one operation holds,
    so they are split between operations, but never a tree: each reads back as it was written."""
    doc = "".join(f"<urn:x:c{i}> <urn:x:requires> [ <urn:x:op> \"and\" ; <urn:x:arg> [ <urn:x:value> {i} ] ] .\n"
                  "" for i in range(700))
    empty.replace_graph(G1, doc, "turtle")
    rows = empty.select("SELECT ?c ?e ?v WHERE { ?c <urn:x:requires> ?e . ?e <urn:x:op> \"and\" ; "
                        "<urn:x:arg> [ <urn:x:value> ?v ] }")
    assert sorted((str(r["c"]), r["v"].toPython()) for r in rows) == sorted(  # type: ignore[union-attr]
        (f"urn:x:c{i}", i) for i in range(700))
    assert len({r["e"] for r in rows}) == 700 and len(empty.graph(G1)) == 700 * 4


# ------------------------------------------------------------------ graph listing
def test_named_graphs_list_what_was_written_and_live_graphs_leave_the_history_out(empty: GraphStore) -> None:
    empty.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"), AddToGraph(OLD, "<urn:x:a> <urn:x:p> 0 .")])
    assert empty.named_graphs() == sorted([G1, OLD])
    assert empty.live_graphs() == [G1]
    assert len(empty) == 2


def test_a_dropped_graph_leaves_the_listing(empty: GraphStore) -> None:
    empty.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle"), AddToGraph(G2, "<urn:x:a> <urn:x:p> 2 .")])
    empty.drop_graph(G1)
    assert empty.named_graphs() == [G2]


# ------------------------------------------------------------------ queries over the live graphs
def test_queries_see_the_live_graphs_joined_and_the_history_only_where_the_store_keeps_it(
        empty: GraphStore) -> None:
    """The history is read through ``history_of(store)``: the embedded store's second dataset, or, on an
    engine with one dataset, the store itself by ``GRAPH``; never by a query of the live graphs."""
    empty.write([AddToGraph(G1, "<urn:x:a> <urn:x:knows> <urn:x:b> .", "turtle"),
                 AddToGraph(G2, "<urn:x:b> <urn:x:name> \"B\" .", "turtle"),
                 AddToGraph(OLD, "<urn:x:a> <urn:x:name> \"A, archived\" .", "turtle")])
    joined = empty.select("SELECT ?n WHERE { <urn:x:a> <urn:x:knows> ?b . ?b <urn:x:name> ?n }")
    assert joined.values("n") == ["B"]
    assert not empty.ask("ASK { <urn:x:a> <urn:x:name> ?n }")
    assert history_of(empty).ask(f"ASK {{ GRAPH <{OLD}> {{ <urn:x:a> <urn:x:name> ?n }} }}")


def test_a_replaced_graph_is_seen_by_the_next_query(empty: GraphStore) -> None:
    empty.replace_graph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")
    assert empty.select("SELECT ?o WHERE { <urn:x:a> <urn:x:p> ?o }").values("o") == [1]
    empty.replace_graph(G1, "<urn:x:a> <urn:x:p> 2 .", "turtle")
    assert empty.select("SELECT ?o WHERE { <urn:x:a> <urn:x:p> ?o }").values("o") == [2]


def test_construct_returns_the_matched_triples(empty: GraphStore) -> None:
    empty.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 , 2 .", "turtle")])
    got = empty.construct("CONSTRUCT { ?s <urn:x:q> ?o } WHERE { ?s <urn:x:p> ?o }")
    assert set(got) == {(URIRef("urn:x:a"), URIRef("urn:x:q"), Literal(n)) for n in (1, 2)}


# ------------------------------------------------------------------ bindings
def test_bound_values_select_as_the_text_would_and_stay_data(empty: GraphStore) -> None:
    tricky = 'x" } ; DROP ALL ; #'
    empty.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> \"one\"@en ; <urn:x:q> 1 .", "turtle"),
                 AddToGraph(G1, f"<urn:x:b> <urn:x:p> {Literal(tricky).n3()} .", "turtle")])
    query = "SELECT ?s WHERE { ?s <urn:x:p> ?label }"
    assert empty.select(query, {"label": Literal("one", lang="en")}).values("s") == ["urn:x:a"]
    assert empty.select(query, {"label": Literal(tricky)}).values("s") == ["urn:x:b"]
    counted = "SELECT (COUNT(?o) AS ?n) WHERE { ?s ?p ?o }"  # ?s is bound, not projected, under an aggregate
    assert empty.select(counted, {"s": URIRef("urn:x:a")}).values("n") == [2]
    assert empty.ask("ASK { ?s <urn:x:q> ?v }", {"v": Literal(1)})


# ------------------------------------------------------------------ history writes are claimed
def test_a_claim_taken_once_makes_a_second_claim_of_it_write_nothing(empty: GraphStore) -> None:
    empty.write([ReplaceGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")], claim=Claim(LOG, "urn:x:v1"))
    with pytest.raises(WriteConflict):
        empty.write([DropGraph(G1), AddToGraph(G2, "<urn:x:b> <urn:x:p> 2 .", "turtle")],
                    claim=Claim(LOG, "urn:x:v1"))
    assert triples(empty, G1) == {("urn:x:a", "urn:x:p", "1")} and triples(empty, G2) == set()
    assert empty.live_graphs() == [G1]  # the write's own flag graph is gone either way


def test_claims_of_different_subjects_do_not_conflict(empty: GraphStore) -> None:
    empty.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 1 .", "turtle")], claim=Claim(LOG, "urn:x:v1"))
    empty.write([AddToGraph(G1, "<urn:x:a> <urn:x:p> 2 .", "turtle")], claim=Claim(LOG, "urn:x:v2"))
    assert len(triples(empty, G1)) == 2


def test_a_write_locks_heartbeat_refreshes_its_request_on_the_engine(
    empty: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote writer holding a write lock refreshes its request while it holds it (a conditional
    delete and insert each quarter of the TTL, here 0.1 s), so that a holder slower than the TTL is
    not taken for a dead one: on each engine the request is replaced by a fresher one, never two,
    and the release leaves none."""
    if not isinstance(empty, SparqlEndpointStore):
        pytest.skip("the embedded store's writers lock within one process: no request, no TTL")
    monkeypatch.setattr(remote, "LOCK_TTL_S", 0.4)
    side = empty.history  # where the bookkeeping lives

    def requests() -> list[str]:
        return side._bookkeeping_values(remote.LOCK_GRAPH, "SELECT ?r WHERE { GRAPH ?g { ?s ?p ?r } }",
                                        {"g": URIRef(remote.LOCK_GRAPH)}, "r")

    with side._locked("urn:x:scope"):
        first = requests()
        time.sleep(0.6)
        later = requests()
    assert len(first) == len(later) == 1 and remote._stamp(later[0]) > remote._stamp(first[0])
    assert requests() == []


def test_an_edited_study_keeps_its_version_before_in_the_history(empty: GraphStore, store: GraphStore) -> None:
    from acse_kg.loader import load_bundle

    load_bundle(empty)
    g = empty.graph(study_graph_name(NCT))
    g.remove((URIRef(study_iri(NCT)), ACSE.hasCohort, URIRef(cohort_iri(NCT, 23))))
    edit_study(empty, NCT, g.serialize(format="nt", encoding="utf-8"), "ntriples", agent="test", note="drop 23")
    cohorts = f"SELECT (COUNT(?c) AS ?n) WHERE {{ <{study_iri(NCT)}> acse:hasCohort ?c }}"
    assert empty.select(cohorts).values("n") == [22]
    assert [v.number for v in list_versions(empty, NCT)] == [0, 1]
    archived = [x for x in empty.named_graphs() if x.startswith(HISTORY_PREFIX + NCT)]
    assert len(archived) == 1
    assert history_of(empty).select(f"SELECT (COUNT(?c) AS ?n) WHERE {{ GRAPH <{archived[0]}> "
                        f"{{ <{study_iri(NCT)}> acse:hasCohort ?c }} }}").values("n") == [23]


# ------------------------------------------------------------------ the registry read from the graph
def test_the_bundle_has_the_embedded_stores_graphs_and_counts(loaded: GraphStore, store: GraphStore) -> None:
    assert loaded.named_graphs() == store.named_graphs()
    assert graph_counts(loaded) == graph_counts(store)


def test_the_model_reader_reads_the_embedded_stores_study(loaded: GraphStore, store: GraphStore) -> None:
    study = read_study(loaded, NCT)
    assert len(study.cohorts) == 23 and study.cohort(5).label == "NSCLC, adults, MET amplified"
    assert study == read_study(store, NCT)


@pytest.mark.parametrize("raw", [
    profile(),
    profile(id="P-alcl", age_years=9, diagnosis="ALCL", alterations=[{"gene": "ALK", "type": "fusion"}]),
    profile(id="P-hb", labs={"hemoglobin": 7.5}),
], ids=["LUAD MET-amplified adult", "ALCL child", "haemoglobin 7.5"])
def test_a_match_gives_the_embedded_stores_verdicts(loaded: GraphStore, store: GraphStore, raw: object) -> None:
    result = Matcher(loaded).match(raw)  # type: ignore[arg-type]
    assert result["trial"] == NCT and result["cohorts"]
    assert result == Matcher(store).match(raw)  # type: ignore[arg-type]
