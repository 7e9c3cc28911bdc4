"""HTTP: the ClinicalTrials.gov API v2 routes, history and check as JSON."""

from __future__ import annotations

import copy

import pytest
from ctgov_api_fixtures import conforms
from ctgov_fixtures import load_record
from fastapi.testclient import TestClient

from acse_kg.ctgov.schema import validate_study

TOKEN = "test-admin-token"


@pytest.fixture(scope="module")
def client():
    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.store import open_store

    with TestClient(create_app(open_store("memory"), ServerSettings(admin_token=TOKEN, query_workers=1))) as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def error_text(r):
    """An API v2 error as the spec's ``errorMessage``: plain text (the history and check routes answer JSON)."""
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def test_get_study_is_valid_api_v2_json(client):
    r = client.get("/api/v2/studies/NCT02034981")
    assert r.status_code == 200 and validate_study(r.json()) == [] and conforms(r, "/studies/{nctId}")


def test_get_study_as_fhir_json_is_the_spec_s_study_fhir(client):
    r = client.get("/api/v2/studies/NCT02034981", params={"format": "fhir.json"})
    assert r.status_code == 200 and conforms(r, "/studies/{nctId}") and r.json()["resourceType"] == "ResearchStudy"


def test_unknown_and_malformed_nct(client):
    missing = client.get("/api/v2/studies/NCT09999999")
    assert missing.status_code == 404 and conforms(missing, "/studies/{nctId}")
    r = client.get("/api/v2/studies/12345")
    assert r.status_code == 400 and "NCT" in error_text(r) and conforms(r, "/studies/{nctId}")


@pytest.mark.parametrize("given", ["nct02034981", "NCT2034981", "Nct002034981"])
def test_nct_number_in_any_case_and_without_leading_zeros(client, given):
    """The spec's pattern ^[Nn][Cc][Tt]0*[1-9]\\d{0,7}$: ClinicalTrials.gov clients may send these."""
    r = client.get(f"/api/v2/studies/{given}", params={"fields": "NCTId"})
    assert r.status_code == 200 and r.json()["protocolSection"]["identificationModule"]["nctId"] == "NCT02034981"


def test_nct_number_zero_is_not_an_nct_number(client):
    assert client.get("/api/v2/studies/NCT00000000").status_code == 400


def test_single_study_fields(client):
    r = client.get("/api/v2/studies/NCT02034981", params={"fields": "OverallStatus|Phase"})
    assert r.json() == {"protocolSection": {"statusModule": {"overallStatus": "ACTIVE_NOT_RECRUITING"},
                                            "designModule": {"phases": ["PHASE2"]}}}


@pytest.mark.parametrize("params", [{"fields": "nope"}, {"format": "ris"}, {"markupFormat": "legacy"},
                                    {"pageSize": "5"}])
def test_single_study_bad_parameters_are_400(client, params):
    r = client.get("/api/v2/studies/NCT02034981", params=params)
    assert r.status_code == 400 and next(iter(params)) in error_text(r) and conforms(r, "/studies/{nctId}")


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


@pytest.fixture(scope="module")
def listing():
    """A registry with the record and both reference records (three studies), for the list query."""
    from ctgov_fixtures import RECORDS

    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    for name in RECORDS:
        import_study(st, load_record(name))
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        yield c


def ncts(listing, **params):
    body = listing.get("/api/v2/studies", params={"fields": "NCTId", **params}).json()
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]


def test_list_paging_walks_every_study_once_in_nct_order(listing):
    seen, token = [], None
    while True:
        body = listing.get("/api/v2/studies", params={"pageSize": 2, "fields": "NCTId",
                                                      **({"pageToken": token} if token else {})}).json()
        seen += [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]
        token = body.get("nextPageToken")
        if token is None:
            break
    assert seen == ["NCT02034981", "NCT02513394", "NCT06171568"]


def test_total_count_comes_with_the_first_page_only(listing):
    first = listing.get("/api/v2/studies", params={"pageSize": 1, "countTotal": "true"}).json()
    second = listing.get("/api/v2/studies", params={"pageSize": 1, "countTotal": "true",
                                                    "pageToken": first["nextPageToken"]}).json()
    assert first["totalCount"] == 3 and "totalCount" not in second


def test_page_size_zero_means_the_default_and_large_is_coerced_to_1000(listing):
    assert len(ncts(listing, pageSize=0)) == 3
    assert len(ncts(listing, pageSize=5000)) == 3


def test_fields_accept_piece_names_and_keep_only_those_parts_in_arrays(listing):
    body = listing.get("/api/v2/studies", params={"fields": "NCTId,LocationCountry", "filter.ids": "NCT02034981"}).json()
    assert body["studies"] == [{"protocolSection": {"identificationModule": {"nctId": "NCT02034981"},
                                                    "contactsLocationsModule": {"locations": [{"country": "France"}]}}}]


def test_fields_accept_dotted_paths_and_derived_section(listing):
    body = listing.get("/api/v2/studies", params={"fields": "derivedSection.interventionBrowseModule.meshes",
                                                  "query.id": "NCT02034981"}).json()
    assert {"id": "D047428", "term": "Protein Kinase Inhibitors"} in \
        body["studies"][0]["derivedSection"]["interventionBrowseModule"]["meshes"]


@pytest.mark.parametrize("params, expected", [
    ({"query.cond": "Hematologic"}, ["NCT02034981"]),
    ({"query.intr": "xalkori"}, ["NCT02034981"]),
    ({"query.titles": "crizotinib"}, ["NCT02034981"]),
    ({"query.spons": "Fondation ARC"}, ["NCT02034981"]),
    ({"query.lead": "Fondation ARC"}, []),
    ({"query.locn": "villejuif"}, ["NCT02034981"]),
    ({"query.id": "2013-000885-13"}, ["NCT02034981"]),
    ({"query.term": "pseudoprogression"}, ["NCT02034981"]),
    ({"filter.ids": "nct6171568|NCT02034981"}, ["NCT02034981", "NCT06171568"]),
    ({"filter.overallStatus": "active_not_recruiting,completed"}, ["NCT02034981", "NCT02513394"]),
    ({"filter.overallStatus": "NOT_YET_RECRUITING"}, ["NCT06171568"]),
])
def test_search_areas_and_filters(listing, params, expected):
    assert ncts(listing, **params) == expected


@pytest.mark.parametrize("params, named", [
    ({"pageSize": "-1"}, "pageSize"), ({"pageSize": "ten"}, "pageSize"),
    ({"filter.overallStatus": "OPEN"}, "filter.overallStatus"), ({"filter.ids": "12"}, "filter.ids"),
    ({"pageToken": "!!"}, "pageToken"), ({"query.foo": "x"}, "query.foo"), ({"countTotal": "yes"}, "countTotal"),
    ({"fields": "nope"}, "fields"), ({"format": "xml"}, "format"), ({"markupFormat": "legacy"}, "markupFormat"),
])
def test_list_bad_parameters_are_400_naming_the_parameter(client, params, named):
    r = client.get("/api/v2/studies", params=params)
    assert r.status_code == 400 and named in error_text(r) and conforms(r, "/studies")


def test_check_route(client):
    body = client.get("/study/NCT02034981/check").json()
    assert not body["clean"] and {f["rule"] for f in body["findings"]} == {
        "implausible-unit", "cohort-excluded-by-criterion", "cohort-gene-not-accepted"}


def test_list_answer_validates_against_the_spec_paged_studies_schema(listing):
    body = listing.get("/api/v2/studies", params={"pageSize": 2, "countTotal": "true"}).json()
    assert set(body) == {"studies", "nextPageToken", "totalCount"}
    assert validate_study(body, "PagedStudies") == []


def test_deeply_nested_json_is_a_400_not_a_crash(client):
    r = client.post("/api/v2/studies", content=b"[" * 100_000 + b"]" * 100_000, headers=AUTH)
    assert r.status_code == 400 and "nested" in r.json()["error"]


@pytest.mark.parametrize("text", ['}) } DROP ALL #', "\\", "\x00", "') } } ; CLEAR ALL", "\\u0022"])
def test_search_text_cannot_break_out_of_the_query(client, text):
    before = len(client.app.state.store)
    r = client.get("/api/v2/studies", params={"query.term": f'"{text}"', "countTotal": "true"})
    assert r.status_code == 200 and r.json()["totalCount"] == 0 and len(client.app.state.store) == before


@pytest.mark.parametrize("query, expected", [
    ("metastatic crizotinib", ["NCT02034981"]),  # terms ANDed anywhere in the area, not one substring
    ('"crizotinib metastatic"', []),  # a quoted phrase is kept whole
    ("Palbociclib OR xalkori", ["NCT02034981", "NCT02513394"]),
    ('(Palbociclib OR xalkori) AND NOT "collaborative adjuvant"', ["NCT02034981"]),
    ("cancer NOT breast NOT hematologic", []),
])
def test_query_text_follows_the_essie_basics(listing, query, expected):
    assert sorted(ncts(listing, **{"query.term": query})) == expected  # which studies; their order is relevance


@pytest.mark.parametrize("query", ['"unclosed', "(a OR b", "a OR", "a )", "NOT"])
def test_malformed_essie_query_is_400_naming_the_parameter(listing, query):
    r = listing.get("/api/v2/studies", params={"query.cond": query})
    assert r.status_code == 400 and error_text(r).startswith("query.cond: ")


def test_posting_a_record_the_registry_holds_already_is_200_unchanged(client):
    record = load_record("example_v2_NCT06171568_APHP_french.json")
    record["protocolSection"]["identificationModule"]["nctId"] = "NCT06171569"  # its own study: others count versions
    client.post("/api/v2/studies", json=record, headers=AUTH)
    r = client.post("/api/v2/studies", json=record, headers=AUTH)
    assert r.status_code == 200 and r.json()["unchanged"] is True


def test_replacing_a_curated_study_over_http_must_be_asked_for(client):
    exported = client.get("/api/v2/studies/NCT02034981").json()
    r = client.post("/api/v2/studies", json=exported, headers=AUTH)
    assert r.status_code == 422 and "curated" in r.json()["problems"][0]["message"]
    assert client.post("/api/v2/studies", params={"replaceCurated": "perhaps"}, json=exported,
                       headers=AUTH).status_code == 400


def test_the_openapi_document_lists_the_clinicaltrials_gov_parameters(client):
    spec = client.get("/openapi.json").json()
    listed = {p["name"] for p in spec["paths"]["/api/v2/studies"]["get"]["parameters"]}
    assert {"query.cond", "query.intr", "query.term", "filter.overallStatus", "pageSize", "pageToken",
            "countTotal", "fields"} <= listed


def test_the_openapi_document_lists_every_parameter_of_the_spec_s_list_query(client):
    """Every parameter the 2.0.5 spec gives GET /studies is documented here (and answered: see test_ctgov_search)."""
    from acse_kg.ctgov.spec import spec as ctgov_spec

    ours = {p["name"] for p in client.get("/openapi.json").json()["paths"]["/api/v2/studies"]["get"]["parameters"]}
    theirs = {p["name"] for p in ctgov_spec()["paths"]["/studies"]["get"]["parameters"]}
    assert theirs - ours == set()


def test_a_malformed_nct_is_answered_with_the_registry_s_one_hint(client):
    """The one-study route words the expected form as every other NCT error does (namespaces.NCT_HINT)."""
    from acse_kg.namespaces import NCT_HINT

    r = client.get("/api/v2/studies/NCT00000000")
    assert r.status_code == 400 and error_text(r) == f"not an NCT number: 'NCT00000000' (expected {NCT_HINT})"
