"""Fixtures of the matching tests: one matcher over the session's store, and profile builders."""

from __future__ import annotations

from typing import Any

import pytest

from acse_kg.matching.engine import Matcher, matcher_for

CRIT = "https://w3id.org/acse-kg/id/study/NCT02034981/criterion/"


@pytest.fixture(scope="session")
def matcher(store) -> Matcher:  # noqa: ANN001 - the lead's session fixture
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
