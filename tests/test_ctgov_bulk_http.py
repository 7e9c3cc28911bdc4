"""``POST /api/v2/studies/bulk``: the bulk import over HTTP, against a real server on loopback.

A registry operator with the admin token streams JSON Lines (or a zip) of API
v2 records and reads back JSON Lines: progress, each refused record with its
line and JSON path, and the totals. The same body again writes nothing.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from rdflib import URIRef

from acse_kg.api import bulk
from acse_kg.api.settings import ServerSettings
from acse_kg.ctgov.generate import generate_records, nct_id
from acse_kg.loader import study_graph_name
from acse_kg.store import open_store
from tests.server_fixtures import ADMIN_TOKEN, LiveServer, start_server

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSONL = {"Content-Type": "application/x-ndjson"}
URL = "/api/v2/studies/bulk"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """A server of its own (it is written to), mapping in its own process to spare the test machine."""
    live = start_server(open_store("memory"), ServerSettings(admin_token=ADMIN_TOKEN, query_workers=1,
                                                             bulk_jobs=0, max_bulk_body=2_000_000))
    yield live
    live.stop()


def jsonl(start: int, n: int, seed: int = 0) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in generate_records(n, seed, start=start))


def post(server: LiveServer, body: bytes, headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
    return httpx.post(server.url + URL, content=body, headers={**AUTH, **JSONL, **(headers or {})},
                      params=params, timeout=120)


def events(response: httpx.Response) -> list[dict]:
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def has_study(server: LiveServer, i: int) -> bool:
    return server.store.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": URIRef(study_graph_name(nct_id(i)))})


def test_records_streamed_in_are_imported_and_the_totals_come_last(server):
    response = post(server, jsonl(1000, 25))
    assert response.status_code == 200
    lines = events(response)
    assert lines[-1]["event"] == "done"
    assert (lines[-1]["read"], lines[-1]["new"], lines[-1]["refusedRecords"]) == (25, 25, 0)
    assert all(has_study(server, i) for i in range(1000, 1025))


def test_the_same_body_again_writes_nothing(server):
    body = jsonl(2000, 10)
    post(server, body)
    again = events(post(server, body))[-1]
    assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, 10)


def test_a_bad_record_is_refused_with_its_line_and_json_path_and_the_rest_goes_in(server):
    records = list(generate_records(3, 0, start=3000))
    del records[1]["protocolSection"]["identificationModule"]["nctId"]
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    lines = events(post(server, body))
    refused = [e for e in lines if e["event"] == "refused"]
    assert refused and {e["where"] for e in refused} == {"body:2"}
    assert any("nctId" in e["path"] or "nctId" in e["message"] for e in refused)
    assert lines[-1]["new"] == 2 and has_study(server, 3000) and has_study(server, 3002)


def test_a_zip_of_records_is_a_bulk_body_too(server):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for r in generate_records(4, 0, start=4000):
            z.writestr(r["protocolSection"]["identificationModule"]["nctId"] + ".json", json.dumps(r))
    lines = events(post(server, buffer.getvalue(), {"Content-Type": "application/zip"}))
    assert lines[-1]["event"] == "done" and lines[-1]["new"] == 4


def test_without_the_admin_token_nothing_is_read_or_stored(server):
    response = httpx.post(server.url + URL, content=jsonl(5000, 2), headers=JSONL)
    assert response.status_code == 401
    assert not has_study(server, 5000)


def test_a_body_that_is_not_json_lines_or_a_zip_is_refused_naming_its_type(server):
    response = post(server, b"<studies/>", {"Content-Type": "application/xml"})
    assert response.status_code == 415
    assert "application/xml" in response.text


def test_a_body_over_the_bulk_limit_is_refused_and_nothing_is_stored(server):
    body = jsonl(6000, 400)
    assert len(body) > 2_000_000
    response = post(server, body)
    assert response.status_code == 413
    assert "2000000 bytes" in response.text
    assert not has_study(server, 6000)


def test_a_second_bulk_import_while_one_runs_is_refused(server):
    with bulk._RUNNING:  # the server runs in this process: hold its one bulk slot as a running import would
        response = post(server, jsonl(7000, 1))
    assert response.status_code == 409
    assert not has_study(server, 7000)


def test_an_empty_body_is_a_clear_error(server):
    response = post(server, b"")
    assert response.status_code == 400
    assert "empty" in response.text


def test_a_bad_compact_value_is_refused_and_nothing_is_stored(server):
    response = post(server, jsonl(6000, 2), compact="yes")
    assert response.status_code == 400 and "compact" in response.text and not has_study(server, 6000)


def test_compact_true_reports_the_compaction_on_the_done_line(tmp_path):
    live = start_server(open_store(str(tmp_path / "store")), ServerSettings(
        admin_token=ADMIN_TOKEN, query_workers=1, bulk_jobs=0, max_bulk_body=2_000_000))
    try:
        *_, compacting, done = events(post(live, jsonl(7000, 3), compact="true"))
        assert compacting["event"] == "compacting" and compacting["new"] == 3  # said before the minutes it may take
        assert done["event"] == "done" and done["new"] == 3 and done["compactSeconds"] >= 0
        again = events(post(live, jsonl(7000, 3), compact="true"))[-1]
        assert again["unchanged"] == 3 and "compactSeconds" not in again  # nothing written, nothing compacted
    finally:
        live.stop()
        live.store.close()


def test_compact_true_on_a_remote_engines_store_is_refused_before_anything_is_written(empty_oxigraph):
    remote = empty_oxigraph.open()
    live = start_server(remote, ServerSettings(admin_token=ADMIN_TOKEN, query_workers=1, bulk_jobs=0,
                                               max_bulk_body=2_000_000))
    try:
        response = post(live, jsonl(8000, 1), compact="true")
        assert response.status_code == 400 and "oxigraph optimize" in response.text and not has_study(live, 8000)
    finally:
        live.stop()
        remote.close()


def compact(server: LiveServer, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(server.url + "/admin/compact", headers=AUTH if headers is None else headers, timeout=120)


def test_the_admin_route_compacts_the_served_store_and_keeps_its_studies(tmp_path):
    live = start_server(open_store(str(tmp_path / "store")), ServerSettings(
        admin_token=ADMIN_TOKEN, query_workers=1, bulk_jobs=0, max_bulk_body=2_000_000))
    try:
        post(live, jsonl(9000, 2))
        generation = live.store.generation
        lines = events(compact(live))
        assert [e["event"] for e in lines] == ["compacting", "done"] and lines[1]["compactSeconds"] >= 0
        assert has_study(live, 9000) and has_study(live, 9001) and live.store.generation == generation
    finally:
        live.stop()
        live.store.close()


def test_the_admin_route_needs_the_admin_token(server):
    response = compact(server, headers={})
    assert response.status_code == 401 and "compaction needs the admin token" in response.text


@pytest.fixture()
def on_disk(tmp_path) -> Iterator[LiveServer]:
    live = start_server(open_store(str(tmp_path / "store")), ServerSettings(
        admin_token=ADMIN_TOKEN, query_workers=1, bulk_jobs=0, max_bulk_body=2_000_000))
    yield live
    live.stop()
    live.store.close()


def test_the_admin_route_on_a_memory_store_says_it_has_no_files_to_compact(server):
    response = compact(server)
    assert response.status_code == 400 and "a memory store has no files to compact" in response.text


def test_the_admin_route_is_refused_while_a_bulk_import_or_a_compaction_runs_and_free_after(on_disk):
    with bulk._RUNNING:  # what a running import or compaction holds
        refused = compact(on_disk)
        import_refused = post(on_disk, jsonl(9100, 1))
    assert refused.status_code == 409 and bulk.BUSY in refused.text
    assert import_refused.status_code == 409 and bulk.BUSY in import_refused.text
    assert events(compact(on_disk))[-1]["event"] == "done"
    assert events(compact(on_disk))[-1]["event"] == "done"  # the slot is free again after each


def test_a_compaction_that_fails_says_so_on_its_last_line_and_frees_the_slot(on_disk, monkeypatch):
    def failing(store):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bulk, "compact_store", failing)
    last = events(compact(on_disk))[-1]
    assert last["event"] == "error" and "internal error (RuntimeError)" in last["message"]
    monkeypatch.undo()
    assert events(compact(on_disk))[-1]["event"] == "done"


def test_an_import_whose_compaction_fails_says_the_import_is_whole(on_disk, monkeypatch):
    def failing(store):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bulk, "compact_store", failing)
    last = events(post(on_disk, jsonl(9200, 2), compact="true"))[-1]
    assert last["event"] == "error" and "the import is complete and whole (2 new" in last["message"]
    assert "POST /admin/compact to try again" in last["message"] and has_study(on_disk, 9200)


def test_the_admin_route_on_a_remote_engines_store_names_the_engines_tool(empty_oxigraph):
    remote = empty_oxigraph.open()
    live = start_server(remote, ServerSettings(admin_token=ADMIN_TOKEN, query_workers=1))
    try:
        response = compact(live)
        assert response.status_code == 400 and "oxigraph optimize" in response.text
    finally:
        live.stop()
        remote.close()


def test_a_compaction_whose_thread_cannot_start_frees_the_slot(on_disk, monkeypatch):
    start = threading.Thread.start

    def refused(thread: threading.Thread) -> None:
        if thread.name == "compaction":
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refused)
    assert compact(on_disk).status_code == 500
    monkeypatch.undo()
    assert events(compact(on_disk))[-1]["event"] == "done"  # not 409: the slot was given back
