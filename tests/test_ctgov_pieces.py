"""Piece names -> where the graph keeps each field: what filter.advanced, sort and aggFilters search."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ctgov_fixtures import RECORDS, load_record

from acse_kg.ctgov.pieces import Piece, UnknownPiece, piece, pieces

#: Fields of the curated NCT02034981 that its export composes from structured individuals (cohort list,
#: dosing lines, criteria tree, arms' intervention names), so their graph values differ from the JSON text.
COMPOSED = {"DetailedDescription", "InterventionDescription", "EligibilityCriteria", "ArmGroupInterventionName",
            "InterventionArmGroupLabel"}


@pytest.fixture(scope="module")
def store():
    from acse_kg.ctgov.import_ import import_study
    from acse_kg.store import open_store

    st = open_store("memory")
    for name in RECORDS:
        import_study(st, load_record(name))
    return st


def json_values(obj: Any, parts: list[str]) -> list[Any]:
    if isinstance(obj, list):
        return [v for o in obj for v in json_values(o, parts)]
    if not parts:
        return [obj]
    return json_values(obj[parts[0]], parts[1:]) if isinstance(obj, dict) and parts[0] in obj else []


def leaf_pieces() -> list[Piece]:
    unique = {p.piece: p for p in pieces().values()}
    return [p for p in unique.values() if p.held and p.source_type != "STRUCT" and p.type != "GeoPoint"]


@pytest.mark.parametrize("nct", ["NCT02034981", "NCT02513394", "NCT06171568"])
def test_every_held_piece_reaches_the_values_the_json_record_shows(store, nct):
    """For each field the graph holds, its pattern finds exactly the values of the exported record."""
    from acse_kg.ctgov.export import export_study

    record = export_study(store, nct, full_text=True)
    wrong = []
    for p in leaf_pieces():
        if nct == "NCT02034981" and p.piece in COMPOSED:
            continue
        want = {(v if isinstance(v, str) else json.dumps(v)).lower() for v in json_values(record, p.json_path.split("."))}
        rows = store.select(f"SELECT DISTINCT ?v WHERE {{ ?s acse:nctId {json.dumps(nct)} . {p.pattern('?s', '?v', '?t')} }}")
        got = {str(r["v"]).lower() for r in rows}
        if want != got:
            wrong.append((p.piece, sorted(want)[:3], sorted(got)[:3]))
    assert wrong == []


def test_most_fields_of_the_record_have_a_home():
    """Every protocolSection leaf (the part the import keeps) has a path; results and documents have none."""
    protocol = [p for p in {p.piece: p for p in pieces().values()}.values()
                if p.json_path.startswith("protocolSection.") and p.source_type != "STRUCT"]
    assert [p.piece for p in protocol if not p.held] == []
    assert not piece("HasResults").held and not piece("BaselineMeasureTitle").held


def test_pieces_are_found_by_any_case_and_by_their_alternative_names():
    assert piece("startdate") is piece("StartDate") is piece("START-DATE")
    with pytest.raises(UnknownPiece):
        piece("NoSuchField")
