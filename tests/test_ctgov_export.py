"""Export: the curated record as ClinicalTrials.gov API v2 JSON, derived from the graph."""

from __future__ import annotations

import pytest

from acse_kg.ctgov.export import StudyNotFound, export_study
from acse_kg.ctgov.schema import validate_study

NCT = "NCT02034981"


@pytest.fixture(scope="module")
def exported(store):
    return export_study(store, NCT)


@pytest.fixture(scope="module")
def ps(exported):
    return exported["protocolSection"]


def test_export_validates_against_the_spec_study_schema(exported):
    assert validate_study(exported) == []


def test_sponsors_and_responsible_party(ps):
    m = ps["sponsorCollaboratorsModule"]
    assert m["leadSponsor"] == {"name": "UNICANCER", "class": "OTHER"}
    assert sorted(c["name"] for c in m["collaborators"]) == ["Fondation ARC", "National Cancer Institute, France"]
    assert m["responsibleParty"]["type"] == "SPONSOR"


def test_identifiers(ps):
    m = ps["identificationModule"]
    assert m["nctId"] == NCT
    assert m["orgStudyIdInfo"]["id"] == "UC-0105/1303"
    assert {"id": "2013-000885-13", "type": "EUDRACT_NUMBER"} in m["secondaryIdInfos"]


def test_dates_carry_their_types(ps):
    m = ps["statusModule"]
    assert m["overallStatus"] == "ACTIVE_NOT_RECRUITING"
    assert m["startDateStruct"] == {"date": "2013-08", "type": "ACTUAL"}
    assert m["completionDateStruct"]["type"] == "ESTIMATED"
    assert m["studyFirstPostDateStruct"] == {"date": "2014-01-14", "type": "ACTUAL"}


def test_design_phase_and_enrollment(ps):
    m = ps["designModule"]
    assert m["phases"] == ["PHASE2"]
    assert m["studyType"] == "INTERVENTIONAL"
    assert m["enrollmentInfo"] == {"count": 246, "type": "ACTUAL"}


def test_arm_and_intervention_names(ps):
    m = ps["armsInterventionsModule"]
    assert m["armGroups"][0]["label"] == "CRIZOTINIB" and m["armGroups"][0]["type"] == "EXPERIMENTAL"
    assert m["armGroups"][0]["interventionNames"] == ["Drug: Crizotinib"]
    iv = m["interventions"][0]
    assert (iv["type"], iv["name"], iv["otherNames"]) == ("DRUG", "Crizotinib", ["XALKORI"])


def test_outcomes_in_order(ps):
    m = ps["outcomesModule"]
    assert len(m["primaryOutcomes"]) == 1
    assert [o["measure"] for o in m["secondaryOutcomes"]][1:] == [
        "Disease control rate", "response duration", "Progression-free survival", "Overall survival"]


def test_eligibility_fields(ps):
    m = ps["eligibilityModule"]
    assert (m["minimumAge"], m["sex"], m["healthyVolunteers"]) == ("1 Year", "ALL", False)
    assert m["stdAges"] == ["CHILD", "ADULT", "OLDER_ADULT"]


def test_eligibility_text_is_rebuilt_from_criterion_individuals(store, ps):
    n = store.select(f"SELECT (COUNT(?c) AS ?n) WHERE {{ id:study\\/{NCT} acse:hasCriterion ?c }}").values("n")[0]
    if not n:
        pytest.skip("the record has no criterion individuals yet")
    text = ps["eligibilityModule"]["eligibilityCriteria"]
    assert text.startswith("Inclusion Criteria:") and "\nExclusion Criteria:\n" in text
    assert "* Patients with primary or secondary central nervous system disease" in text
    assert "\n  * " in text  # nested bullets


def test_location_official_keywords_conditions(ps):
    loc = ps["contactsLocationsModule"]["locations"][0]
    assert (loc["facility"], loc["city"], loc["country"]) == ("Gustave Roussy", "Villejuif", "France")
    off = ps["contactsLocationsModule"]["overallOfficials"][0]
    assert off["name"] == "Gilles VASSAL" and off["role"] == "PRINCIPAL_INVESTIGATOR"
    assert ps["conditionsModule"]["conditions"] == ["Hematologic Cancers", "Solid Tumors", "Metastatic Cancer"]
    assert "genomic alterations." in ps["conditionsModule"]["keywords"]


def test_mesh_terms_in_derived_section(exported):
    d = exported["derivedSection"]
    assert {"id": "D019337", "term": "Hematologic Neoplasms"} in d["conditionBrowseModule"]["meshes"]
    assert {"id": "D047428", "term": "Protein Kinase Inhibitors"} in d["interventionBrowseModule"]["meshes"]


def test_unknown_study_is_refused(store):
    with pytest.raises(StudyNotFound):
        export_study(store, "NCT00000000")
