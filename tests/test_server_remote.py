"""SparqlEndpointStore: the store interface over a real SPARQL endpoint (our server, on loopback)."""

from __future__ import annotations

import json
import time

import pytest
import rdflib
import rdflib.compare
from server_fixtures import ADMIN_TOKEN, KASEI, LiveServer

from acse_kg.namespaces import ACSE, BASE, study_iri
from acse_kg.remote import SparqlEndpointStore
from acse_kg.store import QuerySyntaxError, StoreError, open_store

#: The live servers are session fixtures shared by all server test modules (one of each per run).
NCT = "NCT02034981"
COHORTS = "SELECT ?c ?n WHERE { ?c a acse:Cohort ; acse:cohortNumber ?n } ORDER BY ?n"


@pytest.fixture(scope="module")
def remote(bundle_server: LiveServer) -> SparqlEndpointStore:
    store = open_store(bundle_server.sparql)
    assert isinstance(store, SparqlEndpointStore)
    return store  # type: ignore[return-value]


def test_select_gives_the_same_rows_as_the_embedded_store(remote: SparqlEndpointStore, bundle_server: LiveServer) -> None:
    assert remote.select(COHORTS).rows == bundle_server.store.select(COHORTS).rows


def test_ask_and_construct(remote: SparqlEndpointStore, bundle_server: LiveServer) -> None:
    assert remote.ask(f"ASK {{ <{study_iri(NCT)}> a acse:BasketTrial }}")
    q = f"CONSTRUCT {{ <{study_iri(NCT)}> ?p ?o }} WHERE {{ <{study_iri(NCT)}> ?p ?o }}"
    assert rdflib.compare.isomorphic(remote.construct(q), bundle_server.store.construct(q))


def test_query_serialized_in_the_asked_format(remote: SparqlEndpointStore) -> None:
    kind, body = remote.query_serialized(COHORTS, "json")
    assert kind == "bindings" and len(json.loads(body)["results"]["bindings"]) == 23
    kind, body = remote.query_serialized(f"DESCRIBE <{study_iri(NCT)}>", "turtle")
    assert kind == "graph"
    assert (rdflib.URIRef(study_iri(NCT)), rdflib.RDF.type, ACSE.BasketTrial) in rdflib.Graph().parse(
        data=body, format="turtle"
    )


def test_graphs_length_and_dump_match_the_embedded_store(remote: SparqlEndpointStore, bundle_server: LiveServer) -> None:
    local = bundle_server.store
    assert remote.named_graphs() == local.named_graphs()
    assert len(remote) == len(local)
    onto = BASE + "id/graph/ontology"
    assert len(remote.graph(onto)) == len(local.graph(onto))
    dumped = rdflib.Graph().parse(data=remote.dump("ntriples", include_history=False), format="nt")
    assert len(dumped) == len(rdflib.Graph().parse(data=local.dump("ntriples", include_history=False), format="nt"))


def test_a_malformed_query_raises_the_endpoints_parser_message(remote: SparqlEndpointStore) -> None:
    with pytest.raises(QuerySyntaxError, match="malformed query"):
        remote.select("SELECT * WHERE { ?s ")


def test_writes_to_a_read_only_endpoint_fail_with_its_reason(remote: SparqlEndpointStore) -> None:
    with pytest.raises(StoreError, match=r"403.*read-only"):
        remote.drop_graph(BASE + "id/graph/ontology")


def test_replace_and_drop_a_graph_with_the_admin_token(admin_server: LiveServer) -> None:
    store = SparqlEndpointStore(admin_server.sparql, token=ADMIN_TOKEN)
    graph = "http://example.org/graph/replaced"
    store.replace_graph(graph, "<http://example.org/a> <http://example.org/p> \"1\" .", "ntriples")
    store.replace_graph(graph, "<http://example.org/b> <http://example.org/p> \"2\" .", "ntriples")
    g = store.graph(graph)
    assert set(g.subjects()) == {rdflib.URIRef("http://example.org/b")}
    assert graph in store.named_graphs()
    store.drop_graph(graph)
    assert graph not in store.named_graphs()
    assert f"{KASEI}data1.rdf" in store.named_graphs()


def test_a_bad_file_changes_nothing(admin_server: LiveServer) -> None:
    store = SparqlEndpointStore(admin_server.sparql, token=ADMIN_TOKEN)
    before = len(store)
    with pytest.raises(StoreError, match="cannot parse"):
        store.replace_graph(f"{KASEI}data1.rdf", "<a> <b> .", "ntriples")
    assert len(store) == before


def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    from server_fixtures import free_port

    store = SparqlEndpointStore(f"http://127.0.0.1:{free_port()}/sparql", timeout=2)
    with pytest.raises(StoreError, match="cannot reach"):
        store.select("SELECT * WHERE { ?s ?p ?o }")


def test_the_app_serves_a_remote_store_and_stops_waiting_at_its_time_limit(w3c_server: LiveServer) -> None:
    from fastapi.testclient import TestClient
    from server_fixtures import runaway_query

    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings

    # 2 s: the first query through the app (its start-up reads, the engine's fork for a query it has not
    # seen) took over 1 s on a loaded machine, and the test is of the limit, not of a quick answer.
    app = create_app(SparqlEndpointStore(w3c_server.sparql), ServerSettings(query_timeout=2.0))
    with TestClient(app) as client:
        ok = client.get("/sparql", params={"query": f"ASK {{ <{KASEI}data1.rdf> a ?t }}"})
        assert ok.status_code == 200 and ok.json()["boolean"] is True
        t0 = time.monotonic()
        slow = client.get("/sparql", params={"query": runaway_query()})
        assert slow.status_code == 503 and "time limit" in slow.text
        assert time.monotonic() - t0 < 3.5
