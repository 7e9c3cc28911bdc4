"""Candidate cohorts, verdicts, to_confirm and dosing, per the contract and the protocol."""

from __future__ import annotations

import pytest
from matching_fixtures import DROP, profile


def cohorts(matcher, **over) -> list[int]:
    return [c["cohort"] for c in matcher.match(profile(**over))["cohorts"]]


def test_a_subtype_falls_under_the_cohort_pathology(matcher) -> None:
    assert cohorts(matcher, diagnosis="LUAD") == [5]  # LUAD is under NSCLC in OncoTree
    assert cohorts(matcher, diagnosis="NSCLC") == [5]


def test_an_ncit_diagnosis_is_resolved_through_oncotree(matcher) -> None:
    # NCIT:C2926 is non-small cell lung carcinoma; OncoTree maps NSCLC to it.
    assert cohorts(matcher, diagnosis="NCIT:C2926") == [5]


def test_ron_means_mst1r(matcher) -> None:
    result = matcher.match(profile(diagnosis="BLCA", alterations=[{"gene": "RON", "type": "mutation"}]))
    assert [c["cohort"] for c in result["cohorts"]] == [22, 23]


@pytest.mark.parametrize("word", ["translocation", "fusion", "rearrangement"])
def test_fusion_and_rearrangement_mean_translocation(matcher, word) -> None:
    assert cohorts(matcher, diagnosis="LUAD", alterations=[{"gene": "ROS1", "type": word}]) == [6]


def test_the_alteration_type_must_be_one_the_cohort_accepts(matcher) -> None:
    # Colorectal MET mutated -> cohort 4; MET amplified -> 3; ALK translocated -> 2.
    assert cohorts(matcher, diagnosis="COAD", alterations=[{"gene": "MET", "type": "mutation"}]) == [4]
    assert cohorts(matcher, diagnosis="COAD", alterations=[{"gene": "MET", "type": "amplification"}]) == [3]
    assert cohorts(matcher, diagnosis="COAD", alterations=[{"gene": "ALK", "type": "translocation"}]) == [2]


def test_adult_cohorts_do_not_take_children_who_go_to_cohort_21(matcher) -> None:
    child = {"age_years": 8, "diagnosis": "COAD", "alterations": [{"gene": "ALK", "type": "translocation"}]}
    assert cohorts(matcher, **child) == [21]


def test_adults_and_children_cohorts_take_children(matcher) -> None:
    assert cohorts(matcher, age_years=5, diagnosis="NBL", alterations=[{"gene": "ALK", "type": "mutation"}]) == [15]
    assert cohorts(matcher, age_years=0.5, diagnosis="NBL", alterations=[{"gene": "ALK", "type": "mutation"}]) == []


def test_cohort_21_is_for_children_only(matcher) -> None:
    assert cohorts(matcher, age_years=18, diagnosis="BLCA", alterations=[{"gene": "MET", "type": "mutation"}]) == [22, 23]
    assert cohorts(matcher, age_years=17.9, diagnosis="BLCA", alterations=[{"gene": "MET", "type": "mutation"}]) == [21]


def test_cohorts_22_and_23_take_a_pair_cohorts_1_to_20_do_not_cover(matcher) -> None:
    # Gastric MET amplified is cohort 8: not 22/23. Gastric ALK translocated is not covered.
    assert cohorts(matcher, diagnosis="STAD", alterations=[{"gene": "MET", "type": "amplification"}]) == [8]
    assert cohorts(matcher, diagnosis="STAD", alterations=[{"gene": "ALK", "type": "translocation"}]) == [22, 23]


def test_nsclc_with_only_an_alk_translocation_has_no_cohort_and_a_note(matcher) -> None:
    result = matcher.match(profile(alterations=[{"gene": "ALK", "type": "translocation", "partner": "EML4"}]))
    assert result["cohorts"] == []
    assert any("NSCLC patients ALK translocations" in n for n in result["notes"])


def test_nsclc_alk_translocated_with_met_amplification_is_a_candidate_but_ineligible(matcher) -> None:
    alts = [{"gene": "MET", "type": "amplification"}, {"gene": "ALK", "type": "translocation"}]
    (c5,) = matcher.match(profile(alterations=alts))["cohorts"]
    assert c5["verdict"] == "ineligible"
    assert [c["id"] for c in c5["criteria"] if c["status"] == "not_met"] == ["exc-01"]


def test_overexpression_alone_makes_no_candidacy_outside_alcl(matcher) -> None:
    result = matcher.match(profile(diagnosis="STAD", alterations=[{"gene": "MET", "type": "overexpression"}]))
    assert result["cohorts"] == [] and result["notes"]


def test_alk_positive_by_ihc_in_alcl_qualifies_for_cohort_1(matcher) -> None:
    alk = [{"gene": "ALK", "type": "overexpression", "method": "IHC"}]
    result = matcher.match(profile(diagnosis="ALCL", alterations=alk))
    assert [(c["cohort"], c["verdict"]) for c in result["cohorts"]] == [(1, "eligible")]


def test_cohort_18_is_a_candidate_but_not_open_until_its_amendment(matcher) -> None:
    result = matcher.match(profile(diagnosis="GB", age_years=50))
    (c18,) = result["cohorts"]
    assert c18["cohort"] == 18 and c18["verdict"] == "ineligible"
    open_item = c18["criteria"][0]
    assert open_item["text"] == "cohort open to accrual"
    assert open_item["status"] == "not_met"
    assert open_item["iri"].endswith("#CohortPendingAmendment")


def test_cohort_18_says_in_the_notes_that_it_is_not_open(matcher) -> None:
    result = matcher.match(profile(diagnosis="GB", age_years=50))
    assert any(n.startswith("cohort 18 ") and "not open" in n and "amendment" in n for n in result["notes"])


def test_an_open_cohort_adds_no_note_of_its_own(matcher) -> None:
    assert not [n for n in matcher.match(profile())["notes"] if n.startswith("cohort ")]


def test_a_study_that_does_not_recruit_says_so_in_the_notes_and_in_each_cohort(matcher) -> None:
    """NCT02034981 is 'Active, not recruiting': its open cohorts are never shown as plainly open."""
    result = matcher.match(profile())
    assert any(n.startswith("NCT02034981 is not recruiting (Active, not recruiting)") for n in result["notes"])
    for c in result["cohorts"]:
        assert c["recruiting"] is False
        assert c["criteria"][0]["observed"] == "open; the study is Active, not recruiting"


def test_cohorts_22_and_23_explain_the_same_criteria_the_same_way(matcher) -> None:
    c22, c23 = matcher.match(profile(diagnosis="BLCA", alterations=[{"gene": "MET", "type": "mutation"}],
                                     labs={"anc": DROP}))["cohorts"]
    assert c22["criteria"][1:] == c23["criteria"][1:] and c22["to_confirm"] == c23["to_confirm"]
    assert c22["verdict"] == c23["verdict"] == "unknown"
    assert c22["criteria"][0]["id"] == "cohort-22-open" and c23["criteria"][0]["id"] == "cohort-23-open"


def test_no_target_alteration_gives_an_empty_list_with_a_reason(matcher) -> None:
    result = matcher.match(profile(alterations=[{"gene": "EGFR", "type": "mutation"}]))
    assert result["cohorts"] == [] and "target gene" in result["notes"][0]


def test_age_below_one_year_gives_an_empty_list_with_a_reason(matcher) -> None:
    result = matcher.match(profile(age_years=0.5, diagnosis="NBL", alterations=[{"gene": "ALK", "type": "mutation"}]))
    assert result["cohorts"] == [] and "below" in result["notes"][0]


# ------------------------------------------------------------ verdicts
def test_a_complete_profile_is_eligible(matcher) -> None:
    (c5,) = matcher.match(profile())["cohorts"]
    assert c5["verdict"] == "eligible"
    assert {c["status"] for c in c5["criteria"]} == {"met"}


def test_a_missing_datum_that_matters_makes_the_verdict_unknown(matcher) -> None:
    (c5,) = matcher.match(profile(labs={"anc": DROP}))["cohorts"]
    assert c5["verdict"] == "unknown"
    assert [c["id"] for c in c5["criteria"] if c["status"] == "unknown"] == ["inc-06-anc"]


def test_a_missing_datum_that_cannot_change_the_outcome_does_not(matcher) -> None:
    (c5,) = matcher.match(profile(history={"gilbert_syndrome": DROP, "advanced_fibrosis": DROP}))["cohorts"]
    assert c5["verdict"] == "eligible"


def test_not_met_wins_over_unknown(matcher) -> None:
    (c5,) = matcher.match(profile(labs={"anc": DROP, "platelets": 10}))["cohorts"]
    assert c5["verdict"] == "ineligible"


def test_cohorts_are_listed_best_first(matcher) -> None:
    # Colorectal, MET amplified (cohort 3) and ALK mutated (no named cohort: 22 and 23).
    alts = [{"gene": "MET", "type": "amplification"}, {"gene": "ALK", "type": "mutation"}]
    result = matcher.match(profile(diagnosis="COAD", alterations=alts))
    got = [(c["cohort"], c["verdict"]) for c in result["cohorts"]]
    assert got == sorted(got, key=lambda x: ({"eligible": 0, "unknown": 1, "ineligible": 2}[x[1]], x[0]))
    assert [n for n, _ in got] == [3, 22, 23]


def test_every_criterion_is_explained(matcher) -> None:
    (c5,) = matcher.match(profile())["cohorts"]
    for item in c5["criteria"]:
        assert set(item) == {"id", "iri", "text", "kind", "status", "observed", "applies", "finding", "missing"}
        assert item["kind"] in ("inclusion", "exclusion") and item["text"]
    anc = next(c for c in c5["criteria"] if c["id"] == "inc-06-anc")
    assert anc["observed"] == 1.8 and anc["iri"].endswith("/criterion/inc-06-anc")


def test_criteria_no_field_decides_go_to_to_confirm_without_affecting_the_verdict(matcher) -> None:
    (c5,) = matcher.match(profile())["cohorts"]
    assert "able to swallow and retain oral medication" in c5["to_confirm"]
    assert c5["verdict"] == "eligible"


def test_cerebral_conditions_to_confirm_only_for_cerebral_disease(matcher) -> None:
    (c5,) = matcher.match(profile())["cohorts"]
    (c18,) = matcher.match(profile(diagnosis="GB"))["cohorts"]
    cerebral = [t for t in c18["to_confirm"] if t not in c5["to_confirm"]]
    assert cerebral and all("cerebral" in t.lower() for t in cerebral)


# ------------------------------------------------------------ dosing
def test_adults_get_250_mg_twice_daily(matcher) -> None:
    d = matcher.match(profile())["dosing"]
    assert d["regimen"] == "250 mg twice daily" and d["dose_mg"] == 250


def test_children_get_280_mg_per_m2_with_a_mosteller_dose(matcher) -> None:
    d = matcher.match(profile(age_years=10, height_cm=140, weight_kg=32, diagnosis="NBL",
                              alterations=[{"gene": "ALK", "type": "mutation"}]))["dosing"]
    bsa = (140 * 32 / 3600) ** 0.5
    assert d["regimen"] == "280 mg/m² twice daily"
    assert d["dose_mg"] == pytest.approx(280 * bsa, abs=0.1)


def test_children_with_alcl_get_165_mg_per_m2(matcher) -> None:
    d = matcher.match(profile(age_years=10, height_cm=140, weight_kg=32, diagnosis="ALCL",
                              alterations=[{"gene": "ALK", "type": "translocation"}]))["dosing"]
    assert d["regimen"] == "165 mg/m² twice daily"
    assert d["dose_mg"] == pytest.approx(165 * (140 * 32 / 3600) ** 0.5, abs=0.1)


def test_a_dose_per_m2_without_height_or_weight_has_no_mg(matcher) -> None:
    d = matcher.match(profile(age_years=10, height_cm=DROP, diagnosis="NBL",
                              alterations=[{"gene": "ALK", "type": "mutation"}]))["dosing"]
    assert d["dose_mg"] is None and "height_cm" in d["note"]


@pytest.mark.parametrize(("age", "regimen"), [(17.99, "280 mg/m² twice daily"), (18, "250 mg twice daily"),
                                              (1, "280 mg/m² twice daily")])
def test_the_regimen_switches_to_the_adult_one_at_18_years(matcher, age, regimen) -> None:
    p = profile(age_years=age, diagnosis="NBL", alterations=[{"gene": "ALK", "type": "mutation"}])
    assert matcher.match(p)["dosing"]["regimen"] == regimen


def test_children_with_an_alcl_subtype_get_the_alcl_regimen(matcher) -> None:
    d = matcher.match(profile(age_years=6, diagnosis="ALCLALKP", height_cm=115, weight_kg=20,
                              alterations=[{"gene": "ALK", "type": "translocation"}]))["dosing"]
    assert d["regimen"] == "165 mg/m² twice daily"


def test_a_profile_with_no_candidate_cohort_gets_no_dosing(matcher) -> None:
    assert matcher.match(profile(alterations=[{"gene": "EGFR", "type": "mutation"}]))["dosing"] is None


def test_the_dose_in_mg_is_the_dose_per_m2_times_the_mosteller_body_surface_area(matcher) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(height=st.floats(60, 200), weight=st.floats(8, 120), alcl=st.booleans())
    def check(height: float, weight: float, alcl: bool) -> None:
        p = profile(age_years=9, height_cm=height, weight_kg=weight, diagnosis="ALCL" if alcl else "NBL",
                    alterations=[{"gene": "ALK", "type": "translocation" if alcl else "mutation"}])
        d = matcher.match(p)["dosing"]
        bsa = (height * weight / 3600) ** 0.5  # Mosteller
        assert d["dose_mg"] == pytest.approx((165 if alcl else 280) * bsa, abs=0.051)
        assert d["bsa_m2"] == pytest.approx(bsa, abs=0.0006)

    check()
