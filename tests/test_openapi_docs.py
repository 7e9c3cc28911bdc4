"""The OpenAPI document speaks to a user: every operation is tagged and summarised, every POST has an example.

Summaries are written, not FastAPI's title-cased function names; the examples
are real requests this server answers (a profile for /match, a query for /sparql).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from acse_kg.api.app import create_app
from acse_kg.api.settings import ServerSettings
from acse_kg.store import GraphStore

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def app(store: GraphStore) -> Any:
    return create_app(store, ServerSettings(query_workers=1))


@pytest.fixture(scope="module")
def operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    spec = TestClient(app).get("/openapi.json").json()
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()
            if method in METHODS]


def _examples(op: dict[str, Any]) -> list[Any]:
    content = op.get("requestBody", {}).get("content", {})
    found = []
    for media in content.values():
        if "example" in media:
            found.append(media["example"])
        found += [e.get("value") for e in media.get("examples", {}).values()]
    return found


def test_every_operation_has_tags_and_a_summary(operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    missing = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("tags") or not op.get("summary")]
    assert operations and missing == []


def test_every_summary_is_written_for_a_user_not_generated_from_the_function_name(app: Any) -> None:
    generated = [f"{sorted(r.methods)} {r.path}" for r in app.routes
                 if isinstance(r, APIRoute) and r.include_in_schema and not r.summary]
    assert generated == []


#: POST operations that take no body (the request is the action).
BODILESS = {"/admin/compact"}


def test_every_post_operation_has_an_example_body(operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    missing = [p for m, p, op in operations if m == "post" and p not in BODILESS and not _examples(op)]
    assert missing == []


def test_a_bodiless_post_declares_no_body(operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    assert [p for m, p, op in operations if m == "post" and p in BODILESS and "requestBody" in op] == []


def test_the_match_example_is_a_profile_the_server_matches(app: Any,
                                                           operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    op = next(op for m, p, op in operations if (m, p) == ("post", "/match"))
    profile = _examples(op)[0]
    r = TestClient(app).post("/match", json=profile)
    assert r.status_code == 200, r.text
    assert r.json()["cohorts"][0]["cohort"] == 5  # NSCLC, MET amplified: the example finds its cohort first


def test_the_sparql_example_is_a_query_the_endpoint_answers(app: Any,
                                                            operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    op = next(op for m, p, op in operations if (m, p) == ("post", "/sparql"))
    query = op["requestBody"]["content"]["application/sparql-query"]["example"]
    get = next(op for m, p, op in operations if (m, p) == ("get", "/sparql"))
    assert query in next(p for p in get["parameters"] if p["name"] == "query")["schema"].get("examples", [query])
    with TestClient(app) as client:  # the lifespan starts the query pool
        r = client.post("/sparql", content=query, headers={"Content-Type": "application/sparql-query",
                                                            "Accept": "application/sparql-results+json"})
    assert r.status_code == 200 and len(r.json()["results"]["bindings"]) > 0


def test_sparql_is_documented_though_a_lean_route_answers_it(
        operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    """GET and POST /sparql are served by a plain route ahead of the documented ones (no FastAPI
    validation per request); the document still shows both, with the GET's parameters."""
    documented = {(m, p): op for m, p, op in operations if p == "/sparql"}
    assert set(documented) == {("get", "/sparql"), ("post", "/sparql")}
    assert {"query", "format", "default-graph-uri", "named-graph-uri"} <= {
        p["name"] for p in documented[("get", "/sparql")]["parameters"]}
