"""CLI: acse-kg import recognises CTML; export --format ctml / ctml-yaml; one-line errors naming the JSON path."""

from __future__ import annotations

import json

import pytest
import yaml
from ctml_fixtures import CAPTUR, CAPTUR_FILE, V1_FILE, arm, captur
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.ctml.schema import validate_ctml

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture()
def store_dir(tmp_path):
    return str(tmp_path / "store")


def test_import_captur_reports_its_malformed_values_and_stores_13_cohorts(store_dir):
    r = run("import", str(CAPTUR_FILE), "--store", store_dir)
    assert r.exit_code == 0 and r.stdout.startswith(f"imported {CAPTUR} from CTML: 13 cohorts")
    assert '$.treatment_list.step[0].arm[2].match[0].and[0].or[2].genomic.cnv_call = "High Amplication": read as' \
        in r.stderr and "Traceback" not in r.output


def test_export_ctml_validates_and_yaml_says_the_same(store_dir):
    assert run("import", str(CAPTUR_FILE), "--store", store_dir).exit_code == 0
    as_json = run("export", CAPTUR, "--format", "ctml", "--store", store_dir)
    as_yaml = run("export", CAPTUR, "--format", "ctml-yaml", "--store", store_dir)
    doc = json.loads(as_json.stdout)
    assert validate_ctml(doc) == [] and yaml.safe_load(as_yaml.stdout) == doc


def test_export_ctml_of_acse_lists_what_ctml_cannot_say(store_dir):
    r = run("export", "NCT02034981", "--format", "ctml", "--store", store_dir)
    assert r.exit_code == 0 and validate_ctml(json.loads(r.stdout)) == []
    assert "acse-kg: warning: cohort 1: ALK overexpression has no CTML variant category" in r.stderr


def test_export_ctml_needs_an_nct(store_dir):
    r = run("export", "--format", "ctml", "--store", store_dir)
    assert r.exit_code == 2 and "NCT" in r.stderr


def test_yaml_example_needs_an_nct_number_then_imports(store_dir):
    r = run("import", str(V1_FILE), "--store", store_dir)
    assert r.exit_code == 1 and r.stderr.splitlines()[0].endswith(
        'refused, nothing was stored: $.nct_id = "XXX00000001": not an NCT number (NCT and 8 digits, not all '
        'zero, e.g. NCT02034981); give the study\'s NCT number with --nct (refused)')
    r = run("import", str(V1_FILE), "--nct", "NCT00000001", "--store", store_dir)
    assert r.exit_code == 0 and "imported NCT00000001 from CTML: 1 cohorts" in r.stdout


def test_unknown_gene_is_one_line_naming_the_json_path(store_dir, tmp_path):
    doc = captur()
    arm(doc, "Group 3")["match"][0]["and"][0]["or"][0]["genomic"]["hugo_symbol"] = "ALKK"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc))
    r = run("import", str(f), "--store", store_dir)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert '$.treatment_list.step[0].arm[2].match[0].and[0].or[0].genomic.hugo_symbol = "ALKK": not an HGNC ' \
        'approved gene symbol (refused)' in r.stderr


def test_a_yaml_file_that_is_not_ctml_is_refused(store_dir, tmp_path):
    f = tmp_path / "other.yml"
    f.write_text("name: not a trial\n")
    r = run("import", str(f), "--store", store_dir)
    assert r.exit_code == 2 and "is not a CTML trial" in r.stderr and "Traceback" not in r.output


def test_nct_option_is_for_ctml_only(store_dir):
    from ctgov_fixtures import record_path

    r = run("import", str(record_path("example_v2_NCT02513394.json")), "--nct", "NCT00000001", "--store", store_dir)
    assert r.exit_code == 2 and "--nct is for CTML" in r.stderr
