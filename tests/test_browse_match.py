"""The match page: a form generated from the profile's JSON Schema, a plain POST, a server-rendered answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pages_fixtures import find_class, parse, text

from acse_kg.api import browse, match, pages
from acse_kg.matching.engine import registry_matcher_for
from acse_kg.matching.profile import conversion
from acse_kg.matching.profile_schema import profile_schema
from acse_kg.pages.profile_form import UNIT_CHOICES, form_values, profile_form, profile_from_form

NCT = "NCT02034981"
HTML = {"accept": "text/html"}
LUAD_MET = {"id": "p1", "age_years": "60", "diagnosis": "LUAD",
            "alterations.0.gene": "MET", "alterations.0.type": "amplification"}


@pytest.fixture(scope="module")
def client(store) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.store = store
    for module in (match, browse, pages):
        app.include_router(module.router)
    with TestClient(app) as c:
        yield c


def cohort_answer(html: str, nct: str, number: int):
    root = parse(html)
    found = [s for s in root.iter("section") if s.get("id") == f"answer-{nct}-{number}"]
    assert len(found) == 1, f"no answer for cohort {number} of {nct}"
    return found[0]


# ------------------------------------------------------------------ the form
def test_a_browser_gets_the_form_and_a_program_keeps_the_api_answer(client):
    page = client.get("/match", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert parse(page.text).find(".//form[@id='profile-form']") is not None
    api = client.get("/match", headers={"accept": "application/json"})
    assert api.status_code == 405 and api.headers["allow"] == "POST"


def test_every_field_of_the_json_schema_has_a_control(client, store):
    """The form is the schema's: each leaf of the profile (objects and array items included) is a named control."""
    schema = profile_schema(store).json_schema()
    defs = schema["$defs"]
    expected = set()
    for key, node in schema["properties"].items():
        ref = node.get("$ref") or node.get("items", {}).get("$ref") or next(
            (a.get("items", {}).get("$ref") for a in node.get("anyOf", []) if "items" in a), None)
        if ref:
            inner = defs[ref.rsplit("/", 1)[1]]["properties"]
            prefix = f"{key}.0." if "items" in json.dumps(node) else f"{key}."
            expected |= {prefix + k for k in inner}
        else:
            expected.add(key)
    root = parse(client.get("/match", headers=HTML).text)
    names = {e.get("name") for e in root.iter() if e.tag in ("input", "select") and e.get("name")}
    assert expected <= names, sorted(expected - names)


def test_diagnosis_and_gene_offer_the_graphs_vocabularies_as_type_ahead(client):
    root = parse(client.get("/match", headers=HTML).text)
    lists = {d.get("id"): {o.get("value"): o.get("label") for o in d.iter("option")} for d in root.iter("datalist")}
    assert lists["oncotree-codes"]["LUAD"] == "Lung Adenocarcinoma" and len(lists["oncotree-codes"]) > 800
    assert {"ALK", "MET", "ROS1"} <= set(lists["gene-symbols"])
    diagnosis = root.find(".//input[@name='diagnosis']")
    assert diagnosis.get("list") == "oncotree-codes" and diagnosis.get("required") is not None


def test_labs_offer_their_contract_unit_first_and_history_is_yes_no_unknown(client):
    root = parse(client.get("/match", headers=HTML).text)
    units = [o.get("value") for o in root.find(".//select[@name='labs.anc.unit']").iter("option")]
    assert units[0] == "10*9/L" and "/uL" in units
    radios = [e.get("value") for e in root.iter("input") if e.get("name") == "history.cns_disease"]
    assert radios == ["yes", "no", ""]


@pytest.mark.parametrize("target, choices", sorted(UNIT_CHOICES.items()))
def test_every_unit_offered_converts_to_its_contract_unit(target, choices):
    for unit in choices:
        factor, _ = conversion(unit, target)
        assert factor > 0, unit


# ------------------------------------------------------------------ form <-> profile
_profiles = st.fixed_dictionaries(
    {"id": st.text("abcdefghij-0123456789", min_size=1, max_size=12),
     "age_years": st.integers(0, 120), "diagnosis": st.sampled_from(["LUAD", "NSCLC", "BRCA", "NBL"])},
    optional={
        "sex": st.sampled_from(["female", "male"]),
        "alterations": st.lists(st.fixed_dictionaries(
            {"gene": st.sampled_from(["MET", "ALK", "ROS1"]),
             "type": st.sampled_from(["amplification", "mutation", "fusion"])},
            optional={"protein_change": st.sampled_from(["p.Y1003F", "p.V600E"])}), min_size=1, max_size=5),
        "labs": st.fixed_dictionaries({}, optional={
            "anc": st.one_of(st.integers(0, 20), st.fixed_dictionaries(
                {"value": st.integers(0, 20000), "unit": st.sampled_from(["/uL", "10*3/uL"])})),
            "calcium": st.sampled_from(["normal", "abnormal"])}).filter(bool),
        "history": st.fixed_dictionaries({}, optional={"cns_disease": st.booleans(),
                                                       "prior_crizotinib": st.booleans()}).filter(bool),
    })


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profile=_profiles)
def test_a_profile_shown_in_the_form_comes_back_unchanged(store, profile):
    form = profile_form(store, {"alterations": 6})
    assert profile_from_form(form_values(profile), form) == json.loads(json.dumps(profile))


def test_a_blank_field_is_unknown_not_zero(store):
    form = profile_form(store)
    profile = profile_from_form({**LUAD_MET, "labs.anc": "", "history.cns_disease": ""}, form)
    assert "labs" not in profile and "history" not in profile
    assert profile_from_form({**LUAD_MET, "labs.anc": "0"}, form)["labs"] == {"anc": 0}


# ------------------------------------------------------------------ the answer
def test_a_luad_patient_with_met_amplification_is_answered_with_cohort_5_and_its_reasons(client):
    r = client.post("/match/form", data=LUAD_MET)
    assert r.status_code == 200
    answer = cohort_answer(r.text, NCT, 5)
    assert "NSCLC, adults, MET amplified" in text(answer)
    assert text(find_class(answer, "verdict", "span")[0]) == "Undecided"
    deciding = [text(li) for li in find_class(answer, "crit", "li") if "crit-met" not in (li.get("class") or "")]
    assert any("ANC" in d for d in deciding) and all(d.startswith(("Not met", "Unknown")) for d in deciding)
    missing = text(find_class(answer, "missing", "p")[0])
    assert "Absolute neutrophil count" in missing and "Measurable disease" in missing
    assert "Age" not in missing.split(": ", 1)[1]  # given: not missing
    assert find_class(answer, "to-confirm", "ul")


def test_the_deciding_criteria_come_first_not_met_before_unknown(client, store):
    data = {**LUAD_MET, "labs.anc": "0.5", "history.cns_disease": "no"}
    answer = cohort_answer(client.post("/match/form", data=data).text, NCT, 5)
    statuses = [(li.get("class") or "").split("crit-")[-1] for li in find_class(answer, "crit", "li")]
    rank = {"not_met": 0, "unknown": 1, "met": 2}
    assert statuses[0] == "not_met" and [rank[s] for s in statuses] == sorted(rank[s] for s in statuses)
    assert text(find_class(answer, "verdict", "span")[0]) == "Not eligible"
    expected = registry_matcher_for(store).match_all(profile_from_form(data, profile_form(store)))
    cohort5 = next(c for c in expected["results"][0]["cohorts"] if c["cohort"] == 5)
    assert statuses.count("not_met") == sum(c["status"] == "not_met" for c in cohort5["criteria"])


def test_the_answer_shows_the_studys_recruitment_status_and_the_dose(client):
    root = parse(client.post("/match/form", data={**LUAD_MET, "height_cm": "170", "weight_kg": "70"}).text)
    trial = next(a for a in root.iter("article") if a.get("id") == f"trial-{NCT}")
    assert "Active, not recruiting" in text(find_class(trial, "trial-status", "p")[0])
    assert "250 mg twice daily" in text(find_class(trial, "dosing", "p")[0])
    assert "not taking patients now" in text(cohort_answer(client.post("/match/form", data=LUAD_MET).text, NCT, 5))


def test_the_profile_can_be_downloaded_and_pasted_back(client):
    first = client.post("/match/form", data=LUAD_MET).text
    link = next(a for a in parse(first).iter("a") if a.get("download"))
    profile = json.loads(unquote(link.get("href").split(",", 1)[1]))
    assert profile == {"id": "p1", "age_years": 60, "diagnosis": "LUAD",
                       "alterations": [{"gene": "MET", "type": "amplification"}]}
    again = client.post("/match/form", data={"profile_json": json.dumps(profile)})
    assert again.status_code == 200
    assert text(cohort_answer(again.text, NCT, 5)) == text(cohort_answer(first, NCT, 5))


def test_a_form_preset_to_a_study_matches_only_that_study(client):
    page = parse(client.get(f"/match?trial={NCT}", headers=HTML).text)
    assert page.find(".//form[@id='profile-form']").get("action") == f"/match/form?trial={NCT}"
    r = client.post(f"/match/form?trial={NCT}", data=LUAD_MET)
    assert r.status_code == 200 and [a.get("id") for a in parse(r.text).iter("article")] == [f"trial-{NCT}"]


def test_an_oncotree_name_from_the_type_ahead_is_matched_as_its_code(client):
    r = client.post("/match/form", data={**LUAD_MET, "diagnosis": "Lung Adenocarcinoma"})
    assert r.status_code == 200 and cohort_answer(r.text, NCT, 5) is not None


@pytest.mark.parametrize("data, field", [
    ({**LUAD_MET, "diagnosis": "NOT-A-CODE"}, "diagnosis"),
    ({**LUAD_MET, "age_years": "sixty"}, "age_years"),
    ({**LUAD_MET, "alterations.0.type": ""}, "alterations"),
    ({"profile_json": "{not json"}, "profile_json"),
    ({"profile_json": "[1, 2]"}, "profile_json"),
])
def test_a_profile_the_contract_refuses_is_422_naming_the_field_with_the_form_kept(client, data, field):
    r = client.post("/match/form", data=data)
    assert r.status_code == 422
    root = parse(r.text)
    errors = text(find_class(root, "errors", "section")[0])
    assert field in errors
    if "profile_json" not in data:
        assert root.find(".//input[@name='id']").get("value") == "p1"  # what was typed is still there


@pytest.mark.parametrize("trial, status", [("not-an-nct", 400), ("NCT09999999", 404)])
def test_a_bad_or_unknown_trial_is_answered_with_the_form_and_the_reason(client, trial, status):
    for r in (client.get(f"/match?trial={trial}", headers=HTML), client.post(f"/match/form?trial={trial}", data=LUAD_MET)):
        assert r.status_code == status and "trial" in text(find_class(parse(r.text), "errors", "section")[0])


def test_the_answer_opens_with_a_summary_of_the_verdicts(client):
    root = parse(client.post("/match/form", data=LUAD_MET).text)
    summary = text(find_class(root, "answer-summary", "p")[0])
    assert summary.startswith("1 study has a cohort")
    assert "0 eligible, 1 undecided, 0 not eligible" in summary and "(0 taking patients now)" in summary
