"""Bulk import (``acse-kg import --bulk``) and the record generator it is measured with.

The import is specified by what a registry operator relies on: every record
of the input ends up in the store exactly once, with its log entry; a
record that breaks the spec is named (file, line, JSON path) while the rest
goes in; an import killed half-way leaves whole studies only and the same
command finishes it; the same input again writes nothing, quickly; a record
that changed makes a new version with the old one kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ctgov_fixtures import RECORDS, load_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import URIRef

from acse_kg.ctgov.bulk import Item, Registry, _prepared_in_order, bulk_import, read_items, record_digest
from acse_kg.ctgov.generate import FIRST_NCT, generate_record, nct_id, write_jsonl
from acse_kg.ctgov.import_ import check_record, enum_index, study_to_graph
from acse_kg.ctgov.query import parse_params
from acse_kg.history import list_versions
from acse_kg.loader import study_graph_name
from acse_kg.model.reader import read_vocabulary
from acse_kg.search_index import RowContext, SearchIndex, read_row
from acse_kg.store import OxigraphStore, history_of, open_store
from acse_kg.versions import LOG_GRAPH, current_versions, version_iri

ROOT = Path(__file__).resolve().parent.parent


# -- the generator ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(i=st.integers(0, 1_000_000), seed=st.integers(0, 50))
def test_generated_records_are_valid_and_map_without_problems(store, i, seed):
    record = generate_record(i, seed)
    assert check_record(record) == []
    _, problems = study_to_graph(record, enum_index(store))
    assert problems == []


def test_generated_record_depends_on_its_number_and_seed_only():
    assert generate_record(7, 3) == generate_record(7, 3)
    assert generate_record(7, 3) != generate_record(7, 4)
    assert record_digest(generate_record(5)) != record_digest(generate_record(6))


def test_generated_studies_look_like_oncology_trials_with_real_sites():
    records = [generate_record(i) for i in range(60)]
    assert len({r["protocolSection"]["identificationModule"]["nctId"] for r in records}) == 60
    assert {r["protocolSection"]["statusModule"]["overallStatus"] for r in records} >= {"RECRUITING", "COMPLETED"}
    assert any("Lung" in c for r in records for c in r["protocolSection"]["conditionsModule"]["conditions"])
    sites = [s for r in records for s in r["protocolSection"]["contactsLocationsModule"]["locations"]]
    assert sites and all(isinstance(s["geoPoint"]["lat"], float) for s in sites)


# -- helpers ---------------------------------------------------------------------------------------
def acse_kg(*args: str) -> list[str]:
    return [sys.executable, "-m", "acse_kg.cli", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def study_counts(store) -> dict[str, int]:
    """Triples per graph of a generated study (the bundle's own study left out)."""
    generated = study_graph_name(nct_id(0))[:-len(str(FIRST_NCT))]  # ...study/NCT (then the number)
    rows = store.select(f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                        f"FILTER(STRSTARTS(STR(?g), \"{generated}9\")) }} GROUP BY ?g").rows
    return {str(r["g"]): int(r["n"].toPython()) for r in rows}  # type: ignore[union-attr]


def log_versions(store) -> list[tuple[str, int]]:
    rows = history_of(store).select("SELECT ?v ?n WHERE { GRAPH ?log { ?v acse:versionNumber ?n } }",
                        {"log": URIRef(LOG_GRAPH)}).rows
    return sorted((str(r["v"]), int(r["n"].toPython())) for r in rows)  # type: ignore[union-attr]


def expected_counts(jsonl: Path) -> dict[str, int]:
    """What every study graph must hold: the same records imported in this process into memory."""
    reference = open_store("memory")
    bulk_import(reference, [jsonl], jobs=0)
    return study_counts(reference)


# -- the import: killed, resumed, repeated -----------------------------------------------------------
def killed_resumed_repeated(tmp_path: Path, n: int, batch: int) -> None:
    jsonl = write_jsonl(tmp_path / "records.jsonl", n)
    store_dir = str(tmp_path / "store")
    cmd = acse_kg("import", "--bulk", str(jsonl), "--store", store_dir, "--batch", str(batch), "--jobs", "2")

    first = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert first.stderr is not None
    for line in first.stderr:  # progress lines: "... N records read, W written, ..."
        words = line.decode().split()
        if "written," in words and int(words[words.index("written,") - 1]) >= n // 2:
            break
    os.killpg(first.pid, signal.SIGKILL)  # a real kill, of the import and its workers
    assert first.wait(timeout=60) == -signal.SIGKILL

    partial = OxigraphStore(Path(store_dir))
    try:  # whole studies only, each with its log entry
        counts = study_counts(partial)
        assert n // 2 <= len(counts) < n
        assert len(log_versions(partial)) == len(counts)
    finally:
        partial.close()

    t0 = time.monotonic()
    resumed = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600, check=False)
    t_resume = time.monotonic() - t0
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(counts)} unchanged" in resumed.stdout and f"{n - len(counts)} new" in resumed.stdout

    st_ = OxigraphStore(Path(store_dir))
    try:
        after = study_counts(st_)
        versions = log_versions(st_)
        size = len(st_)
    finally:
        st_.close()
    assert after == expected_counts(jsonl)  # every record, exactly once, as a fresh import maps it
    assert versions == sorted((version_iri(nct_id(i), 1), 1) for i in range(n))
    st_ = OxigraphStore(Path(store_dir))
    try:  # the resumed import left the index in step, the batch the kill fell between included
        index = SearchIndex(st_, Path(store_dir + ".search.sqlite"))
        assert index.sync() == [] and index.count() == n + 1  # the bundle's study too
        index.close()
    finally:
        st_.close()

    t0 = time.monotonic()
    again = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600, check=False)
    t_again = time.monotonic() - t0
    assert again.returncode == 0 and f"0 new, 0 changed (previous versions kept), {n} unchanged" in again.stdout
    st_ = OxigraphStore(Path(store_dir))
    try:
        assert len(st_) == size and study_counts(st_) == after
    finally:
        st_.close()
    assert t_again < t_resume / 2, (t_again, t_resume)


def test_bulk_import_killed_halfway_resumes_and_repeats_without_writing(tmp_path):
    killed_resumed_repeated(tmp_path, 200, batch=20)


@pytest.mark.slow
def test_bulk_import_of_2000_records_killed_halfway_resumes_and_repeats_without_writing(tmp_path):
    killed_resumed_repeated(tmp_path, 2000, batch=100)


def test_a_bulk_import_into_a_store_directory_leaves_its_search_index_in_step(tmp_path):
    """Each batch's studies are read into the index file as they are written, so the server's first
    search reads none of them; the rows are those a rebuild from the graph makes."""
    first = write_jsonl(tmp_path / "v1.jsonl", 12)
    changed = generate_record(3)
    changed["protocolSection"]["conditionsModule"]["conditions"] = ["Kawasaki Disease"]
    second = tmp_path / "v2.jsonl"
    second.write_text(json.dumps(changed) + "\n")
    store = open_store(str(tmp_path / "store"))
    try:
        bulk_import(store, [first], jobs=0, batch=5)
        bulk_import(store, [second], jobs=0, batch=5)  # a new version of one study
        kept = SearchIndex(store, tmp_path / "store.search.sqlite")
        assert kept.sync() == [] and kept.count() == 13  # the bundle's study too
        rebuilt = SearchIndex(store)
        rebuilt.sync()
        dump = ("SELECT s.nct, s.fingerprint, j.card, j.record, t.whole, t.cond FROM study s JOIN study_json j ON j.doc = s.doc "
                "JOIN text t ON t.rowid = s.doc ORDER BY s.nct")
        assert kept.db.execute(dump).fetchall() == rebuilt.db.execute(dump).fetchall()
        assert kept.matching(parse_params({"query.cond": "kawasaki"})) == {nct_id(3)}
        kept.close()
        rebuilt.close()
    finally:
        store.close()


def test_the_index_rows_made_by_the_mapping_workers_are_those_read_back_from_the_store(tmp_path):
    """A bulk import's index rows are made in its worker processes from the graphs they map (the
    parent does not read each study back); each must be the row the index reads from the store for
    the same study (a rebuild, a server's sync): text columns, pieces, OncoTree terms, card and the
    stored API v2 JSON. The real reference records and generated ones of several seeds."""
    records = [load_record(name) for name in RECORDS] + [generate_record(i, seed=i % 5) for i in range(24)]
    store = open_store("memory")
    registry = Registry(enum_index(store), (RowContext.load(store), read_vocabulary(store)))
    items = (Item(f"r{i}", json.dumps(r).encode()) for i, r in enumerate(records))
    made = {p.nct: p.row for p in _prepared_in_order(items, 1, registry, {})}  # one real worker process
    assert len(made) == len(records) and all(row is not None for row in made.values())
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    bulk_import(store, [jsonl], jobs=0)
    context = RowContext.load(store)
    for nct, row in made.items():
        assert read_row(store, nct, context).serialized() == row, nct  # the workers send the record as its text


# -- bad records, changed records, inputs ------------------------------------------------------------
def test_bad_record_is_named_with_file_line_and_path_while_the_others_go_in(tmp_path, fresh_store):
    jsonl = tmp_path / "mixed.jsonl"
    bad = generate_record(1)
    bad["protocolSection"]["eligibilityModule"]["sex"] = "ANY"
    lines = [json.dumps(generate_record(0)), json.dumps(bad), "{not json", json.dumps(generate_record(2))]
    jsonl.write_text("\n".join(lines) + "\n")
    failures: list[tuple[str, str, str]] = []
    report = bulk_import(fresh_store, [jsonl], jobs=0, on_failure=lambda *f: failures.append(f))
    assert report.new == 2 and report.read == 4
    assert (f"{jsonl}:2", "$.protocolSection.eligibilityModule.sex") in {(w, p) for w, p, _ in failures}
    assert (f"{jsonl}:3", "$") in {(w, p) for w, p, _ in failures}
    assert set(current_versions(fresh_store)) >= {nct_id(0), nct_id(2)}
    assert nct_id(1) not in current_versions(fresh_store)


def test_cli_bulk_exits_1_naming_the_refused_record(tmp_path):
    from typer.testing import CliRunner

    from acse_kg.cli import app

    jsonl = tmp_path / "mixed.jsonl"
    bad = generate_record(1)
    del bad["protocolSection"]["identificationModule"]["nctId"]
    jsonl.write_text(json.dumps(generate_record(0)) + "\n" + json.dumps(bad) + "\n")
    r = CliRunner().invoke(app, ["import", "--bulk", str(jsonl), "--jobs", "0", "--store", "memory"])
    assert r.exit_code == 1
    assert f"{jsonl}:2: $.protocolSection.identificationModule" in r.stderr
    assert "1 new" in r.stdout and "1 refused" in r.stdout


def test_the_cli_bulk_import_leaves_the_collector_of_its_process_as_it_was(tmp_path):
    """The command makes the collector rare while it imports (few_collections), and the process that ran it
    (a test runner, a notebook) gets its collector back: thresholds, and nothing left frozen."""
    import gc

    from typer.testing import CliRunner

    from acse_kg.cli import app

    before = gc.get_threshold()
    r = CliRunner().invoke(app, ["import", "--bulk", str(write_jsonl(tmp_path / "r.jsonl", 2)), "--jobs", "0",
                                 "--store", "memory"])
    assert r.exit_code == 0, r.stderr
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)


def test_changed_record_makes_a_new_version_and_keeps_the_old(tmp_path, fresh_store):
    first = write_jsonl(tmp_path / "v1.jsonl", 3)
    bulk_import(fresh_store, [first], jobs=0)
    changed = generate_record(1)
    changed["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED" if \
        changed["protocolSection"]["statusModule"]["overallStatus"] != "COMPLETED" else "TERMINATED"
    second = tmp_path / "v2.jsonl"
    second.write_text("\n".join(json.dumps(r) for r in (generate_record(0), changed, generate_record(2))) + "\n")
    report = bulk_import(fresh_store, [second], jobs=0)
    assert (report.new, report.changed, report.unchanged) == (0, 1, 2)
    versions = list_versions(fresh_store, nct_id(1))
    assert [v.number for v in versions] == [1, 2] and versions[-1].current
    assert fresh_store.graph(versions[0].graph)  # the old version's triples, archived
    assert current_versions(fresh_store)[nct_id(1)] == (2, record_digest(changed))


def test_same_study_imported_one_at_a_time_then_in_bulk_is_not_written_again(tmp_path, fresh_store):
    from acse_kg.ctgov.import_ import import_study

    record = generate_record(4)
    import_study(fresh_store, record)  # logs the record's digest too
    (tmp_path / "one.jsonl").write_text(json.dumps(record) + "\n")
    report = bulk_import(fresh_store, [tmp_path / "one.jsonl"], jobs=0)
    assert (report.new, report.changed, report.unchanged) == (0, 0, 1)


def test_directory_zip_and_api_page_inputs_are_read(tmp_path):
    import zipfile

    d = tmp_path / "dir"
    d.mkdir()
    (d / "a.json").write_text(json.dumps(generate_record(0)))
    (d / "page.json").write_text(json.dumps({"studies": [generate_record(1), generate_record(2)]}))
    z = tmp_path / "r.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("x.jsonl", json.dumps(generate_record(3)) + "\n" + json.dumps(generate_record(4)) + "\n")
    assert [i.where for i in read_items(d)] == [f"{d}/a.json", f"{d}/page.json studies[0]", f"{d}/page.json studies[1]"]
    assert [i.where for i in read_items(z)] == [f"{z}!x.jsonl:1", f"{z}!x.jsonl:2"]


def test_study_graph_of_a_bulk_import_is_what_a_single_import_maps(tmp_path, fresh_store):
    from acse_kg.versions import same_quads, stored_quads

    record = generate_record(9)
    (tmp_path / "one.jsonl").write_text(json.dumps(record) + "\n")
    bulk_import(fresh_store, [tmp_path / "one.jsonl"], jobs=0)
    g, _ = study_to_graph(record, enum_index(fresh_store))
    nct = nct_id(9)
    assert same_quads(fresh_store.graph_quads(study_graph_name(nct)),
                      stored_quads(g.serialize(format="nt"), "ntriples", study_graph_name(nct)))


@pytest.mark.parametrize("name", RECORDS)
def test_the_workers_n_quads_of_a_study_are_rdflibs_n_triples_of_its_graph(name, fresh_store):
    """The mapping workers write a study graph's N-Quads themselves (graph_nquads, for speed); each line is
    rdflib's N-Triples line of the same triple, tagged with the study's graph (the other implementation)."""
    from acse_kg.ctgov.bulk import graph_nquads

    g, _ = study_to_graph(load_record(name), enum_index(fresh_store))
    graph = study_graph_name("NCT00000000")
    ours = sorted(graph_nquads(g, graph).decode().splitlines())
    rdflibs = sorted(line[:-2] + f" <{graph}> ." for line in g.serialize(format="nt").splitlines() if line)
    assert ours == rdflibs and len(ours) == len(g)
