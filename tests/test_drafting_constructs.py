"""Drafting, construct by construct: real criteria wording in, criteria-JSON items out.

The wording comes from the seed record (the AcSé crizotinib page, NCT02034981)
and the reference API v2 records; where no reference record has a construct
(KRAS G12C, BRAF V600E, MSI-H, TMB, breast-feeding, brain metastases), from the
examples the issue itself quotes. Each family is checked in its positive and in
its negated form (a negation word, or the exclusion section stating the
excluding condition).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acse_kg.drafting import draft
from tests.conftest import SEED
from tests.ctgov_fixtures import load_record

SEED_LINES = [line.strip().lstrip("•").strip() for line in SEED.read_text(encoding="utf-8").splitlines()]


def seed_bullet(start: str) -> str:
    """The seed's bullet that begins with these words, exactly as registered."""
    found = [line for line in SEED_LINES if line.startswith(start)]
    assert len(found) == 1, f"no single seed bullet starts with {start!r}"
    return found[0]


def reference_bullet(name: str, start: str) -> str:
    text = load_record(name)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    found = [line.strip().lstrip("*").strip() for line in text.splitlines() if line.strip().lstrip("*").strip().startswith(start)]
    assert len(found) == 1, f"no single bullet of {name} starts with {start!r}"
    return found[0]


def items(bullet: str, section: str = "inclusion") -> list[dict[str, Any]]:
    header = "Inclusion Criteria:" if section == "inclusion" else "Exclusion Criteria:"
    record = {"protocolSection": {"eligibilityModule": {"eligibilityCriteria": f"{header}\n\n* {bullet}\n"}}}
    return draft(record).items


def brief(item: dict[str, Any]) -> tuple[Any, ...]:
    return (item["variable"], item["comparator"], item["value"], item["unit"])


# ----------------------------------------------------------------- performance status
def test_performance_status_range_and_scales_from_the_seed() -> None:
    got = items(seed_bullet("ECOG Performance Status of 0 to 2"))
    assert [brief(i) for i in got] == [("ecog", "<=", 2, None), ("karnofsky", ">", 50, "%"), ("lansky", ">", 50, "%")]
    assert got[2]["condition"] == "age < 12 years"  # "Lansky Play scale (< 12 years)"


def test_performance_status_written_as_a_dash_range() -> None:
    got = items(reference_bullet("example_v2_NCT02513394.json", "ECOG performance status"))
    assert [brief(i) for i in got] == [("ecog", "<=", 1, None)]


def test_performance_status_in_the_exclusions_states_the_excluding_value() -> None:
    got = items("ECOG performance status ≥ 2", "exclusion")
    assert [(i["kind"], *brief(i)) for i in got] == [("exclusion", "ecog", ">=", 2, None)]


# ----------------------------------------------------------------- laboratory thresholds
def test_haematology_renal_and_hepatic_thresholds_with_their_conditions() -> None:
    got = items(seed_bullet("hematologic function"))
    table = [(i["variable"], i["comparator"], i["value"], i["unit"], i["condition"]) for i in got]
    assert table == [
        ("anc", ">=", 1.0, "10*9/L", None),
        ("platelets", ">=", 75, "10*9/L", None),
        ("platelets", ">=", 50, "10*9/L", "for ALCL with bone marrow involved"),
        ("platelets", ">=", 100, "10*9/L", "for primary or secondary cerebral tumors"),
        ("hemoglobin", ">=", 8, "g/L", None),  # the record's own number and unit, no correction
        ("creatinine_clearance", ">=", 50, "mL/min", None),
        ("bilirubin_uln", "<=", 1.5, "xULN", "unless due to Gilbert's syndrome"),
        ("ast_uln", "<=", 5, "xULN", "if liver metastasis"),
        ("ast_uln", "<=", 3, "xULN", "if liver metastasis with advanced fibrosis (FibroTest>0.48)"),
        ("ast_uln", "<=", 3, "xULN", "without liver metastasis"),
        ("alt_uln", "<=", 5, "xULN", "if liver metastasis"),
        ("alt_uln", "<=", 3, "xULN", "if liver metastasis with advanced fibrosis (FibroTest>0.48)"),
        ("alt_uln", "<=", 3, "xULN", "without liver metastasis"),
    ]


def test_thousands_separators_and_per_microlitre_units() -> None:
    name = "example_v2_NCT02513394.json"
    assert [brief(i) for i in items(reference_bullet(name, "Absolute neutrophil count"))] == [("anc", ">=", 1500, "/uL")]
    assert [brief(i) for i in items(reference_bullet(name, "Platelets"))] == [("platelets", ">=", 100000, "/mm3")]
    assert [brief(i) for i in items(reference_bullet(name, "Hemoglobin"))] == [("hemoglobin", ">=", 10, "g/dL")]


def test_uln_alone_is_one_times_the_uln_and_names_written_twice_share_a_threshold() -> None:
    name = "example_v2_NCT02513394.json"
    bili = items(reference_bullet(name, "Total serum bilirubin"))
    assert [brief(i) for i in bili] == [("bilirubin_uln", "<=", 1, "xULN"), ("bilirubin_uln", "<=", 3.0, "xULN")]
    assert "Gilbert's Syndrome" in bili[1]["condition"]
    both = items(reference_bullet(name, "Aspartate amino transferase"))
    assert [brief(i) for i in both] == [("ast_uln", "<=", 1.5, "xULN"), ("alt_uln", "<=", 1.5, "xULN")]


def test_creatinine_below_uln_or_clearance_for_the_others() -> None:
    got = items(reference_bullet("example_v2_NCT02513394.json", "Serum creatinine below"))
    assert [brief(i) for i in got] == [("creatinine", "<", 1, "xULN"), ("creatinine_clearance", ">=", 60, "mL/min/{1.73_m2}")]
    assert got[1]["condition"] == "for patients with serum creatinine levels above institutional ULN"


def test_normal_values_of_named_analytes() -> None:
    got = items(seed_bullet("normal values for calcium"))
    assert [brief(i) for i in got] == [(a, "==", "normal", None) for a in ("calcium", "magnesium", "potassium")]


WRITTEN = {">=": ["≥", ">=", "greater than or equal to", "at least", "no less than", "more than or equal to"],
           "<=": ["≤", "<=", "no more than", "less than or equal to", "not more than", "at most"],
           ">": [">", "greater than", "more than", "above"], "<": ["<", "less than", "below"]}


@given(st.sampled_from([(c, w) for c, ws in WRITTEN.items() for w in ws]), st.integers(min_value=1, max_value=999),
       st.sampled_from([("Platelets", "platelets", "x10⁹/L", "10*9/L"), ("Hemoglobin", "hemoglobin", "g/dL", "g/dL"),
                        ("Creatinine clearance", "creatinine_clearance", "mL/min", "mL/min")]))
def test_every_written_comparator_gives_its_symbol(cmp: tuple[str, str], number: int, lab: tuple[str, str, str, str]) -> None:
    symbol, words = cmp
    name, variable, written_unit, ucum = lab
    got = items(f"{name} {words} {number} {written_unit}")
    assert [brief(i) for i in got] == [(variable, symbol, number, ucum)]


def test_every_unit_code_is_ucum() -> None:
    from ucumvert import PintUcumRegistry

    from acse_kg.drafting.lexicon import UNITS

    ureg = PintUcumRegistry()
    for _, code in UNITS:
        if not code.startswith("{"):
            ureg.from_ucum(code.replace("{1.73_m2}", "1"))  # raises on a code UCUM does not define


# ----------------------------------------------------------------- QTc, life expectancy, age
def test_qtc_in_the_exclusions() -> None:
    got = items(seed_bullet("Ongoing cardiac dysrhythmias"), "exclusion")
    assert [brief(i) for i in got] == [("qtcf_ms", ">", 470, "ms")]


def test_life_expectancy_keeps_the_unit_written() -> None:
    assert [brief(i) for i in items(seed_bullet("Life expectancy"))] == [("life_expectancy_months", ">=", 3, "mo")]
    assert [brief(i) for i in items("Life expectancy of at least 12 weeks")] == [("life_expectancy_months", ">=", 12, "wk")]


def test_age_written_number_first_or_name_first() -> None:
    assert [brief(i) for i in items(seed_bullet("Male and female"))] == [("age_years", ">=", 1, "a")]
    assert [brief(i) for i in items(reference_bullet("example_v2_NCT02513394.json", "Age"))] == [("age_years", ">=", 18, "a")]
    assert [brief(i) for i in items("Patient over 18 years...")] == [("age_years", ">", 18, "a")]


def test_a_duration_is_not_an_age() -> None:
    got = items(reference_bullet("example_v2_NCT02513394.json", "Serum or urine pregnancy test"))
    assert "age_years" not in [i["variable"] for i in got]  # "amenorrhea of less than 12 months"


# ----------------------------------------------------------------- measurable disease
def test_measurable_disease_present_and_absent() -> None:
    assert [brief(i) for i in items(seed_bullet("Measurable disease according to RECIST"))] == [
        ("measurable_disease", "present", None, None)]
    assert [brief(i) for i in items("Patients without measurable disease")] == [("measurable_disease", "absent", None, None)]


def test_a_bullet_led_by_a_population_carries_it_as_condition() -> None:
    got = items(seed_bullet("For patients with primary cerebral tumors"))
    assert got[0]["variable"] == "measurable_disease"
    assert got[0]["condition"] == "For patients with primary cerebral tumors (adults or children)"


# ----------------------------------------------------------------- prior therapy
def test_prior_therapy_with_a_named_drug_or_a_class() -> None:
    got = items(seed_bullet("Previous treatment with crizotinib"), "exclusion")
    assert [(i["variable"], i["comparator"], i["drug"]) for i in got] == [("prior_therapy", "present", "crizotinib")]
    cls = items(reference_bullet("example_v2_NCT02513394.json", "Prior therapy with any CDK"), "exclusion")
    assert [(i["variable"], i["comparator"], i["drug"]) for i in cls] == [("prior_therapy", "present", "CDK inhibitor")]


def test_no_prior_therapy_is_absent() -> None:
    got = items("No prior treatment with crizotinib")
    assert [(i["variable"], i["comparator"], i["drug"]) for i in got] == [("prior_therapy", "absent", "crizotinib")]


# ----------------------------------------------------------------- brain metastases
def test_brain_metastases_with_their_state() -> None:
    excl = items("Patients with untreated brain metastases are excluded", "exclusion")
    assert [(i["variable"], i["comparator"], i["condition"]) for i in excl] == [("brain_metastases", "present", "untreated")]
    incl = items("No known active brain metastases")
    assert [(i["variable"], i["comparator"], i["condition"]) for i in incl] == [("brain_metastases", "absent", "active")]


def test_a_permission_is_not_a_requirement() -> None:
    assert items("Patients with treated, stable brain metastases are eligible") == []
    assert items(reference_bullet("example_v2_NCT02513394.json", "Patients who already received"), "inclusion") == []


def test_cerebral_tumours_named_as_a_threshold_condition_are_not_drafted() -> None:
    got = items(seed_bullet("Major surgery or tumor embolization"), "exclusion")
    assert "brain_metastases" not in [i["variable"] for i in got]


# ----------------------------------------------------------------- pregnancy and breast-feeding
def test_pregnancy_test_negative_is_absent_with_its_condition() -> None:
    got = items(reference_bullet("example_v2_NCT02513394.json", "Serum or urine pregnancy test"))
    assert [(i["variable"], i["comparator"]) for i in got] == [("pregnancy", "absent")]
    assert got[0]["condition"].startswith("in premenopausal women")


def test_pregnant_or_breast_feeding_in_the_exclusions() -> None:
    got = items("Pregnant or breast-feeding women", "exclusion")
    assert [(i["variable"], i["comparator"]) for i in got] == [("pregnancy", "present"), ("breastfeeding", "present")]
    ref = items(reference_bullet("example_v2_NCT02513394.json", "Pregnant women"), "exclusion")
    assert [(i["variable"], i["comparator"]) for i in ref] == [("pregnancy", "present")]


# ----------------------------------------------------------------- HIV and hepatitis
def test_hiv_and_hepatitis_lists_from_the_seed() -> None:
    got = items(seed_bullet("HIV-positive"), "exclusion")
    assert [(i["variable"], i["comparator"], i["condition"]) for i in got] == [
        ("hiv", "present", None),
        ("hepatitis_b", "present", "active"), ("hepatitis_c", "present", "active"),
        ("hepatitis_b", "present", "latent"), ("hepatitis_c", "present", "latent"),
    ]


def test_no_known_hiv_is_absent() -> None:
    assert [(i["variable"], i["comparator"]) for i in items("No known HIV infection")] == [("hiv", "absent")]


# ----------------------------------------------------------------- biomarkers
def test_alterations_among_listed_genes_use_hgnc_symbols() -> None:
    got = items(seed_bullet("one proven specific alterations"))
    assert [(i["gene"], i["alteration"], i["comparator"]) for i in got] == [
        ("ALK", None, "present"), ("MET", None, "present"), ("MST1R", None, "present"), ("ROS1", None, "present")]


def test_a_translocation_in_the_exclusions_keeps_its_tumour_type() -> None:
    got = items(seed_bullet("NSCLC patients ALK translocations"), "exclusion")
    assert [(i["variable"], i["comparator"], i["gene"], i["alteration"], i["condition"]) for i in got] == [
        ("biomarker", "present", "ALK", "fusion", "NSCLC")]


def test_an_exception_in_parentheses_is_negated() -> None:
    got = [i for i in items(seed_bullet("unresectable locally advanced")) if i["variable"] == "biomarker"]
    assert [(i["gene"], i["alteration"], i["comparator"]) for i in got] == [("ALK", "fusion", "absent")]


@pytest.mark.parametrize(("words", "expected"), [
    ("KRAS p.G12C mutation", ("biomarker", "present", "KRAS", "G12C")),
    ("BRAF V600E", ("biomarker", "present", "BRAF", "V600E")),
    ("ALK rearrangement", ("biomarker", "present", "ALK", "fusion")),
    ("MET amplified", ("biomarker", "present", "MET", "amplification")),
    ("KRAS wild-type", ("biomarker", "absent", "KRAS", "mutation")),
])
def test_gene_and_alteration(words: str, expected: tuple[str, str, str, str]) -> None:
    assert [(i["variable"], i["comparator"], i["gene"], i["alteration"]) for i in items(words)] == [expected]


def test_msi_and_tmb() -> None:
    assert [brief(i) for i in items("MSI-H")] == [("msi", "==", "MSI-H", None)]
    assert [brief(i) for i in items("TMB ≥ 10 mut/Mb")] == [("tmb", ">=", 10, "{mut/Mb}")]


# ----------------------------------------------------------------- named conditions
def test_named_conditions_with_a_timing_that_leads_the_bullet() -> None:
    got = items(seed_bullet("Within the 3 months prior"), "exclusion")
    assert [(i["name"], i["condition"]) for i in got] == [
        (n, "Within the 3 months prior to starting study treatment")
        for n in ("myocardial infarction", "unstable angina", "stroke")]


def test_interstitial_lung_disease_is_a_named_condition() -> None:
    got = items(seed_bullet("extensive disseminated/bilateral"), "exclusion")
    assert [(i["variable"], i["name"], i["comparator"]) for i in got] == [("other_named", "interstitial lung disease", "present")]


# ----------------------------------------------------------------- phrasing seen across ClinicalTrials.gov
# Typical wording of oncology records beyond the three reference records (paraphrased, not copied from one record).
def test_an_alternative_threshold_in_parentheses_keeps_its_condition() -> None:
    got = items("Total bilirubin ≤ 1.5 x ULN (≤ 3 x ULN for patients with Gilbert's syndrome)")
    assert [(i["variable"], i["value"], i["condition"]) for i in got] == [
        ("bilirubin_uln", 1.5, None), ("bilirubin_uln", 3, "for patients with Gilbert's syndrome")]


def test_a_permission_clause_is_left_out_and_the_rest_of_the_bullet_drafted() -> None:
    text = ("Known HIV, or active Hepatitis B; patients treated for Hepatitis C with undetectable viral loads are eligible.")
    got = items(text, "exclusion")
    assert [(i["variable"], i["comparator"]) for i in got] == [("hiv", "present"), ("hepatitis_b", "present")]


def test_an_exclusivity_is_not_drafted() -> None:
    assert items(seed_bullet("alteration limited to an overexpression"), "exclusion") == []


def test_protein_changes_listed_after_a_gene_belong_to_it() -> None:
    got = items("EGFR exon 19 deletion or L858R mutation")
    assert [(i["gene"], i["alteration"], i["quote"]) for i in got] == [
        ("EGFR", "exon 19 deletion", "EGFR exon 19 deletion"), ("EGFR", "L858R", "L858R mutation")]


def test_without_negates_a_gene_list_and_non_small_is_no_negation() -> None:
    got = items("non-small cell lung cancer (NSCLC) without known targetable molecular alterations in EGFR, ALK, or ROS1")
    assert [(i["gene"], i["comparator"]) for i in got] == [("EGFR", "absent"), ("ALK", "absent"), ("ROS1", "absent")]


def test_an_inhibitor_named_after_an_alteration_is_a_prior_therapy() -> None:
    got = items("Prior treatment with a KRAS G12C inhibitor", "exclusion")
    assert [(i["variable"], i["comparator"], i["drug"]) for i in got] == [("prior_therapy", "present", "KRAS G12C inhibitor")]


def test_must_not_among_the_exclusions_still_states_the_excluding_condition() -> None:
    got = items("Patients must not be pregnant or breastfeeding", "exclusion")
    assert [(i["variable"], i["comparator"]) for i in got] == [("pregnancy", "present"), ("breastfeeding", "present")]


def test_prior_lines_of_a_class_and_no_prior_systemic_therapy() -> None:
    treated = items("Previously treated with at least one platinum-based chemotherapy")
    assert [(i["comparator"], i["drug"]) for i in treated] == [("present", "platinum-based chemotherapy")]
    naive = items("No prior systemic therapy for metastatic disease")
    assert [(i["comparator"], i["drug"]) for i in naive] == [("absent", "systemic therapy")]
    assert items("Patients who previously received treatment for their cancer") == []  # "treatment" alone names no drug
