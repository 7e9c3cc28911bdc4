"""The registry on a real third-party SPARQL engine: the Oxigraph server, reached over the SPARQL 1.1 Protocol.

Where the graph lives must not change any answer: every behaviour here is
checked against the embedded store (the session's ``store``) on the same bundle.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import rdflib
import rdflib.compare
from matching_fixtures import DROP, profile
from oxigraph_server_fixtures import OxigraphServer
from rdflib.term import Node

from acse_kg import remote as remote_module
from acse_kg.history import edit_study, list_versions
from acse_kg.loader import graph_counts, load_bundle, study_graph_name
from acse_kg.matching.engine import Matcher
from acse_kg.namespaces import ACSE, BASE, cohort_iri, study_iri
from acse_kg.pages import cohort_page, study_page
from acse_kg.paths import ROOT
from acse_kg.remote import SparqlEndpointStore, update_url_for
from acse_kg.store import HISTORY_PREFIX, GraphStore, StoreError, open_store

NCT = "NCT02034981"
QUERIES = sorted((ROOT / "queries").glob("*.rq"))
COHORT_NUMBERS = "SELECT ?n WHERE { ?c a acse:Cohort ; acse:cohortNumber ?n } ORDER BY ?n"
STUDY_COHORTS = f"SELECT (COUNT(?c) AS ?n) WHERE {{ <{study_iri(NCT)}> acse:hasCohort ?c }}"


@pytest.fixture(scope="module")
def remote(oxigraph_server: OxigraphServer) -> SparqlEndpointStore:
    """The registry's store over the session's Oxigraph server (holding the bundle); read-only by convention."""
    return oxigraph_server.open()


def cohorts_of(store: GraphStore) -> list[int]:
    return [int(n) for n in store.select(COHORT_NUMBERS).values("n")]


# ------------------------------------------------------------------ addressing
@pytest.mark.parametrize(("query_url", "update_url"), [
    ("http://127.0.0.1:7878/query", "http://127.0.0.1:7878/update"),           # Oxigraph server
    ("https://fuseki.example/acse/query?x=1", "https://fuseki.example/acse/update?x=1"),  # Fuseki dataset
    ("http://127.0.0.1:8000/sparql", "http://127.0.0.1:8000/sparql"),          # acse-kg, one URL for both
    ("http://host/repositories/acse", "http://host/repositories/acse"),        # no convention: the same URL
])
def test_updates_go_to_the_update_sibling_of_a_query_url(query_url: str, update_url: str) -> None:
    assert update_url_for(query_url) == update_url


def test_an_explicit_update_url_wins_over_the_derived_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACSE_KG_REMOTE_UPDATE_URL", "http://127.0.0.1:1/statements")
    assert SparqlEndpointStore("http://127.0.0.1:1/query").update_url == "http://127.0.0.1:1/statements"
    assert SparqlEndpointStore("http://127.0.0.1:1/query", update_url="http://127.0.0.1:1/u").update_url.endswith("/u")


# ------------------------------------------------------------------ bootstrap
def test_an_empty_server_is_loaded_with_the_bundle_and_its_23_cohorts_are_found(
    empty_oxigraph: OxigraphServer, store: GraphStore
) -> None:
    assert len(open_store(empty_oxigraph.query, bootstrap=False)) == 0
    remote = open_store(empty_oxigraph.query)
    assert cohorts_of(remote) == list(range(1, 24))
    assert graph_counts(remote) == graph_counts(store)


def test_loading_the_bundle_twice_changes_nothing(empty_oxigraph: OxigraphServer) -> None:
    remote = empty_oxigraph.open()
    before, counts = len(remote), graph_counts(remote)
    load_bundle(remote)
    assert before > 10_000
    assert (len(remote), graph_counts(remote)) == (before, counts)


def test_named_graphs_size_and_dump_are_those_of_the_embedded_store(remote: SparqlEndpointStore, store: GraphStore) -> None:
    assert remote.named_graphs() == store.named_graphs()
    assert len(remote) == len(store)
    dumped = rdflib.Graph().parse(data=remote.dump("ntriples", include_history=False), format="nt")
    local = rdflib.Graph().parse(data=store.dump("ntriples", include_history=False), format="nt")
    assert rdflib.compare.isomorphic(dumped, local)


# ------------------------------------------------------------------ queries
def _unordered_concat(query: str, rows: list[dict[str, Node | None]]) -> list[dict[str, Node | None]]:
    """GROUP_CONCAT columns as sorted lists: SPARQL leaves the order of concatenated values to the engine."""
    columns = {m.group(2): m.group(1) for m in re.finditer(
        r'GROUP_CONCAT\s*\([^;)]*;\s*separator\s*=\s*"([^"]*)"\s*\)\s*AS\s*\?(\w+)', query, re.I)}
    out = []
    for row in rows:
        row = dict(row)
        for var, sep in columns.items():
            value = row.get(var)
            if isinstance(value, rdflib.Literal):
                row[var] = rdflib.Literal(sep.join(sorted(str(value).split(sep))), lang=value.language,
                                          datatype=value.datatype)
        out.append(row)
    return out


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_each_documented_query_selects_the_same_rows_as_on_the_embedded_store(
    path: Path, remote: SparqlEndpointStore, store: GraphStore
) -> None:
    query = path.read_text(encoding="utf-8")
    rows = _unordered_concat(query, remote.select(query).rows)
    assert rows, path.name
    assert rows == _unordered_concat(query, store.select(query).rows)


def test_a_requests_own_default_graph_keeps_every_named_graph_reachable(
    remote: SparqlEndpointStore, store: GraphStore
) -> None:
    """As on the embedded store: default-graph-uri alone narrows the default graph, not the GRAPH patterns."""
    query = """SELECT ?g (COUNT(*) AS ?n) WHERE {
                 { ?s ?p ?o BIND("default" AS ?g) } UNION { GRAPH ?g { ?s ?p ?o } } } GROUP BY ?g ORDER BY ?g"""
    only = [BASE + "id/graph/vocab/hgnc"]
    got = json.loads(remote.query_serialized(query, "json", default_graph_uris=only)[1])
    assert len(got["results"]["bindings"]) == 1 + len(store.named_graphs())
    assert got == json.loads(store.query_serialized(query, "json", default_graph_uris=only)[1])


@pytest.mark.parametrize("question", [
    f"ASK {{ <{study_iri(NCT)}> a acse:BasketTrial }}",
    f"ASK {{ <{cohort_iri(NCT, 24)}> a acse:Cohort }}",
    "ASK { ?c acse:targetGene/acse:geneSymbol \"MST1R\" }",
    # A TumourTypeTest on an OncoTree class the vocabulary graph places under the root (graphs joined).
    "ASK { ?t a acse:TumourTypeTest ; acse:tumourType/rdfs:subClassOf+ ?root . FILTER NOT EXISTS { ?root rdfs:subClassOf ?up } }",
])
def test_ask_gives_the_embedded_stores_answer(question: str, remote: SparqlEndpointStore, store: GraphStore) -> None:
    assert remote.ask(question) is store.ask(question)


def test_construct_gives_the_embedded_stores_graph(remote: SparqlEndpointStore, store: GraphStore) -> None:
    query = """CONSTRUCT { ?c ?p ?o . ?o ?p2 ?o2 } WHERE {
                 ?c a acse:Cohort ; ?p ?o . OPTIONAL { FILTER isBlank(?o) ?o ?p2 ?o2 } }"""
    got = remote.construct(query)
    assert len(got) > 23 * 5
    assert rdflib.compare.isomorphic(got, store.construct(query))


# ------------------------------------------------------------------ matching and pages
def contract_example() -> str:
    from conftest import SHARED

    text = (SHARED / "contracts" / "tumor-profile.md").read_text(encoding="utf-8")
    return re.search(r"```json\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]


PROFILES = {
    "contract example": contract_example,
    "LUAD MET-amplified adult": lambda: profile(),
    "ALCL child, ALK translocation": lambda: profile(id="P-alcl", age_years=9, diagnosis="ALCL",
                                                     alterations=[{"gene": "ALK", "type": "fusion"}]),
    "glioblastoma, RON mutated": lambda: profile(id="P-gb", diagnosis="GB",
                                                 alterations=[{"gene": "RON", "type": "mutation"}]),
    "haemoglobin 7.5 g/dL": lambda: profile(id="P-hb", labs={"hemoglobin": 7.5}),
    "liver metastases, AST 4xULN, fibrosis unknown": lambda: profile(
        id="P-liver", labs={"ast_uln": 4.0}, history={"liver_metastasis": True, "advanced_fibrosis": DROP}),
}


@pytest.fixture(scope="module")
def matchers(remote: SparqlEndpointStore, store: GraphStore) -> tuple[Matcher, Matcher]:
    """Built the way the CLI builds its matcher (``Matcher(get_store(spec), trial)``): on Oxigraph, embedded."""
    return Matcher(remote), Matcher(store)


@pytest.mark.parametrize("name", list(PROFILES))
def test_matching_gives_the_embedded_stores_verdicts(name: str, matchers: tuple[Matcher, Matcher]) -> None:
    on_server, embedded = matchers
    raw = PROFILES[name]()
    result = on_server.match(raw)
    assert result["trial"] == NCT
    assert result == embedded.match(raw)


def test_the_contract_example_is_ineligible_for_cohort_5_on_the_server(matchers: tuple[Matcher, Matcher]) -> None:
    """The example carries an ALK translocation in NSCLC, which the protocol excludes."""
    result = matchers[0].match(contract_example())
    assert [(c["cohort"], c["verdict"]) for c in result["cohorts"]] == [(5, "ineligible")]


def test_the_study_page_renders_identically(remote: SparqlEndpointStore, store: GraphStore) -> None:
    page = study_page(remote, NCT)
    assert "Cohort" in page and page == study_page(store, NCT)


def test_a_cohort_page_renders_identically(remote: SparqlEndpointStore, store: GraphStore) -> None:
    page = cohort_page(remote, NCT, 18)
    assert page.count('<tr class="threshold">') > 5
    assert page == cohort_page(store, NCT, 18)


def test_the_server_app_over_oxigraph_matches_and_answers_sparql(
    remote: SparqlEndpointStore, store: GraphStore, matchers: tuple[Matcher, Matcher]
) -> None:
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app

    with TestClient(create_app(remote)) as client:
        matched = client.post("/match", content=contract_example())
        assert matched.status_code == 200
        assert matched.json() == json.loads(json.dumps(matchers[1].match(contract_example())))
        answered = client.get("/sparql", params={"query": COHORT_NUMBERS},
                              headers={"Accept": "application/sparql-results+json"})
        assert answered.status_code == 200
        assert answered.json() == json.loads(store.query_serialized(COHORT_NUMBERS, "json")[1])


# ------------------------------------------------------------------ writes
def record_without_cohort(store: GraphStore, number: int) -> bytes:
    """The live record with one ``acse:hasCohort`` link removed, as N-Triples."""
    g = store.graph(study_graph_name(NCT))
    link = (rdflib.URIRef(study_iri(NCT)), ACSE.hasCohort, rdflib.URIRef(cohort_iri(NCT, number)))
    assert link in g
    g.remove(link)
    return g.serialize(format="nt", encoding="utf-8")


def test_replacing_a_graph_with_a_bad_file_leaves_the_server_unchanged(empty_oxigraph: OxigraphServer) -> None:
    remote = empty_oxigraph.open()
    before = (len(remote), graph_counts(remote))
    broken = (ROOT / "data" / f"{NCT}.ttl").read_text(encoding="utf-8") + "\n<urn:x:s> <urn:x:p> .\n"
    with pytest.raises(StoreError, match="cannot parse turtle"):
        remote.replace_graph(study_graph_name(NCT), broken, "turtle")
    assert (len(remote), graph_counts(remote)) == before


def test_a_replaced_graph_is_seen_by_the_next_query(empty_oxigraph: OxigraphServer) -> None:
    remote = empty_oxigraph.open()
    remote.replace_graph(study_graph_name(NCT), record_without_cohort(remote, 23), "ntriples")
    assert remote.select(STUDY_COHORTS).values("n") == [22]
    assert open_store(empty_oxigraph.query).select(STUDY_COHORTS).values("n") == [22]  # another client too


def test_a_graph_another_client_adds_joins_the_default_graph_within_the_list_ttl(
    empty_oxigraph: OxigraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = empty_oxigraph.open(), empty_oxigraph.open()
    marker = "ASK { <urn:x:s> <urn:x:p> <urn:x:o> }"
    assert not reader.ask(marker)  # the reader now holds the list of graphs
    writer.replace_graph("urn:x:graph", "<urn:x:s> <urn:x:p> <urn:x:o> .", "ntriples")
    monkeypatch.setattr(remote_module, "GRAPH_LIST_TTL", 0.0)
    assert reader.ask(marker)


def test_a_writer_holding_a_lock_longer_than_the_ttl_keeps_it(
    empty_oxigraph: OxigraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer alive but slow (here 3 s under a TTL of 1 s) keeps its write lock: its heartbeat
    refreshes its request, so a second writer on the same scope gets the lock only once the first
    released it. Before, the second took the first's request for a dead writer's after the TTL, and
    both held the lock."""
    monkeypatch.setattr(remote_module, "LOCK_TTL_S", 1.0)
    first, second = SparqlEndpointStore(empty_oxigraph.query), SparqlEndpointStore(empty_oxigraph.query)
    got_at: list[float] = []

    def take() -> None:
        with second._locked("urn:x:scope"):
            got_at.append(time.monotonic())

    waiter = threading.Thread(target=take)
    with first._locked("urn:x:scope"):
        waiter.start()
        time.sleep(3.0)
        released_at = time.monotonic()
    waiter.join(30)
    assert got_at and got_at[0] > released_at


def test_a_heartbeat_that_fails_is_logged_and_the_writer_goes_on(
    empty_oxigraph: OxigraphServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The engine unreachable for the heartbeat alone (its refreshes refused before they leave): the
    writer's block runs to its end, the failures are logged, and the release leaves no request behind."""
    monkeypatch.setattr(remote_module, "LOCK_TTL_S", 0.2)

    def refuse_heartbeats(request: httpx.Request) -> None:
        if b"DELETE {" in request.read() and b"INSERT {" in request.read():
            raise httpx.ConnectError("the engine is down")

    writer = SparqlEndpointStore(empty_oxigraph.query,
                                 client=httpx.Client(timeout=30, event_hooks={"request": [refuse_heartbeats]}))
    with caplog.at_level(logging.WARNING, logger="acse_kg.heartbeat"), writer._locked("urn:x:scope"):
        time.sleep(0.5)
    assert "the heartbeat of the write lock on <urn:x:scope> failed" in caplog.text
    assert writer._bookkeeping_values(remote_module.LOCK_GRAPH, "SELECT ?r WHERE { GRAPH ?g { ?s ?p ?r } }",
                                      {"g": rdflib.URIRef(remote_module.LOCK_GRAPH)}, "r") == []


def test_history_graphs_stay_out_of_the_default_graph(empty_oxigraph: OxigraphServer, fresh_store: GraphStore) -> None:
    remote = empty_oxigraph.open()
    for st in (remote, fresh_store):
        edit_study(st, NCT, record_without_cohort(st, 23), "ntriples", agent="test", note="drop cohort 23")
    archived = [g for g in remote.named_graphs() if g.startswith(HISTORY_PREFIX + NCT)]
    assert len(archived) == 1
    in_archive = f"SELECT (COUNT(?c) AS ?n) WHERE {{ GRAPH <{archived[0]}> {{ <{study_iri(NCT)}> acse:hasCohort ?c }} }}"
    assert remote.select(STUDY_COHORTS).values("n") == [22]
    assert remote.select(in_archive).values("n") == [23]
    assert [v.number for v in list_versions(remote, NCT)] == [v.number for v in list_versions(fresh_store, NCT)]


# ------------------------------------------------------------------ the command line
def acse_kg(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "acse_kg.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_queries_the_server(oxigraph_server: OxigraphServer, store: GraphStore) -> None:
    query = "queries/cohorts_open_to_children.rq"
    run = acse_kg("sparql", query, "--format", "csv", "--store", oxigraph_server.query)
    assert run.returncode == 0, run.stderr
    expected = store.query_serialized((ROOT / query).read_text(encoding="utf-8"), "csv")[1].decode("utf-8")
    assert run.stdout.splitlines() == expected.splitlines()
    assert len(run.stdout.splitlines()) > 1


def test_a_malformed_query_on_the_server_is_a_one_line_error(oxigraph_server: OxigraphServer) -> None:
    run = acse_kg("sparql", "SELECT * WHERE { ?s ", "--store", oxigraph_server.query)
    assert run.returncode == 2
    assert run.stderr.startswith("acse-kg: error: malformed query") and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1
