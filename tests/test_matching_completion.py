"""A registered criterion is decided as a whole: a missing datum matters only where it can change the outcome.

The definition, checked here against the matcher on random data: a criterion's rules on one
variable (its branches and their conditions) are met when they are met in every completion of
the missing facts, not met when they fail in every completion, and unknown otherwise. The
completions are enumerated here by brute force over a grid of values, with an evaluator of the
model's expressions written for this test (two-valued, over complete facts), independent of the
matcher's compiled rules.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acse_kg.matching.engine import Matcher
from acse_kg.matching.rules import threshold
from acse_kg.model import AlterationTest, And, Comparison, Criterion, Expr, Not, Or, TumourTypeTest, walk
from acse_kg.store import GraphStore

OPS = {"ge": lambda a, b: a >= b, "gt": lambda a, b: a > b, "le": lambda a, b: a <= b,
       "lt": lambda a, b: a < b, "eq": lambda a, b: a == b}
DIAGNOSES = ["LUAD", "ALCL", "GB", "COAD", "NBL"]


def evaluate(e: Expr, facts: dict[str, Any], dx: frozenset[str]) -> bool:
    """Classical truth of an expression over complete facts (the test's own evaluator)."""
    if isinstance(e, Comparison):
        return bool(OPS[e.comparator](facts[e.variable.field], threshold(e)))
    if isinstance(e, TumourTypeTest):
        return e.tumour_type.iri in dx
    if isinstance(e, AlterationTest):
        return True  # the profiles here carry the cohort's alteration; no group tests another
    if isinstance(e, Not):
        return not evaluate(e.operand, facts, dx)
    if isinstance(e, And):
        return all(evaluate(o, facts, dx) for o in e.operands)
    if isinstance(e, Or):
        return any(evaluate(o, facts, dx) for o in e.operands)
    raise TypeError(e)


def passes(c: Criterion, facts: dict[str, Any], dx: frozenset[str]) -> bool:
    assert c.requires is not None
    return (c.applies_when is not None and not evaluate(c.applies_when, facts, dx)) or evaluate(c.requires, facts, dx)


def comparisons(cs: list[Criterion]) -> list[Comparison]:
    return [x for c in cs for e in (c.requires, c.applies_when) if e is not None for x in walk(e)
            if isinstance(x, Comparison)]


WHOLE: set[str] = set()  # fields the profile takes as whole numbers (scores), filled by the fixture
BOUNDS: dict[str, tuple[float | None, float | None]] = {}  # the values the profile allows


def grid(field: str, cs: list[Comparison]) -> list[Any]:
    """Values a completion of ``field`` may take: every threshold, half a unit (a whole one for scores)
    either side, and far out."""
    kind = cs[0].variable.kind
    if kind == "boolean":
        return [True, False]
    if kind == "code":
        return [*sorted({str(threshold(c)) for c in cs}), "something else"]
    step = 1.0 if field in WHOLE else 0.5
    out = {0.0, 100.0 if field in WHOLE else 10_000.0}
    for c in cs:
        t = float(threshold(c))
        out.update({t - step, t, t + step})
    lo, hi = BOUNDS.get(field, (None, None))
    return sorted(int(v) if field in WHOLE else v for v in out
                  if v >= (lo if lo is not None else 0) and (hi is None or v <= hi))


def conditional_groups(matcher: Matcher) -> list[list[Criterion]]:
    """The matcher's groups that have a condition: the rules the issue is about."""
    out = []
    for g in matcher.one.groups:
        members = [matcher.one.decidable[i] for i in g.members]
        if any(c.applies_when is not None for c in members) or len(members) > 1 or any(
                isinstance(x, Or) for c in members for x in walk(c.requires)):  # type: ignore[arg-type]
            out.append(members)
    return out


def brute_force(members: list[Criterion], facts: dict[str, Any], dx: frozenset[str],
                correspond: dict[tuple[str, str], dict[float, tuple[float, float]]]) -> str:
    comps = comparisons(members)
    fields = sorted({c.variable.field for c in comps})
    missing = [f for f in fields if facts.get(f) is None]
    pools = []
    for f in missing:
        pool = grid(f, [c for c in comps if c.variable.field == f])
        sources: list[set[float]] = []
        for (src, dst), table in correspond.items():  # a known scale bounds a missing one it corresponds to
            if dst == f and facts.get(src) is not None and float(facts[src]) in table:
                lo, hi = table[float(facts[src])]
                pool = [v for v in pool if lo <= v <= hi] + [lo, hi]
            if src == f and facts.get(dst) is not None:
                sources.append({k for k, (lo, hi) in table.items() if lo <= float(facts[dst]) <= hi})
        consistent = set.intersection(*sources) if sources else set()
        if consistent:  # known scales that contradict each other constrain nothing
            pool = sorted(consistent)
        pools.append(pool)
    outcomes = set()
    for values in itertools.product(*pools):
        full = {**facts, **dict(zip(missing, values, strict=True))}
        outcomes.add(all(passes(c, full, dx) for c in members))
    return "met" if outcomes == {True} else "not_met" if outcomes == {False} else "unknown"


def correspondences(store: GraphStore) -> dict[tuple[str, str], dict[float, tuple[float, float]]]:
    rows = store.select(
        "SELECT ?f ?t ?v ?lo ?hi WHERE { ?c a acse:ScaleCorrespondence ; acse:fromVariable/acse:profileField ?f ; "
        "acse:toVariable/acse:profileField ?t ; acse:fromValue ?v ; acse:toMinimum ?lo ; acse:toMaximum ?hi }")
    out: dict[tuple[str, str], dict[float, tuple[float, float]]] = {}
    for r in rows:
        out.setdefault((str(r["f"]), str(r["t"])), {})[float(r["v"].toPython())] = (  # type: ignore[union-attr]
            float(r["lo"].toPython()), float(r["hi"].toPython()))  # type: ignore[union-attr]
    return out


def profile_of(facts: dict[str, Any], diagnosis: str, age: float) -> dict[str, Any]:
    alterations = [{"gene": "MET", "type": "amplification"}]
    if diagnosis != "LUAD":  # an ALK translocation in NSCLC is excluded by the protocol
        alterations.append({"gene": "ALK", "type": "translocation"})
    p: dict[str, Any] = {"id": "P", "age_years": age, "diagnosis": diagnosis, "alterations": alterations}
    for path, v in facts.items():
        if v is None or path == "age_years":
            continue
        head, _, tail = path.partition(".")
        if tail:
            p.setdefault(head, {})[tail] = v
        else:
            p[head] = v
    return p


@pytest.fixture(scope="module")
def matcher(store: GraphStore) -> Matcher:
    m = Matcher(store)
    WHOLE.update(v.field for v in m.vocab.schema.fields if v.whole_number)
    BOUNDS.update({v.field: (v.min_inclusive, v.max_inclusive) for v in m.vocab.schema.fields if v.kind == "number"})
    return m


def test_the_record_has_conditional_criteria_to_check(matcher: Matcher) -> None:
    texts = {c.id for g in conditional_groups(matcher) for c in g}
    assert {"inc-06-platelets", "inc-06-ast-liver-metastasis", "inc-06-bilirubin", "inc-09"} <= texts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_conditional_criterion_is_decided_as_every_completion_decides_it(
        matcher: Matcher, store: GraphStore, data: st.DataObject) -> None:
    correspond = correspondences(store)
    group = data.draw(st.sampled_from(conditional_groups(matcher)), label="group")
    comps = comparisons(group)
    facts: dict[str, Any] = {}
    for f in sorted({c.variable.field for c in comps}):
        if f == "age_years":
            continue
        facts[f] = data.draw(st.sampled_from([None, *grid(f, [c for c in comps if c.variable.field == f])]), label=f)
    diagnosis = data.draw(st.sampled_from(DIAGNOSES), label="diagnosis")
    age = data.draw(st.sampled_from([10.0, 54.0]), label="age")
    profile = profile_of(facts, diagnosis, age)
    p = matcher.vocab.parse(profile)
    got_facts, _ = matcher.facts(p)
    dx = got_facts["_dx"]
    expected = brute_force(group, {**facts, "age_years": age}, dx, correspond)
    result = matcher.match(profile)
    ids = {c.id for c in group}
    for cohort in result["cohorts"]:
        statuses = [x["status"] for x in cohort["criteria"] if x["id"] in ids]
        if not statuses:
            continue
        combined = "not_met" if "not_met" in statuses else "unknown" if "unknown" in statuses else "met"
        assert combined == expected, (sorted(ids), facts, diagnosis, age, statuses)


def test_a_value_failing_every_branch_is_not_met_whatever_the_condition(matcher: Matcher) -> None:
    """ASAT at 6×ULN fails ≤ 5 and ≤ 3: liver metastasis and fibrosis unknown do not matter."""
    (c5,) = matcher.match(profile_of({"labs.ast_uln": 6.0}, "LUAD", 54))["cohorts"]
    ast = [x for x in c5["criteria"] if x["id"].startswith("inc-06-ast")]
    assert {x["status"] for x in ast} == {"not_met"} and c5["verdict"] == "ineligible"
    assert all(x["applies"] is None for x in ast)  # the condition itself is still unknown


def test_a_value_passing_one_branch_only_leaves_the_criterion_unknown_and_names_the_condition(matcher: Matcher) -> None:
    (c5,) = matcher.match(profile_of({"labs.ast_uln": 4.0}, "LUAD", 54))["cohorts"]
    unknown = [x for x in c5["criteria"] if x["id"].startswith("inc-06-ast") and x["status"] == "unknown"]
    assert unknown and all("history.liver_metastasis" in x["missing"] for x in unknown)


def test_a_known_ecog_settles_the_karnofsky_alternative(matcher: Matcher) -> None:
    """ECOG 3 corresponds to Karnofsky 30-40 (Oken 1982): 'Karnofsky > 50' cannot hold, so not met."""
    (c5,) = matcher.match(profile_of({"performance.ecog": 3}, "LUAD", 54))["cohorts"]
    (perf,) = [x for x in c5["criteria"] if x["id"] == "inc-09"]
    assert perf["status"] == "not_met" and perf["finding"] == "not met"


def test_an_exclusion_reads_as_excluded_or_not(matcher: Matcher) -> None:
    (c5,) = matcher.match(profile_of({"history.prior_crizotinib": True}, "LUAD", 54))["cohorts"]
    (prior,) = [x for x in c5["criteria"] if x["id"] == "exc-05"]
    assert prior["status"] == "not_met" and prior["finding"] == "excluded"
    (c5,) = matcher.match(profile_of({"history.prior_crizotinib": False}, "LUAD", 54))["cohorts"]
    (prior,) = [x for x in c5["criteria"] if x["id"] == "exc-05"]
    assert prior["status"] == "met" and prior["finding"] == "not excluded"


def test_a_rule_whose_condition_does_not_hold_is_not_applicable(matcher: Matcher) -> None:
    (c5,) = matcher.match(profile_of({"labs.platelets": 120.0}, "LUAD", 54))["cohorts"]
    (alcl,) = [x for x in c5["criteria"] if x["id"] == "inc-06-platelets-alcl"]
    assert alcl["applies"] is False and alcl["finding"] == "not applicable" and alcl["status"] == "met"


def test_an_unknown_names_the_fields_that_would_settle_it_and_the_cohort_collects_them(matcher: Matcher) -> None:
    (c5,) = matcher.match(profile_of({}, "LUAD", 54))["cohorts"]
    (anc,) = [x for x in c5["criteria"] if x["id"] == "inc-06-anc"]
    assert anc["status"] == "unknown" and anc["missing"] == ["labs.anc"]
    assert "labs.anc" in c5["missing"] and c5["verdict"] == "unknown"
    assert set(c5["reasons"]) == {x["id"] for x in c5["criteria"] if x["status"] == "unknown"}


def test_the_reasons_of_an_ineligible_cohort_are_its_unmet_criteria(matcher: Matcher) -> None:
    (c5,) = matcher.match(profile_of({"labs.anc": 0.5}, "LUAD", 54))["cohorts"]
    assert c5["verdict"] == "ineligible" and c5["reasons"] == ["inc-06-anc"]


def test_notes_agree_with_verdicts_over_many_random_profiles(matcher: Matcher) -> None:
    """A note never says what the cohorts' verdicts contradict: an exclusion named in the notes is not
    'not excluded' in a cohort listed, a cohort said to be closed is not eligible, and an eligible
    cohort has no unmet criterion."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.bench_matching import make_profiles

    for p in make_profiles(2000, seed=7):
        result = matcher.match(p)
        for note in result["notes"]:
            if "is excluded by the protocol: " in note:
                text = note.split("is excluded by the protocol: ", 1)[1]
                for c in result["cohorts"]:
                    for item in c["criteria"]:
                        if item["text"] == text:
                            assert item["finding"] != "not excluded", (p["id"], note, c["cohort"])
            if note.startswith("cohort ") and "is not open" in note:
                number = int(note.split()[1])
                assert all(c["verdict"] == "ineligible" for c in result["cohorts"] if c["cohort"] == number)
        for c in result["cohorts"]:
            statuses = {x["status"] for x in c["criteria"]}
            expected = "ineligible" if "not_met" in statuses else "unknown" if "unknown" in statuses else "eligible"
            assert c["verdict"] == expected, (p["id"], c["cohort"])
            assert set(c["reasons"]) <= {x["id"] for x in c["criteria"]}


def test_a_bullet_its_computable_part_decides_is_not_to_be_confirmed(matcher: Matcher) -> None:
    """A positive HIV/hepatitis history settles 'HIV-positive ... or any other uncontrolled infection'."""
    def confirm(hiv: bool) -> list[str]:
        (c5,) = matcher.match(profile_of({"history.hiv_or_hepatitis": hiv}, "LUAD", 54))["cohorts"]
        return [t for t in c5["to_confirm"] if t.startswith("HIV-positive")]

    assert confirm(True) == []
    assert len(confirm(False)) == 1  # "any other uncontrolled infection" is still to be confirmed


def test_the_new_fields_are_published_in_the_result_schema_and_results_validate(matcher: Matcher) -> None:
    import jsonschema

    from acse_kg.matching.result import result_schema

    schema = result_schema()
    assert {"applies", "finding", "missing"} <= set(schema["$defs"]["CriterionResult"]["properties"])
    assert {"reasons", "missing", "recruiting"} <= set(schema["$defs"]["CohortResult"]["properties"])
    for facts in ({}, {"labs.ast_uln": 6.0}, {"history.prior_crizotinib": True}):
        jsonschema.validate(matcher.match(profile_of(facts, "LUAD", 54)), schema)
