"""Criteria stated alike are decided once per profile for every trial: the shared path changes no answer.

The registry is the bundle plus varied copies of its studies (acse_kg.synthetic.vary), whose
cohorts draw their genes from the genes the profiles carry and their pathologies from the
OncoTree classes above the profiles' diagnoses, so that a profile enters many trials at once.
The reference is the same registry matched with sharing off: every study compiles and
decides its own criteria, as before the shared decisions.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from matching_fixtures import ALTERATIONS, POOLS, build, registry_profiles

from acse_kg.loader import study_graph_name
from acse_kg.matching.decisions import shape
from acse_kg.matching.engine import VERDICTS, RegistryMatcher, matcher_for, vocabulary_for
from acse_kg.model import structured_studies
from acse_kg.store import GraphStore, open_store
from acse_kg.synthetic import synthetic_nct, vary

COPIES = 24
GENES = sorted({a["gene"] for a in ALTERATIONS} - {"RON"} | {"MST1R"})


@pytest.fixture(scope="module")
def registry() -> GraphStore:
    """The bundle's studies and 24 varied copies of them, on the profiles' genes and diagnoses."""
    store = open_store("memory")
    tax = vocabulary_for(store).taxonomy
    pathologies = sorted(set().union(*(tax.ancestors(tax.resolve(code) or "") for code in POOLS["diagnosis"]))
                         - {""})
    real = structured_studies(store)
    rng = random.Random(20261202)
    for i in range(1, COPIES + 1):
        src = real[(i - 1) % len(real)]
        g = vary(store.graph(study_graph_name(src)), src, synthetic_nct(i), rng, pathologies, GENES)
        store.replace_graph(study_graph_name(synthetic_nct(i)), g.serialize(format="nt"), "ntriples")
    return store


@pytest.fixture(scope="module")
def shared(registry: GraphStore) -> RegistryMatcher:
    return RegistryMatcher(registry)


@pytest.fixture(scope="module")
def unshared(registry: GraphStore) -> RegistryMatcher:
    return RegistryMatcher(registry, share=False, lazy=False)  # and the index read whole, not gene by gene


profiles = registry_profiles


@settings(max_examples=200, deadline=None, derandomize=True)
@given(p=profiles())
def test_shared_decisions_answer_exactly_what_each_trial_decides_alone(shared: RegistryMatcher,
                                                                       unshared: RegistryMatcher,
                                                                       p: dict[str, Any]) -> None:
    assert shared.match_all(p) == unshared.match_all(p)


def test_the_generated_profiles_enter_many_trials_at_once(shared: RegistryMatcher) -> None:
    """The property above is worth something only where a profile meets the same criteria in several trials."""
    p = build({path: pool[0] for path, pool in POOLS.items()} | {"age_years": 54, "diagnosis": "LUAD"},
              [{"gene": "MET", "type": "amplification"}, {"gene": "ALK", "type": "translocation"}], 1)
    assert len(shared.match_all(p)["results"]) >= 4


def test_copies_of_one_protocol_hold_one_object_per_criterion_stated_alike(shared: RegistryMatcher,
                                                                          unshared: RegistryMatcher) -> None:
    """Two copies of one study name other genes; their other criteria are one object each, shared."""
    n = len(structured_studies(shared.store)) - COPIES  # the real studies the copies alternate over
    a, b = shared.studies[synthetic_nct(1)], shared.studies[synthetic_nct(1 + n)]
    assert a.trial != b.trial and len(a.decidable) == len(b.decidable)
    reads_genes = [bool({"alterations"} & {*x.fields(), *y.fields()}) for x, y in zip(a.decidable, b.decidable,
                                                                                     strict=True)]
    alike = [x is y for x, y in zip(a._parts, b._parts, strict=True)]
    assert all(same for same, genes in zip(alike, reads_genes, strict=True) if not genes)
    assert sum(alike) >= len(alike) - 6
    a2, b2 = unshared.studies[synthetic_nct(1)], unshared.studies[synthetic_nct(1 + n)]
    assert not any(x is y for x, y in zip(a2._parts, b2._parts, strict=True))


def test_copies_that_state_the_same_pair_exclusions_share_one_check(shared: RegistryMatcher,
                                                                    unshared: RegistryMatcher) -> None:
    """Candidacy's pair exclusions are one object (decided once per profile and pair) wherever stated alike."""
    by_statement: dict[Any, list[Any]] = {}
    for m in shared.studies.values():
        statement = tuple((shape(c.requires), shape(c.applies_when)) for c, _ in m.finder.pair_exclusions)
        by_statement.setdefault(statement, []).append(m.finder.check)
    assert any(len(checks) > 1 for checks in by_statement.values())  # some copies drew the same genes
    assert all(all(c is checks[0] for c in checks) for checks in by_statement.values())
    assert len({id(m.finder.check) for m in unshared.studies.values()}) == len(unshared.studies)


def test_cohorts_stating_the_same_conditions_over_the_same_parts_share_what_is_to_confirm(
        shared: RegistryMatcher) -> None:
    """A to-confirm set is shared exactly where its conditions and the parts they depend on are the same objects."""
    n = len(structured_studies(shared.store)) - COPIES
    a, b = shared.studies[synthetic_nct(1)], shared.studies[synthetic_nct(1 + n)]
    outcomes = []
    for pa, pb in zip(a._plans.values(), b._plans.values(), strict=True):
        alike = len(pa.confirm.conditions) == len(pb.confirm.conditions) and all(
            ca is cb and len(xs) == len(ys) and all(x is y for x, y in zip(xs, ys, strict=True))
            for (ca, xs), (cb, ys) in zip(pa.confirm.conditions, pb.confirm.conditions, strict=True))
        assert (pa.confirm is pb.confirm) == alike
        outcomes.append(alike)
    assert any(outcomes)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(p=profiles())
def test_the_json_path_writes_the_bytes_of_the_plain_result(shared: RegistryMatcher, p: dict[str, Any]) -> None:
    """The batch writes trials' results from serialized fragments: the same bytes as the result serialized whole."""
    result = shared.match_all(p)
    assert shared.match_all_json(orjson.dumps(p)) == orjson.dumps(result)
    for cohort in (c for t in result["results"] for c in t["cohorts"]):  # what the reasons and the order read
        unmet = [x["id"] for x in cohort["criteria"] if x["status"] == "not_met"]
        assert cohort["reasons"] == (unmet or [x["id"] for x in cohort["criteria"] if x["status"] == "unknown"]
                                     if cohort["verdict"] != "eligible" else [])
    left = [min(len(c["to_confirm"]) + sum(x["status"] == "unknown" for x in c["criteria"]) for c in t["cohorts"]
                if c["verdict"] == min((c["verdict"] for c in t["cohorts"]), key=VERDICTS.index))
            for t in result["results"]]
    ranks = [(min(VERDICTS.index(c["verdict"]) for c in t["cohorts"]), n, t["trial"])
             for t, n in zip(result["results"], left, strict=True)]
    assert ranks == sorted(ranks)  # best verdict, then fewest criteria left to confirm, then NCT number


@settings(max_examples=100, deadline=None, derandomize=True)
@given(p=profiles())
def test_the_json_path_of_one_trial_writes_the_bytes_of_its_plain_result(registry: GraphStore,
                                                                         p: dict[str, Any]) -> None:
    matcher = matcher_for(registry, structured_studies(registry)[0])
    assert matcher.match_json(orjson.dumps(p)) == orjson.dumps(matcher.match(p))
