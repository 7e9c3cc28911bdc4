"""Drafting a whole record: sections and bullets, evidence, errors, the CLI, and the comparison with curation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.ctgov.export import export_study
from acse_kg.drafting import FIELDS, DraftingError, draft, draft_record, split_criteria
from acse_kg.drafting.compare import compare, curated_atoms
from acse_kg.model import read_study
from acse_kg.store import GraphStore
from tests.conftest import NCT
from tests.ctgov_fixtures import RECORDS, load_record, record_path


@pytest.fixture(scope="module")
def export(store: GraphStore) -> dict[str, Any]:
    """NCT02034981 as ClinicalTrials.gov has it: the registry's API v2 export, text only."""
    return export_study(store, NCT, full_text=True)


def criteria_text(record: dict[str, Any]) -> str:
    return record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]


def test_sections_and_nested_bullets_of_the_seed(export: dict[str, Any]) -> None:
    bullets = split_criteria(criteria_text(export))
    kinds = [b.kind for b in bullets]
    assert kinds.count("inclusion") == 10 and kinds.count("exclusion") == 24
    nested = [b for b in bullets if b.parent is not None]
    assert len(nested) == 12 and {bullets[b.parent].text[:40] for b in nested} == {
        "Patients with other concurrent severe an"}
    assert all(b.level == 1 for b in nested)


def test_every_bullet_span_is_its_text(export: dict[str, Any]) -> None:
    text = criteria_text(export)
    for b in split_criteria(text):
        assert text[b.start:b.end] == b.text


def test_loose_paragraphs_are_bullets_of_their_section() -> None:
    text = criteria_text(load_record("example_v2_NCT02513394.json"))
    bullets = split_criteria(text)
    para = [b for b in bullets if b.text.startswith("FFPE tumor tissue block")]
    assert len(para) == 1 and para[0].kind == "inclusion" and para[0].parent is None


@pytest.mark.parametrize("name", RECORDS)
def test_the_reference_records_draft_with_their_evidence(name: str) -> None:
    record = load_record(name)
    result = draft(record)
    text = criteria_text(record)
    assert result.items
    for item in result.items:
        assert list(item) == list(FIELDS)
        assert item["state"] == "draft" and item["rule"]
        if item["span"] is not None:
            start, end = item["span"]
            assert text[start:end] == item["quote"]
            bullet = result.bullets[item["bullet"]]
            assert bullet.start <= start and end <= bullet.end


def test_the_seed_export_drafts_with_every_quote_in_its_bullet(export: dict[str, Any]) -> None:
    result = draft(export)
    text = criteria_text(export)
    for item in result.items:
        if item["span"]:
            assert text[item["span"][0]:item["span"][1]] == item["quote"]
    drafted = {i["bullet"] for i in result.items if i["bullet"] is not None}
    assert {t["bullet"] for t in result.to_confirm}.isdisjoint(drafted)
    assert len(drafted) + len(result.to_confirm) == len(result.bullets)


def test_structured_fields_are_drafted_too() -> None:
    got = draft_record(load_record("example_v2_NCT06171568_APHP_french.json"))
    structured = [i for i in got if i["rule"].startswith("structured:")]
    assert [(i["variable"], i["comparator"], i["value"], i["unit"], i["source"]) for i in structured] == [
        ("age_years", ">=", 18, "a", "protocolSection.eligibilityModule.minimumAge")]


def test_ids_are_stable_across_drafts_and_distinct_within_one(export: dict[str, Any]) -> None:
    first, second = draft_record(export), draft_record(json.dumps(export))
    assert [i["id"] for i in first] == [i["id"] for i in second]
    assert len({i["id"] for i in first}) == len(first)


@pytest.mark.parametrize(("record", "message"), [
    ([], "a study record is a JSON object"),
    ({"protocol": {}}, "no protocolSection object"),
    ({"protocolSection": {"eligibilityModule": {"eligibilityCriteria": 3}}}, "eligibilityCriteria is not a string"),
    ("{not json", "the study record is not JSON"),
])
def test_bad_input_is_a_clear_error(record: Any, message: str) -> None:
    with pytest.raises(DraftingError, match=message):
        draft_record(record)


def test_a_record_with_no_criteria_drafts_nothing() -> None:
    assert draft_record({"protocolSection": {"eligibilityModule": {}}}) == []


# ----------------------------------------------------------------- command line
def test_cli_prints_the_criteria_json_of_a_record_file() -> None:
    path = record_path("example_v2_NCT02513394.json")
    result = CliRunner().invoke(app, ["draft", "--record", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == draft_record(load_record("example_v2_NCT02513394.json"))


def test_cli_gives_a_curated_study_its_curated_criteria() -> None:
    result = CliRunner().invoke(app, ["draft", NCT, "--json", "--store", "memory"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert {(i["rule"], i["state"]) for i in items} == {("curated", "curated")}
    anc = [i for i in items if i["variable"] == "anc"]
    assert [(i["comparator"], i["value"], i["unit"], i["quote"]) for i in anc] == [(">=", 1.0, "10*9/L", "ANC ≥ 1.0×10⁹/L")]
    bili = [i for i in items if i["variable"] == "bilirubin_uln"]
    assert [(i["unit"], i["condition"]) for i in bili] == [("xULN", "not Gilbert's syndrome")]


def test_cli_drafts_a_curated_study_afresh_on_request() -> None:
    result = CliRunner().invoke(app, ["draft", NCT, "--fresh", "--store", "memory"])
    assert result.exit_code == 0, result.output
    assert "[inc] anc >= 1.0 10*9/L  « ANC ≥ 1.0x10⁹/L »  threshold:anc  draft" in result.stdout
    assert "to confirm (" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["draft", "NCT-2034981", "--store", "memory"], "not an NCT number"),
    (["draft", "NCT09999999", "--store", "memory"], "no study NCT09999999"),
    (["draft"], "give either an NCT number or --record FILE"),
])
def test_cli_refuses_what_it_cannot_draft(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr


def test_cli_names_a_record_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = CliRunner().invoke(app, ["draft", "--record", str(bad)])
    assert result.exit_code == 2 and "is not JSON" in result.stderr


# ----------------------------------------------------------------- comparison with the curated study
def test_curated_atoms_read_through_the_study_model(store: GraphStore) -> None:
    atoms = curated_atoms(read_study(store, NCT))
    anc = [a for a in atoms if a.variable == "anc"]
    assert [(a.kind, a.comparator, a.value, a.unit) for a in anc] == [("inclusion", ">=", 1.0, "10*9/L")]
    hb = [a for a in atoms if a.variable == "hemoglobin"]
    assert [(a.value, a.unit) for a in hb] == [(8.0, "g/L")]  # the registered value, as the record has it
    qtc = [a for a in atoms if a.variable == "qtcf_ms"]
    assert [(a.kind, a.comparator, a.value) for a in qtc] == [("exclusion", ">", 470.0)]  # the excluding condition


def test_the_draft_of_the_export_meets_the_targets_against_curation(store: GraphStore, export: dict[str, Any]) -> None:
    result = compare(draft(export), read_study(store, NCT))
    assert result.precision >= 0.95 and result.recall >= 0.85


def test_a_changed_threshold_is_caught_by_the_comparison(store: GraphStore, export: dict[str, Any]) -> None:
    changed = json.loads(json.dumps(export))
    module = changed["protocolSection"]["eligibilityModule"]
    module["eligibilityCriteria"] = module["eligibilityCriteria"].replace("ANC ≥ 1.0x10⁹/L", "ANC ≥ 1.5x10⁹/L")
    result = compare(draft(changed), read_study(store, NCT))
    assert [(i["variable"], i["value"]) for i in result.wrong] == [("anc", 1.5)]
    assert [(a.variable, a.value) for a in result.missed if a.variable == "anc"] == [("anc", 1.0)]


# ----------------------------------------------------------------- any text
_PIECES = ["Inclusion Criteria:", "Exclusion Criteria:", "\n", "\n\n", "* ", "  * ", "1. ", "ANC", "platelets", "ECOG",
           "Karnofsky", "QTcF", "age", "years", "of age", "≥", "<=", "at least", "no more than", "1,500", "1.5", "0", "-", "to",
           "x ULN", "10⁹/L", "g/dL", "mL/min", "%", "if", "unless", "for patients with", "(", ")", ";", ",", "no", "not",
           "without", "prior", "treatment with", "crizotinib", "brain metastases", "HIV", "hepatitis B or C", "pregnant",
           "KRAS", "G12C", "mutation", "ALK", "translocation", "MSI-H", "TMB", "mut/Mb", "are eligible", "are excluded",
           "normal values for calcium", "NSCLC", "myocardial infarction", "é", "\t", " "]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=8), max_size=40).map(" ".join))
def test_any_text_drafts_and_every_quote_is_its_span(text: str) -> None:
    record = {"protocolSection": {"eligibilityModule": {"eligibilityCriteria": text}}}
    result = draft(record)
    for item in result.items:
        start, end = item["span"]
        assert text[start:end] == item["quote"]
        assert item["comparator"] in (">=", ">", "<=", "<", "==", "in", "present", "absent")
