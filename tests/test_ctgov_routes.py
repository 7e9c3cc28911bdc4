"""HTTP: format=csv and the descriptive routes of ClinicalTrials.gov API v2 (/version, /studies/metadata,
/studies/enums, /stats/size), each answer checked against the 2.0.5 spec."""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import re

import pytest
from ctgov_api_fixtures import answer, conforms
from ctgov_fixtures import load_record

from acse_kg.ctgov.csv_format import COLUMNS
from acse_kg.ctgov.pieces import METADATA_PATH
from acse_kg.ctgov.spec import enum_values, schemas, spec

#: ClinicalTrials.gov's CSV download columns, in its order, as its live API writes them.
CTGOV_CSV_HEADER = (
    "NCT Number,Study Title,Study URL,Acronym,Study Status,Brief Summary,Study Results,Conditions,Interventions,"
    "Primary Outcome Measures,Secondary Outcome Measures,Other Outcome Measures,Sponsor,Collaborators,Sex,Age,"
    "Phases,Enrollment,Funder Type,Study Type,Study Design,Other IDs,Start Date,Primary Completion Date,"
    "Completion Date,First Posted,Results First Posted,Last Update Posted,Locations,Study Documents"
)


def rows(r) -> list[list[str]]:
    return list(csv.reader(io.StringIO(r.text)))


# ---------------------------------------------------------------- format=csv
def test_csv_has_clinicaltrials_gov_s_columns_and_one_row_per_study(listing):
    r = listing.get("/api/v2/studies", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv") and conforms(r, "/studies")
    table = rows(r)
    assert ",".join(table[0]) == CTGOV_CSV_HEADER == ",".join(COLUMNS)
    assert [row[0] for row in table[1:]] == ["NCT02034981", "NCT02513394", "NCT06171568"]


def test_csv_values_are_the_json_record_s(listing):
    r = listing.get("/api/v2/studies", params={"format": "csv", "filter.ids": "NCT02513394"})
    row = dict(zip(*rows(r), strict=True))
    study = listing.get("/api/v2/studies/NCT02513394").json()["protocolSection"]
    assert row["Study URL"] == "https://clinicaltrials.gov/study/NCT02513394"
    assert row["Study Status"] == study["statusModule"]["overallStatus"]
    assert row["Phases"] == "|".join(study["designModule"]["phases"])
    assert row["Enrollment"] == str(study["designModule"]["enrollmentInfo"]["count"])
    assert row["Conditions"].split("|") == study["conditionsModule"]["conditions"]
    assert len(row["Locations"].split("|")) == len(study["contactsLocationsModule"]["locations"])
    assert row["Results First Posted"] == "2022-04-13"
    assert row["Study Results"] == ""  # the registry keeps no results, so it does not say NO


def test_csv_pages_carry_the_token_and_total_in_headers_and_the_header_row_once(listing):
    first = listing.get("/api/v2/studies", params={"format": "csv", "pageSize": 2, "countTotal": "true"})
    assert first.headers["x-total-count"] == "3" and len(rows(first)) == 3 and conforms(first, "/studies")
    second = listing.get("/api/v2/studies", params={"format": "csv", "pageSize": 2, "countTotal": "true",
                                                    "pageToken": first.headers["x-next-page-token"]})
    assert rows(second) == [[*rows(listing.get("/api/v2/studies", params={"format": "csv"}))[3]]]
    assert "x-next-page-token" not in second.headers and "x-total-count" not in second.headers


def test_csv_fields_are_column_names_answered_in_the_fixed_order(listing):
    r = listing.get("/api/v2/studies", params={"format": "csv", "fields": "Phases|nct number", "filter.ids": "NCT02034981"})
    assert rows(r) == [["NCT Number", "Phases"], ["NCT02034981", "PHASE2"]]


def test_csv_fields_refuse_json_piece_names_as_clinicaltrials_gov_does(listing):
    r = listing.get("/api/v2/studies", params={"format": "csv", "fields": "NCTId"})
    assert r.status_code == 400 and conforms(r, "/studies")
    assert answer(r) == "Parameter 'fields' contains invalid CSV column name: 'NCTId'"


def test_one_study_as_csv(listing):
    r = listing.get("/api/v2/studies/NCT06171568", params={"format": "csv", "fields": "NCT Number,Study Type"})
    assert r.status_code == 200 and conforms(r, "/studies/{nctId}")
    assert rows(r) == [["NCT Number", "Study Type"], ["NCT06171568", "OBSERVATIONAL"]]


# ---------------------------------------------------------------- /version
def test_version_names_the_spec_and_the_last_change(listing):
    r = listing.get("/api/v2/version")
    assert r.status_code == 200 and conforms(r, "/version")
    body = r.json()
    assert body["apiVersion"] == spec()["info"]["version"] == "2.0.5"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", body["dataTimestamp"])


def test_version_moves_when_a_study_is_imported():
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        assert "dataTimestamp" not in c.get("/api/v2/version").json()  # no change logged: no time invented
        import_study(st, load_record("example_v2_NCT06171568_APHP_french.json"))
        assert "dataTimestamp" in c.get("/api/v2/version").json()


# ---------------------------------------------------------------- /studies/metadata
def test_metadata_is_clinicaltrials_gov_s_field_tree(listing):
    r = listing.get("/api/v2/studies/metadata")
    assert r.status_code == 200 and conforms(r, "/studies/metadata")
    assert r.json() == json.loads(METADATA_PATH.read_text(encoding="utf-8"))


def test_metadata_leaves_indexed_only_and_historic_only_fields_out_unless_asked():
    from acse_kg.ctgov import registry_info

    tree = copy.deepcopy(registry_info.metadata())
    tree[0]["children"][0]["indexedOnly"] = True  # identificationModule
    tree[0]["children"][1]["historicOnly"] = True  # statusModule
    kept = [c["name"] for c in registry_info._keep(tree[0], False, False)["children"]]  # type: ignore[index]
    assert "identificationModule" not in kept and "statusModule" not in kept and "designModule" in kept
    assert len(registry_info._keep(tree[0], True, True)["children"]) == len(tree[0]["children"])  # type: ignore[index]


@pytest.mark.parametrize("params", [{"includeIndexedOnly": "maybe"}, {"includeHistoricOnly": "1"}, {"depth": "2"}])
def test_metadata_bad_parameters_are_400(listing, params):
    r = listing.get("/api/v2/studies/metadata", params=params)
    assert r.status_code == 400 and conforms(r, "/studies/metadata") and next(iter(params)) in answer(r)


# ---------------------------------------------------------------- /studies/enums
def test_enums_list_each_field_enumeration_with_its_pieces_and_values(listing):
    r = listing.get("/api/v2/studies/enums")
    assert r.status_code == 200 and conforms(r, "/studies/enums")
    by_type = {e["type"]: e for e in r.json()}
    assert [v["value"] for v in by_type["Status"]["values"]] == enum_values("Status")
    assert {"OverallStatus", "LastKnownStatus"} <= set(by_type["Status"]["pieces"])
    assert by_type["Phase"]["pieces"] == ["Phase"]
    assert set(by_type) <= {name for name, s in schemas().items() if "enum" in s}


def test_enum_legacy_values_are_the_ontology_s_labels(listing):
    by_type = {e["type"]: {v["value"]: v["legacyValue"] for v in e["values"]} for e in listing.get("/api/v2/studies/enums").json()}
    assert by_type["Status"]["ACTIVE_NOT_RECRUITING"] == "Active, not recruiting"
    assert by_type["Phase"]["PHASE2"] == "Phase 2"
    assert by_type["Phase"]["EARLY_PHASE1"] == "Early phase 1"  # minted from the spec: the code in words


# ---------------------------------------------------------------- /stats/size
def test_size_stats_are_the_gzip_sizes_of_the_exported_studies(listing):
    r = listing.get("/api/v2/stats/size")
    assert r.status_code == 200 and conforms(r, "/stats/size")
    body = r.json()
    assert body["totalStudies"] == 3 and sum(x["studiesCount"] for x in body["ranges"]) == 3
    assert body["largestStudies"][0]["id"] == "NCT02513394"  # the record with 437 sites
    exported = listing.get("/api/v2/studies/NCT06171568").json()
    size = len(gzip.compress(json.dumps(exported, ensure_ascii=False, separators=(",", ":")).encode(), mtime=0))
    assert {"id": "NCT06171568", "sizeBytes": size} in body["largestStudies"]
    assert body["percentiles"]["50"] == sorted(s["sizeBytes"] for s in body["largestStudies"])[1]


def test_size_stats_follow_the_store():
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app
    from acse_kg.api.settings import ServerSettings
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    with TestClient(create_app(st, ServerSettings(query_workers=1))) as c:
        assert c.get("/api/v2/stats/size").json()["totalStudies"] == 1  # the bundled record
        import_study(st, load_record("example_v2_NCT06171568_APHP_french.json"))
        assert c.get("/api/v2/stats/size").json()["totalStudies"] == 2


@pytest.mark.parametrize("path, spec_path", [("/api/v2/version", "/version"), ("/api/v2/studies/enums", "/studies/enums"),
                                             ("/api/v2/stats/size", "/stats/size")])
def test_routes_without_parameters_refuse_one_as_unknown(listing, path, spec_path):
    r = listing.get(path, params={"pageSize": "1"})
    assert r.status_code == 400 and conforms(r, spec_path) and answer(r) == "`pageSize` is unknown parameter"
