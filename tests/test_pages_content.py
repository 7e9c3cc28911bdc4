"""The study page says everything the registered record says: field by field, bullet by bullet, against the seed.

The expected values are parsed from shared/seeds/NCT02034981.txt (tests/seed_record.py);
the page is rendered from the graph. Text is compared after whitespace normalisation.
"""

from __future__ import annotations

import json
import re

import pytest
from pages_fixtures import bullet_tree, find_class, one_class, parse, section, text
from seed_record import norm, seed_record

from acse_kg.pages import cohort_page, study_page

NCT = "NCT02034981"
SEED = seed_record()


@pytest.fixture(scope="module")
def page(store):
    return parse(study_page(store, NCT))


def texts(root, cls, tag="*"):
    return [text(e) for e in find_class(root, cls, tag)]


def test_title_identifier_and_status(page):
    assert text(page.find(".//h1")) == SEED.brief_title
    assert text(one_class(page, "nct")) == SEED.nct_id
    assert text(one_class(page, "overall-status")) == SEED.status


DATE_ROWS = {
    "First Posted": "studyFirstPostDateStruct",
    "Last Update Posted": "lastUpdatePostDateStruct",
    "Study Start Date": "startDateStruct",
    "Primary Completion Date": "primaryCompletionDateStruct",
    "Study Completion Date": "completionDateStruct",
}


@pytest.mark.parametrize("label", list(DATE_ROWS))
def test_each_key_date_with_its_type(page, seed_text, label):
    kind, iso = SEED.dates[label]
    row = next(tr for tr in section(page, "dates").iter("tr") if tr.get("data-field") == DATE_ROWS[label])
    time_el = row.find(".//time")
    assert time_el.get("datetime") == iso
    assert text(time_el) in seed_text  # written as the registry writes it, e.g. "August 2013"
    assert text(one_class(row, "date-type")) == kind.capitalize()


def test_sponsor_collaborators_and_information_provider(page):
    assert sorted(texts(page, "collaborator", "li")) == sorted(SEED.collaborators)
    for el in find_class(page, "responsible-party"):
        assert text(el, skip_classes={"iri", "note"}) == SEED.responsible_party


def test_brief_summary_paragraphs(page):
    assert texts(page, "brief-summary", "p") == SEED.brief_summary


def test_detailed_description_with_numbered_cohort_list(page):
    assert texts(page, "detailed-description", "p") == SEED.detailed_description
    items = find_class(page, "cohort-item", "li")
    assert {int(li.get("value")): text(li) for li in items} == SEED.cohorts


def test_conditions_interventions_phase_table(page, seed_text):
    table = section(page, "conditions").find(".//table")
    headers = " ".join(text(th) for th in table.iter("th"))
    cells = " ".join(text(td) for td in table.iter("td"))
    lines = [norm(line) for line in seed_text.splitlines()]
    i = next(k for k, line in enumerate(lines) if line.startswith("Condition or disease"))
    assert (headers, cells) == (lines[i], lines[i + 1])


def test_study_design(page):
    d = SEED.design
    assert text(one_class(page, "study-type")) == d["Study Type"]
    assert text(one_class(page, "enrollment")) == d["Enrollment"]
    assert text(one_class(page, "allocation")) == d["Allocation"]
    assert text(one_class(page, "intervention-model")) == d["Intervention Model"]
    assert text(one_class(page, "masking")) == d["Masking"]
    assert text(one_class(page, "primary-purpose")) == d["Primary Purpose"]
    assert text(one_class(page, "official-title")) == SEED.official_title


def test_arm_intervention_and_the_three_dosing_regimens(page):
    assert text(one_class(page, "arm-label")) == SEED.arm_label
    assert text(one_class(page, "arm-description")) == SEED.arm_description
    assert text(one_class(page, "intervention-description")) == SEED.intervention_description
    assert [text(one_class(li, "ctext")) for li in find_class(page, "dosing-line", "li")] == SEED.dosing
    assert len(SEED.dosing) == 3
    assert text(one_class(page, "other-name")) == SEED.other_name


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_outcome_measures_with_time_frames(page, kind):
    expected = SEED.primary_outcomes if kind == "primary" else SEED.secondary_outcomes
    ol = next(e for e in find_class(page, "outcomes", "ol") if kind in e.get("class").split())
    got = []
    for li in ol.findall("li"):
        desc = [text(p) for p in find_class(li, "outcome-description", "p")]
        got.append((text(one_class(li, "measure")), text(one_class(li, "time-frame")), desc))
    assert [(g[0], g[1]) for g in got] == [(o.measure, o.time_frame) for o in expected]
    for g, o in zip(got, expected, strict=True):
        assert norm(" ".join(g[2])) == norm(o.description)


def test_eligibility_ages_sexes_healthy_volunteers(page):
    e = SEED.eligibility
    assert text(one_class(page, "ages", "td")) == e["Ages Eligible for Study"]
    assert text(one_class(page, "sexes")) == e["Sexes Eligible for Study"]
    assert text(one_class(page, "healthy-volunteers")) == e["Accepts Healthy Volunteers"]


@pytest.mark.parametrize("kind", ["inclusion", "exclusion"])
def test_every_criterion_bullet_with_its_nested_items(page, kind):
    expected = SEED.inclusion if kind == "inclusion" else SEED.exclusion
    lists = [e for e in section(page, "eligibility").iter("ul") if {"criteria", kind} <= set(e.get("class", "").split())]
    assert len(lists) == 1
    got = bullet_tree(lists[0])
    assert got == [(b.text, b.children) for b in expected]
    assert sum(1 + len(b.children) for b in expected) >= 10


def test_every_criterion_bullet_links_to_its_iri(page):
    items = [li for li in section(page, "eligibility").iter("li") if "criterion" in (li.get("class") or "")]
    assert items
    for li in items:
        badge = next(a for a in li if "iri" in (a.get("class") or ""))
        assert badge.get("href").startswith("/id/study/NCT02034981/criterion/")


def test_contacts_locations_and_investigator(page):
    loc = one_class(page, "location", "li")
    assert [text(one_class(loc, "facility")), text(one_class(loc, "place"))] == SEED.location
    inv = one_class(page, "investigator", "tr")
    assert text(inv.find("th")) + ": " + text(inv.find("td")) == "Principal Investigator: " + SEED.principal_investigator


def test_more_information(page, seed_text):
    assert texts(page, "other-id", "li") == SEED.other_ids
    assert one_class(page, "last-verified").find("time").get("datetime") == SEED.last_verified
    yes_no = {True: "Yes", False: "No"}
    assert text(one_class(page, "fda-drug")) == yes_no[SEED.fda["drug"]]
    assert text(one_class(page, "fda-device")) == yes_no[SEED.fda["device"]]
    assert sorted(texts(page, "keyword", "li")) == sorted(SEED.keywords)
    headings = [text(th) for th in section(page, "more").iter("th")]
    assert "Keywords provided by " + SEED.responsible_party in headings  # "Keywords provided by UNICANCER:"
    assert f"Keywords provided by {SEED.responsible_party}:" in seed_text
    mesh = [text(li, skip_tags={"code"}) for li in find_class(page, "mesh-term", "li")]
    assert sorted(mesh) == sorted(SEED.mesh_terms)


def test_sections_in_clinicaltrials_gov_order(page):
    ids = [s.get("id") for s in page.iter("section")]
    ctgov = ["dates", "sponsors", "summary", "description", "conditions", "design", "arms", "outcomes",
             "eligibility", "locations", "investigators", "more"]
    assert [i for i in ids if i in ctgov] == ctgov
    assert ids.index("more") < ids.index("cohorts") < ids.index("dosing") < ids.index("curation")


# ---------------------------------------------------------------- what ClinicalTrials.gov does not show
RARE = ("IMT", "Neuroblastoma", "Glioblastoma", "Rhabdomyosarcoma")  # the brief summary's very rare diseases at 15%
ALTERATION_WORDS = {"translocated": "translocation", "amplified": "amplification", "mutated": "mutation"}


def cohort_rows(page):
    return find_class(section(page, "cohorts"), "cohort-row", "tr")


def test_cohort_table_has_the_23_registered_cohorts(page):
    rows = cohort_rows(page)
    assert len(rows) == 23
    assert [int(r.get("data-cohort")) for r in rows] == sorted(SEED.cohorts)


def test_cohort_table_rows_agree_with_the_registered_cohort_text(page):
    for row in cohort_rows(page):
        n = int(row.get("data-cohort"))
        registered = SEED.cohorts[n]
        cells = row.findall("td")
        pathology, gene, alteration, _population, alpha, beta, status = (text(c) for c in cells)
        assert re.search(r"[A-Z]{2,}", " ".join(c.text or "" for c in cells[0].iter("code"))), pathology
        assert all(re.fullmatch(r"HGNC:\d+", c.text or "") for c in cells[1].iter("code")), gene
        expected_error = "15%" if registered.startswith(RARE) else "10%"
        assert (alpha, beta) == (expected_error, expected_error), n
        assert ("amendment" in registered) == (status != "open"), n
        if n <= 20:
            symbol = re.search(r"\b(ALK|MET|ROS1)\b", registered).group(1)
            assert gene.split()[0] == symbol, n
            for word, alt in ALTERATION_WORDS.items():
                if word in registered.split(",")[-1] and "(+" not in registered:
                    assert alt in alteration, (n, alteration)
            ages = cells[3].find("a").get("title")  # from the population's acse:minimumAge / acse:maximumAge
            assert ages == ("age ≥ 1 year" if "children" in registered else "age ≥ 18 years"), (n, ages)


def test_dosing_table_and_curation_note(page):
    rows = find_class(section(page, "dosing"), "regimen", "tr")
    assert [text(r.findall("td")[-1]) for r in rows] == SEED.dosing
    note = one_class(section(page, "curation"), "curation", "aside")
    assert text(one_class(note, "registered")) == "g/L" and text(one_class(note, "curated")) == "g/dL"
    hb_bullet = next(b.text for b in SEED.inclusion if "Hb ≥ 8g/L" in b.text)  # the registered bullet concerned
    li = next(li for li in find_class(section(page, "eligibility"), "criterion", "li")
              if text(one_class(li, "ctext")) == hb_bullet)
    assert one_class(li, "curation-link", "a").get("href") == "#curation"


# ---------------------------------------------------------------- cohort pages
@pytest.fixture(scope="module")
def cohort5(store):
    return parse(cohort_page(store, NCT, 5))


def test_cohort_page_lists_every_common_criterion_bullet(cohort5):
    for kind, expected in (("inclusion", SEED.inclusion), ("exclusion", SEED.exclusion)):
        ul = next(e for e in cohort5.iter("ul") if {"criteria", kind} <= set(e.get("class", "").split()))
        assert bullet_tree(ul) == [(b.text, b.children) for b in expected]


def test_cohort_page_states_its_own_criteria(cohort5):
    specific = [text(li) for li in find_class(cohort5, "cohort-criterion", "li")]
    assert any("NSCLC" in t for t in specific)
    assert any("MET" in t and "HGNC:7029" in t and "amplification" in t for t in specific)
    assert any("≥ 18 years" in t for t in specific)
    assert text(one_class(cohort5, "registered-text").find("q")) == SEED.cohorts[5]


def test_cohort_page_thresholds_carry_units_and_the_haemoglobin_curation(cohort5):
    rows = find_class(cohort5, "threshold", "tr")
    by_var = {text(r.findall("td")[0]): r for r in rows}
    hb = by_var["haemoglobin"]
    assert text(hb.findall("td")[1]).startswith("≥ 8 g/dL")
    assert "registered as 8 g/L" in text(hb.findall("td")[1])
    assert text(hb.findall("td")[2]) == "g/dL"
    anc = by_var["absolute neutrophil count"]
    assert text(anc.findall("td")[2]) == "10*9/L"


def test_unknown_cohort_or_study_is_a_clear_error(store):
    from acse_kg.pages import PageNotFound

    with pytest.raises(PageNotFound, match="no cohort 24"):
        cohort_page(store, NCT, 24)
    with pytest.raises(PageNotFound, match="NCT09999999"):
        study_page(store, "NCT09999999")


def test_alternatives_are_marked_so_no_single_one_reads_as_required(cohort5):
    """ECOG ≤ 2, or Karnofsky > 50 %, or Lansky > 50 % under 12: each row says it is one of the alternatives."""
    rows = {text(r.findall("td")[0]): r for r in find_class(cohort5, "threshold", "tr")}
    flagged = {var for var, r in rows.items() if find_class(r, "alt-flag")}
    assert {"ECOG performance status", "Karnofsky performance status", "Lansky play-performance scale"} <= flagged
    assert "absolute neutrophil count" not in flagged and "haemoglobin" not in flagged


def test_a_cohort_page_is_the_same_after_every_load_of_the_record():
    """An Or's alternatives are a set of blank nodes, relabelled at each load; the page must not follow the labels."""
    from acse_kg.store import open_store

    pages = {cohort_page(open_store("memory"), NCT, 18) for _ in range(3)}
    assert len(pages) == 1


# ---------------------------------------------------------------- reading: each fact once, in words a reader uses
ANY_TUMOUR = "Any tumour type (OncoTree root, TISSUE)"


def _def_row(page, header):
    """The value cell of a cohort page's definition table row, by its header."""
    table = section(page, "definition").find(".//table")
    return next(tr.find("td") for tr in table.iter("tr") if text(tr.find("th")) == header)


def test_dosing_table_gives_each_dose_with_its_unit_once(page):
    """'280 mg/m²', not '280 mg/m2 per m² body surface area'; the UCUM code stays machine-readable."""
    cells = [r.findall("td")[0] for r in find_class(section(page, "dosing"), "regimen", "tr")]
    doses = [text(c) for c in cells]
    assert doses == [line.split(" twice daily")[0] for line in SEED.dosing]  # "250 mg", "280 mg/m²", "165 mg/m²"
    assert [one_class(c, "dose").get("data-ucum") for c in cells] == ["mg", "mg/m2", "mg/m2"]


@pytest.mark.parametrize("n", [n for n, t in SEED.cohorts.items() if "same or different from those listed" in t])
def test_a_cohort_open_to_any_pathology_reads_any_tumour_type(store, page, n):
    row = next(r for r in cohort_rows(page) if r.get("data-cohort") == str(n))
    assert text(row.findall("td")[0]) == ANY_TUMOUR
    cohort = parse(cohort_page(store, NCT, n))
    assert text(_def_row(cohort, "Pathology (OncoTree)")) == ANY_TUMOUR
    assert f"Diagnosis: {ANY_TUMOUR}" in [text(li) for li in find_class(cohort, "cohort-criterion", "li")]


def test_cohort_population_and_patient_limit_are_separate_phrases(page):
    """Cohort 21: the population, then '; up to 10 patients' (the detailed description's limit)."""
    assert any("will recruit up to 10 patients" in p for p in SEED.detailed_description)
    row = next(r for r in cohort_rows(page) if r.get("data-cohort") == "21")
    assert text(row.findall("td")[3]) == "children and adolescents (1 to 17 years); up to 10 patients"


def test_cohort_page_states_population_and_design_once(cohort5, store):
    assert text(_def_row(cohort5, "Population")) == "adults (≥ 18 years)"
    assert text(_def_row(cohort5, "Statistical design")) == "Two-stage design: α 10%, β 10%"
    rare = parse(cohort_page(store, NCT, 15))  # neuroblastoma: a very rare disease, errors fixed at 15%
    assert text(_def_row(rare, "Statistical design")) == "Two-stage design: α 15%, β 15%"
    assert "Age: ≥ 18 years" in [text(li) for li in find_class(cohort5, "cohort-criterion", "li")]


def test_rules_read_with_singular_units_and_spaced_multipliers(cohort5):
    """'Male and female ≥ 1 year of age' requires 'age ≥ 1 year'; ANC reads '≥ 1 × 10⁹/L'."""
    rules = [text(dd) for dd in cohort5.iter("dd")]
    assert "age ≥ 1 year" in rules
    assert "absolute neutrophil count ≥ 1 × 10⁹/L" in rules
    assert not [r for r in rules if "×10" in r or re.search(r"\b1 (years|months)\b", r)]


def test_curation_note_names_the_registered_bullet_as_a_reader_finds_it(page):
    hb = next(i for i, b in enumerate(SEED.inclusion) if "Hb ≥ 8g/L" in b.text)
    note = one_class(section(page, "curation"), "curation-bullet", "p")
    name = note.find("a")
    assert text(name) == f"inclusion criterion {hb + 1}"
    target = [e for e in page.iter() if e.get("id") == name.get("href").lstrip("#")]
    assert len(target) == 1 and text(one_class(target[0], "ctext")) == SEED.inclusion[hb].text
    assert text(note.find("q")).rstrip("…") in SEED.inclusion[hb].text
    badge = one_class(note, "iri", "a")
    assert badge.get("href") == target[0].find("a[@class='iri']").get("href")  # the bullet's own IRI


# ---------------------------------------------------------------- lists in the registered order
def test_mesh_terms_in_registered_order(page):
    assert [text(li, skip_tags={"code"}) for li in find_class(page, "mesh-term", "li")] == SEED.mesh_terms


def test_collaborators_and_keywords_follow_the_order_the_graph_gives(fresh_store):
    """acse:position on the collaborator nodes and the acse:keywordSequence list, set here in the seed's order
    (neither alphabetical nor by IRI, so no fallback order can pass): the page lists them in that order."""
    s = f"<https://w3id.org/acse-kg/id/study/{NCT}>"
    names = SEED.collaborators
    orgs = {str(r["name"]): str(r["org"]) for r in fresh_store.select(
        f"SELECT ?org ?name WHERE {{ {s} acse:collaborator ?org . ?org rdfs:label ?name }}")}
    assert names != sorted(names, key=orgs.get) and SEED.keywords != sorted(SEED.keywords)  # the test can fail
    positions = " ".join(f"<{orgs[n]}> acse:position {i} ." for i, n in enumerate(names, 1))
    words = " ".join(json.dumps(k) for k in SEED.keywords)
    fresh_store.update(f"INSERT {{ GRAPH ?g {{ {positions} {s} acse:keywordSequence ({words}) }} }} "
                       f"WHERE {{ GRAPH ?g {{ {s} acse:briefTitle ?t }} }}")
    page = parse(study_page(fresh_store, NCT))
    assert texts(page, "collaborator", "li") == names
    assert texts(page, "keyword", "li") == SEED.keywords


def test_collaborators_in_registered_order(page):
    assert texts(page, "collaborator", "li") == SEED.collaborators


def test_keywords_in_registered_order(page):
    assert texts(page, "keyword", "li") == SEED.keywords


def test_the_record_check_section_lists_what_the_check_finds(page, store):
    from acse_kg.record_check import check_study

    rows = find_class(section(page, "check"), "finding", "tr")
    expected = check_study(store, NCT)
    assert {r.rule for r in expected} >= {"implausible-unit", "cohort-excluded-by-criterion"}
    assert [text(r.find("td")) for r in rows] == [f.rule for f in expected]
