"""Each computable criterion of the record, decided by the compiled rules, on both sides of its threshold."""

from __future__ import annotations

import pytest
from matching_fixtures import CRIT, DROP, profile

from acse_kg.matching.profile import parse_profile


def status(matcher, crit: str, **over) -> str:
    return matcher.statuses(parse_profile(profile(**over)))[CRIT + crit]


def test_the_baseline_profile_meets_every_computable_criterion(matcher) -> None:
    got = matcher.statuses(parse_profile(profile()))
    assert {k: v for k, v in got.items() if v != "met"} == {}


@pytest.mark.parametrize(
    ("crit", "field", "passing", "failing"),
    [
        ("inc-06-anc", "anc", 1.0, 0.99),
        ("inc-06-hemoglobin", "hemoglobin", 8.0, 7.9),
        ("inc-06-creatinine-clearance", "creatinine_clearance", 50, 49.9),
        ("inc-06-platelets", "platelets", 75, 74),
        ("inc-06-bilirubin", "bilirubin_uln", 1.5, 1.51),
        ("inc-06-ast-no-liver-metastasis", "ast_uln", 3.0, 3.01),
        ("inc-06-alt-no-liver-metastasis", "alt_uln", 3.0, 3.01),
    ],
)
def test_lab_thresholds_on_both_sides(matcher, crit, field, passing, failing) -> None:
    assert status(matcher, crit, labs={field: passing}) == "met"
    assert status(matcher, crit, labs={field: failing}) == "not_met"
    assert status(matcher, crit, labs={field: DROP}) == "unknown"


@pytest.mark.parametrize("ion", ["calcium", "magnesium", "potassium"])
def test_electrolytes_must_be_normal(matcher, ion) -> None:
    assert status(matcher, f"inc-07-{ion}", labs={ion: "normal"}) == "met"
    assert status(matcher, f"inc-07-{ion}", labs={ion: "abnormal"}) == "not_met"
    assert status(matcher, f"inc-07-{ion}", labs={ion: DROP}) == "unknown"


@pytest.mark.parametrize(
    ("crit", "field", "passing", "failing"),
    [
        ("inc-01", "age_years", 1, 0.9),
        ("inc-10", "life_expectancy_months", 3, 2.9),
        ("exc-07-04", "heart_rate_bpm", 46, 45),
        ("exc-07-05-qtcf", "qtcf_ms", 470, 471),
        ("inc-04", "measurable_disease", True, False),
    ],
)
def test_scalar_thresholds_on_both_sides(matcher, crit, field, passing, failing) -> None:
    assert status(matcher, crit, **{field: passing}) == "met"
    assert status(matcher, crit, **{field: failing}) == "not_met"


@pytest.mark.parametrize(
    ("crit", "flag"),
    [
        ("exc-05", "prior_crizotinib"),
        ("exc-07-01", "recent_cardiovascular_event"),
        ("exc-07-02", "congestive_heart_failure"),
        ("exc-07-03", "congenital_long_qt"),
        ("exc-07-10-hiv-hepatitis", "hiv_or_hepatitis"),
        ("exc-04", "cns_disease"),
    ],
)
def test_history_exclusions(matcher, crit, flag) -> None:
    assert status(matcher, crit, history={flag: False}) == "met"
    assert status(matcher, crit, history={flag: True}) == "not_met"
    assert status(matcher, crit, history={flag: DROP}) == "unknown"


def test_hemoglobin_uses_the_curated_8_g_per_dl_not_the_registered_8_g_per_l(matcher) -> None:
    # 8 g/L would be 0.8 g/dL: a patient at 5 g/dL passes the registered value but not the curated one.
    assert status(matcher, "inc-06-hemoglobin", labs={"hemoglobin": 5.0}) == "not_met"
    assert status(matcher, "inc-06-hemoglobin", labs={"hemoglobin": {"value": 80, "unit": "g/L"}}) == "met"


# --- platelets: 75, but 50 for ALCL with bone-marrow involvement, 100 for cerebral tumours
def test_platelets_50_suffice_for_alcl_with_bone_marrow_involvement(matcher) -> None:
    over = {"diagnosis": "ALCL", "labs": {"platelets": 60}, "history": {"bone_marrow_involvement": True}}
    assert status(matcher, "inc-06-platelets-alcl", **over) == "met"
    assert status(matcher, "inc-06-platelets", **over) == "met"  # the 75 rule does not apply
    over["labs"] = {"platelets": 49}
    assert status(matcher, "inc-06-platelets-alcl", **over) == "not_met"


def test_platelets_75_for_alcl_without_bone_marrow_involvement(matcher) -> None:
    over = {"diagnosis": "ALCL", "labs": {"platelets": 60}, "history": {"bone_marrow_involvement": False}}
    assert status(matcher, "inc-06-platelets", **over) == "not_met"
    assert status(matcher, "inc-06-platelets-alcl", **over) == "met"  # does not apply


def test_platelets_100_for_cerebral_tumours_by_diagnosis_or_cns_history(matcher) -> None:
    assert status(matcher, "inc-06-platelets-cerebral", diagnosis="GB", labs={"platelets": 90}) == "not_met"
    assert status(matcher, "inc-06-platelets-cerebral", diagnosis="GB", labs={"platelets": 100}) == "met"
    assert status(matcher, "inc-06-platelets-cerebral", history={"cns_disease": True}, labs={"platelets": 90}) == "not_met"
    assert status(matcher, "inc-06-platelets-cerebral", labs={"platelets": 90}) == "met"  # LUAD, no CNS disease


def test_platelets_missing_cns_history_matters_only_between_75_and_100(matcher) -> None:
    assert status(matcher, "inc-06-platelets-cerebral", history={"cns_disease": DROP}, labs={"platelets": 90}) == "unknown"
    assert status(matcher, "inc-06-platelets-cerebral", history={"cns_disease": DROP}, labs={"platelets": 150}) == "met"


# --- bilirubin unless Gilbert's
def test_gilbert_matters_only_when_bilirubin_is_above_1_5_uln(matcher) -> None:
    assert status(matcher, "inc-06-bilirubin", labs={"bilirubin_uln": 1.0}, history={"gilbert_syndrome": DROP}) == "met"
    assert status(matcher, "inc-06-bilirubin", labs={"bilirubin_uln": 2.0}, history={"gilbert_syndrome": DROP}) == "unknown"
    assert status(matcher, "inc-06-bilirubin", labs={"bilirubin_uln": 2.0}, history={"gilbert_syndrome": True}) == "met"
    assert status(matcher, "inc-06-bilirubin", labs={"bilirubin_uln": 2.0}, history={"gilbert_syndrome": False}) == "not_met"


# --- AST / ALT by liver metastasis and fibrosis
@pytest.mark.parametrize("enzyme", ["ast", "alt"])
def test_transaminases_up_to_5_uln_with_liver_metastasis(matcher, enzyme) -> None:
    hist = {"liver_metastasis": True, "advanced_fibrosis": False}
    assert status(matcher, f"inc-06-{enzyme}-liver-metastasis", labs={f"{enzyme}_uln": 5.0}, history=hist) == "met"
    assert status(matcher, f"inc-06-{enzyme}-liver-metastasis", labs={f"{enzyme}_uln": 5.1}, history=hist) == "not_met"
    assert status(matcher, f"inc-06-{enzyme}-no-liver-metastasis", labs={f"{enzyme}_uln": 4.0}, history=hist) == "met"


@pytest.mark.parametrize("enzyme", ["ast", "alt"])
def test_transaminases_up_to_3_uln_with_liver_metastasis_and_fibrosis(matcher, enzyme) -> None:
    hist = {"liver_metastasis": True, "advanced_fibrosis": True}
    crit = f"inc-06-{enzyme}-liver-metastasis-fibrosis"
    assert status(matcher, crit, labs={f"{enzyme}_uln": 3.0}, history=hist) == "met"
    assert status(matcher, crit, labs={f"{enzyme}_uln": 4.0}, history=hist) == "not_met"


@pytest.mark.parametrize("enzyme", ["ast", "alt"])
def test_fibrosis_matters_only_with_liver_metastasis_and_transaminases_above_3_uln(matcher, enzyme) -> None:
    crit = f"inc-06-{enzyme}-liver-metastasis-fibrosis"
    no_fib = {"advanced_fibrosis": DROP}
    assert status(matcher, crit, labs={f"{enzyme}_uln": 4.0}, history={**no_fib, "liver_metastasis": True}) == "unknown"
    assert status(matcher, crit, labs={f"{enzyme}_uln": 2.0}, history={**no_fib, "liver_metastasis": True}) == "met"
    assert status(matcher, crit, labs={f"{enzyme}_uln": 4.0}, history={**no_fib, "liver_metastasis": False}) == "met"


# --- performance: ECOG 0-2 or Karnofsky > 50 or (under 12) Lansky > 50
def test_performance_by_ecog(matcher) -> None:
    assert status(matcher, "inc-09", performance={"__replace__": True, "ecog": 2}) == "met"
    # ECOG 3 alone: a Karnofsky above 50 could still qualify, so the datum matters.
    assert status(matcher, "inc-09", performance={"__replace__": True, "ecog": 3}) == "unknown"
    assert status(matcher, "inc-09", performance={"__replace__": True, "ecog": 3, "karnofsky": 50}) == "not_met"


def test_performance_by_karnofsky(matcher) -> None:
    assert status(matcher, "inc-09", performance={"__replace__": True, "karnofsky": 60}) == "met"
    assert status(matcher, "inc-09", performance={"__replace__": True, "karnofsky": 50, "ecog": 3}) == "not_met"
    assert status(matcher, "inc-09", performance={"__replace__": True, "karnofsky": 50}) == "unknown"


def test_lansky_counts_only_under_12_years(matcher) -> None:
    perf = {"__replace__": True, "lansky": 60}
    assert status(matcher, "inc-09", age_years=8, performance=perf) == "met"
    assert status(matcher, "inc-09", age_years=30, performance=perf) == "unknown"  # ECOG/Karnofsky not given
    low = {"__replace__": True, "lansky": 50, "ecog": 3, "karnofsky": 40}
    assert status(matcher, "inc-09", age_years=8, performance=low) == "not_met"


def test_no_performance_score_is_unknown(matcher) -> None:
    assert status(matcher, "inc-09", performance={"__replace__": True}) == "unknown"


# --- molecular exclusions
def test_nsclc_with_alk_translocation_is_excluded(matcher) -> None:
    alts = [{"gene": "MET", "type": "amplification"}, {"gene": "ALK", "type": "fusion"}]
    assert status(matcher, "exc-01", alterations=alts) == "not_met"
    assert status(matcher, "exc-01", diagnosis="COAD", alterations=alts) == "met"


def test_overexpression_alone_is_excluded_except_alk_ihc_in_alcl(matcher) -> None:
    over = [{"gene": "MET", "type": "overexpression", "method": "IHC"}]
    assert status(matcher, "exc-03", alterations=over) == "not_met"
    assert status(matcher, "exc-03", alterations=[*over, {"gene": "MET", "type": "amplification"}]) == "met"
    alk = [{"gene": "ALK", "type": "overexpression", "method": "IHC"}]
    assert status(matcher, "exc-03", diagnosis="ALCL", alterations=alk) == "met"


# --- the alteration inclusion and the CNS exclusion
@pytest.mark.parametrize(("gene", "expected"), [("ALK", "met"), ("MET", "met"), ("RON", "met"), ("MST1R", "met"),
                                                ("ROS1", "met"), ("EGFR", "not_met"), ("KRAS", "not_met")])
def test_an_alteration_among_alk_met_ron_ros1_is_required(matcher, gene, expected) -> None:
    assert status(matcher, "inc-03", alterations=[{"gene": gene, "type": "mutation"}]) == expected


def test_no_alteration_at_all_fails_the_alteration_inclusion(matcher) -> None:
    assert status(matcher, "inc-03", alterations=[]) == "not_met"


def test_a_brain_tumour_is_a_cns_disease_even_when_the_flag_says_otherwise(matcher) -> None:
    assert status(matcher, "exc-04", diagnosis="GB", history={"cns_disease": False}) == "not_met"
    assert status(matcher, "exc-04", diagnosis="GB", history={"cns_disease": DROP}) == "not_met"
    assert status(matcher, "exc-04", diagnosis="LUAD", history={"cns_disease": DROP}) == "unknown"


def test_an_alcl_subtype_with_bone_marrow_involvement_gets_the_50_rule(matcher) -> None:
    over = {"diagnosis": "ALCLALKP", "labs": {"platelets": 50}, "history": {"bone_marrow_involvement": True}}
    assert status(matcher, "inc-06-platelets-alcl", **over) == "met"
    assert status(matcher, "inc-06-platelets", **over) == "met"
    assert status(matcher, "inc-06-platelets-alcl", **{**over, "labs": {"platelets": 49.9}}) == "not_met"


def test_lansky_stops_counting_at_12_years(matcher) -> None:
    perf = {"__replace__": True, "lansky": 60, "ecog": 3, "karnofsky": 40}
    assert status(matcher, "inc-09", age_years=11.99, performance=perf) == "met"
    assert status(matcher, "inc-09", age_years=12, performance=perf) == "not_met"


def test_karnofsky_must_be_above_50_not_equal(matcher) -> None:
    assert status(matcher, "inc-09", performance={"__replace__": True, "karnofsky": 51, "ecog": 3}) == "met"
    assert status(matcher, "inc-09", performance={"__replace__": True, "karnofsky": 50, "ecog": 3}) == "not_met"


def test_a_missing_lansky_does_not_matter_from_12_years(matcher) -> None:
    perf = {"__replace__": True, "ecog": 3, "karnofsky": 40}
    assert status(matcher, "inc-09", age_years=30, performance=perf) == "not_met"
    assert status(matcher, "inc-09", age_years=8, performance=perf) == "unknown"
