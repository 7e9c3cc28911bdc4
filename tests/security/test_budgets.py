"""Every public request has a budget: body, headers, nesting, memory, concurrency, time, the reasoner.

Each test is an attack from issue 13 replayed on loopback against a real
uvicorn server (or the query pool itself), with bounded loops and time limits.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import require, tool
from hypothesis import given, settings
from hypothesis import strategies as st
from server_fixtures import ADMIN_TOKEN, KASEI, LiveServer, runaway_query, start_server, w3c_store

from acse_kg import sparql_safety
from acse_kg.api.query_pool import QueryPool, QueryRequest, WorkerDied
from acse_kg.api.settings import ServerSettings
from acse_kg.sparql_safety import MAX_NESTING, QueryTooDeep, analyse, check_nesting

ASK = f"ASK {{ <{KASEI}data1.rdf> a ?t }}"


def doubling_query(levels: int) -> str:
    """A short query whose string doubles at each BIND: 10 * 2**levels characters at the end
    (the issue's 600-byte query that made one worker allocate gigabytes)."""
    binds = " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(levels))
    return f'SELECT (STRLEN(?x{levels}) AS ?n) WHERE {{ BIND("0123456789" AS ?x0) {binds} }}'


def nested(depth: int, pair: str = "{}") -> str:
    return "ASK " + pair[0] * depth + pair[1] * depth


@pytest.fixture
def server_with(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    live = start_server(w3c_store(), ServerSettings(**request.param))
    yield live
    live.stop()


# ---------------------------------------------------------------- body and headers
def test_a_sparql_body_over_its_limit_is_refused_with_413_before_it_is_read(w3c_server: LiveServer) -> None:
    body = ASK + " #" + "x" * 300_000  # a valid query, padded past the 256 kB default
    r = httpx.post(w3c_server.sparql, content=body, headers={"Content-Type": "application/sparql-query"}, timeout=30)
    assert r.status_code == 413
    assert "larger than 262144 bytes" in r.text


def test_a_chunked_body_is_cut_off_as_soon_as_it_crosses_the_limit(w3c_server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield ASK.encode() + b" #"
        for _ in range(40):  # 40 x 64 KB: 2.6 MB, past the limit without a Content-Length to tell
            yield b"x" * 65_536

    r = httpx.post(w3c_server.sparql, content=chunks(), headers={"Content-Type": "application/sparql-query"},
                   timeout=30)
    assert r.status_code == 413


def test_a_match_body_over_its_limit_is_refused_with_413(w3c_server: LiveServer) -> None:
    body = b'{"id": "p", "padding": "' + b"x" * 1_100_000 + b'"}'
    r = httpx.post(w3c_server.url + "/match", content=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413
    assert r.json()["status"] == 413 and "/match" in r.json()["detail"]


@pytest.mark.parametrize(("route", "size"), [("/match/trials", 1_100_000), ("/match/form", 1_100_000),
                                             ("/match/trials/batch", 20_100_000)])
def test_the_cross_trial_and_form_match_routes_have_their_body_limits(w3c_server: LiveServer, route: str,
                                                                      size: int) -> None:
    body = b'{"id": "p", "padding": "' + b"x" * size + b'"}'
    r = httpx.post(w3c_server.url + route, content=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and route in r.text


def test_a_body_on_a_route_that_takes_none_is_bounded_too(w3c_server: LiveServer) -> None:
    r = httpx.request("GET", w3c_server.url + "/ontology", content=b"x" * 200_000, timeout=30)
    assert r.status_code == 413


def test_a_request_head_over_the_header_limit_gets_431_quickly(w3c_server: LiveServer) -> None:
    host, port = w3c_server.url.removeprefix("http://").split(":")
    t0 = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n")
        reply = b""
        try:
            for _ in range(64):  # 64 x 16 KB = 1 MB of header, far past the 64 KB default
                sock.sendall(b"X-Padding: " + b"a" * 16_384 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection on us: the answer is already waiting
        with contextlib.suppress(ConnectionResetError):
            reply = sock.recv(200)
    assert reply.startswith(b"HTTP/1.1 431"), reply
    assert time.monotonic() - t0 < 5


# ---------------------------------------------------------------- the analysis cache
@pytest.mark.parametrize("unit", ['"\\', "a.", "a-", "'", "'''a", "<a.", "a.b:c.d-e "])
def test_the_safety_lexer_is_linear_on_pathological_input(unit: str) -> None:
    """Each of these took quadratic time (a 16 kB body of the first: 2.6 s of the main process)."""
    text = unit * (200_000 // len(unit))
    t0 = time.monotonic()
    with contextlib.suppress(sparql_safety.RefusedQuery):
        analyse(text)
    assert time.monotonic() - t0 < 3


def test_an_unclosed_string_is_a_malformed_query(w3c_server: LiveServer) -> None:
    r = httpx.get(w3c_server.sparql, params={"query": 'ASK { ?s ?p "open }'}, timeout=30)
    assert r.status_code == 400 and "not closed" in r.text


def test_the_analysis_cache_holds_no_query_text() -> None:
    sparql_safety.cache_clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(8):  # 8 distinct 500 kB queries: 4 MB if the cache kept their text
            analyse(f"ASK {{}} # {i} " + "x" * 500_000)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert sparql_safety.cache_len() == 8
    assert kept < 200_000, f"the cache kept {kept} bytes for 8 analyses"


def test_the_analysis_cache_is_bounded_in_entries() -> None:
    sparql_safety.cache_clear()
    for i in range(sparql_safety.CACHE_SIZE + 50):
        analyse(f"ASK {{ }} # {i}")
    assert sparql_safety.cache_len() == sparql_safety.CACHE_SIZE


# ---------------------------------------------------------------- nesting
@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 3 * MAX_NESTING), pair=st.sampled_from(["{}", "()", "[]"]))
def test_nesting_deeper_than_the_limit_is_refused_and_shallower_is_not(depth: int, pair: str) -> None:
    query = nested(depth, pair)
    if depth > MAX_NESTING:
        with pytest.raises(QueryTooDeep, match=f"more than {MAX_NESTING} levels"):
            check_nesting(query)
    else:
        check_nesting(query)


def test_brackets_in_strings_iris_and_comments_do_not_count() -> None:
    deep = "{" * 5000
    check_nesting(f'ASK {{ ?s ?p "{deep}" }} # {deep}\n')


@pytest.mark.parametrize("depth", [4000, 100_000])
def test_a_deeply_nested_query_is_a_400_and_the_worker_lives_on(w3c_server: LiveServer, depth: int) -> None:
    r = httpx.post(w3c_server.sparql, content=nested(depth), timeout=30,
                   headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 400
    assert "levels deep" in r.text
    assert httpx.get(w3c_server.sparql, params={"query": ASK}, timeout=30).json()["boolean"] is True


def test_a_deeply_nested_update_with_the_token_is_a_400_and_the_server_lives_on(admin_server: LiveServer) -> None:
    update = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/s> <http://example.org/p> " \
             + "(" * 5000 + ")" * 5000 + " } }"
    r = httpx.post(admin_server.sparql, content=update, timeout=30,
                   headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 400
    assert "levels deep" in r.text
    assert httpx.get(admin_server.sparql, params={"query": "ASK {}"}, timeout=30).status_code == 200


# ---------------------------------------------------------------- worker memory
def test_a_query_past_the_worker_memory_limit_ends_its_worker_not_the_pool() -> None:
    store = w3c_store()
    pool = QueryPool(store, size=1, timeout=30, memory=400 << 20)
    try:
        pool.start()
        with pytest.raises(WorkerDied):
            pool.run(QueryRequest(doubling_query(27), "json", None))  # 1.3 GB of string
        deadline = time.monotonic() + 30
        while True:  # a fresh worker takes the dead one's place
            try:
                _kind, body = pool.run(QueryRequest("ASK {}", "json", None))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert b"true" in body
    finally:
        pool.close()
        store.close()


@pytest.mark.parametrize("server_with", [{"worker_memory_bytes": 400 << 20, "query_timeout": 30,
                                          "queries_per_client": 0}], indirect=True)
def test_a_worker_that_dies_answers_5xx_not_400(server_with: LiveServer) -> None:
    t0 = time.monotonic()
    r = httpx.get(server_with.sparql, params={"query": doubling_query(27)}, timeout=60)
    assert r.status_code == 503, r.text
    assert "worker ended" in r.text
    assert time.monotonic() - t0 < 25  # it ran out of memory, not of time


# ---------------------------------------------------------------- per client, disconnects
@pytest.mark.parametrize("server_with", [{"query_workers": 2, "queries_per_client": 1, "query_timeout": 3}],
                         indirect=True)
def test_a_client_over_its_concurrency_limit_gets_429_with_retry_after(server_with: LiveServer) -> None:
    outcome: dict[str, int] = {}

    def runaway() -> None:
        outcome["status"] = httpx.get(server_with.sparql, params={"query": runaway_query()}, timeout=30).status_code

    thread = threading.Thread(target=runaway)
    thread.start()
    try:
        time.sleep(0.5)  # the runaway holds this client's one slot
        r = httpx.get(server_with.sparql, params={"query": ASK}, timeout=30)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
    finally:
        thread.join(30)
    assert outcome["status"] == 503
    assert httpx.get(server_with.sparql, params={"query": ASK}, timeout=30).status_code == 200  # slot released


@pytest.mark.parametrize("server_with", [{"query_workers": 1, "queries_per_client": 0, "query_timeout": 30}],
                         indirect=True)
def test_a_query_whose_client_went_away_frees_its_worker(server_with: LiveServer) -> None:
    host, port = server_with.url.removeprefix("http://").split(":")
    path = "/sparql?" + httpx.QueryParams({"query": runaway_query()}).__str__()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: application/sparql-results+json\r\n\r\n".encode())
        time.sleep(0.5)  # the runaway now holds the only worker, for up to 30 s
    t0 = time.monotonic()
    r = httpx.get(server_with.sparql, params={"query": ASK}, timeout=15)  # a fresh worker starts in ~2 s
    assert r.status_code == 200
    assert time.monotonic() - t0 < 12


# ---------------------------------------------------------------- the reasoner
@pytest.fixture(scope="module")
def reasoner_app(store):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app

    with TestClient(create_app(store, ServerSettings(admin_token=ADMIN_TOKEN, query_workers=1))) as client:
        yield client


def test_the_reasoner_is_refused_without_the_admin_token(reasoner_app) -> None:  # type: ignore[no-untyped-def]
    r = reasoner_app.get("/study/NCT02034981/check", params={"reason": "true"})
    assert r.status_code == 401
    assert "admin token" in r.json()["detail"]


def test_the_reasoner_is_refused_on_a_server_without_a_token(store) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app

    with TestClient(create_app(store, ServerSettings(query_workers=1))) as client:
        r = client.get("/study/NCT02034981/check", params={"reason": "true"})
    assert r.status_code == 403


def test_the_reasoner_runs_once_per_store_version(reasoner_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from acse_kg import reasoning

    require(tool("java") is not None, "Java (for HermiT)")
    calls = []
    real = reasoning.reason_ntriples

    def counted(data: bytes):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(reasoning, "reason_ntriples", counted)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    first = reasoner_app.get("/study/NCT02034981/check", params={"reason": "true"}, headers=auth)
    second = reasoner_app.get("/study/NCT02034981/check", params={"reason": "true"}, headers=auth)
    assert first.status_code == second.status_code == 200, first.text
    assert first.json() == second.json()
    assert len(calls) == 1


# ---------------------------------------------------------------- the ClinicalTrials.gov list query
@pytest.mark.parametrize("cond", ["(" * 500 + "lung" + ")" * 500, "NOT " * 2000 + "lung"])
def test_deeply_nested_essie_is_a_400_naming_the_parameter(bundle_server: LiveServer, cond: str) -> None:
    r = httpx.get(bundle_server.url + "/api/v2/studies", params={"query.cond": cond}, timeout=30)
    assert r.status_code == 400
    assert "query.cond" in r.text and "nests deeper" in r.text


@pytest.fixture(scope="module")
def bundle_server_one_second() -> Iterator[LiveServer]:
    from acse_kg.store import open_store

    live = start_server(open_store("memory"), ServerSettings(query_workers=2, query_timeout=1.0, queries_per_client=0))
    yield live
    live.stop()


def test_a_list_search_of_thousands_of_terms_is_refused_before_it_runs(
        bundle_server_one_second: LiveServer) -> None:
    """A 26 kB query.cond of 2,500 OR-ed terms burned 51 s of CPU: now a term budget refuses it at once
    (400 naming the parameter), and other searches are answered meanwhile. A search that runs too long
    is stopped at the query time limit (tests/test_search_index.py)."""
    cond = " OR ".join(f"zzterm{i}" for i in range(2500))
    t0 = time.monotonic()
    r = httpx.get(bundle_server_one_second.url + "/api/v2/studies", params={"query.cond": cond}, timeout=120)
    assert r.status_code == 400 and "query.cond" in r.text and "terms" in r.text
    assert time.monotonic() - t0 < 10
    quick = httpx.get(bundle_server_one_second.url + "/api/v2/studies", params={"query.cond": "cancer"}, timeout=30)
    assert quick.status_code == 200


def test_a_list_search_through_the_pool_gives_the_same_studies(bundle_server: LiveServer) -> None:
    r = httpx.get(bundle_server.url + "/api/v2/studies", params={"query.cond": "(cancer OR zzz) AND NOT zzz",
                                                                 "fields": "NCTId"}, timeout=30)
    assert r.status_code == 200
    assert [s["protocolSection"]["identificationModule"]["nctId"] for s in r.json()["studies"]] == ["NCT02034981"]


# ---------------------------------------------------------------- snapshots
def test_the_snapshot_of_a_killed_server_is_removed_by_the_next_pool(tmp_path: Path) -> None:
    import subprocess
    import sys

    from acse_kg.api.query_pool import SNAPSHOT_PREFIX, sweep_stale_snapshots

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    stale = tmp_path / f"{SNAPSHOT_PREFIX}{dead.pid}-abc"
    stale.mkdir()
    (stale / "snapshot-1.nq").write_bytes(b"<a> <b> <c> <d> .\n")
    live = tmp_path / f"{SNAPSHOT_PREFIX}{os.getpid()}-def"
    live.mkdir()
    other = tmp_path / "acse-kg-pool-notes"
    other.mkdir()
    assert sweep_stale_snapshots(str(tmp_path)) == [str(stale)]
    assert not stale.exists() and live.exists() and other.exists()
