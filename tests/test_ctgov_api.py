"""HTTP: the ClinicalTrials.gov API v2 routes, history and check as JSON."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from acse_kg.ctgov.schema import validate_study
from ctgov_fixtures import load_record

TOKEN = "test-admin-token"


@pytest.fixture(scope="module")
def client():
    from acse_kg.store import open_store
    from api.app import create_app
    from api.settings import ServerSettings

    with TestClient(create_app(open_store("memory"), ServerSettings(admin_token=TOKEN, query_workers=1))) as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_get_study_is_valid_api_v2_json(client):
    r = client.get("/api/v2/studies/NCT02034981")
    assert r.status_code == 200 and validate_study(r.json()) == []


def test_unknown_and_malformed_nct(client):
    assert client.get("/api/v2/studies/NCT00000000").status_code == 404
    r = client.get("/api/v2/studies/12345")
    assert r.status_code == 400 and "NCT" in r.json()["error"]


def test_post_needs_the_admin_token(client):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    assert client.post("/api/v2/studies", json=record).status_code == 401
    assert client.post("/api/v2/studies", json=record, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_post_imports_then_history_and_diff(client):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    assert client.post("/api/v2/studies", json=record, headers=AUTH).status_code == 201
    changed = copy.deepcopy(record)
    changed["protocolSection"]["identificationModule"]["acronym"] = "ECOG-2"
    assert client.post("/api/v2/studies", json=changed, headers=AUTH).status_code == 201
    versions = client.get("/study/NCT06171568/history").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    diff = client.get("/study/NCT06171568/history/diff", params={"from": 1, "to": 2}).json()["changes"]
    assert [c["field"] for c in diff] == ["protocolSection.identificationModule.acronym"]


def test_broken_post_is_refused_with_paths(client):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    record["protocolSection"]["designModule"]["phases"] = ["PHASE9"]
    r = client.post("/api/v2/studies", json=record, headers=AUTH)
    assert r.status_code == 422
    assert [p["path"] for p in r.json()["problems"]] == ["$.protocolSection.designModule.phases[0]"]


def test_non_json_body(client):
    r = client.post("/api/v2/studies", content=b"{not json", headers=AUTH)
    assert r.status_code == 400


def test_list_with_fields_and_count(client):
    r = client.get("/api/v2/studies", params={"query.cond": "solid tumors", "fields": "nctId", "countTotal": "true"})
    assert r.json() == {"studies": [{"protocolSection": {"identificationModule": {"nctId": "NCT02034981"}}}],
                        "totalCount": 1}


def test_list_paging(client):
    first = client.get("/api/v2/studies", params={"pageSize": 1, "fields": "nctId"}).json()
    second = client.get("/api/v2/studies", params={"pageSize": 1, "fields": "nctId",
                                                   "pageToken": first["nextPageToken"]}).json()
    assert first["studies"] != second["studies"]


@pytest.mark.parametrize("params", [{"pageSize": "0"}, {"filter.overallStatus": "OPEN"}, {"pageToken": "!!"},
                                   {"query.foo": "x"}])
def test_list_bad_parameters_are_400(client, params):
    r = client.get("/api/v2/studies", params=params)
    assert r.status_code == 400 and "error" in r.json()


def test_check_route(client):
    body = client.get("/study/NCT02034981/check").json()
    assert not body["clean"] and {f["rule"] for f in body["findings"]} == {"implausible-unit", "cohort-excluded-by-criterion"}
