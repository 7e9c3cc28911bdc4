"""The endpoint's queries read the server's one store: no worker copy, nothing re-dumped on a write.

A request runs first in a forked process that can be stopped; once the very
same request finished quickly there, on the store as it is, it runs in a
thread. These tests hold the pool to both halves of that rule.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_fixtures import ADMIN_TOKEN, KASEI, runaway_query, w3c_store

from acse_kg.api.app import create_app
from acse_kg.api.query_pool import SNAPSHOT_PREFIX, QueryPool, QueryRequest, QueryTimeout, WorkerDied, execute
from acse_kg.api.settings import ServerSettings
from acse_kg.namespaces import PREFIXES
from acse_kg.store import HISTORY_PREFIX, OxigraphStore

ASK_DOCUMENT = f"ASK {{ <{KASEI}data1.rdf> a <http://xmlns.com/foaf/0.1/Document> }}"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _ask(client: TestClient, query: str) -> bool:
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def _boolean(pool: QueryPool, query: str) -> bool:
    _, body = pool.run(QueryRequest(query, "json", None))
    return json.loads(body)["boolean"]


@pytest.fixture()
def pool() -> Iterator[QueryPool]:
    with w3c_pool(size=2, timeout=10, quick_seconds=5.0) as pool:
        yield pool


def _no_dump(*args: object, **kwargs: object) -> bytes:
    raise AssertionError("the store was dumped for the query pool")


def test_a_write_beside_the_endpoint_of_the_same_size_is_seen_by_the_next_query() -> None:
    store = w3c_store()
    app = create_app(store, ServerSettings(query_workers=1))
    with TestClient(app) as client:
        assert _ask(client, ASK_DOCUMENT)
        # Same graph, same number of triples, different content.
        store.replace_graph(
            f"{KASEI}data1.rdf",
            f"<{KASEI}data1.rdf> <{RDF_TYPE}> <http://xmlns.com/foaf/0.1/Image> .",
            "ntriples",
        )
        assert not _ask(client, ASK_DOCUMENT)
        assert _ask(client, f"ASK {{ <{KASEI}data1.rdf> a <http://xmlns.com/foaf/0.1/Image> }}")


def test_an_update_through_the_endpoint_is_seen_by_the_next_query_without_a_dump(
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = w3c_store()
    monkeypatch.setattr(store, "dump", _no_dump)
    before = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(SNAPSHOT_PREFIX)}
    query = f"ASK {{ <{KASEI}new> a <http://xmlns.com/foaf/0.1/Image> }}"
    with TestClient(create_app(store, ServerSettings(query_workers=1, admin_token=ADMIN_TOKEN))) as client:
        assert not _ask(client, query)
        assert not _ask(client, query)  # now known quick: in a thread
        r = client.post("/sparql", content=f"INSERT DATA {{ GRAPH <{KASEI}data1.rdf> {{ <{KASEI}new> a "
                        "<http://xmlns.com/foaf/0.1/Image> } }",
                        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 204, r.text
        assert _ask(client, query)
    after = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(SNAPSHOT_PREFIX)}
    assert after <= before, "the pool wrote a snapshot of the store"


def test_a_request_runs_in_a_thread_only_after_it_proved_quick_on_the_same_store(pool: QueryPool) -> None:
    req = QueryRequest(ASK_DOCUMENT, "json", None)
    assert not pool.is_quick(req)
    assert _boolean(pool, ASK_DOCUMENT)  # in a process
    assert pool.is_quick(req)
    assert _boolean(pool, ASK_DOCUMENT)  # in a thread, same answer
    assert not pool.is_quick(QueryRequest(ASK_DOCUMENT, "xml", None)), "another format is another request"
    pool.store.replace_graph(f"{KASEI}data3.rdf", f"<{KASEI}x> <{RDF_TYPE}> <{KASEI}Y> .", "ntriples")
    assert not pool.is_quick(req), "after a write a request proves itself again"


@pytest.mark.parametrize("call", ["RAND()", "NOW()", "STRUUID()", "UUID()", "BNODE()"])
def test_a_query_whose_runs_may_differ_never_runs_in_a_thread(pool: QueryPool, call: str) -> None:
    """A quick run of a query calling RAND() says nothing of its next run (a guard can hide a bomb)."""
    query = f"SELECT ?x WHERE {{ BIND({call} AS ?x) }}"
    req = QueryRequest(query, "json", None)
    pool.run(req)
    pool.run(req)
    assert not pool.is_quick(req)


@contextmanager
def w3c_pool(**settings: Any) -> Iterator[QueryPool]:
    """A query pool over a store of the W3C protocol tests' data, closed with its store after the test."""
    store = w3c_store()
    pool = QueryPool(store, **settings)
    try:
        yield pool
    finally:
        pool.close()
        store.close()


def _threads_that_ran(pool: QueryPool, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread each :meth:`QueryPool._in_thread` call runs on, in order."""
    seen: list[int] = []
    run = pool._in_thread

    def recorded(req: QueryRequest) -> tuple[str, bytes]:
        seen.append(threading.get_ident())
        return run(req)

    monkeypatch.setattr(pool, "_in_thread", recorded)
    return seen


def test_a_tiny_quick_request_runs_on_the_event_loop_when_it_is_the_only_query_waiting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with w3c_pool(size=1, timeout=10, quick_seconds=5.0, inline_seconds=5.0) as pool:
        seen = _threads_that_ran(pool, monkeypatch)
        req = QueryRequest(ASK_DOCUMENT, "json", None)

        async def twice() -> int:
            await pool.run_async(req)  # in a process: not known yet
            assert seen == []
            _, body = await pool.run_async(req)
            assert json.loads(body)["boolean"]
            return threading.get_ident()
        assert seen == [asyncio.run(twice())]


def test_a_quick_request_goes_to_a_thread_while_another_query_is_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    with w3c_pool(size=1, timeout=10, quick_seconds=5.0, inline_seconds=5.0) as pool:
        seen = _threads_that_ran(pool, monkeypatch)
        req = QueryRequest(ASK_DOCUMENT, "json", None)
        other = QueryRequest(f"ASK {{ <{KASEI}data2.rdf> ?p ?o }}", "json", None)  # not known: in a process

        async def beside() -> int:
            await pool.run_async(req)
            waiting = asyncio.ensure_future(pool.run_async(other))
            await asyncio.sleep(0)  # it is waiting on its process now
            await pool.run_async(req)
            await waiting
            return threading.get_ident()
        loop_thread = asyncio.run(beside())
        assert len(seen) == 1 and seen[0] != loop_thread


def test_quick_requests_that_start_together_go_to_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight clients' requests, read in one turn of the loop, each look alone when they start:
    none may hold the loop for the others."""
    with w3c_pool(size=1, timeout=10, quick_seconds=5.0, inline_seconds=5.0) as pool:
        seen = _threads_that_ran(pool, monkeypatch)
        req = QueryRequest(ASK_DOCUMENT, "json", None)

        async def together() -> int:
            await pool.run_async(req)
            await asyncio.gather(*(pool.run_async(req) for _ in range(8)))
            return threading.get_ident()
        loop_thread = asyncio.run(together())
        assert len(seen) == 8 and loop_thread not in seen


def test_a_quick_request_longer_than_the_inline_time_goes_to_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    with w3c_pool(size=1, timeout=10, quick_seconds=5.0, inline_seconds=0.0) as pool:
        seen = _threads_that_ran(pool, monkeypatch)
        req = QueryRequest(ASK_DOCUMENT, "json", None)

        async def twice() -> int:
            await pool.run_async(req)
            await pool.run_async(req)
            return threading.get_ident()
        loop_thread = asyncio.run(twice())
        assert len(seen) == 1 and seen[0] != loop_thread


def test_a_quick_request_is_remembered_by_the_least_time_it_took(pool: QueryPool) -> None:
    req = QueryRequest(ASK_DOCUMENT, "json", None)
    _boolean(pool, ASK_DOCUMENT)  # in a process
    in_process = pool.quick_seconds_of(req)
    assert in_process is not None
    times = [in_process]
    for _ in range(5):
        _boolean(pool, ASK_DOCUMENT)  # in a thread
        seconds = pool.quick_seconds_of(req)
        assert seconds is not None and seconds <= times[-1]
        times.append(seconds)


def test_the_inline_time_is_never_above_the_quick_time() -> None:
    with w3c_pool(size=1, quick_seconds=0.01, inline_seconds=1.0) as pool:
        assert pool.inline_seconds == 0.01


def test_a_query_stopped_at_the_time_limit_never_runs_in_a_thread() -> None:
    with w3c_pool(size=1, timeout=1.0, quick_seconds=5.0) as pool:
        req = QueryRequest(runaway_query(), "json", None)
        for _ in range(2):
            with pytest.raises(QueryTimeout):
                pool.run(req)
            assert not pool.is_quick(req)


def test_a_slow_query_stays_in_a_process_even_when_it_finishes() -> None:
    with w3c_pool(size=1, timeout=30, quick_seconds=0.0) as pool:
        _boolean(pool, ASK_DOCUMENT)
        assert not pool.is_quick(QueryRequest(ASK_DOCUMENT, "json", None))


def test_queries_during_writes_see_each_write_whole(pool: QueryPool) -> None:
    """A writer replaces one graph again and again with 40 triples that all carry the write's number;
    every answer, in a forked process or as a thread runs it (:func:`execute` on the shared store),
    counts 40 triples of one number."""
    graph = f"{KASEI}moving"
    size = 40

    def content(n: int) -> str:
        return "".join(f'<{KASEI}s{i}> <{KASEI}version> "{n}" .\n' for i in range(size))

    pool.store.replace_graph(graph, content(0), "ntriples")
    query = (f"SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?v) AS ?versions) "
             f"WHERE {{ GRAPH <{graph}> {{ ?s <{KASEI}version> ?v }} }}")
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 2000:
            n += 1
            pool.store.replace_graph(graph, content(n), "ntriples")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        req = QueryRequest(query, "json", None)
        for _ in range(25):
            in_process = pool.run(req)[1]  # the store changes all the time: a process each time
            in_thread = execute(pool.store.engine, pool.store.default_graph_kwargs(), PREFIXES, req, 10**6)[1]
            for body in (in_process, in_thread):
                row = json.loads(body)["results"]["bindings"][0]
                assert (row["n"]["value"], row["versions"]["value"]) == (str(size), "1")
    finally:
        stop.set()
        thread.join(30)


def test_queries_run_over_the_union_default_graph_and_an_archived_version_stays_out_of_it() -> None:
    store = w3c_store()
    query = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"
    assert store.default_graph_kwargs() == {"use_default_graph_as_union": True}
    union = store.query_serialized(query, "json")
    store.replace_graph(HISTORY_PREFIX + "v1", f"<{KASEI}old> <{RDF_TYPE}> <{KASEI}Old> .", "ntriples")
    assert store.default_graph_kwargs() == {"use_default_graph_as_union": True}, "history is a dataset apart"
    assert store.query_serialized(query, "json") == union, "an archived version is not in the default graph"
    store.close()


def test_a_triple_an_update_puts_in_the_default_graph_is_live_like_any_other() -> None:
    store = OxigraphStore(None)
    store.replace_graph(f"{KASEI}g", f"<{KASEI}a> <{RDF_TYPE}> <{KASEI}B> .", "ntriples")
    store.update(f"INSERT DATA {{ <{KASEI}stray> <{RDF_TYPE}> <{KASEI}C> }}")
    _, body = store.query_serialized(f"ASK {{ <{KASEI}stray> ?p ?o }}", "json")
    assert json.loads(body)["boolean"] is True
    store.close()


def test_a_fork_the_system_refuses_is_a_dead_worker_and_leaves_no_descriptor_open(
        pool: QueryPool, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import acse_kg.api.query_pool as query_pool

    def refuse() -> int:
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))

    before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(query_pool.os, "fork", refuse)
    with pytest.raises(WorkerDied, match="no query process"):
        pool.run(QueryRequest(ASK_DOCUMENT, "json", None))
    assert len(os.listdir("/proc/self/fd")) == before
