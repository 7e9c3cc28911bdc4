"""The query workers answer from a snapshot of the store that follows every write."""

from __future__ import annotations

from fastapi.testclient import TestClient
from server_fixtures import KASEI, w3c_store

from acse_kg.api.app import create_app
from acse_kg.api.settings import ServerSettings

ASK_DOCUMENT = f"ASK {{ <{KASEI}data1.rdf> a <http://xmlns.com/foaf/0.1/Document> }}"


def _ask(client: TestClient, query: str) -> bool:
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def test_a_write_beside_the_endpoint_of_the_same_size_is_seen_by_the_next_query() -> None:
    store = w3c_store()
    app = create_app(store, ServerSettings(query_workers=1))
    with TestClient(app) as client:
        assert _ask(client, ASK_DOCUMENT)
        # Same graph, same number of triples, different content: the store's write counter tells.
        store.replace_graph(
            f"{KASEI}data1.rdf",
            f"<{KASEI}data1.rdf> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://xmlns.com/foaf/0.1/Image> .",
            "ntriples",
        )
        assert not _ask(client, ASK_DOCUMENT)
        assert _ask(client, f"ASK {{ <{KASEI}data1.rdf> a <http://xmlns.com/foaf/0.1/Image> }}")
