"""Fixtures of the matching tests: one matcher over the session's store, and profile builders."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from acse_kg.matching.engine import Matcher, matcher_for

CRIT = "https://w3id.org/acse-kg/id/study/NCT02034981/criterion/"


@pytest.fixture(scope="session")
def matcher(store) -> Matcher:
    return matcher_for(store)


def profile(**over: Any) -> dict[str, Any]:
    """A LUAD MET-amplified adult who meets every computable criterion; keyword args override."""
    base: dict[str, Any] = {
        "id": "P-test",
        "age_years": 54,
        "sex": "female",
        "height_cm": 165,
        "weight_kg": 60,
        "diagnosis": "LUAD",
        "alterations": [{"gene": "MET", "type": "amplification"}],
        "measurable_disease": True,
        "performance": {"ecog": 1},
        "labs": {
            "anc": 1.8, "platelets": 210, "hemoglobin": 11.2, "creatinine_clearance": 85,
            "bilirubin_uln": 0.8, "ast_uln": 1.1, "alt_uln": 0.9,
            "calcium": "normal", "magnesium": "normal", "potassium": "normal",
        },
        "qtcf_ms": 420,
        "heart_rate_bpm": 72,
        "life_expectancy_months": 6,
        "history": {
            "prior_crizotinib": False, "cns_disease": False, "liver_metastasis": False,
            "advanced_fibrosis": False, "gilbert_syndrome": False, "bone_marrow_involvement": False,
            "congenital_long_qt": False, "congestive_heart_failure": False,
            "recent_cardiovascular_event": False, "hiv_or_hepatitis": False,
        },
    }
    for k, v in over.items():
        if k in ("labs", "history", "performance") and isinstance(v, dict):
            merged = {} if v.get("__replace__") else dict(base[k])
            merged.update({kk: vv for kk, vv in v.items() if kk != "__replace__"})
            base[k] = {kk: vv for kk, vv in merged.items() if vv is not DROP}
        else:
            base[k] = v
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()  # profile(labs={"anc": DROP}) removes the key: the datum is missing


# ------------------------------------------------ pools for generated profiles
#: Values on and around every threshold of the record, every flag true / false / missing, and
#: diagnoses that switch every condition; shared by the pyshacl equivalence and the property tests.
MISSING = None
POOLS: dict[str, list[Any]] = {
    "age_years": [0.5, 1, 8, 11.9, 12, 17.9, 18, 54],
    "diagnosis": ["LUAD", "NSCLC", "ALCL", "GB", "COAD", "NBL", "STAD", "BLCA", "NCIT:C2926", "ALCLALKP"],
    "measurable_disease": [True, False, MISSING],
    "labs.anc": [0.5, 0.99, 1.0, 1.8, MISSING],
    "labs.platelets": [40, 49, 50, 74, 75, 99, 100, 210, MISSING],
    "labs.hemoglobin": [0.9, 7.9, 8.0, 11.2, MISSING],
    "labs.creatinine_clearance": [49.9, 50, 85, MISSING],
    "labs.bilirubin_uln": [0.8, 1.5, 1.51, 3.0, MISSING],
    "labs.ast_uln": [1.1, 3.0, 3.01, 5.0, 5.01, MISSING],
    "labs.alt_uln": [0.9, 3.0, 3.01, 5.0, 5.01, MISSING],
    "labs.calcium": ["normal", "abnormal", MISSING],
    "labs.magnesium": ["normal", "abnormal", MISSING],
    "labs.potassium": ["normal", "abnormal", MISSING],
    "performance.ecog": [0, 2, 3, 5, MISSING],
    "performance.karnofsky": [40, 50, 60, MISSING],
    "performance.lansky": [40, 50, 60, MISSING],
    "qtcf_ms": [420, 470, 471, MISSING],
    "heart_rate_bpm": [40, 45, 46, 72, MISSING],
    "life_expectancy_months": [2, 2.9, 3, 6, MISSING],
    **{f"history.{h}": [True, False, MISSING] for h in (
        "prior_crizotinib", "cns_disease", "liver_metastasis", "advanced_fibrosis", "gilbert_syndrome",
        "bone_marrow_involvement", "congenital_long_qt", "congestive_heart_failure",
        "recent_cardiovascular_event", "hiv_or_hepatitis")},
}
ALTERATIONS = [
    {"gene": "ALK", "type": "translocation"}, {"gene": "ALK", "type": "fusion"},
    {"gene": "ALK", "type": "overexpression", "method": "IHC"}, {"gene": "ALK", "type": "amplification"},
    {"gene": "ALK", "type": "mutation"}, {"gene": "MET", "type": "amplification"},
    {"gene": "MET", "type": "overexpression"}, {"gene": "MET", "type": "mutation"},
    {"gene": "RON", "type": "mutation"}, {"gene": "ROS1", "type": "rearrangement"}, {"gene": "EGFR", "type": "mutation"},
]


def build(values: dict[str, Any], alterations: list[dict[str, Any]], n: int) -> dict[str, Any]:
    p: dict[str, Any] = {"id": f"P{n}", "alterations": alterations}
    for path, v in values.items():
        if v is MISSING:
            continue
        head, _, tail = path.partition(".")
        if tail:
            p.setdefault(head, {})[tail] = v
        else:
            p[head] = v
    return p


@st.composite
def registry_profiles(draw: st.DrawFn) -> dict[str, Any]:
    """Values on and around every threshold, a third missing, one to three alterations."""
    values = {path: draw(st.sampled_from(pool)) for path, pool in POOLS.items()}
    values["age_years"] = draw(st.sampled_from([v for v in POOLS["age_years"] if v is not None]))
    values["diagnosis"] = draw(st.sampled_from(POOLS["diagnosis"]))
    alts = draw(st.lists(st.sampled_from(ALTERATIONS), min_size=1, max_size=3, unique_by=lambda a: str(a)))
    return build(values, alts, draw(st.integers(0, 10**6)))
