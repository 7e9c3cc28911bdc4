"""The record NCT02034981 in the graph, field by field against the registered seed page."""

from __future__ import annotations

import pytest
from seed_record import norm, seed_record

from acse_kg.store import GraphStore

STUDY = "id:study\\/NCT02034981"
SEED = seed_record()


def one(store: GraphStore, where: str, var: str = "v") -> object:
    rows = store.select(f"SELECT ?{var} WHERE {{ {where} }}").values(var)
    assert len(rows) == 1, f"expected one value, got {rows} for {where}"
    return rows[0]


def values(store: GraphStore, where: str, var: str = "v", order: str = "") -> list:
    return store.select(f"SELECT ?{var} WHERE {{ {where} }} {order}").values(var)


def texts(store: GraphStore, where: str, var: str = "v", order: str = "") -> list[str]:
    return [norm(str(v)) for v in values(store, where, var, order)]


# --- identification -----------------------------------------------------------
def test_nct_id(store: GraphStore) -> None:
    assert one(store, f"{STUDY} acse:nctId ?v") == SEED.nct_id


def test_brief_title(store: GraphStore) -> None:
    assert norm(one(store, f"{STUDY} acse:briefTitle ?v")) == SEED.brief_title


def test_official_title(store: GraphStore) -> None:
    assert norm(one(store, f"{STUDY} acse:officialTitle ?v")) == SEED.official_title


def test_other_study_ids_have_their_schemes(store: GraphStore) -> None:
    rows = store.select(
        f"SELECT ?value ?code WHERE {{ {STUDY} acse:identifier [ acse:identifierValue ?value ; acse:scheme/acse:code ?code ] }}"
    )
    found = {(str(r["value"]), str(r["code"])) for r in rows}
    sponsor_id, eudract_line = SEED.other_ids
    assert (sponsor_id, "OTHER") in found
    assert (eudract_line.split("(")[0].strip(), "EUDRACT_NUMBER") in found
    assert (SEED.nct_id, "NCT") in found


# --- status and dates ---------------------------------------------------------
def test_recruitment_status(store: GraphStore) -> None:
    assert one(store, f"{STUDY} acse:overallStatus/rdfs:label ?v") == SEED.status


@pytest.mark.parametrize(
    ("label", "prop"),
    [
        ("First Posted", "acse:firstPosted"),
        ("Last Update Posted", "acse:lastUpdatePosted"),
        ("Study Start Date", "acse:startDate"),
        ("Primary Completion Date", "acse:primaryCompletionDate"),
        ("Study Completion Date", "acse:completionDate"),
    ],
)
def test_dates_with_their_type(store: GraphStore, label: str, prop: str) -> None:
    kind, iso = SEED.dates[label]
    row = store.select(f"SELECT ?d ?t WHERE {{ {STUDY} {prop} [ acse:dateValue ?d ; acse:dateType/acse:code ?t ] }}").rows
    assert len(row) == 1
    assert str(row[0]["d"]) == iso
    assert str(row[0]["t"]) == kind


def test_last_verified(store: GraphStore) -> None:
    assert str(one(store, f"{STUDY} acse:lastVerified ?v")) == SEED.last_verified


# --- organisations and people -------------------------------------------------
def test_lead_sponsor_is_unicancer_and_responsible_party(store: GraphStore) -> None:
    assert one(store, f"{STUDY} acse:leadSponsor/rdfs:label ?v") == "UNICANCER"
    assert one(store, f"{STUDY} acse:responsibleParty/rdfs:label ?v") == SEED.responsible_party
    assert one(store, f"{STUDY} acse:responsiblePartyType/acse:code ?v") == "SPONSOR"


def test_collaborators(store: GraphStore) -> None:
    assert sorted(texts(store, f"{STUDY} acse:collaborator/rdfs:label ?v")) == sorted(SEED.collaborators)


def test_keywords_provided_by_the_sponsor(store: GraphStore) -> None:
    assert one(store, f"{STUDY} acse:keywordsProvidedBy/rdfs:label ?v") == "UNICANCER"
    assert sorted(texts(store, f"{STUDY} acse:keyword ?v")) == sorted(SEED.keywords)


def test_principal_investigator_and_affiliation(store: GraphStore) -> None:
    row = store.select(
        f"""SELECT ?name ?role ?aff WHERE {{ {STUDY} acse:investigator ?i .
        ?i acse:person/rdfs:label ?name ; acse:role/rdfs:label ?role ; acse:registeredText ?aff }}"""
    ).rows
    assert len(row) == 1
    assert SEED.principal_investigator == f"{row[0]['name']} {row[0]['aff']}"
    assert str(row[0]["role"]) == "Principal Investigator"


def test_location(store: GraphStore) -> None:
    row = store.select(
        f"SELECT ?name ?city ?state ?country ?zip WHERE {{ {STUDY} acse:site [ rdfs:label ?name ; acse:city ?city ; "
        "acse:state ?state ; acse:country ?country ; acse:zip ?zip ] }"
    ).rows[0]
    assert [str(row["name"]), f"{row['city']}, {row['state']}, {row['country']}, {row['zip']}"] == SEED.location


# --- description --------------------------------------------------------------
def test_brief_summary_paragraphs(store: GraphStore) -> None:
    text = str(one(store, f"{STUDY} acse:briefSummary ?v"))
    assert [norm(p) for p in text.split("\n\n")] == SEED.brief_summary


def test_brief_summary_is_english(store: GraphStore) -> None:
    assert values(store, f"{STUDY} acse:briefSummary ?s BIND(LANG(?s) AS ?v)") == ["en"]


def test_detailed_description_prose(store: GraphStore) -> None:
    text = str(one(store, f"{STUDY} acse:detailedDescription ?v"))
    assert [norm(p) for p in text.split("\n\n")] == SEED.detailed_description


def test_conditions_in_order(store: GraphStore) -> None:
    got = texts(store, f"{STUDY} acse:condition [ rdfs:label ?v ; acse:position ?p ]", order="ORDER BY ?p")
    line = norm(SEED.lines[SEED.index("Hematologic Cancers")])
    assert " ".join(got) in line


def test_mesh_terms(store: GraphStore) -> None:
    assert sorted(texts(store, f"{STUDY} acse:meshTerm/rdfs:label ?v")) == sorted(SEED.mesh_terms)


def test_keywords_keep_the_registered_order_in_their_sequence(store: GraphStore) -> None:
    seq = store.select(f"""SELECT ?k (COUNT(?mid) AS ?i) WHERE {{
        {STUDY} acse:keywordSequence/rdf:rest* ?mid . ?mid rdf:rest*/rdf:first ?k }} GROUP BY ?k ORDER BY ?i""")
    assert [str(k) for k in seq.values("k")] == SEED.keywords
    assert sorted(str(k) for k in seq.values("k")) == sorted(texts(store, f"{STUDY} acse:keyword ?v"))


def test_collaborators_keep_the_registered_order_in_their_sequence(store: GraphStore) -> None:
    """The order is the study's (an organisation may collaborate on several studies), so it is a list on the study."""
    seq = store.select(f"""SELECT ?v (COUNT(?mid) AS ?i) WHERE {{
        {STUDY} acse:collaboratorSequence/rdf:rest* ?mid . ?mid rdf:rest*/rdf:first ?o . ?o rdfs:label ?v }}
        GROUP BY ?v ORDER BY ?i""")
    assert [str(v) for v in seq.values("v")] == SEED.collaborators
    assert sorted(str(v) for v in seq.values("v")) == sorted(texts(store, f"{STUDY} acse:collaborator/rdfs:label ?v"))


def test_mesh_terms_keep_the_registered_order_conditions_first(store: GraphStore) -> None:
    rows = store.select(f"""SELECT ?v WHERE {{ {STUDY} acse:meshTerm ?m . ?m rdfs:label ?v ;
                              acse:meshBranch ?b ; acse:position ?p }} ORDER BY DESC(?b = "condition") ?p""")
    assert [str(v) for v in rows.values("v")] == SEED.mesh_terms


# --- design -------------------------------------------------------------------
def test_phase(store: GraphStore) -> None:
    assert one(store, f"{STUDY} acse:phase/rdfs:label ?v") == "Phase 2"


@pytest.mark.parametrize(
    ("seed_key", "prop"),
    [
        ("Allocation", "acse:allocation"),
        ("Intervention Model", "acse:interventionModel"),
        ("Masking", "acse:masking"),
        ("Primary Purpose", "acse:primaryPurpose"),
    ],
)
def test_design_fields(store: GraphStore, seed_key: str, prop: str) -> None:
    assert one(store, f"{STUDY} {prop}/rdfs:label ?v") == SEED.design[seed_key]


def test_study_type(store: GraphStore) -> None:
    assert SEED.design["Study Type"].startswith(str(one(store, f"{STUDY} acse:studyType/rdfs:label ?v")))


def test_actual_enrollment(store: GraphStore) -> None:
    count = one(store, f"{STUDY} acse:enrollmentCount ?v")
    assert SEED.design["Enrollment"] == f"{count} participants"
    assert one(store, f"{STUDY} acse:enrollmentType/acse:code ?v") == "ACTUAL"


# --- arm, intervention, dosing ------------------------------------------------
def test_arm(store: GraphStore) -> None:
    row = store.select(
        f"SELECT ?label ?type ?desc WHERE {{ {STUDY} acse:hasArm [ rdfs:label ?label ; acse:armType/rdfs:label ?type ; acse:description ?desc ] }}"
    ).rows
    assert len(row) == 1
    assert (str(row[0]["type"]), str(row[0]["label"])) == ("Experimental", SEED.arm_label)
    assert norm(str(row[0]["desc"])) == SEED.arm_description


def test_intervention(store: GraphStore) -> None:
    row = store.select(
        f"SELECT ?name ?desc ?other WHERE {{ {STUDY} acse:hasIntervention [ rdfs:label ?name ; acse:description ?desc ; acse:otherName ?other ] }}"
    ).rows[0]
    assert str(row["name"]) == "Crizotinib"
    assert norm(str(row["desc"])) == SEED.intervention_description
    assert str(row["other"]) == SEED.other_name


def test_drug_codes(store: GraphStore) -> None:
    row = store.select(
        "SELECT * WHERE { id:drug\\/crizotinib acse:ncitCode ?ncit ; acse:chebiId ?chebi ; acse:rxnormCui ?rx ; "
        "acse:drugbankId ?db ; acse:atcCode ?atc ; acse:formerAtcCode ?old }"
    ).rows[0]
    assert {k: str(v) for k, v in row.items()} == {
        "ncit": "C74061", "chebi": "CHEBI:64310", "rx": "1148495", "db": "DB08865", "atc": "L01ED01", "old": "L01XE16",
    }


def test_three_dosing_regimens_in_registered_order(store: GraphStore) -> None:
    got = texts(
        store, f"{STUDY} acse:hasIntervention/acse:hasDosingRegimen [ acse:registeredText ?v ; acse:position ?p ]", order="ORDER BY ?p"
    )
    assert got == SEED.dosing


def test_dosing_regimens_structured(store: GraphStore) -> None:
    rows = store.select(
        """SELECT ?dose ?unit ?bsa ?min ?max ?per WHERE { ?r a acse:DosingRegimen ; acse:doseValue ?dose ; acse:doseUnit ?unit ;
        acse:perBodySurfaceArea ?bsa ; acse:frequency/acse:dosesPerDay ?per ; acse:population ?pop .
        ?pop acse:minimumAge ?min . OPTIONAL { ?pop acse:maximumAge ?max } } ORDER BY DESC(?min) ?dose"""
    )
    got = [(float(r["dose"].toPython()), str(r["unit"]), r["bsa"].toPython(), float(r["min"].toPython()),
            None if r["max"] is None else float(r["max"].toPython()), int(r["per"].toPython())) for r in rows]
    assert got == [(250.0, "mg", False, 18.0, None, 2), (165.0, "mg/m2", True, 1.0, 18.0, 2), (280.0, "mg/m2", True, 1.0, 18.0, 2)]


# --- outcomes -----------------------------------------------------------------
def _outcomes(store: GraphStore, prop: str) -> list[tuple[str, str, str]]:
    rows = store.select(
        f"SELECT ?m ?t ?d WHERE {{ {STUDY} {prop} [ acse:measure ?m ; acse:timeFrame ?t ; acse:description ?d ; acse:position ?p ] }} ORDER BY ?p"
    )
    return [(norm(str(r["m"])), norm(str(r["t"])), str(r["d"])) for r in rows]


def test_primary_outcome(store: GraphStore) -> None:
    got = _outcomes(store, "acse:primaryOutcome")
    assert [(m, t) for m, t, _ in got] == [(o.measure, o.time_frame) for o in SEED.primary_outcomes]
    assert [[norm(p) for p in d.split("\n\n")] for _, _, d in got] == [o.description.split("\n\n") for o in SEED.primary_outcomes]


def test_five_secondary_outcomes(store: GraphStore) -> None:
    got = _outcomes(store, "acse:secondaryOutcome")
    assert len(got) == 5
    assert [(m, t, norm(d)) for m, t, d in got] == [(o.measure, o.time_frame, o.description) for o in SEED.secondary_outcomes]


# --- eligibility --------------------------------------------------------------
def test_ages_sexes_healthy_volunteers(store: GraphStore) -> None:
    assert SEED.eligibility["Ages Eligible for Study"].startswith(one(store, f"{STUDY} acse:minimumAgeText ?v") + " and older")
    assert sorted(values(store, f"{STUDY} acse:stdAge ?v")) == ["ADULT", "CHILD", "OLDER_ADULT"]
    assert SEED.eligibility["Sexes Eligible for Study"].upper() == one(store, f"{STUDY} acse:sex ?v")
    assert one(store, f"{STUDY} acse:healthyVolunteers ?v") is (SEED.eligibility["Accepts Healthy Volunteers"] == "Yes")


def _bullets(store: GraphStore, kind: str) -> list[tuple[str, list[str]]]:
    top = store.select(
        f"""SELECT ?c ?t WHERE {{ {STUDY} acse:hasCriterion ?c . ?c a acse:{kind} ; acse:criterionText ?t ; acse:position ?p .
        FILTER NOT EXISTS {{ ?c acse:subCriterionOf ?x }} FILTER NOT EXISTS {{ ?c acse:componentOf ?y }} }} ORDER BY ?p"""
    )
    out = []
    for r in top:
        kids = store.select(
            f"SELECT ?t WHERE {{ ?k acse:subCriterionOf <{r['c']}> ; acse:criterionText ?t ; acse:position ?p }} ORDER BY ?p"
        ).values("t")
        out.append((norm(str(r["t"])), [norm(k) for k in kids]))
    return out


def test_every_inclusion_bullet_is_a_criterion(store: GraphStore) -> None:
    assert _bullets(store, "InclusionCriterion") == [(b.text, b.children) for b in SEED.inclusion]


def test_every_exclusion_bullet_and_nested_bullet_is_a_criterion(store: GraphStore) -> None:
    assert _bullets(store, "ExclusionCriterion") == [(b.text, b.children) for b in SEED.exclusion]


def test_at_least_thirty_criteria(store: GraphStore) -> None:
    n = store.select(f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ {STUDY} acse:hasCriterion ?c }}").values("n")[0]
    assert n >= 30


def test_haemoglobin_keeps_registered_text_and_curated_threshold(store: GraphStore) -> None:
    row = store.select(
        """SELECT ?thr ?unit ?rthr ?runit ?why WHERE { ?c acse:requires ?e . ?e acse:variable acse:var_hemoglobin ;
        acse:threshold ?thr ; acse:unit ?unit ; acse:registeredThreshold ?rthr ; acse:registeredUnit ?runit ;
        acse:curation/acse:rationale ?why }"""
    ).rows
    assert len(row) == 1
    r = row[0]
    assert (float(r["thr"].toPython()), str(r["unit"]), float(r["rthr"].toPython()), str(r["runit"])) == (8.0, "g/dL", 8.0, "g/L")
    assert "Hb ≥ 8g/L" in SEED.inclusion[5].text
    assert "g/dL" in str(r["why"])


def test_every_computable_leaf_has_a_structured_form(store: GraphStore) -> None:
    missing = store.select(
        """SELECT ?c WHERE { ?c acse:computable true . FILTER NOT EXISTS { ?c acse:requires ?e }
        FILTER NOT EXISTS { ?part acse:componentOf ?c } }"""
    ).values("c")
    assert missing == []


# --- cohorts ------------------------------------------------------------------
def test_twenty_three_cohorts_with_registered_text(store: GraphStore) -> None:
    rows = store.select(f"SELECT ?n ?t WHERE {{ {STUDY} acse:hasCohort [ acse:cohortNumber ?n ; acse:registeredText ?t ] }}")
    assert {int(r["n"].toPython()): str(r["t"]) for r in rows} == SEED.cohorts


def test_every_cohort_has_coded_pathology_hgnc_gene_and_alteration_type(store: GraphStore) -> None:
    rows = store.select(
        """SELECT ?n (COUNT(DISTINCT ?code) AS ?codes) (COUNT(DISTINCT ?hgnc) AS ?genes) (COUNT(DISTINCT ?alt) AS ?alts)
        WHERE { ?c a acse:Cohort ; acse:cohortNumber ?n ; acse:pathology/acse:oncotreeCode ?code ;
        acse:targetGene/acse:hgncId ?hgnc ; acse:acceptsAlterationType/rdfs:label ?alt } GROUP BY ?n"""
    )
    assert len(rows) == 23
    assert all(r["codes"].toPython() >= 1 and r["genes"].toPython() >= 1 and r["alts"].toPython() >= 1 for r in rows)


@pytest.mark.parametrize(
    ("number", "codes"),
    # the registered pathologies as the pathology audit coded them (test_record_pathologies.py: what each takes)
    [(20, {"THFO", "THME", "THPA", "WDTC", "THHC"}), (17, {"ARMS", "ERMS"}), (16, {"IMT", "IMTL", "IMTB"}),
     (18, {"GB"}), (5, {"NSCLC", "LUNE", "SARCL"})],
)
def test_cohort_pathology_codes(store: GraphStore, number: int, codes: set[str]) -> None:
    got = values(store, f"?c acse:cohortNumber {number} ; acse:pathology/acse:oncotreeCode ?v")
    assert set(got) == codes


def test_cohort_15_takes_alk_amplified_or_mutated(store: GraphStore) -> None:
    assert sorted(values(store, "?c acse:cohortNumber 15 ; acse:acceptsAlterationType/rdfs:label ?v")) == ["amplification", "mutation"]


def test_cohort_13_met_mutated_with_or_without_amplification(store: GraphStore) -> None:
    assert values(store, "?c acse:cohortNumber 13 ; acse:acceptsAlterationType/rdfs:label ?v") == ["mutation"]
    assert values(store, "?c acse:cohortNumber 13 ; acse:allowsCoAlterationType/rdfs:label ?v") == ["amplification"]


def test_population_follows_the_registered_text(store: GraphStore) -> None:
    rows = store.select("SELECT ?n ?min WHERE { ?c acse:cohortNumber ?n ; acse:population/acse:minimumAge ?min }")
    for r in rows:
        n, minimum = int(r["n"].toPython()), float(r["min"].toPython())
        text = SEED.cohorts[n]
        if "adults and children" in text:
            assert minimum == 1.0, n
        elif "adults" in text:
            assert minimum == 18.0, n


def test_alpha_beta_fifteen_percent_for_the_very_rare_diseases(store: GraphStore) -> None:
    rows = store.select("SELECT ?n ?a ?b WHERE { ?c acse:cohortNumber ?n ; acse:statisticalDesign [ acse:alpha ?a ; acse:beta ?b ] }")
    fifteen = {int(r["n"].toPython()) for r in rows if float(r["a"].toPython()) == 0.15 and float(r["b"].toPython()) == 0.15}
    ten = {int(r["n"].toPython()) for r in rows if float(r["a"].toPython()) == 0.10 and float(r["b"].toPython()) == 0.10}
    assert fifteen == {15, 16, 17, 18}
    assert ten == set(range(1, 24)) - fifteen


def test_only_cohort_18_waits_for_its_amendment(store: GraphStore) -> None:
    assert values(store, "?c acse:cohortNumber ?v ; acse:cohortStatus/acse:isOpen false") == [18]
    assert "only be open after amendment" in SEED.cohorts[18]
