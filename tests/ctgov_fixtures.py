"""Shared helpers of the ClinicalTrials.gov tests: the reference records and an order-blind comparison."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from conftest import SHARED

from acse_kg.history import flatten

REFERENCE = SHARED / "reference" / "ctgov"
RECORDS = ["example_v2_NCT02513394.json", "example_v2_NCT06171568_APHP_french.json"]

#: Keys in a reference record that the API v2 spec does not define (an artefact of the copy).
NOT_IN_SPEC = {("contactsLocationsModule", "locations_nested")}


def load_record(name: str) -> dict[str, Any]:
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def spec_protocol(record: dict[str, Any]) -> dict[str, Any]:
    ps = copy.deepcopy(record["protocolSection"])
    for module, key in NOT_IN_SPEC:
        ps.get(module, {}).pop(key, None)
    return ps


def _norm(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items()}
    if isinstance(x, list):
        return sorted((_norm(v) for v in x), key=lambda v: json.dumps(v, sort_keys=True))
    return x


def field_differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field path, a's value, b's value) for every field that differs, array order aside."""
    fa, fb = flatten(_norm(a)), flatten(_norm(b))
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def record_path(name: str) -> Path:
    return REFERENCE / name
