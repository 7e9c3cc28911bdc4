"""FHIR out, per cohort: a basket study's ResearchStudy carries one eligibility Group per cohort, read from
the study model, coded (OncoTree/NCIt, HGNC, SO, LOINC, UCUM) and validated by fhir.resources."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.researchstudy import ResearchStudy
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from acse_kg.ctgov.fhir_groups import (
    AGE,
    CHANGE,
    DISEASE,
    GENE,
    _Builder,
    cohort_groups,
    conjuncts,
)
from acse_kg.model import COMPARATORS, Comparison, Variable, read_study
from acse_kg.patients.vocabulary import HGNC, LOINC, NCIT, ONCOTREE, SO, UCUM

NCT = "NCT02034981"


@pytest.fixture(scope="module")
def client(store) -> TestClient:
    from acse_kg.api.app import create_app

    return TestClient(create_app(store))


@pytest.fixture(scope="module")
def served(client) -> tuple[ResearchStudy, dict[str, Any]]:
    r = client.get(f"/fhir/ResearchStudy/{NCT}")
    assert r.status_code == 200
    return ResearchStudy.model_validate_json(r.text), r.json()  # parsing it again validates it again


def groups(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in body["contained"] if r["resourceType"] == "Group" and r["id"].startswith("cohort-")}


def chars(group: dict[str, Any], coding: Any) -> list[dict[str, Any]]:
    return [c for c in group["characteristic"]
            if any(x.get("system") == coding.system and x.get("code") == coding.code for x in c["code"].get("coding", []))]


def test_one_group_per_cohort_listed_in_enrollment_after_the_count(served) -> None:
    study, body = served
    found = groups(body)
    assert sorted(found, key=lambda x: int(x.split("-")[1])) == [f"cohort-{n}" for n in range(1, 24)]
    assert [e.reference for e in study.enrollment] == ["#enrollment"] + [f"#cohort-{n}" for n in range(1, 24)]
    assert all(g["actual"] is False and g["type"] == "person" for g in found.values())


def test_every_reference_inside_the_study_resolves_to_a_contained_resource(served) -> None:
    _, body = served
    ids = {r["id"] for r in body["contained"]}
    text = json.dumps(body)
    refs = {part.split('"', 1)[0] for part in text.split('"reference": "#')[1:]}
    assert refs and refs <= ids


def model5(store):
    return read_study(store, NCT).cohort(5)


def test_cohort_5_is_nsclc_met_amplified_adults_coded(store, served) -> None:
    g = groups(served[1])["cohort-5"]
    assert g["name"] == "Cohort 5: NSCLC, adults, MET amplified"
    (age,) = chars(g, AGE)[:1]
    assert age["valueRange"]["low"] == {"value": 18, "unit": "a", "system": UCUM, "code": "a"} and "high" not in age["valueRange"]
    disease = next(c for c in chars(g, DISEASE) if not c["exclude"])
    vs = next(r for r in served[1]["contained"] if r["id"] == disease["valueReference"]["reference"][1:])
    assert {(inc["system"], c["code"]) for inc in vs["compose"]["include"] for c in inc["concept"]} == \
        {(ONCOTREE, t.code) for t in model5(store).pathologies} >= {(ONCOTREE, "NSCLC")}
    genes = [c for c in chars(g, GENE) if "valueCodeableConcept" in c]
    assert [(c["system"], c["code"]) for c in genes[0]["valueCodeableConcept"]["coding"]] == [(HGNC, "HGNC:7029")]
    (change,) = chars(g, CHANGE)
    assert (SO, "SO:0001880") in {(c["system"], c["code"]) for c in change["valueCodeableConcept"]["coding"]}


def test_a_single_pathology_is_coded_in_oncotree_and_ncit(served) -> None:
    g = groups(served[1])["cohort-18"]  # glioblastoma, adults, MET amplified
    (disease,) = [c for c in chars(g, DISEASE) if not c["exclude"]]
    assert {(c["system"], c["code"]) for c in disease["valueCodeableConcept"]["coding"]} == {(ONCOTREE, "GB"), (NCIT, "C3058")}


def test_a_pathology_the_cohort_does_not_take_is_an_excluded_disease(store, served) -> None:
    model = read_study(store, NCT)
    cohort = next(c for c in model.cohorts if c.excluded_pathologies)
    g = groups(served[1])[f"cohort-{cohort.number}"]
    excluded = {c["valueCodeableConcept"]["coding"][0]["code"] for c in chars(g, DISEASE) if c["exclude"]}
    assert excluded == {t.code for t in cohort.excluded_pathologies}


def test_alternatives_are_a_contained_value_set(served) -> None:
    _, body = served
    g = groups(body)["cohort-17"]
    (disease,) = chars(g, DISEASE)
    vs = next(r for r in body["contained"] if r["id"] == disease["valueReference"]["reference"][1:])
    assert vs["resourceType"] == "ValueSet"
    assert {c["code"] for inc in vs["compose"]["include"] for c in inc["concept"]} == {"ARMS", "ERMS"}


@pytest.mark.parametrize(("loinc", "comparator", "value", "unit", "exclude"), [
    ("751-8", ">=", 1, "10*9/L", False),  # ANC ≥ 1.0×10⁹/L
    ("718-7", ">=", 8, "g/dL", False),  # Hb ≥ 8 g/dL (the curated threshold)
    ("2164-2", ">=", 50, "mL/min", False),
    ("8867-4", "<=", 45, "/min", True),  # heart rate ≤ 45 excludes
    ("8636-3", ">", 470, "ms", True),  # QTcF > 470 ms excludes
])
def test_a_lab_or_vital_criterion_is_loinc_with_a_ucum_threshold(served, loinc, comparator, value, unit, exclude) -> None:
    g = groups(served[1])["cohort-5"]
    (c,) = [c for c in g["characteristic"] if any(x.get("code") == loinc for x in c["code"].get("coding", []))]
    assert c["valueQuantity"] == {"value": value, "comparator": comparator, "unit": unit, "system": UCUM, "code": unit}
    assert c["exclude"] is exclude


def test_a_history_exclusion_is_the_graphs_variable_excluded(served) -> None:
    g = groups(served[1])["cohort-5"]
    (c,) = [c for c in g["characteristic"] if any(x.get("code") == "var_prior_crizotinib" for x in c["code"].get("coding", []))]
    assert c["valueBoolean"] is True and c["exclude"] is True


def test_every_quantity_carries_a_ucum_code(served) -> None:
    def quantities(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            own = [node] if "value" in node and isinstance(node.get("value"), (int, float)) and "unit" in node else []
            return own + [q for v in node.values() for q in quantities(v)]
        return [q for v in node for q in quantities(v)] if isinstance(node, list) else []

    found = [q for g in groups(served[1]).values() for q in quantities(g)]
    assert found and all(q["system"] == UCUM and q["code"] for q in found)


def test_every_criterion_of_the_cohort_is_in_its_group_coded_or_in_words(store, served) -> None:
    model = read_study(store, NCT)
    wholes = {c.component_of for c in model.criteria if c.component_of}
    g = groups(served[1])["cohort-5"]
    worded = {c["code"]["text"] for c in g["characteristic"] if "coding" not in c["code"]}
    said = [c for c in model.criteria_of(model.cohort(5)) if c.iri not in wholes]
    coded = [c for c in said if c.text not in worded]
    assert all(c.decidable and c.applies_when is None for c in coded)  # only a one-rule criterion is coded
    excluded = len(model.cohort(5).excluded_pathologies)
    # age, disease, gene, type, each excluded pathology, then one per criterion
    assert len(g["characteristic"]) == 4 + excluded + len(said)


def test_the_registered_bullet_with_components_is_said_by_its_components(store, served) -> None:
    model = read_study(store, NCT)
    whole = next(c for c in model.criteria if c.text.startswith("hematologic function"))
    g = groups(served[1])["cohort-5"]
    assert whole.text not in {c["code"].get("text") for c in g["characteristic"]}


def test_the_cli_export_carries_the_groups(tmp_path) -> None:
    from acse_kg.cli import app

    r = CliRunner().invoke(app, ["export", NCT, "--format", "fhir", "--store", "memory"], catch_exceptions=False)
    assert r.exit_code == 0
    study = ResearchStudy.model_validate_json(r.stdout)
    assert len([g for g in study.contained if isinstance(g, Group) and g.id.startswith("cohort-")]) == 23


def test_a_study_without_cohorts_has_no_cohort_group() -> None:
    from acse_kg.ctgov.fhir_study import research_study, study_cohorts

    record = {"protocolSection": {"identificationModule": {"nctId": "NCT99999999"}}}
    assert study_cohorts(None, record) == []
    assert research_study({**record, "protocolSection": {**record["protocolSection"], "statusModule": {}}}).enrollment is None


# ------------------------------------------------------------ CAPTUR, imported from CTML
@pytest.fixture(scope="module")
def captur_groups() -> tuple[Any, list[Any]]:
    from ctml_fixtures import CAPTUR, captur

    from acse_kg.ctml.importer import import_ctml
    from acse_kg.store import open_store

    s = open_store("memory")
    import_ctml(s, captur())
    model = read_study(s, CAPTUR)
    return model, cohort_groups(s, model)


def test_captur_has_a_valid_group_per_arm(captur_groups) -> None:
    model, resources = captur_groups
    found = [r for r in resources if isinstance(r, Group)]
    assert len(found) == len(model.cohorts) == 13
    for g in found:
        Group.model_validate_json(g.model_dump_json())


def test_a_captur_arm_rule_codes_its_age_and_excluded_diagnosis(captur_groups) -> None:
    _, resources = captur_groups
    crizotinib = next(r for r in resources if isinstance(r, Group) and r.name.endswith("Crizotinib"))
    body = json.loads(crizotinib.model_dump_json(exclude_none=True))
    (age,) = chars(body, AGE)
    assert age["valueQuantity"]["comparator"] == ">=" and age["valueQuantity"]["value"] == 18
    (nsclc,) = chars(body, DISEASE)
    assert nsclc["exclude"] is True and nsclc["valueCodeableConcept"]["coding"][0]["code"] == "NSCLC"
    gene = chars(body, GENE)[0]
    vs = next(r for r in resources if r.id == gene["valueReference"]["reference"][1:])
    assert {c.code for inc in vs.compose.include for c in inc.concept} == {"HGNC:427", "HGNC:7029", "HGNC:10261"}
    assert any(c["code"].get("text", "").startswith("cohort rule: (ALK translocation") for c in body["characteristic"])


# ------------------------------------------------------------ one comparison, any threshold
@given(st.sampled_from(sorted(COMPARATORS)), st.floats(0, 1e6, allow_nan=False), st.booleans())
def test_a_comparison_keeps_its_comparator_threshold_and_unit(comparator: str, threshold: float, exclude: bool) -> None:
    var = Variable("https://w3id.org/acse-kg/ontology#var_anc", "labs.anc", "10*9/L", "number", "absolute neutrophil count")
    b = _Builder.__new__(_Builder)
    b.chars = []
    b.comparison(Comparison(var, comparator, threshold, "10*9/L"), exclude)
    (c,) = b.chars
    q = c.valueQuantity
    assert c.code.coding[0].system == LOINC and c.code.coding[0].code == "751-8" and c.exclude is exclude
    assert float(q.value) == pytest.approx(threshold) and (q.system, q.code) == (UCUM, "10*9/L")
    assert q.comparator == {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": None}[comparator]


def test_nested_conjunctions_are_flattened() -> None:
    from acse_kg.model import And, Term, TumourTypeTest

    a, b, c = (TumourTypeTest(Term(f"x:{n}", code=n)) for n in "ABC")
    assert conjuncts(And((a, And((b, c))))) == [a, b, c]
