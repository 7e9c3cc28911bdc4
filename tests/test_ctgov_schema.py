"""Validation against the spec's Study schema names the JSON path of each problem."""

from __future__ import annotations

import copy

import pytest
from ctgov_fixtures import RECORDS, load_record
from hypothesis import given, settings
from hypothesis import strategies as st

from acse_kg.ctgov.schema import unknown_fields, validate_study
from acse_kg.ctgov.spec import enum_values


@pytest.fixture(scope="module")
def french():
    return load_record("example_v2_NCT06171568_APHP_french.json")


@pytest.mark.parametrize("name", RECORDS)
def test_reference_records_are_valid(name):
    assert validate_study(load_record(name)) == []


def test_bad_enum_is_reported_at_its_path(french):
    bad = copy.deepcopy(french)
    bad["protocolSection"]["statusModule"]["overallStatus"] = "OPEN"
    problems = validate_study(bad)
    assert [p.path for p in problems] == ["$.protocolSection.statusModule.overallStatus"]


def test_bad_date_format_is_reported(french):
    bad = copy.deepcopy(french)
    bad["protocolSection"]["statusModule"]["studyFirstPostDateStruct"]["date"] = "2023-13-40"
    assert "$.protocolSection.statusModule.studyFirstPostDateStruct.date" in [p.path for p in validate_study(bad)]


def test_array_items_are_indexed_in_the_path(french):
    bad = copy.deepcopy(french)
    bad["protocolSection"]["conditionsModule"]["conditions"][0] = 42
    assert [p.path for p in validate_study(bad)] == ["$.protocolSection.conditionsModule.conditions[0]"]


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_only_spec_phases_pass(phase):
    study = {"protocolSection": {"designModule": {"phases": [phase]}}}
    assert (validate_study(study) == []) == (phase in enum_values("Phase"))


def test_keys_outside_the_spec_are_reported_separately():
    record = load_record("example_v2_NCT02513394.json")
    assert [p.path for p in unknown_fields(record)] == ["$.protocolSection.contactsLocationsModule.locations_nested"]


@pytest.mark.parametrize("value, ok", [("2020", True), ("2020-05", True), ("2020-05-17", True), ("2020-99", False),
                                       ("2020-02-30", False), ("May 2020", False), ("20-05", False)])
def test_partial_dates_follow_the_spec_format(french, value, ok):
    """PartialDate is 'yyyy, yyyy-MM, or yyyy-MM-dd' in the spec's prose; a date that is none of them is refused."""
    bad = copy.deepcopy(french)
    bad["protocolSection"]["statusModule"]["startDateStruct"]["date"] = value
    problems = validate_study(bad)
    assert (problems == []) == ok
    assert ok or [p.path for p in problems] == ["$.protocolSection.statusModule.startDateStruct.date"]


@settings(max_examples=30, deadline=None)
@given(st.dates(), st.integers(0, 23), st.integers(0, 59))
def test_real_dates_pass_in_every_precision(d, hh, mm):
    from acse_kg.ctgov.schema import is_date_time_minutes, is_partial_date

    iso = d.isoformat()
    if d.year >= 1000:
        assert is_partial_date(iso) and is_partial_date(iso[:7]) and is_partial_date(iso[:4])
        assert is_date_time_minutes(f"{iso}T{hh:02d}:{mm:02d}")
