"""CLI: export --format ctgov, import, history, check (messages, exit codes, no tracebacks)."""

from __future__ import annotations

import copy
import json

import pytest
from ctgov_fixtures import load_record, record_path
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.ctgov.schema import validate_study

runner = CliRunner()


@pytest.fixture()
def store_dir(tmp_path):
    return str(tmp_path / "store")


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_export_ctgov_is_valid_json(store_dir):
    r = run("export", "NCT02034981", "--format", "ctgov", "--store", store_dir)
    assert r.exit_code == 0 and validate_study(json.loads(r.stdout)) == []


def test_export_ctgov_needs_an_nct(store_dir):
    r = run("export", "--format", "ctgov", "--store", store_dir)
    assert r.exit_code == 2 and "NCT" in r.stderr and "Traceback" not in r.output


def test_import_history_diff(store_dir, tmp_path):
    assert run("import", str(record_path("example_v2_NCT06171568_APHP_french.json")), "--store", store_dir).exit_code == 0
    changed = copy.deepcopy(load_record("example_v2_NCT06171568_APHP_french.json"))
    changed["protocolSection"]["eligibilityModule"]["sex"] = "FEMALE"
    f = tmp_path / "changed.json"
    f.write_text(json.dumps(changed))
    r = run("import", str(f), "--store", store_dir)
    assert r.exit_code == 0 and "previous version kept" in r.stdout
    assert len(run("history", "NCT06171568", "--store", store_dir).stdout.strip().splitlines()) == 2
    r = run("history", "NCT06171568", "--diff", "1", "2", "--store", store_dir)
    assert r.stdout.splitlines()[0] == 'protocolSection.eligibilityModule.sex: "ALL" -> "FEMALE"'


def test_import_refuses_broken_record_with_paths(store_dir, tmp_path):
    bad = load_record("example_v2_NCT06171568_APHP_french.json")
    bad["protocolSection"]["eligibilityModule"]["sex"] = "ANY"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(bad))
    r = run("import", str(f), "--store", store_dir)
    assert r.exit_code == 1 and "$.protocolSection.eligibilityModule.sex" in r.stderr
    assert "NCT06171568" not in run("history", "NCT06171568", "--store", store_dir).stdout


def test_import_non_json(tmp_path, store_dir):
    f = tmp_path / "x.json"
    f.write_text("{nope")
    r = run("import", str(f), "--store", store_dir)
    assert r.exit_code == 2 and "not JSON" in r.stderr


def test_check_exits_1_with_findings(store_dir):
    r = run("check", "NCT02034981", "--no-reason", "--store", store_dir)
    assert r.exit_code == 1 and "implausible-unit" in r.stdout and "cohort-excluded-by-criterion" in r.stdout


def test_check_clean_record_exits_0(store_dir):
    run("import", str(record_path("example_v2_NCT06171568_APHP_french.json")), "--store", store_dir)
    r = run("check", "NCT06171568", "--no-reason", "--store", store_dir)
    assert r.exit_code == 0 and r.stdout.strip() == "0 findings"


def test_check_of_an_unknown_study_exits_2_not_1(store_dir):
    """1 means 'the record has findings'; a check that could not run must not look like that."""
    r = run("check", "NCT09999999", "--no-reason", "--store", store_dir)
    assert r.exit_code == 2 and "no study NCT09999999" in r.stderr and r.stdout == ""


def test_history_of_an_unknown_version_exits_2(store_dir):
    r = run("history", "NCT02034981", "--diff", "0", "4", "--store", store_dir)
    assert r.exit_code == 2 and "no version 4" in r.stderr and "Traceback" not in r.output


def test_export_accepts_the_nct_number_as_clinicaltrials_gov_does(store_dir):
    r = run("export", "nct2034981", "--format", "ctgov", "--store", store_dir)
    assert r.exit_code == 0 and json.loads(r.stdout)["protocolSection"]["identificationModule"]["nctId"] == "NCT02034981"


def test_export_of_an_unknown_study_exits_2(store_dir):
    r = run("export", "NCT09999999", "--format", "ctgov", "--store", store_dir)
    assert r.exit_code == 2 and "no study NCT09999999" in r.stderr


def test_refused_import_leaves_the_store_dir_unchanged(store_dir, tmp_path):
    from acse_kg.store import open_store

    run("history", "NCT02034981", "--store", store_dir)  # creates and bootstraps the store
    st = open_store(store_dir)
    before = len(st)
    st.close()
    bad = load_record("example_v2_NCT02513394.json")
    bad["protocolSection"]["statusModule"]["startDateStruct"]["date"] = "2015-13"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(bad))
    r = run("import", str(f), "--store", store_dir)
    assert r.exit_code == 1 and "$.protocolSection.statusModule.startDateStruct.date" in r.stderr
    st = open_store(store_dir)
    assert len(st) == before
    st.close()


def test_import_of_deeply_nested_json_is_refused_without_traceback(store_dir, tmp_path):
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000 + "]" * 100_000)
    r = run("import", str(f), "--store", store_dir)
    assert r.exit_code == 2 and "nested too deeply" in r.stderr


def test_check_exits_2_when_the_reasoner_cannot_run(store_dir, monkeypatch):
    from acse_kg import reasoning

    def broken(data):
        raise reasoning.ReasonerError("no Java found")

    monkeypatch.setattr(reasoning, "reason_ntriples", broken)
    r = run("check", "NCT02034981", "--store", store_dir)
    assert r.exit_code == 2 and "no Java found" in r.stderr and "--no-reason" in r.stderr
