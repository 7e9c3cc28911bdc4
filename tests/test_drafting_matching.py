"""Drafted studies reach the import and matching: drafted on import, re-importable, matched with "curation": "draft"."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.ctgov.import_ import ImportRefused, import_study
from acse_kg.drafting.review import review, save_drafts, stored_items
from acse_kg.drafting.structured import OncoTreeIndex, normalise
from acse_kg.history import list_versions
from acse_kg.matching.engine import RegistryMatcher
from acse_kg.model import read_study
from acse_kg.store import GraphStore, open_store
from tests.conftest import NCT
from tests.ctgov_fixtures import load_record

REF = "NCT02513394"
APHP = "NCT06171568"


def alk_trial() -> dict[str, Any]:
    """The APHP reference record turned into a lung-cancer trial of crizotinib for ALK rearrangements.

    The words are real criteria wording (the AcSé seed's), the structure the record's own.
    """
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    ps = record["protocolSection"]
    ps["conditionsModule"] = {"conditions": ["Non-Small Cell Lung Cancer"], "keywords": ["ALK"]}
    ps["armsInterventionsModule"] = {"interventions": [{"type": "DRUG", "name": "Crizotinib"}]}
    ps["eligibilityModule"]["eligibilityCriteria"] = (
        "Inclusion Criteria:\n\n* Patients with ALK rearrangement\n* ECOG performance status 0 to 2\n\n"
        "Exclusion Criteria:\n\n* Previous treatment with crizotinib\n")
    record.pop("derivedSection", None)
    return record


def luad(**alteration: Any) -> dict[str, Any]:
    return {"id": "p", "age_years": 60, "sex": "female", "diagnosis": "LUAD", "alterations": [alteration] if alteration else [],
            "performance": {"ecog": 1}}


@pytest.fixture(scope="module")
def alk_store() -> GraphStore:
    st_ = open_store("memory")
    import_study(st_, alk_trial(), agent="test")
    return st_


def test_the_import_drafts_the_criteria_in_the_same_version(fresh_store: GraphStore) -> None:
    import_study(fresh_store, load_record("example_v2_NCT02513394.json"), agent="test")
    assert len(list_versions(fresh_store, REF)) == 1
    items = stored_items(fresh_store, REF)
    assert any(i["rule"] == "threshold:anc" for i in items) and {i["state"] for i in items} == {"draft"}


def test_import_no_draft_stores_the_record_alone(fresh_store: GraphStore) -> None:
    import_study(fresh_store, load_record("example_v2_NCT02513394.json"), agent="test", draft=False)
    assert stored_items(fresh_store, REF) == []
    assert read_study(fresh_store, REF).cohorts == ()


def test_a_study_with_drafts_is_imported_again_and_keeps_the_decisions(fresh_store: GraphStore) -> None:
    record = load_record("example_v2_NCT02513394.json")
    import_study(fresh_store, record, agent="test", draft=False)
    items = save_drafts(fresh_store, REF, agent="tester").items
    anc = next(i for i in items if i["rule"] == "threshold:anc")
    age = next(i for i in items if i["rule"] == "threshold:age_years")
    review(fresh_store, REF, anc["id"], "accepted", agent="alice")
    review(fresh_store, REF, age["id"], "rejected", agent="alice")
    changed = copy.deepcopy(record)
    changed["protocolSection"]["identificationModule"]["briefTitle"] += " (updated)"
    result = import_study(fresh_store, changed, agent="test")  # drafts are not curation: no refusal
    assert not result.unchanged
    states = {i["id"]: i["state"] for i in stored_items(fresh_store, REF)}
    assert states[anc["id"]] == "accepted" and states[age["id"]] == "rejected"
    assert list(states.values()).count("draft") == len(states) - 2


def test_a_re_import_of_the_same_record_with_drafts_makes_no_version(fresh_store: GraphStore) -> None:
    record = load_record("example_v2_NCT02513394.json")
    import_study(fresh_store, record, agent="test")
    assert import_study(fresh_store, record, agent="test").unchanged


def test_a_curated_study_is_still_refused(fresh_store: GraphStore) -> None:
    record = load_record("example_v2_NCT02513394.json")
    record["protocolSection"]["identificationModule"]["nctId"] = NCT
    with pytest.raises(ImportRefused, match="curated"):
        import_study(fresh_store, record, agent="test")


def test_import_on_the_command_line_drafts_unless_told_not_to(tmp_path) -> None:
    runner = CliRunner()
    record = tmp_path / "record.json"
    record.write_text(json.dumps(load_record("example_v2_NCT02513394.json")), encoding="utf-8")
    for flags, drafted in (([], True), (["--no-draft"], False)):
        store = str(tmp_path / f"store{len(flags)}")
        assert runner.invoke(app, ["import", str(record), *flags, "--store", store]).exit_code == 0
        listed = runner.invoke(app, ["curate", REF, "--list", "--json", "--store", store])
        assert bool(json.loads(listed.stdout)) is drafted


# ------------------------------------------------------------------ the structured fields
def test_conditions_and_mesh_terms_map_to_oncotree(store: GraphStore) -> None:
    index = OncoTreeIndex(store)
    assert index.lookup("Breast Cancer") == [(index.codes["BREAST"], "main type")]
    assert index.lookup("Breast Neoplasms") == [(index.codes["BREAST"], "main type")]  # the MeSH heading
    assert index.lookup("Non-Small Cell Lung Cancer") == [(index.codes["NSCLC"], "name")]
    assert index.lookup("NSCLC") == [(index.codes["NSCLC"], "code")]
    assert index.lookup("C3512")[0][1] == "ncit"
    assert index.lookup("Brain Injuries") == [] and index.lookup("HR+/HER2- breast cancer") == []


@given(st.text(max_size=40))
def test_normalising_a_term_twice_changes_nothing(term: str) -> None:
    assert normalise(normalise(term)) == normalise(term)


def test_the_drafted_cohort_takes_the_conditions_genes_and_drugs(alk_store: GraphStore) -> None:
    (cohort,) = read_study(alk_store, APHP).cohorts
    assert cohort.review_state == "draft"
    assert [p.code for p in cohort.pathologies] == ["NSCLC"]
    assert [g.code for g in cohort.genes] == ["ALK"]
    assert [d.label for d in cohort.drugs] == ["crizotinib"]


def test_a_study_whose_conditions_name_no_tumour_gets_no_cohort(fresh_store: GraphStore) -> None:
    import_study(fresh_store, load_record("example_v2_NCT06171568_APHP_french.json"), agent="test")
    assert read_study(fresh_store, APHP).cohorts == ()


# ------------------------------------------------------------------ matching
def test_a_drafted_study_is_matched_and_says_its_verdicts_rest_on_drafts(alk_store: GraphStore) -> None:
    answer = RegistryMatcher(alk_store).match_all(luad(gene="ALK", type="fusion"))
    (result,) = [r for r in answer["results"] if r["trial"] == APHP]
    assert result["curation"] == "draft"
    drafted = [c for c in result["cohorts"][0]["criteria"] if c["iri"].split("/criterion/")[-1].startswith("draft-")]
    assert drafted and all(c["curation"] == "draft" for c in drafted)
    assert all("curation" not in c for c in result["cohorts"][0]["criteria"] if c["id"].startswith("cohort-"))


def test_a_profile_without_the_drafted_gene_is_no_candidate(alk_store: GraphStore) -> None:
    answer = RegistryMatcher(alk_store).match_all(luad(gene="KRAS", type="mutation"))
    assert APHP not in [r["trial"] for r in answer["results"]]


def test_a_curated_study_has_no_curation_mark(store: GraphStore) -> None:
    answer = RegistryMatcher(store).match_all(luad(gene="MET", type="amplification"))
    assert answer["results"] and all("curation" not in r for r in answer["results"])


def test_a_rejected_draft_decides_nothing(fresh_store: GraphStore) -> None:
    import_study(fresh_store, alk_trial(), agent="test")
    ecog = next(i for i in stored_items(fresh_store, APHP) if i["variable"] == "ecog")
    review(fresh_store, APHP, ecog["id"], "rejected", agent="alice")
    profile = luad(gene="ALK", type="fusion")
    profile["performance"] = {"ecog": 4}
    (result,) = [r for r in RegistryMatcher(fresh_store).match_all(profile)["results"] if r["trial"] == APHP]
    cohort = result["cohorts"][0]
    assert ecog["quote"] not in [c["text"] for c in cohort["criteria"]] + cohort["to_confirm"]
    assert cohort["verdict"] != "ineligible"


def test_a_drafted_result_conforms_to_the_published_schema(alk_store: GraphStore) -> None:
    import jsonschema

    from acse_kg.matching.result import trials_result_schema

    answer = RegistryMatcher(alk_store).match_all(luad(gene="ALK", type="fusion"))
    jsonschema.Draft202012Validator(trials_result_schema()).validate(answer)
    assert trials_result_schema()["$defs"]["MatchResult"]["properties"]["curation"]


def basket_trial() -> dict[str, Any]:
    """The ALK trial with two arms that each name a tumour type and an alteration (a basket trial's arms)."""
    record = alk_trial()
    record["protocolSection"]["armsInterventionsModule"]["armGroups"] = [
        {"label": "Cohort A", "type": "EXPERIMENTAL", "description": "NSCLC with ALK rearrangement",
         "interventionNames": ["Drug: Crizotinib"]},
        {"label": "Cohort B", "type": "EXPERIMENTAL", "description": "Non-small cell lung cancer with MET amplification",
         "interventionNames": ["Drug: Crizotinib"]},
    ]
    record["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = (
        "Inclusion Criteria:\n\n* ECOG performance status 0 to 2\n")  # the alteration is the arm's, not common to all
    return record


def test_arms_that_name_a_tumour_and_an_alteration_are_one_drafted_cohort_each(fresh_store: GraphStore) -> None:
    import_study(fresh_store, basket_trial(), agent="test")
    cohorts = read_study(fresh_store, APHP).cohorts
    assert [(c.number, [p.code for p in c.pathologies], [g.code for g in c.genes], [a.code for a in c.accepts])
            for c in cohorts] == [(1, ["NSCLC"], ["ALK"], ["translocation"]), (2, ["NSCLC"], ["MET"], ["amplification"])]
    assert {c.review_state for c in cohorts} == {"draft"}
    answer = RegistryMatcher(fresh_store).match_all(luad(gene="MET", type="amplification"))
    (result,) = [r for r in answer["results"] if r["trial"] == APHP]
    assert [c["cohort"] for c in result["cohorts"]] == [2] and result["curation"] == "draft"
    assert result["cohorts"][0]["verdict"] == "eligible"
