"""CTML export: any structured study as CTML that validates, read through the study model; CAPTUR round-trips."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import NCT
from ctml_fixtures import CAPTUR, captur, shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acse_kg.ctml.export import CtmlExportError, study_to_ctml
from acse_kg.ctml.importer import import_ctml
from acse_kg.ctml.schema import validate_ctml
from acse_kg.ctml.vocabulary import read_vocabulary
from acse_kg.loader import study_graph_name
from acse_kg.model import read_study
from acse_kg.namespaces import ACSE
from acse_kg.store import open_store


def export(store, nct):
    return study_to_ctml(read_study(store, nct), read_vocabulary(store))


@pytest.fixture(scope="module")
def captur_store():
    s = open_store("memory")
    import_ctml(s, captur())
    return s


def test_acse_exports_as_ctml_that_validates(store):
    out = export(store, NCT)
    assert validate_ctml(out.document) == []
    assert len(out.document["treatment_list"]["step"][0]["arm"]) == 23


def test_acse_cohort_is_an_and_of_genomic_alternatives_and_its_clinical_node(store):
    arms = export(store, NCT).document["treatment_list"]["step"][0]["arm"]
    nsclc_met = next(a for a in arms if a["arm_description"] == "NSCLC, adults, MET amplified")
    tree = nsclc_met["match"][0]["and"]
    # The audited cohort 5 takes NSCLC and two lung carcinomas OncoTree files elsewhere: one clinical node each.
    names = {"Non-Small Cell Lung Cancer", "Large Cell Neuroendocrine Carcinoma", "Sarcomatoid Carcinoma of the Lung"}
    (clinical,) = [x["and"] for x in tree if "and" in x]
    (alternatives,) = [x["or"] for x in clinical if "or" in x]
    assert {x["clinical"]["oncotree_primary_diagnosis"] for x in alternatives} == names
    assert {"clinical": {"age_numerical": ">=18"}} in clinical
    assert {"or": [{"genomic": {"hugo_symbol": "MET", "variant_category": "Copy Number Variation",
                                "cnv_call": c}} for c in ("High level amplification", "Gain")]} in tree


def test_what_ctml_cannot_say_is_noted_not_written(store):
    notes = export(store, NCT).notes
    assert any("overexpression" in n for n in notes) and any("exclusion criteria" in n for n in notes)


def test_acse_regimens_go_to_the_cohorts_they_dose(store):
    arms = export(store, NCT).document["treatment_list"]["step"][0]["arm"]
    alcl = arms[0]["dose_level"]
    assert [d["level_description"][:3] for d in alcl] == ["250", "165"]  # not the children-except-ALCL dose


def test_captur_exports_as_ctml_that_validates(captur_store):
    doc = export(captur_store, CAPTUR).document
    assert validate_ctml(doc) == [] and len(doc["treatment_list"]["step"][0]["arm"]) == 13


def test_captur_round_trips_to_the_same_study(captur_store):
    s = open_store("memory")
    import_ctml(s, captur())
    first = read_study(s, CAPTUR)
    result = import_ctml(s, export(s, CAPTUR).document)
    second = read_study(s, CAPTUR)
    assert dataclasses.replace(first, curations=()) == dataclasses.replace(second, curations=())
    assert [f for f in result.findings if f.action in ("refused", "schema")] == []


def test_captur_round_trips_to_the_same_graph_but_the_readings_of_its_words():
    """Titles, purpose, status, phase, protocol number, sponsors and sites come back too: the only
    triples the second import does not make are the curations saying how the first read CTML's words
    (``p.V600G`` read as an exact protein change), which an export already structured needs no more."""
    s = open_store("memory")
    import_ctml(s, captur())
    graph = study_graph_name(CAPTUR)
    before = s.graph(graph)
    curated = set(before.subjects(None, ACSE.Curation))
    import_ctml(s, export(s, CAPTUR).document)
    after = s.graph(graph)
    assert set(after) == {t for t in before if t[0] not in curated} and len(curated) > 0


def test_captur_study_fields_are_written(captur_store):
    doc = export(captur_store, CAPTUR).document
    assert doc["long_title"].startswith("Canadian Profiling and Targeted Agent Utilization Trial (CAPTUR):")
    assert (doc["phase"], doc["protocol_no"]) == ("II", "PM1")
    assert doc["sponsor_list"]["sponsor"][0] == {"sponsor_name": "Canadian Cancer Trials Group",
                                                 "is_principal_sponsor": "Y"}
    assert len(doc["site_list"]["site"]) == 5 and doc["nct_purpose"].startswith("Recent advances")


def test_sites_the_ctml_schema_does_not_list_are_noted_not_written(store):
    exported = export(store, NCT)
    assert "site_list" not in exported.document and validate_ctml(exported.document) == []
    assert read_study(store, NCT).sites == ("Gustave Roussy",)
    assert any("'Gustave Roussy' is not on it; the site list is not written" in n for n in exported.notes)


def test_captur_round_trips_to_the_same_cohort_graph():
    """Cohorts, rules, arms, regimens and criteria: the same triples, IRIs included (curations aside)."""
    s = open_store("memory")
    import_ctml(s, captur())
    graph = study_graph_name(CAPTUR)

    def protocol(g):
        curated = set(g.subjects(None, ACSE.Curation))
        return {t for t in g if t[0] not in curated and any(f"/{part}/" in str(t[0]) for part in
                                                            ("cohort", "arm", "criterion"))}

    before = protocol(s.graph(graph))
    import_ctml(s, export(s, CAPTUR).document)
    assert protocol(s.graph(graph)) == before and len(before) > 1000


def test_the_export_of_an_export_is_the_same_document(captur_store):
    once = export(captur_store, CAPTUR).document
    s = open_store("memory")
    import_ctml(s, once)
    assert export(s, CAPTUR).document == once


def test_a_study_without_cohorts_has_nothing_to_write(captur_store):
    study = dataclasses.replace(read_study(captur_store, CAPTUR), cohorts=())
    with pytest.raises(CtmlExportError, match="no cohorts"):
        study_to_ctml(study, read_vocabulary(captur_store))


GENES = ["ALK", "MET", "ROS1", "BRAF", "EGFR", "KRAS"]
DIAGNOSES = ["Melanoma", "Non-Small Cell Lung Cancer", "Thyroid", "_SOLID_", "_LIQUID_", "Breast"]
genomic = st.builds(
    lambda neg, gene, kind: {"genomic": {"hugo_symbol": ("!" if neg else "") + gene, **kind}},
    st.booleans(), st.sampled_from(GENES),
    st.one_of(st.just({"variant_category": "Mutation"}),
              st.just({"variant_category": "Structural Variation"}),
              st.builds(lambda c: {"variant_category": "Copy Number Variation", "cnv_call": c},
                        st.sampled_from(["High level amplification", "Gain", "Homozygous deletion"])),
              st.builds(lambda p: {"variant_category": "Mutation", "protein_change": p},
                        st.sampled_from(["p.V600E", "p.G12C", "p.L858R"])),
              st.builds(lambda p: {"variant_category": "Mutation", "wildcard_protein_change": p},
                        st.sampled_from(["p.V600", "p.G12"])),
              st.builds(lambda f: {"variant_category": "Mutation", "molecular_function": f},
                        st.sampled_from(["Activating", "Inactivating"]))))
clinical = st.builds(
    lambda diag, neg, age: {"clinical": {k: v for k, v in (
        ("oncotree_primary_diagnosis", None if diag is None else ("!" if neg else "") + diag),
        ("age_numerical", age)) if v is not None} or {"age_numerical": ">=18"}},
    st.one_of(st.none(), st.sampled_from(DIAGNOSES)), st.booleans(),
    st.one_of(st.none(), st.sampled_from([">=18", "<18", ">12", "<=65"])))
trees = st.recursive(st.one_of(genomic, clinical),
                     lambda sub: st.builds(lambda k, xs: {k: xs}, st.sampled_from(["and", "or"]),
                                           st.lists(sub, min_size=2, max_size=3)),
                     max_leaves=6)


@pytest.fixture(scope="module")
def scratch():
    return open_store("memory")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees)
def test_any_match_tree_round_trips_to_the_same_rule(scratch, tree):
    doc = {"nct_id": "NCT09999999", "treatment_list": {"step": [{"arm": [
        {"arm_code": "A", "arm_description": "arm A", "match": [tree]}]}]}}
    import_ctml(scratch, doc)
    first = read_study(scratch, "NCT09999999").cohorts[0].rule
    out = export(scratch, "NCT09999999").document
    assert validate_ctml(out) == []
    import_ctml(scratch, out)
    assert shape(read_study(scratch, "NCT09999999").cohorts[0].rule) == shape(first)
