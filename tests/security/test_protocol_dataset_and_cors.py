"""The whole SPARQL 1.1 Protocol, safely: protocol datasets never fetched, USING written in, CORS on /sparql.

(The W3C manifest itself, 34 of 34, is tests/test_server_protocol.py.)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pyoxigraph as ox
import pytest
from server_fixtures import ADMIN_TOKEN, KASEI, LiveServer, start_server, w3c_store

from acse_kg.api.settings import ServerSettings
from acse_kg.sparql_safety import DatasetConflict, with_using

UPDATE = {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A loopback port that records whether anyone connected to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.setblocking(False)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/graph.ttl", sock
    sock.close()


def _nobody_connected(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return True
    return False


@pytest.mark.parametrize("param", ["default-graph-uri", "named-graph-uri"])
def test_a_protocol_graph_not_in_the_store_is_an_empty_graph_never_fetched(
        w3c_server: LiveServer, listener: tuple[str, socket.socket], param: str) -> None:
    url, sock = listener
    query = "ASK { ?s ?p ?o }" if param == "default-graph-uri" else "ASK { GRAPH ?g { ?s ?p ?o } }"
    r = httpx.get(w3c_server.sparql, params={"query": query, param: url}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["boolean"] is False
    assert _nobody_connected(sock)


def test_from_a_graph_not_in_the_store_is_still_refused(w3c_server: LiveServer, listener: tuple[str, socket.socket]) -> None:
    url, sock = listener
    r = httpx.get(w3c_server.sparql, params={"query": f"ASK FROM <{url}> {{ ?s ?p ?o }}"}, timeout=30)
    assert r.status_code == 403 and "not in the store" in r.text
    assert _nobody_connected(sock)


def test_service_and_load_are_still_refused(admin_server: LiveServer, listener: tuple[str, socket.socket]) -> None:
    url, sock = listener
    r = httpx.get(admin_server.sparql, params={"query": f"ASK {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"}, timeout=30)
    assert r.status_code == 403
    r = httpx.post(admin_server.sparql, content=f"LOAD <{url}>", headers=UPDATE, timeout=30)
    assert r.status_code == 403
    assert _nobody_connected(sock)


# ---------------------------------------------------------------- USING from the protocol
@pytest.fixture
def writable() -> Iterator[LiveServer]:
    live = start_server(w3c_store(), ServerSettings(admin_token=ADMIN_TOKEN, query_workers=1))
    yield live
    live.stop()


def test_using_graph_uri_is_the_dataset_of_the_where_pattern(writable: LiveServer) -> None:
    update = "INSERT { GRAPH <http://example.org/out> { ?s a <http://example.org/Seen> } } WHERE { ?s ?p ?o }"
    r = httpx.post(writable.sparql, params={"using-graph-uri": f"{KASEI}data2.rdf"}, content=update,
                   headers=UPDATE, timeout=30)
    assert r.status_code == 204, r.text
    seen = httpx.get(writable.sparql, timeout=30, params={
        "query": "SELECT DISTINCT ?s WHERE { GRAPH <http://example.org/out> { ?s a ?t } } ORDER BY ?s"})
    subjects = {b["s"]["value"] for b in seen.json()["results"]["bindings"]}
    in_data2 = httpx.get(writable.sparql, timeout=30, params={
        "query": f"SELECT DISTINCT ?s WHERE {{ GRAPH <{KASEI}data2.rdf> {{ ?s ?p ?o }} }}"})
    assert subjects == {b["s"]["value"] for b in in_data2.json()["results"]["bindings"]}


def test_a_using_graph_uri_that_could_close_its_brackets_is_refused(writable: LiveServer) -> None:
    update = "INSERT { GRAPH <http://example.org/out> { ?s ?p ?o } } WHERE { ?s ?p ?o }"
    r = httpx.post(writable.sparql, params={"using-graph-uri": "http://x/> WHERE {} ; DROP ALL ; INSERT {} USING <x"},
                   content=update, headers=UPDATE, timeout=30)
    assert r.status_code == 400
    assert httpx.get(writable.sparql, params={"query": "ASK { GRAPH ?g { ?s ?p ?o } }"}, timeout=30).json()["boolean"]


def test_a_relative_iri_in_an_update_resolves_against_the_endpoint(writable: LiveServer) -> None:
    r = httpx.post(writable.sparql, content="INSERT DATA { GRAPH <http://example.org/b> { <s> <p> <o> } }",
                   headers=UPDATE, timeout=30)
    assert r.status_code == 204, r.text
    r = httpx.get(writable.sparql, timeout=30,
                  params={"query": "SELECT ?s WHERE { GRAPH <http://example.org/b> { ?s ?p ?o } }"})
    assert r.json()["results"]["bindings"][0]["s"]["value"] == "https://w3id.org/acse-kg/s"


@pytest.mark.parametrize("update", [
    "WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "DELETE { ?s ?p ?o } USING <http://g> WHERE { ?s ?p ?o }",
    "insert { ?s ?p ?o } using named <http://g> where { ?s ?p ?o }",
])
def test_using_parameters_with_an_update_that_names_its_own_dataset_conflict(update: str) -> None:
    with pytest.raises(DatasetConflict):
        with_using(update, ["http://d"])


@pytest.mark.parametrize("update, expected", [
    ("INSERT { ?s a <T> } WHERE { ?s ?p ?o }", "INSERT { ?s a <T> } USING <http://d> WHERE { ?s ?p ?o }"),
    ("DELETE WHERE { ?s ?p ?o }", "DELETE { ?s ?p ?o } USING <http://d> WHERE { ?s ?p ?o }"),
    ("INSERT DATA { <a> <b> <c> } ; DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o FILTER(?o = 'WHERE') }",
     "INSERT DATA { <a> <b> <c> } ; DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } USING <http://d> WHERE "
     "{ ?s ?p ?o FILTER(?o = 'WHERE') }"),
    ("CLEAR ALL", "CLEAR ALL"),
])
def test_using_parameters_are_written_into_each_operation_with_a_pattern(update: str, expected: str) -> None:
    rewritten = with_using(update, ["http://d"])
    assert rewritten == expected
    ox.Store().update(rewritten, base_iri="http://base/")  # and it is a valid update


# ---------------------------------------------------------------- CORS
def test_a_cors_preflight_for_a_post_query_is_allowed(w3c_server: LiveServer) -> None:
    r = httpx.options(w3c_server.sparql, timeout=30, headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert "content-type" in r.headers["access-control-allow-headers"].lower()


def test_options_without_cors_lists_the_methods(w3c_server: LiveServer) -> None:
    r = httpx.options(w3c_server.sparql, timeout=30)
    assert r.status_code == 204
    assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in r.headers["allow"].split(",")}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_cross_origin_query_answer_carries_the_allow_origin_header(w3c_server: LiveServer, method: str) -> None:
    kw = ({"params": {"query": "ASK {}"}} if method == "GET"
          else {"content": "ASK {}", "headers": {"Content-Type": "application/sparql-query"}})
    headers = {"Origin": "https://elsewhere.example", **kw.pop("headers", {})}  # type: ignore[dict-item]
    r = httpx.request(method, w3c_server.sparql, headers=headers, timeout=30, **kw)  # type: ignore[arg-type]
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.fixture
def one_origin() -> Iterator[LiveServer]:
    live = start_server(w3c_store(), ServerSettings(query_workers=1, cors_origins=["https://registry.example"]))
    yield live
    live.stop()


def test_cors_follows_the_configured_origins(one_origin: LiveServer) -> None:
    ok = httpx.get(one_origin.sparql, params={"query": "ASK {}"}, headers={"Origin": "https://registry.example"})
    assert ok.headers["access-control-allow-origin"] == "https://registry.example"
    assert "origin" in ok.headers["vary"].lower()
    other = httpx.get(one_origin.sparql, params={"query": "ASK {}"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    pre = httpx.options(one_origin.sparql, headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_cors_is_only_on_the_sparql_endpoint(w3c_server: LiveServer) -> None:
    r = httpx.get(w3c_server.url + "/ontology", headers={"Origin": "https://elsewhere.example"}, timeout=30)
    assert "access-control-allow-origin" not in r.headers
