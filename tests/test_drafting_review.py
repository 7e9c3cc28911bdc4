"""Drafts stored in the graph and reviewed: data with PROV, expressions the study model reads, decisions that survive a re-draft."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.ctgov.import_ import import_study
from acse_kg.drafting.review import ReviewError, parse_edit, review, save_drafts, stored_items
from acse_kg.history import list_versions
from acse_kg.model import Comparison, Not, PriorTherapyTest, read_study
from acse_kg.store import GraphStore, open_store
from tests.conftest import NCT
from tests.ctgov_fixtures import load_record

REF = "NCT02513394"


@pytest.fixture()
def imported() -> GraphStore:
    """A store of its own holding the imported reference record NCT02513394 (no curated criteria)."""
    st = open_store("memory")
    import_study(st, load_record("example_v2_NCT02513394.json"), agent="test")
    return st


def by_rule(items: list[dict[str, Any]], rule: str, quote_start: str = "") -> dict[str, Any]:
    found = [i for i in items if i["rule"] == rule and i["quote"].startswith(quote_start)]
    assert len(found) == 1, [i["quote"] for i in found]
    return found[0]


def test_drafts_are_stored_as_criteria_with_their_evidence_and_provenance(imported: GraphStore) -> None:
    saved = save_drafts(imported, REF, agent="tester")
    assert saved.items and all(i["state"] == "draft" for i in saved.items)
    rows = imported.select("""
        SELECT ?c ?state ?rule ?start ?end ?text ?activity WHERE {
          ?c acse:reviewState ?state ; acse:draftRule ?rule ; acse:criterionText ?text ;
             acse:sourceStart ?start ; acse:sourceEnd ?end ; prov:wasGeneratedBy ?activity .
          ?activity a acse:DraftingActivity . }""")
    anc = [r for r in rows if str(r["rule"]) == "threshold:anc"]
    assert len(anc) == 1 and str(anc[0]["state"]) == "draft"
    text = load_record("example_v2_NCT02513394.json")["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    assert text[int(anc[0]["start"].toPython()):int(anc[0]["end"].toPython())] == str(anc[0]["text"])


def test_the_study_model_reads_drafts_as_criteria(imported: GraphStore) -> None:
    save_drafts(imported, REF, agent="tester")
    crits = {c.id: c for c in read_study(imported, REF).criteria}
    anc = next(c for c in crits.values() if c.text.startswith("Absolute neutrophil count"))
    assert anc.kind == "inclusion" and anc.decidable
    assert isinstance(anc.requires, Comparison)
    assert (anc.requires.variable.field, anc.requires.comparator, anc.requires.threshold, anc.requires.unit) == (
        "labs.anc", "ge", 1500.0, "/uL")
    conditioned = next(c for c in crits.values() if c.text.startswith("creatinine clearance"))
    assert conditioned.requires is None and conditioned.computable is False  # an unparsed condition is not applied to all


def test_a_drafted_exclusion_excludes_when_its_condition_holds(fresh_store: GraphStore) -> None:
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] += (
        "\n\nExclusion Criteria:\n\n* Previous treatment with crizotinib\n")
    import_study(fresh_store, record, agent="test")
    nct = record["protocolSection"]["identificationModule"]["nctId"]
    save_drafts(fresh_store, nct, agent="tester")
    exc = [c for c in read_study(fresh_store, nct).criteria if c.kind == "exclusion"]
    assert len(exc) == 1 and isinstance(exc[0].excludes_when, PriorTherapyTest)
    assert exc[0].excludes_when.drug.name == "crizotinib" or "crizotinib" in exc[0].excludes_when.drug.iri
    assert isinstance(exc[0].requires, Not)


def test_a_curators_decisions_survive_a_re_draft(imported: GraphStore) -> None:
    items = save_drafts(imported, REF, agent="tester").items
    anc = by_rule(items, "threshold:anc")
    age = by_rule(items, "threshold:age_years")
    hb = by_rule(items, "threshold:hemoglobin")
    review(imported, REF, anc["id"], "accepted", agent="alice")
    review(imported, REF, age["id"], "rejected", agent="alice")
    review(imported, REF, hb["id"], "edited", agent="alice", edit="hemoglobin >= 9 g/dL")
    again = save_drafts(imported, REF, agent="tester")
    assert again.kept_decisions == 3
    states = {i["id"]: (i["state"], i["value"]) for i in stored_items(imported, REF)}
    assert states[anc["id"]] == ("accepted", 1500)
    assert states[age["id"]] == ("rejected", 18)
    assert states[hb["id"]] == ("edited", 9)
    crits = {c.id: c for c in read_study(imported, REF).criteria}
    assert crits["draft-" + age["id"]].computable is False  # a rejected draft decides nothing
    assert crits["draft-" + hb["id"]].requires.threshold == 9.0  # type: ignore[union-attr]


def test_every_review_is_a_version_with_who(imported: GraphStore) -> None:
    items = save_drafts(imported, REF, agent="tester").items
    before = len(list_versions(imported, REF))
    review(imported, REF, items[0]["id"], "accepted", agent="alice via acse-kg curate")
    versions = list_versions(imported, REF)
    assert len(versions) == before + 1
    assert "alice" in str(versions[-1])


def test_a_curated_study_takes_no_drafts(fresh_store: GraphStore) -> None:
    with pytest.raises(ReviewError, match="has curated criteria"):
        save_drafts(fresh_store, NCT, agent="tester")


def test_reviewing_an_unknown_item_names_the_ids(imported: GraphStore) -> None:
    save_drafts(imported, REF, agent="tester")
    with pytest.raises(ReviewError, match="has no drafted item 'd-nope'"):
        review(imported, REF, "d-nope", "accepted", agent="alice")


@pytest.mark.parametrize(("text", "expected"), [
    ("anc >= 1.5 10*9/L", {"variable": "anc", "comparator": ">=", "value": 1.5, "unit": "10*9/L", "condition": None}),
    ("brain_metastases absent if untreated", {"variable": "brain_metastases", "comparator": "absent", "value": None,
                                              "unit": None, "condition": "untreated"}),
    ("ecog <= 1", {"variable": "ecog", "comparator": "<=", "value": 1, "unit": None, "condition": None}),
    ("biomarker present KRAS G12C", {"variable": "biomarker", "comparator": "present", "value": None, "unit": None,
                                     "condition": None, "gene": "KRAS", "alteration": "G12C"}),
])
def test_the_edit_language(text: str, expected: dict[str, Any]) -> None:
    assert parse_edit(text) == expected


@pytest.mark.parametrize("text", ["anc is high", ">= 1.5", "hiv absent 3"])
def test_an_edit_that_does_not_read_is_refused(text: str) -> None:
    with pytest.raises(ReviewError):
        parse_edit(text)


def test_curate_on_the_command_line(tmp_path) -> None:
    store = str(tmp_path / "store")
    record = tmp_path / "record.json"
    record.write_text(json.dumps(load_record("example_v2_NCT02513394.json")), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(record), "--store", store]).exit_code == 0
    saved = runner.invoke(app, ["draft", REF, "--save", "--by", "tester", "--store", store])
    assert saved.exit_code == 0 and "stored" in saved.stdout
    listed = json.loads(runner.invoke(app, ["curate", REF, "--list", "--json", "--store", store]).stdout)
    target = next(i for i in listed if i["rule"] == "threshold:anc")
    done = runner.invoke(app, ["curate", REF, "--accept", target["id"], "--by", "alice", "--store", store])
    assert done.exit_code == 0 and done.stdout.rstrip().endswith("accepted")
    answered = json.loads(runner.invoke(app, ["draft", REF, "--json", "--store", store]).stdout)
    assert [i["state"] for i in answered if i["id"] == target["id"]] == ["accepted"]  # the stored, reviewed drafts
    both = runner.invoke(app, ["curate", REF, "--list", "--accept", target["id"], "--store", store])
    assert both.exit_code == 2 and "exactly one of" in both.stderr


def test_presence_drafts_use_the_variables_added_for_them(imported: GraphStore) -> None:
    save_drafts(imported, REF, agent="tester")
    pregnant = [c for c in read_study(imported, REF).criteria if c.kind == "exclusion" and c.text == "Pregnant"]
    assert len(pregnant) == 1
    e = pregnant[0].excludes_when
    assert isinstance(e, Comparison) and (e.variable.field, e.comparator, e.threshold) == ("history.pregnancy", "eq", True)


def test_a_review_keeps_the_time_of_the_drafting(imported: GraphStore) -> None:
    items = save_drafts(imported, REF, agent="tester").items
    query = "SELECT ?t WHERE { ?a a acse:DraftingActivity ; prov:endedAtTime ?t }"
    before = [str(r["t"]) for r in imported.select(query)]
    review(imported, REF, items[0]["id"], "accepted", agent="alice")
    assert [str(r["t"]) for r in imported.select(query)] == before and len(before) == 1
