"""Held-out gold cases: both engines list exactly the cohorts a clinician reading the protocols expects.

The cases (``tests/data/gold/candidates.json``, origin in its ``ORIGIN.md``) were
written from AcSé's and CAPTUR's texts, not from a matcher's output. A cohort is
a candidate when the result lists it, whatever its verdict (a profile says
nothing of labs or performance status: most verdicts are ``unknown``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import require
from ctml_fixtures import CAPTUR, captur

from acse_kg.ctml.importer import import_ctml
from acse_kg.matching.engine import RegistryMatcher
from acse_kg.model import read_study
from acse_kg.owl.classify import OwlEngine
from acse_kg.store import GraphStore, open_store

CASES = json.loads((Path(__file__).parent / "data" / "gold" / "candidates.json").read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def registry() -> GraphStore:
    store = open_store("memory")
    import_ctml(store, captur())
    return store


def expected(registry: GraphStore, case: dict[str, Any]) -> dict[str, list[int]]:
    """The case's cohorts by number (CAPTUR's arms named by group, as in the protocol)."""
    arms = {c.label.split(":", 1)[0]: c.number for c in read_study(registry, CAPTUR).cohorts}
    return {trial: sorted(arms[c] if isinstance(c, str) else c for c in cohorts)
            for trial, cohorts in case["expected"].items()}


def candidates(results: list[dict[str, Any]]) -> dict[str, list[int]]:
    return {r["trial"]: sorted(c["cohort"] for c in r["cohorts"]) for r in results if r["cohorts"]}


def test_the_gold_cases_name_real_cohorts(registry: GraphStore) -> None:
    known = {nct: {c.number for c in read_study(registry, nct).cohorts} for nct in ("NCT02034981", CAPTUR)}
    for case in CASES:
        assert set(case["expected"]) <= set(known), case["profile"]["id"]
        for trial, cohorts in expected(registry, case).items():
            assert cohorts and set(cohorts) <= known[trial], case["profile"]["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["profile"]["id"] for c in CASES])
def test_the_fast_path_gives_exactly_the_gold_candidates(registry: GraphStore, case: dict[str, Any]) -> None:
    got = RegistryMatcher(registry).match_all(case["profile"])
    assert candidates(got["results"]) == expected(registry, case), case["why"]


def test_the_reasoner_gives_exactly_the_gold_candidates(registry: GraphStore) -> None:
    require(shutil.which("java") is not None, "Java (for HermiT)")
    engine = OwlEngine(registry)
    results = engine.classify([case["profile"] for case in CASES])  # one HermiT process for every case
    wrong = {case["profile"]["id"]: (candidates(got), expected(registry, case))
             for case, got in zip(CASES, results, strict=True) if candidates(got) != expected(registry, case)}
    assert not wrong, wrong
