"""Compacting a store (``acse-kg compact``, ``import --bulk --compact``, ``OxigraphStore.compact``).

What an operator relies on: compaction rewrites the store's files and nothing else (every quad, the
history and the store's version are as they were, so no derived value is thrown away); a store this
process may not rewrite (read-only, or a remote engine's) says so, and ``import --bulk --compact`` says
it before importing, not after. Whether it makes reads faster is measured by ``bench scale``, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from oxigraph_server_fixtures import OxigraphServer
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.ctgov.bulk import bulk_import
from acse_kg.ctgov.generate import nct_id, write_jsonl
from acse_kg.loader import study_graph_name
from acse_kg.store import OxigraphStore, StoreError, compact_store, has_graph, history_of, open_store

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture()
def imported(tmp_path: Path) -> Path:
    """An on-disk store with the bundle and a few generated studies in several batches (several files)."""
    location = tmp_path / "store"
    store = open_store(str(location))
    try:
        bulk_import(store, [write_jsonl(tmp_path / "r.jsonl", 6)], jobs=0, batch=2)
    finally:
        store.close()
    return location


def test_compaction_keeps_every_quad_of_both_datasets_and_the_version(imported: Path) -> None:
    store = open_store(str(imported))
    assert isinstance(store, OxigraphStore)
    try:
        live, history, generation = store.dump(include_history=False), history_of(store).dump(), store.generation
        assert store.compact() >= 0
        assert sorted(store.dump(include_history=False).splitlines()) == sorted(live.splitlines())
        assert sorted(history_of(store).dump().splitlines()) == sorted(history.splitlines())
        assert store.generation == generation  # nothing derived from the store is stale
    finally:
        store.close()


def test_a_compacted_store_opens_again_with_the_same_studies(imported: Path) -> None:
    store = open_store(str(imported))
    compact_store(store)
    store.close()
    again = open_store(str(imported))
    try:
        assert all(has_graph(again, study_graph_name(nct_id(i))) for i in range(6))
    finally:
        again.close()


def test_a_read_only_store_is_not_compacted(imported: Path) -> None:
    store = open_store(str(imported), read_only=True)
    try:
        with pytest.raises(StoreError, match="read-only"):
            compact_store(store)
    finally:
        store.close()


def test_a_closed_store_says_it_is_closed(imported: Path) -> None:
    store = open_store(str(imported))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        compact_store(store)


def test_the_historys_reader_is_not_compacted_on_its_own(imported: Path) -> None:
    store = open_store(str(imported))
    try:
        with pytest.raises(StoreError, match="history's reader"):
            compact_store(history_of(store))
    finally:
        store.close()


def test_the_compact_command_compacts_an_on_disk_store(imported: Path) -> None:
    r = run("compact", "--store", str(imported))
    assert r.exit_code == 0 and r.stdout.startswith("store compacted in ")
    assert f"compacting the store at {imported}" in r.stderr  # said before the minutes it may take


def test_the_compact_command_refuses_a_directory_that_is_not_there_and_creates_none(tmp_path: Path) -> None:
    typo = tmp_path / "sotre"
    r = run("compact", "--store", str(typo))
    assert r.exit_code == 2 and f"no store at {typo}" in r.stderr and "compacted" not in r.stdout
    assert not typo.exists()


def test_the_compact_command_refuses_a_memory_store() -> None:
    r = run("compact", "--store", "memory")
    assert r.exit_code == 2 and "a memory store has no files to compact" in r.stderr


def test_the_compact_command_names_each_servers_own_way_for_a_remote_store(empty_oxigraph: OxigraphServer) -> None:
    r = run("compact", "--store", empty_oxigraph.query)
    assert r.exit_code == 2 and "remote SPARQL endpoint" in r.stderr
    assert "POST /admin/compact" in r.stderr and "oxigraph optimize" in r.stderr  # an acse-kg server, or Oxigraph's
    assert "Traceback" not in r.output


def test_the_compact_command_refuses_a_directory_that_is_not_a_store_and_writes_nothing_there(tmp_path: Path) -> None:
    elsewhere = tmp_path / "documents"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("not a store")
    r = run("compact", "--store", str(elsewhere))
    assert r.exit_code == 2 and f"no store at {elsewhere} (not a store's directory)" in r.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["notes.txt"]


def test_the_compact_command_on_a_store_another_process_holds_says_to_compact_it_through_its_server(
    imported: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from acse_kg.store import open_store; "
         "held = open_store(sys.argv[1], bootstrap=False); print('open', flush=True); time.sleep(120)", str(imported)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        r = run("compact", "--store", str(imported))
    finally:
        holder.kill()
        holder.wait()
    assert r.exit_code == 2 and "held by another process" in r.stderr and "POST /admin/compact" in r.stderr
    assert "--store memory" not in r.stderr  # the open's advice for other commands: compact refuses memory


def test_bulk_import_with_compact_on_a_remote_store_is_refused_before_anything_is_written(
        empty_oxigraph: OxigraphServer, tmp_path: Path) -> None:
    records = write_jsonl(tmp_path / "r.jsonl", 2)
    r = run("import", "--bulk", str(records), "--jobs", "0", "--compact", "--store", empty_oxigraph.query)
    assert r.exit_code == 2 and "--compact" in r.stderr and "oxigraph optimize" in r.stderr
    store = open_store(empty_oxigraph.query, bootstrap=False)
    try:
        assert store.named_graphs() == []  # not even the bundle an open would have loaded
    finally:
        store.close()


def test_bulk_import_with_compact_on_a_memory_store_is_refused_before_importing(tmp_path: Path) -> None:
    r = run("import", "--bulk", str(write_jsonl(tmp_path / "r.jsonl", 1)), "--jobs", "0", "--compact",
            "--store", "memory")
    assert r.exit_code == 2 and "--compact: a memory store has no files to compact" in r.stderr
    assert "bulk import of" not in r.stdout


def test_bulk_import_with_compact_compacts_after_writing_and_not_when_nothing_was_written(tmp_path: Path) -> None:
    records, location = write_jsonl(tmp_path / "r.jsonl", 3), str(tmp_path / "store")
    first = run("import", "--bulk", str(records), "--jobs", "0", "--compact", "--store", location)
    assert first.exit_code == 0 and "3 new" in first.stdout and "store compacted in " in first.stdout
    assert first.stdout.index("3 new") < first.stdout.index("store compacted in ")  # the import's line first
    again = run("import", "--bulk", str(records), "--jobs", "0", "--compact", "--store", location)
    assert again.exit_code == 0 and "3 unchanged" in again.stdout and "compacted" not in again.stdout


def test_compact_is_an_option_of_the_bulk_import_only(tmp_path: Path) -> None:
    records = write_jsonl(tmp_path / "r.jsonl", 1)
    r = run("import", str(records), "--compact", "--store", str(tmp_path / "store"))
    assert r.exit_code == 2 and "--compact is for --bulk" in r.stderr


def test_writes_and_reads_made_while_compacting_are_all_kept(imported: Path) -> None:
    """No lock is held while compacting (see ``OxigraphStore.compact``): a writer and a reader go on
    beside it, and every version written meanwhile is there afterwards, in the store and reopened."""
    import threading

    import rdflib

    from acse_kg.history import list_versions, version_graph
    from acse_kg.versions import save_study

    nct = nct_id(0)
    store = open_store(str(imported))
    assert isinstance(store, OxigraphStore)
    base = store.graph(study_graph_name(nct)).serialize(format="nt")
    started, done = threading.Event(), threading.Event()
    compactions: list[float] = []
    failures: list[BaseException] = []

    def compact_until_done() -> None:
        try:
            while not done.is_set():
                started.set()
                compactions.append(store.compact())
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            failures.append(exc)
            started.set()

    before = [v.number for v in list_versions(store, nct)]
    compactor = threading.Thread(target=compact_until_done)
    compactor.start()
    try:
        assert started.wait(30)
        for i in range(8):  # compactions run back to back from before the first of these writes
            save_study(store, nct, base + f'<urn:x:s> <urn:x:edit> "{i}" .\n', "ntriples", agent="test")
            assert has_graph(store, study_graph_name(nct))  # a read beside the compaction
    finally:
        done.set()
        compactor.join(60)
    assert not compactor.is_alive() and not failures and compactions
    numbers = [v.number for v in list_versions(store, nct)]
    live = store.dump(include_history=False)
    store.close()
    again = open_store(str(imported))
    try:
        assert numbers == before + [before[-1] + k for k in range(1, 9)]  # eight new versions, none lost
        assert [v.number for v in list_versions(again, nct)] == numbers
        for k, number in enumerate(numbers[-8:]):  # each version holds its own edit
            kept = version_graph(again, nct, number, list_versions(again, nct))
            assert {str(o) for o in kept.objects(None, rdflib.URIRef("urn:x:edit"))} == {str(k)}
        assert sorted(again.dump(include_history=False).splitlines()) == sorted(live.splitlines())
    finally:
        again.close()
