"""The search index of a remote store (``oxigraph serve``): a file the bulk import fills as it writes
to the engine and the serving side opens, tied to the dataset by an identity the dataset holds.

Why it matters: without the file, a server's first search read every study over SPARQL (minutes at
10,000 studies) while every other request waited. A URL does not name a dataset for long (ports are
reused), so an index file must never answer for another dataset at the same URL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oxigraph_server_fixtures import OxigraphServer, start_oxigraph

from acse_kg.ctgov.bulk import bulk_import
from acse_kg.ctgov.generate import nct_id, write_jsonl
from acse_kg.ctgov.query import parse_params
from acse_kg.search_index import index_for, index_path
from acse_kg.store import open_store


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The registry's data directory, where a remote store's index files live."""
    monkeypatch.setenv("ACSE_KG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def imported(server: OxigraphServer, jsonl: Path) -> None:
    """``acse-kg import --bulk`` into the server, as the importing process does (its store then closed)."""
    store = server.open()
    try:
        bulk_import(store, [jsonl], jobs=0, batch=5)
    finally:
        store.close()


def test_a_bulk_import_into_oxigraph_serve_leaves_an_index_file_the_serving_side_opens_reading_no_study(
        tmp_path: Path, home: Path, empty_oxigraph: OxigraphServer) -> None:
    imported(empty_oxigraph, write_jsonl(tmp_path / "records.jsonl", 12))
    serving = open_store(empty_oxigraph.query)  # another process's store over the same endpoint
    try:
        path = index_path(serving)
        assert path is not None and path.parent == home / "search" and path.is_file()
        index = index_for(serving, sync=False)
        assert index.path == path
        assert index.sync() == []  # in step: no study read again over SPARQL, the log's versions only
        assert index.count() == 13  # the twelve imported and the bundle's study
        assert index.matching(parse_params({"query.id": nct_id(7)})) == {nct_id(7)}
    finally:
        serving.close()


def test_another_dataset_at_the_same_url_is_not_served_from_the_old_index_file(
        tmp_path: Path, home: Path, empty_oxigraph: OxigraphServer) -> None:
    imported(empty_oxigraph, write_jsonl(tmp_path / "records.jsonl", 6))
    first = open_store(empty_oxigraph.query)
    path = index_path(first)
    first_id = first.dataset_id()
    assert path is not None and first_id is not None
    first.close()
    empty_oxigraph.stop()
    other = start_oxigraph(tmp_path / "another", base=empty_oxigraph.base)  # the port taken over
    try:
        serving = other.open()  # the bundle alone
        try:
            assert index_path(serving) == path  # the same URL, so the same file ...
            index = index_for(serving, sync=False)
            assert index.count() == 0  # ... emptied on open: it held another dataset's rows
            index.sync()
            assert index.count() == 1
            assert index.matching(parse_params({"query.id": nct_id(3)})) == set()
            recorded = index.db.execute("SELECT value FROM meta WHERE key = 'dataset'").fetchone()[0]
            assert recorded == serving.dataset_id() != first_id
        finally:
            serving.close()
    finally:
        other.stop()
