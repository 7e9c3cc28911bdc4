"""FHIR out: a study as an R4B ResearchStudy (HTTP, the API v2 format=fhir.json, and the CLI),
validated by fhir.resources on NCT02034981 and on each reference record.

The official HL7 FHIR validator is a Java program fetched from outside the
package registries (with the FHIR core packages it loads at run time), so it
cannot run offline here; fhir.resources' own validation is what these tests use.
"""

from __future__ import annotations

import json

import pytest
from ctgov_fixtures import load_record
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.researchstudy import ResearchStudy
from typer.testing import CliRunner

from acse_kg.ctgov.fhir_study import CTGOV_SYSTEM, STATUS, _phase
from acse_kg.ctgov.spec import enum_values

ALL = ["NCT02034981", "NCT02513394", "NCT06171568"]


def fetch(client, nct: str) -> tuple[ResearchStudy, dict]:
    r = client.get(f"/fhir/ResearchStudy/{nct}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    return ResearchStudy.model_validate_json(r.text), r.json()  # parsing it again validates it again


@pytest.mark.parametrize("nct", ALL)
def test_each_study_is_a_valid_research_study(listing, nct):
    study, body = fetch(listing, nct)
    assert body["resourceType"] == "ResearchStudy" and study.id == nct
    assert [i.value for i in study.identifier if i.system == CTGOV_SYSTEM] == [nct]


@pytest.mark.parametrize("nct", ALL)
def test_the_research_study_says_what_the_api_v2_record_says(listing, nct):
    study, body = fetch(listing, nct)
    ps = listing.get(f"/api/v2/studies/{nct}").json()["protocolSection"]
    assert study.title == ps["identificationModule"]["briefTitle"]
    assert study.status == STATUS[ps["statusModule"]["overallStatus"]]
    assert body["period"]["start"] == ps["statusModule"]["startDateStruct"]["date"]  # partial dates kept as given
    conditions = [c.text for c in study.condition if not c.coding]
    assert conditions == ps["conditionsModule"]["conditions"]
    assert [a.name for a in study.arm or []] == [a["label"] for a in ps["armsInterventionsModule"].get("armGroups", [])]
    contained = {r.id: r for r in study.contained}
    assert [contained[s.reference[1:]].name for s in study.site] == \
        [loc["facility"] for loc in ps["contactsLocationsModule"]["locations"]]
    group = contained[study.enrollment[0].reference[1:]]
    assert group.quantity == ps["designModule"]["enrollmentInfo"]["count"]
    assert group.actual is (ps["designModule"]["enrollmentInfo"]["type"] == "ACTUAL")


def test_nct02034981_in_detail(listing):
    study, _ = fetch(listing, "NCT02034981")
    assert study.status == "closed-to-accrual"  # ACTIVE_NOT_RECRUITING
    assert [(c.system, c.code) for c in study.phase.coding] == [
        ("http://terminology.hl7.org/CodeSystem/research-study-phase", "phase-2")]
    assert study.primaryPurposeType.coding[0].code == "treatment"
    assert [f.text for f in study.focus] == ["Crizotinib"]
    assert study.sponsor.display == "UNICANCER" and study.principalInvestigator.display == "Gilles VASSAL"
    assert {"2013-000885-13", "UC-0105/1303"} <= {i.value for i in study.identifier}
    assert any(c.coding and c.coding[0].code == "D019337" for c in study.condition)  # MeSH Hematologic Neoplasms


def test_sites_carry_their_geo_position(listing):
    study, _ = fetch(listing, "NCT06171568")
    site = next(r for r in study.contained if r.id == study.site[0].reference[1:])
    assert (float(site.position.latitude), float(site.position.longitude)) == (48.85341, 2.3488)
    assert site.address.city == "Paris" and site.address.country == "France"


def test_every_clinicaltrials_gov_status_has_an_r4b_status():
    assert set(enum_values("Status")) - set(STATUS) == {"UNKNOWN"}  # UNKNOWN: the last known status, else active
    for code in STATUS.values():
        ResearchStudy(status=code)  # a code outside R4B's value set would not validate


def test_phases_combine_as_r4b_codes_them():
    assert _phase(["PHASE1", "PHASE2"]).coding[0].code == "phase-1-phase-2"
    assert _phase(["PHASE2", "PHASE3"]).coding[0].code == "phase-2-phase-3"
    assert _phase([]) is None


def test_the_api_v2_format_fhir_json_is_the_same_resource(listing):
    r = listing.get("/api/v2/studies/NCT02513394", params={"format": "fhir.json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    assert r.json() == listing.get("/fhir/ResearchStudy/NCT02513394").json()


@pytest.mark.parametrize("path, status, code", [
    ("/fhir/ResearchStudy/NCT09999999", 404, "not-found"),
    ("/fhir/ResearchStudy/12345", 400, "invalid"),
    ("/fhir/ResearchStudy/NCT02034981?_format=xml", 400, "not-supported"),
    ("/fhir/ResearchStudy/NCT02034981?_elements=title", 400, "not-supported"),
])
def test_errors_are_operation_outcomes(listing, path, status, code):
    r = listing.get(path)
    assert r.status_code == status and r.headers["content-type"] == "application/fhir+json"
    assert OperationOutcome.model_validate_json(r.text).issue[0].code == code


def test_cli_exports_a_research_study(tmp_path):
    from acse_kg.cli import app

    store = str(tmp_path / "store")
    runner = CliRunner()
    r = runner.invoke(app, ["export", "NCT02034981", "--format", "fhir", "--store", store], catch_exceptions=False)
    assert r.exit_code == 0
    assert ResearchStudy.model_validate_json(r.stdout).id == "NCT02034981"
    bad = runner.invoke(app, ["export", "--format", "fhir", "--store", store], catch_exceptions=False)
    assert bad.exit_code == 2 and "NCT" in bad.stderr


def test_an_imported_reference_record_converts_without_the_registry():
    """The builder needs only the API v2 JSON: a reference record straight from ClinicalTrials.gov converts too."""
    from acse_kg.ctgov.fhir_study import research_study

    record = load_record("example_v2_NCT02513394.json")
    study = research_study(record)
    assert len(study.site) == len(record["protocolSection"]["contactsLocationsModule"]["locations"])
    assert json.loads(study.model_dump_json(exclude_none=True))["resourceType"] == "ResearchStudy"


def test_search_answers_a_bundle_of_research_studies(listing):
    from fhir.resources.R4B.bundle import Bundle

    r = listing.get("/fhir/ResearchStudy", params={"aggFilters": "phase:2 3", "countTotal": "true", "pageSize": 1})
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(r.text)
    assert bundle.type == "searchset" and bundle.total == 2
    assert [e.resource.id for e in bundle.entry] == ["NCT02034981"]
    assert bundle.entry[0].fullUrl.endswith("/fhir/ResearchStudy/NCT02034981")
    following = listing.get(next(link.url for link in bundle.link if link.relation == "next"))
    second = Bundle.model_validate_json(following.text)
    assert [e.resource.id for e in second.entry] == ["NCT02513394"] and second.total is None
    assert not any(link.relation == "next" for link in second.link)


@pytest.mark.parametrize("params, code", [({"filter.advanced": "AREA[Nope]x"}, "invalid"),
                                          ({"fields": "NCTId"}, "not-supported"), ({"_id": "x"}, "invalid")])
def test_search_errors_are_operation_outcomes(listing, params, code):
    r = listing.get("/fhir/ResearchStudy", params=params)
    assert r.status_code == 400 and OperationOutcome.model_validate_json(r.text).issue[0].code == code
