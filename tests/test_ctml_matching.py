"""An imported CTML trial is matchable: its arms' rules reach the registry's matcher as cohorts."""

from __future__ import annotations

import pytest
from ctml_fixtures import CAPTUR, arm, captur

from acse_kg.ctml.importer import import_ctml
from acse_kg.matching.engine import RegistryMatcher
from acse_kg.store import open_store


@pytest.fixture(scope="module")
def matcher():
    s = open_store("memory")
    import_ctml(s, captur())
    return RegistryMatcher(s)


def cohorts(result, nct):
    return [c["cohort"] for t in result["results"] if t["trial"] == nct for c in t["cohorts"]]


def braf(diagnosis: str) -> dict:
    return {"id": "P", "age_years": 60, "diagnosis": diagnosis, "alterations": [{"gene": "BRAF", "type": "mutation"}]}


def test_a_braf_cholangiocarcinoma_is_a_candidate_for_the_vemurafenib_cobimetinib_arm_only(matcher):
    result = matcher.match_all(braf("CHOL"))
    assert [t["trial"] for t in result["results"]] == [CAPTUR] and cohorts(result, CAPTUR) == [12]


def test_a_braf_melanoma_is_not_a_candidate_for_that_arm(matcher):
    assert cohorts(matcher.match_all(braf("MEL")), CAPTUR) == []


def test_a_met_amplified_breast_cancer_is_a_candidate_for_the_crizotinib_arm(matcher):
    result = matcher.match_all({"id": "P", "age_years": 50, "diagnosis": "BRCA",
                                "alterations": [{"gene": "MET", "type": "amplification"}]})
    assert 3 in cohorts(result, CAPTUR)


def v600e(diagnosis: str) -> dict:
    return {"id": "P", "age_years": 60, "diagnosis": diagnosis, "alterations": [
        {"gene": "BRAF", "type": "mutation", "protein_change": "p.V600E", "variant_classification": "Missense_Mutation"}]}


def test_an_adult_braf_v600e_cholangiocarcinoma_meets_the_arm_rule(matcher):
    (trial,) = matcher.match_all(v600e("CHOL"))["results"]
    (cohort,) = trial["cohorts"]
    assert (trial["trial"], cohort["cohort"], cohort["verdict"]) == (CAPTUR, 12, "eligible")


def test_a_braf_v600e_melanoma_is_matched_to_nothing(matcher):
    assert matcher.match_all(v600e("MEL"))["results"] == []


def test_a_v600e_without_its_classification_leaves_the_arm_rule_to_confirm(matcher):
    p = v600e("CHOL")
    del p["alterations"][0]["variant_classification"]  # type: ignore[index]
    (trial,) = matcher.match_all(p)["results"]
    assert trial["cohorts"][0]["verdict"] == "unknown"


@pytest.mark.parametrize("diagnosis", ["CHOL", "BRCA", "MEL"])
@pytest.mark.parametrize("drop", [False, True])
def test_the_json_path_writes_the_rule_items_as_the_plain_result_does(matcher, diagnosis, drop):
    """Arms whose rule is met or unknown: the batch's serialized fragments give the bytes of the plain result,
    and the reasons name the unmet criteria, or where none is unmet the unknown ones (the rule's item too)."""
    import orjson

    p = v600e(diagnosis)
    if drop:
        del p["alterations"][0]["variant_classification"]  # type: ignore[index]
    result = matcher.match_all(p)
    assert matcher.match_all_json(orjson.dumps(p)) == orjson.dumps(result)
    for cohort in (c for t in result["results"] for c in t["cohorts"]):
        unmet = [x["id"] for x in cohort["criteria"] if x["status"] == "not_met"]
        assert cohort["reasons"] == (unmet or [x["id"] for x in cohort["criteria"] if x["status"] == "unknown"]
                                     if cohort["verdict"] != "eligible" else [])


def _captur_and_copies() -> RegistryMatcher:
    """CAPTUR and four copies whose arms name other genes of the pool."""
    import random

    from acse_kg.loader import study_graph_name
    from acse_kg.synthetic import GENE_POOL, synthetic_nct, vary

    s = open_store("memory")
    import_ctml(s, captur())
    source = s.graph(study_graph_name(CAPTUR))
    for i in range(1, 5):
        g = vary(source, CAPTUR, synthetic_nct(i), random.Random(i), [], GENE_POOL[:12])
        s.replace_graph(study_graph_name(synthetic_nct(i)), g.serialize(format="nt"), "ntriples")
    return RegistryMatcher(s)


def _entered_or_says_why_none(registry: RegistryMatcher, profile: dict) -> tuple[int, int]:
    """Each study the profile reaches is entered, or has no candidate cohort and the notes its result gives."""
    from acse_kg.matching.rules import ALTS

    p = registry.parse(profile)
    facts, alts = registry.vocab.facts(p)
    skipped = entered = 0
    for m, enters in registry.reached(facts, p.age_years, alts):
        found, notes = m.finder.find(facts, p.age_years, alts)
        if enters:
            entered += 1
            continue
        skipped += 1
        assert found == [], (m.trial, profile)
        assert m.finder.notes_of_none(facts, p.age_years, alts) == notes
        assert not m.finder.rules_may_take(facts[ALTS])
    return skipped, entered


def test_a_study_its_rule_cohorts_cannot_take_is_not_entered_and_says_what_its_result_said():
    """The registry enters a study reached by a rule cohort's gene only when one of its rules needs one of the
    profile's (gene, type) pairs. A study it does not enter must have no candidate cohort, and its notes must
    be those its result gives (the top-level notes are made of them)."""
    import itertools

    from acse_kg.synthetic import GENE_POOL

    registry = _captur_and_copies()
    types = sorted(registry.vocab.alteration_types)
    skipped = entered = 0
    for gene, kind, diagnosis, age in itertools.product(GENE_POOL[:12], types, ["LUAD", "CHOL", "MEL"], [10, 54]):
        s, e = _entered_or_says_why_none(registry, {"id": "P", "age_years": age, "diagnosis": diagnosis,
                                                    "alterations": [{"gene": gene, "type": kind}]})
        skipped, entered = skipped + s, entered + e
    assert skipped and entered  # both paths were taken


def test_a_study_not_entered_for_a_profile_of_two_alterations_has_no_candidate_cohort():
    """The same with two alterations of two genes, which the registry decides pair by pair."""
    import random

    from acse_kg.synthetic import GENE_POOL

    registry = _captur_and_copies()
    types = sorted(registry.vocab.alteration_types)
    rng = random.Random(9)
    skipped = entered = 0
    for _ in range(300):
        genes = rng.sample(GENE_POOL[:12], 2)
        s, e = _entered_or_says_why_none(registry, {
            "id": "P", "age_years": rng.choice([10, 54]), "diagnosis": rng.choice(["LUAD", "CHOL", "MEL", "BRCA"]),
            "alterations": [{"gene": g, "type": rng.choice(types)} for g in genes]})
        skipped, entered = skipped + s, entered + e
    assert skipped and entered


def test_a_rule_that_needs_a_pair_of_a_gene_it_does_not_name_is_entered_by_its_named_genes_alone():
    """An arm that takes an EGFR mutation or any structural variant names EGFR alone (a test of no gene
    names none): a profile with an EGFR amplification and an ALK fusion reaches it through EGFR only,
    and the arm's rule takes it through the ALK fusion. The study must be entered."""
    d = captur()
    group5 = arm(d, "Group 5")
    for step in d["treatment_list"]["step"]:
        step["arm"] = [group5]
    group5["match"] = [{"and": [
        {"or": [{"genomic": {"hugo_symbol": "EGFR", "molecular_function": "Activating", "variant_category": "Mutation"}},
                {"genomic": {"variant_category": "Structural Variation"}}]},
        {"clinical": {"age_numerical": ">=18", "oncotree_primary_diagnosis": "!Non-Small Cell Lung Cancer"}}]}]
    s = open_store("memory")
    import_ctml(s, d)
    result = RegistryMatcher(s).match_all({"id": "P", "age_years": 60, "diagnosis": "BRCA", "alterations": [
        {"gene": "EGFR", "type": "amplification"}, {"gene": "ALK", "type": "fusion"}]})
    assert cohorts(result, CAPTUR) == [1]
