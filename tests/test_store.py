"""The store opens, bootstraps itself with the bundle, and never loses data on bad input."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.loader import (
    HGNC_GRAPH,
    ONCOTREE_GRAPH,
    ONTOLOGY_GRAPH,
    SO_GRAPH,
    bundle_graph_names,
    bundle_sources,
    graph_counts,
    load_bundle,
    load_study_file,
    study_graph_name,
)
from acse_kg.paths import DATA_DIR
from acse_kg.store import GraphStore, QuerySyntaxError, StoreError, open_store

NCT = "NCT02034981"


def test_a_new_memory_store_is_bootstrapped_with_every_bundle_graph(store: GraphStore) -> None:
    graphs = set(store.named_graphs())
    assert {ONTOLOGY_GRAPH, ONCOTREE_GRAPH, SO_GRAPH, HGNC_GRAPH, study_graph_name(NCT)} <= graphs
    assert set(bundle_graph_names()) <= graphs
    assert all(n > 0 for g, n in graph_counts(store).items() if g in bundle_graph_names())


def test_every_bundled_record_has_its_own_study_graph() -> None:
    names = bundle_graph_names()
    for path in DATA_DIR.glob("NCT*.ttl"):
        assert study_graph_name(path.stem) in names


def test_loading_the_bundle_twice_changes_nothing(fresh_store: GraphStore) -> None:
    before = graph_counts(fresh_store)
    total = len(fresh_store)
    counts = load_bundle(fresh_store)
    assert len(fresh_store) == total
    assert graph_counts(fresh_store) == before
    assert counts == {g: before[g] for g in counts}


def test_reloading_a_study_file_replaces_its_graph_without_duplicates(fresh_store: GraphStore) -> None:
    total = len(fresh_store)
    graph = load_study_file(fresh_store, DATA_DIR / f"{NCT}.ttl")
    assert graph == study_graph_name(NCT)
    assert len(fresh_store) == total


def test_loading_an_edited_record_file_keeps_the_version_before_it(fresh_store: GraphStore, tmp_path: Path) -> None:
    from acse_kg.history import diff_versions, list_versions

    text = (DATA_DIR / f"{NCT}.ttl").read_text(encoding="utf-8")
    edited = tmp_path / f"{NCT}.ttl"
    edited.write_text(text.replace('acse:cohortNumber 23 ;', 'acse:cohortNumber 23 ; acse:maximumPatients 12 ;', 1),
                      encoding="utf-8")
    load_study_file(fresh_store, edited)
    versions = list_versions(fresh_store, NCT)
    assert [(v.number, v.current) for v in versions] == [(0, False), (1, True)]
    assert versions[1].agent == "acse-kg load"
    assert any("maximumPatients" in str(c) for c in diff_versions(fresh_store, NCT, 0, 1))
    load_study_file(fresh_store, edited)  # the same file again: no new version
    assert len(list_versions(fresh_store, NCT)) == 2


def test_bad_turtle_is_refused_with_its_file_name_and_the_store_is_unchanged(
    fresh_store: GraphStore, tmp_path: Path
) -> None:
    bad = tmp_path / "NCT99999999.ttl"
    bad.write_text("@prefix ex: <http://example.org/> .\nex:a ex:b ", encoding="utf-8")
    total, graphs = len(fresh_store), fresh_store.named_graphs()
    with pytest.raises(StoreError, match=r"NCT99999999\.ttl"):
        load_study_file(fresh_store, bad)
    assert len(fresh_store) == total
    assert fresh_store.named_graphs() == graphs


def test_a_broken_file_in_the_bundle_aborts_the_whole_load_before_any_graph_changes(
    fresh_store: GraphStore, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # A record that would change the study graph, and a broken second record.
    (data / f"{NCT}.ttl").write_text("<http://example.org/a> <http://example.org/b> 1 .\n", encoding="utf-8")
    (data / "NCT00000001.ttl").write_text("this is not turtle", encoding="utf-8")
    before = graph_counts(fresh_store)
    with pytest.raises(StoreError, match=r"NCT00000001\.ttl"):
        load_bundle(fresh_store, data_dir=data)
    assert graph_counts(fresh_store) == before


def test_a_bundle_source_is_made_again_when_its_bytes_change_within_the_same_size_and_time(tmp_path: Path) -> None:
    # A source's product is kept per process; a file rewritten within the clock's tick keeps its time.
    record = tmp_path / f"{NCT}.ttl"
    record.write_text("<http://example.org/a> <http://example.org/b> 1 .\n", encoding="utf-8")
    stamp = record.stat().st_mtime_ns
    (source,) = [s for s in bundle_sources(data_dir=tmp_path) if s.label == NCT]
    assert b"\"1\"" in source.produce()
    builds = []
    counted = dataclasses.replace(source, build=lambda: builds.append(1) or source.build())
    assert b"\"1\"" in counted.produce() and builds == []  # the same bytes: the kept product
    record.write_text("<http://example.org/a> <http://example.org/b> 2 .\n", encoding="utf-8")
    os.utime(record, ns=(stamp, stamp))
    assert b"\"2\"" in source.produce()


def test_a_study_file_must_be_named_after_its_nct_number(fresh_store: GraphStore, tmp_path: Path) -> None:
    odd = tmp_path / "record.ttl"
    shutil.copy(DATA_DIR / f"{NCT}.ttl", odd)
    with pytest.raises(StoreError, match="NCTnnnnnnnn"):
        load_study_file(fresh_store, odd)


def test_a_persistent_store_keeps_its_data_when_reopened(tmp_path: Path) -> None:
    path = tmp_path / "store"
    first = open_store(str(path))
    total = len(first)
    assert total > 0
    first.close()
    again = open_store(str(path), bootstrap=False)
    try:
        assert len(again) == total
        assert again.ask(f'ASK {{ ?s acse:nctId "{NCT}" }}')
    finally:
        again.close()


def test_the_cli_accepts_store_memory() -> None:
    result = CliRunner().invoke(app, ["sparql", "--store", "memory", "--format", "csv",
                                      'SELECT ?id WHERE { ?s acse:nctId ?id }'])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["id", NCT]


def test_the_cli_reads_the_store_from_the_environment() -> None:
    result = CliRunner().invoke(app, ["sparql", "--format", "csv", "SELECT ?id WHERE { ?s acse:nctId ?id }"],
                                env={"ACSE_KG_STORE": "memory"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1] == NCT


def test_the_cli_uses_a_store_directory_and_load_reports_each_graph(tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    runner = CliRunner()
    result = runner.invoke(app, ["load", "--store", path])
    assert result.exit_code == 0, result.stderr
    for graph in bundle_graph_names():
        assert graph in result.stdout
    again = runner.invoke(app, ["load", "--store", path])
    assert again.stdout == result.stdout  # reloading changes no count


_iri = st.from_regex(r"http://example\.org/[a-z]{1,4}", fullmatch=True).map(lambda s: f"<{s}>")
_lit = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'
)
_triples = st.sets(st.tuples(_iri, _iri, st.one_of(_iri, _lit)), max_size=15)


@settings(max_examples=40, deadline=None)
@given(first=_triples, second=_triples)
def test_a_study_graph_holds_exactly_the_last_file_loaded_however_often(tmp_path_factory, first, second) -> None:
    """The live graph is the last file; loading the same file again writes nothing (history included)."""
    st_ = open_store("memory", bootstrap=False)
    path = tmp_path_factory.mktemp("rec") / "NCT00000042.ttl"
    for content in (first, second):
        path.write_text("".join(f"{s} {p} {o} .\n" for s, p, o in content), encoding="utf-8")
        graph = load_study_file(st_, path)
        assert len(st_.graph(graph)) == len(content)
        total = len(st_)
        load_study_file(st_, path)
        assert len(st_) == total and len(st_.graph(graph)) == len(content)


@pytest.mark.parametrize(("query", "where"), [
    ("SELECT * WHERE { ?s ?p }", "1:25"),
    ("SELECT *\nWHERE { ?s ?p ?o . FILTER(}", "2:28"),
])
def test_a_malformed_query_is_one_line_naming_the_position_in_the_callers_text(
    store: GraphStore, query: str, where: str
) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        store.select(query)
    message = str(err.value)
    assert "\n" not in message and f"at {where}:" in message


@pytest.fixture()
def store_held_by_another_process(tmp_path: Path):
    """A persistent store that a second process (as a running server would) keeps open for writing."""
    import subprocess
    import sys

    path = tmp_path / "store"
    open_store(str(path)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, pyoxigraph as ox; s = ox.Store(sys.argv[1]); print('held', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    yield path
    holder.communicate("", timeout=30)


def test_reading_a_store_another_process_holds_is_refused_and_says_to_go_through_its_server(
    store_held_by_another_process: Path,
) -> None:
    """One owner per store directory: Oxigraph calls a read-only open beside a writer undefined behaviour
    (a frozen view), so a second process is told where the store is served instead of reading it."""
    result = CliRunner().invoke(app, ["sparql", "SELECT (COUNT(?c) AS ?n) WHERE { ?c a acse:Cohort }",
                                      "--format", "csv", "--store", str(store_held_by_another_process)])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "held by another process" in result.stderr and "--store http://HOST:PORT/sparql" in result.stderr


def test_writing_to_a_store_another_process_holds_says_how_to_write_instead(store_held_by_another_process: Path) -> None:
    result = CliRunner().invoke(app, ["load", "--store", str(store_held_by_another_process)])
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert "held by another process" in result.stderr and "--store http://HOST:PORT/sparql" in result.stderr
