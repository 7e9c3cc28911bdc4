"""Candidate cohorts against the protocol's cohort list, written out here from the registered text.

The table below is the record's list of cohorts 1-20 (pathology as OncoTree
codes, gene, alteration types, age group), typed from the seed page, not read
from the graph; the rules for cohorts 21-23 and the exclusions are the
protocol's. Hypothesis draws diagnoses, alterations and ages; the matcher's
candidate cohorts must be exactly what the table and the rules give.
OncoTree itself (which code falls under which) is reference data and is
taken from the matcher's taxonomy.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from matching_fixtures import profile

ADULT, ALL_AGES = (18, None), (1, None)
#: number: (OncoTree pathologies, gene, accepted alteration types, (min age, max age exclusive))
NAMED: dict[int, tuple[set[str], str, set[str], tuple[float, float | None]]] = {
    1: ({"ALCL"}, "ALK", {"translocation", "overexpression"}, ALL_AGES),  # + ALK positive by IHC (exclusion 3)
    2: ({"COADREAD"}, "ALK", {"translocation"}, ADULT),
    3: ({"COADREAD"}, "MET", {"amplification"}, ADULT),
    4: ({"COADREAD"}, "MET", {"mutation"}, ADULT),
    5: ({"NSCLC"}, "MET", {"amplification"}, ADULT),
    6: ({"NSCLC"}, "ROS1", {"translocation"}, ADULT),
    7: ({"BRCA"}, "ALK", {"translocation"}, ADULT),
    8: ({"STAD"}, "MET", {"amplification"}, ADULT),
    9: ({"CHOL"}, "ROS1", {"translocation"}, ADULT),
    10: ({"OVT", "OOVC", "PSEC"}, "MET", {"amplification"}, ADULT),  # ovarian carcinoma (the pathology audit)
    11: ({"CCRCC"}, "ALK", {"translocation"}, ADULT),
    12: ({"CCRCC"}, "ALK", {"amplification"}, ADULT),
    13: ({"PRCC"}, "MET", {"mutation"}, ADULT),  # "MET mutated (+ MET amplified)": amplification alongside
    14: ({"HCC"}, "MET", {"amplification"}, ADULT),
    15: ({"NBL"}, "ALK", {"amplification", "mutation"}, ALL_AGES),
    16: ({"IMT"}, "ALK", {"translocation"}, ALL_AGES),
    17: ({"ARMS", "ERMS"}, "ALK", {"amplification"}, ALL_AGES),
    18: ({"GB"}, "MET", {"amplification"}, ADULT),
    19: ({"THAP"}, "ALK", {"mutation"}, ADULT),
    20: ({"THFO", "THME", "THPA"}, "MET", {"mutation"}, ADULT),
}
TARGETS = {"ALK", "MET", "MST1R", "ROS1", "AXL"}  # crizotinib's targets; RON is MST1R
QUALIFYING = {"amplification", "mutation", "translocation"}  # overexpression alone does not qualify

DIAGNOSES = ["LUAD", "NSCLC", "LUSC", "ALCL", "ALCLALKP", "GB", "COAD", "READ", "NBL", "STAD", "BLCA", "PRCC",
             "CCRCC", "IMT", "ERMS", "ARMS", "HCC", "BRCA", "IDC", "CHOL", "THAP", "THPA", "THFO", "HGSOC", "PAAD"]
GENES = ["ALK", "MET", "RON", "MST1R", "ROS1", "AXL", "EGFR"]
TYPES = ["amplification", "mutation", "translocation", "fusion", "overexpression"]
SYNONYM = {"fusion": "translocation", "RON": "MST1R"}


def fits_age(age: float, bounds: tuple[float, float | None]) -> bool:
    return age >= bounds[0] and (bounds[1] is None or age < bounds[1])


def expected_cohorts(matcher, diagnosis: str, alterations: list[dict[str, str]], age: float) -> list[int]:
    under = {matcher.taxonomy.code_of.get(c) for c in matcher.taxonomy.ancestors(matcher.taxonomy.resolve(diagnosis))}
    alts = {(SYNONYM.get(a["gene"], a["gene"]), SYNONYM.get(a["type"], a["type"])) for a in alterations}

    def named_for(alt: tuple[str, str]) -> set[int]:
        gene, kind = alt
        return {n for n, (paths, g, kinds, ages) in NAMED.items()
                if paths & under and g == gene and kind in kinds and fits_age(age, ages)}

    found: set[int] = set()
    uncovered = False
    for alt in alts:
        named = named_for(alt)
        found |= named
        if named or alt[0] not in TARGETS or alt[1] not in QUALIFYING:
            continue
        if "NSCLC" in under and alt == ("ALK", "translocation"):
            continue  # exclusion 1: NSCLC with an ALK translocation
        uncovered = True
    if uncovered:
        found |= {21} if fits_age(age, (1, 18)) else {22, 23} if age >= 18 else set()
    return sorted(found)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(
    diagnosis=st.sampled_from(DIAGNOSES),
    alterations=st.lists(st.builds(dict, gene=st.sampled_from(GENES), type=st.sampled_from(TYPES)), max_size=3),
    age=st.sampled_from([0.5, 0.99, 1, 5, 11.9, 12, 17.99, 18, 40, 80]),
)
def test_candidate_cohorts_are_those_the_protocol_lists(matcher, diagnosis, alterations, age) -> None:
    result = matcher.match(profile(diagnosis=diagnosis, alterations=alterations, age_years=age))
    assert sorted(c["cohort"] for c in result["cohorts"]) == expected_cohorts(matcher, diagnosis, alterations, age)
    if not result["cohorts"]:
        assert result["notes"], "an empty list comes with a reason"


def test_the_table_here_names_the_same_cohorts_as_the_graph(matcher) -> None:
    assert {c.number for c in matcher.cohorts} == set(NAMED) | {21, 22, 23}


def test_every_named_cohort_is_reached_by_its_own_pair(matcher) -> None:
    for n, (paths, gene, kinds, ages) in NAMED.items():
        code = sorted(paths)[0]
        dx = "IMTB" if code == "IMT" else code  # any code under the pathology will do
        p: dict[str, Any] = profile(diagnosis=dx, age_years=ages[0] + 30,
                                    alterations=[{"gene": gene, "type": sorted(kinds)[0]}])
        assert n in [c["cohort"] for c in matcher.match(p)["cohorts"]], n


def test_no_cohort_takes_a_diagnosis_it_excludes(store) -> None:
    """Every excluded pathology of every cohort (benign and non-malignant entities, decided in the
    record's curations) keeps a patient with that diagnosis out of the cohort, with its own alteration."""
    from acse_kg.matching.engine import Matcher
    from acse_kg.model import read_study

    matcher = Matcher(store)
    study = read_study(store, "NCT02034981")
    checked = 0
    for cohort in study.cohorts:
        if not cohort.genes or not cohort.accepts:
            continue
        gene, kind = cohort.genes[0].code, cohort.accepts[0].code
        age = 10 if cohort.population and cohort.population.max_age and cohort.population.max_age <= 18 else 40
        for excluded in cohort.excluded_pathologies:
            result = matcher.match({"id": "P", "age_years": age, "diagnosis": excluded.code,
                                    "alterations": [{"gene": gene, "type": kind}]})
            assert cohort.number not in [c["cohort"] for c in result["cohorts"]], (cohort.number, excluded.code)
            checked += 1
    assert checked > 100


def test_a_common_exclusion_that_asks_a_variant_is_not_asked_of_a_pair_alone(store):
    """Common exclusions that read the diagnosis and the alterations reject a (gene, type) pair on their
    own, asked with the pair and no variants; one that names a variant (EGFR T790M) among its
    alternatives cannot be answered so and is left to the whole decision (it failed with a KeyError)."""
    import dataclasses

    from acse_kg.matching.candidates import CandidateFinder
    from acse_kg.matching.rules import ALTS, DX, DX_CLASS, VARIANTS
    from acse_kg.model import AlterationTest, Criterion, Not, Or, read_study
    from acse_kg.model.expressions import Term

    acse = "https://w3id.org/acse-kg/ontology#"
    alk_fusion = AlterationTest(gene=Term(acse + "ALK"), alteration_type=Term(acse + "Translocation"))
    t790m = AlterationTest(gene=Term(acse + "EGFR"), alteration_type=Term(acse + "Mutation"), protein_change="p.T790M")
    study = read_study(store, "NCT02034981")
    pair_only = Criterion(iri="urn:x:e1", id="e1", kind="exclusion", text="ALK fusion", computable=True,
                          requires=Not(alk_fusion))
    with_variant = Criterion(iri="urn:x:e2", id="e2", kind="exclusion", text="ALK fusion or EGFR T790M",
                             computable=True, requires=Not(Or((alk_fusion, t790m))))
    finder = CandidateFinder.build(dataclasses.replace(study, criteria=(*study.criteria, pair_only, with_variant)),
                                   {}, {})
    assert pair_only in [c for c, _ in finder.pair_exclusions]
    assert with_variant not in [c for c, _ in finder.pair_exclusions]
    pair = (acse + "ALK", acse + "Translocation")
    facts = {DX: frozenset(), DX_CLASS: "urn:x:dx", ALTS: frozenset({pair}), VARIANTS: ()}
    assert finder.check.first_rejecting(facts, pair) is not None  # asked without error; the ALK one rejects
