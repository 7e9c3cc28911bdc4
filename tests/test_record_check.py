"""Record check: the reviewer's findings on the record, nothing on clean ones."""

from __future__ import annotations

import copy

import pytest
from ctgov_fixtures import RECORDS, load_record

from acse_kg.ctgov.import_ import import_study
from acse_kg.record_check import CheckError, check_study

NCT = "NCT02034981"


@pytest.fixture(scope="module")
def findings(store):
    return check_study(store, NCT)


def test_haemoglobin_unit_is_flagged(findings):
    hits = [f for f in findings if f.rule == "implausible-unit"]
    assert [(f.focus.rsplit("/", 1)[-1], f.value) for f in hits] == [("inc-06-hemoglobin", "8 g/L")]


def test_glioblastoma_cohort_contradicts_cns_exclusion(findings):
    hits = [f for f in findings if f.rule == "cohort-excluded-by-criterion"]
    assert [f.focus.rsplit("/", 2)[-2:] for f in hits] == [["cohort", "18"]]
    assert hits[0].value.endswith("/GB") and "criterion/exc-04" in hits[0].message


def test_axl_in_cohorts_21_to_23_contradicts_the_genes_the_inclusion_criterion_lists(findings):
    """The description names AXL for cohorts 21-23; the inclusion bullet lists ALK, MET, RON and ROS1 only."""
    hits = [f for f in findings if f.rule == "cohort-gene-not-accepted"]
    assert [(f.focus.rsplit("/", 1)[-1], f.value.rsplit("/", 1)[-1]) for f in hits] == [
        ("21", "AXL"), ("22", "AXL"), ("23", "AXL")]
    assert all("criterion/inc-03" in f.message and "AXL" in f.message for f in hits)


def test_a_cohort_whose_gene_the_common_criterion_lists_is_not_flagged(fresh_store):
    fresh_store.update("""INSERT { GRAPH ?g { ?t a acse:AlterationTest ; acse:gene gene:AXL . ?r acse:operand ?t } }
        WHERE { GRAPH ?g { study:NCT02034981\\/criterion\\/inc-03 acse:requires ?r } BIND(IRI("urn:x:axl-test") AS ?t) }""")
    assert "cohort-gene-not-accepted" not in {f.rule for f in check_study(fresh_store, NCT)}


def test_nothing_else_on_the_record(findings):
    assert {f.rule for f in findings} == {"implausible-unit", "cohort-excluded-by-criterion", "cohort-gene-not-accepted"}


@pytest.fixture(scope="module")
def imported():
    from acse_kg.store import open_store

    st = open_store("memory")
    for name in RECORDS:
        import_study(st, load_record(name))
    return st


@pytest.mark.parametrize("nct", ["NCT02513394", "NCT06171568"])
def test_clean_reference_records_have_no_findings(imported, nct):
    assert check_study(imported, nct) == []


def _variant(fresh_store, change):
    record = copy.deepcopy(load_record("example_v2_NCT06171568_APHP_french.json"))
    change(record["protocolSection"])
    import_study(fresh_store, record)
    return {f.rule: f for f in check_study(fresh_store, "NCT06171568")}


def test_actual_date_in_the_future(fresh_store):
    def change(ps):
        ps["statusModule"]["startDateStruct"] = {"date": "2999-01", "type": "ACTUAL"}
        ps["statusModule"]["primaryCompletionDateStruct"]["date"] = "2999-02-01"
        ps["statusModule"]["completionDateStruct"]["date"] = "2999-02-01"
    found = _variant(fresh_store, change)
    assert list(found) == ["actual-date-in-future"] and found["actual-date-in-future"].value == "2999-01"


def test_dates_out_of_order(fresh_store):
    def change(ps):
        ps["statusModule"]["completionDateStruct"]["date"] = "2024-01-01"
    found = _variant(fresh_store, change)
    assert set(found) == {"dates-out-of-order"}


def test_enrollment_type_not_matching_status(fresh_store):
    def change(ps):
        ps["designModule"]["enrollmentInfo"]["type"] = "ACTUAL"
    found = _variant(fresh_store, change)
    assert set(found) == {"enrollment-type-vs-status"} and found["enrollment-type-vs-status"].value == "ACTUAL"


def test_required_element_missing(fresh_store):
    def change(ps):
        del ps["sponsorCollaboratorsModule"]["leadSponsor"]
    found = _variant(fresh_store, change)
    assert set(found) == {"required-element-missing"} and "lead sponsor" in found["required-element-missing"].message


def test_unknown_study(store):
    with pytest.raises(CheckError):
        check_study(store, "NCT00000000")


def test_owl_reasoner_adds_nothing_on_the_consistent_record(store, findings):
    assert check_study(store, NCT, reason=True) == findings


def test_owl_reasoner_flags_a_criterion_both_inclusion_and_exclusion(fresh_store):
    fresh_store.update(
        "INSERT DATA { GRAPH <https://w3id.org/acse-kg/id/graph/study/NCT02034981> { "
        "<https://w3id.org/acse-kg/id/study/NCT02034981/criterion/exc-05> a acse:InclusionCriterion } }"
    )
    rules = {f.rule for f in check_study(fresh_store, NCT, reason=True)}
    assert "owl-inconsistent" in rules


def test_missing_eligibility_criteria(fresh_store):
    def change(ps):
        del ps["eligibilityModule"]["eligibilityCriteria"]
    found = _variant(fresh_store, change)
    assert set(found) == {"required-element-missing"} and "eligibility criteria" in found["required-element-missing"].message


def test_missing_organization_study_id(fresh_store):
    def change(ps):
        del ps["identificationModule"]["orgStudyIdInfo"]
    found = _variant(fresh_store, change)
    assert set(found) == {"required-element-missing"} and "protocol ID" in found["required-element-missing"].message


def test_enrolling_by_invitation_counts_are_estimated(fresh_store):
    def change(ps):
        ps["statusModule"]["overallStatus"] = "ENROLLING_BY_INVITATION"
        ps["designModule"]["enrollmentInfo"]["type"] = "ACTUAL"
    found = _variant(fresh_store, change)
    assert set(found) == {"enrollment-type-vs-status"}


def test_interventional_study_without_a_phase(fresh_store):
    fresh_store.update(
        "DELETE WHERE { GRAPH <https://w3id.org/acse-kg/id/graph/study/NCT02034981> { "
        "<https://w3id.org/acse-kg/id/study/NCT02034981> acse:phase ?p } }")
    hits = [f for f in check_study(fresh_store, NCT) if f.rule == "required-element-missing"]
    assert [(f.focus.rsplit("/", 1)[-1], f.message) for f in hits] == [
        (NCT, "required element missing for an interventional study: study phase")]


def test_contradiction_names_the_cohort_and_the_tumour_types_in_words(findings):
    hit = next(f for f in findings if f.rule == "cohort-excluded-by-criterion")
    assert "cohort 18 ('Glioblastoma, adults, MET amplified." in hit.message
    assert "Glioblastoma, IDH-Wildtype (GB) falls under CNS/Brain (BRAIN)" in hit.message


def test_the_shapes_are_standard_shacl_and_pyshacl_finds_the_same(fresh_store):
    """The reference SHACL engine, run on the same shapes and data, agrees with the fast evaluation.

    pySHACL also refuses shapes that break SHACL-SPARQL's rules (e.g. a VALUES clause).
    """
    import pyshacl
    import rdflib
    from rdflib import RDF
    from rdflib.namespace import SH

    from acse_kg.loader import study_graph_name
    from acse_kg.record_check import _background, _rule_of, _shapes, check_graph

    def change(ps):
        ps["designModule"]["enrollmentInfo"]["type"] = "ACTUAL"
        ps["statusModule"]["completionDateStruct"]["date"] = "2024-01-01"
        del ps["identificationModule"]["orgStudyIdInfo"]
    ours = _variant(fresh_store, change)
    study, background = fresh_store.graph(study_graph_name("NCT06171568")), _background(fresh_store, "NCT06171568")
    data = rdflib.Graph()
    for g in (background, study, _shapes()):
        data += g
    _, results, _ = pyshacl.validate(data, shacl_graph=_shapes(), advanced=True, inference="none")
    theirs = {(_rule_of(_shapes(), results.value(r, SH.sourceShape)), str(results.value(r, SH.focusNode)))
              for r in results.subjects(RDF.type, SH.ValidationResult)}
    assert theirs == {(f.rule, f.focus) for f in check_graph(study, background)}
    assert set(ours) == {r for r, _ in theirs} == {"enrollment-type-vs-status", "dates-out-of-order",
                                                   "required-element-missing"}


def test_a_reasoner_that_cannot_run_is_an_error_not_a_finding(store, monkeypatch):
    """Without Java the check did not happen: that must not read as 'the record has a finding'."""
    from acse_kg import reasoning
    from acse_kg.record_check import ReasonerFailed

    def broken(data):
        raise reasoning.ReasonerError("no Java found")

    monkeypatch.setattr(reasoning, "reason_ntriples", broken)
    with pytest.raises(ReasonerFailed, match="no Java found"):
        check_study(store, NCT, reason=True)


def test_the_kept_findings_follow_an_edit_of_the_record(fresh_store):
    """The SHACL findings are kept between requests, but a write to the store is seen at once."""
    before = check_study(fresh_store, NCT)
    assert "required-element-missing" not in {f.rule for f in before}
    before.clear()  # a caller changing its list changes nothing kept
    assert check_study(fresh_store, NCT) != []
    fresh_store.update(
        "DELETE WHERE { GRAPH <https://w3id.org/acse-kg/id/graph/study/NCT02034981> { "
        "<https://w3id.org/acse-kg/id/study/NCT02034981> acse:phase ?p } }")
    assert "required-element-missing" in {f.rule for f in check_study(fresh_store, NCT)}


def test_a_record_the_study_model_cannot_read_is_a_finding_naming_the_node(fresh_store):
    """An expression with no type cannot be evaluated: the check says so rather than failing or guessing."""
    fresh_store.update("""INSERT { GRAPH ?g { ?r acse:operand <urn:x:untyped> . <urn:x:untyped> acse:gene gene:AXL } }
        WHERE { GRAPH ?g { study:NCT02034981\\/criterion\\/inc-03 acse:requires ?r } }""")
    hits = [f for f in check_study(fresh_store, NCT) if f.rule == "record-structure"]
    assert [(f.focus, "urn:x:untyped" in f.message) for f in hits] == [
        ("https://w3id.org/acse-kg/id/study/NCT02034981", True)]


def test_the_tumour_types_whose_lineage_the_rules_walk_are_those_the_study_model_names(store):
    """Cohort pathologies and the tumour-type tests of criteria and populations (ALCL is in a dosing population)."""
    from acse_kg.model import read_study
    from acse_kg.record_check import _tumour_types

    codes = {t.rsplit("/", 1)[-1] for t in _tumour_types(read_study(store, NCT))}
    cohorts = {p.code for c in read_study(store, NCT).cohorts for p in c.pathologies}
    assert cohorts < codes and {"ALCL", "BRAIN"} <= codes


@pytest.mark.parametrize("nct", [NCT, "NCT02513394", "NCT06171568"])
def test_a_studys_check_finds_what_check_graph_finds_over_its_graph_and_background(store, imported, nct):
    """check_study loads the ontology's N-Triples kept per store (not an rdflib copy per study): the same
    findings as check_graph over the study's graph with the ontology and OncoTree lineage merged in rdflib."""
    from acse_kg.loader import study_graph_name
    from acse_kg.record_check import _background, _structure_findings, check_graph

    st = store if nct == NCT else imported
    graph, background = st.graph(study_graph_name(nct)), _background(st, nct)
    expected = sorted(set(check_graph(graph, background) + _structure_findings(st, nct)),
                      key=lambda f: (f.rule, f.focus, f.value or ""))
    assert check_study(st, nct) == expected and (nct != NCT or expected)


def test_a_write_to_the_ontology_is_seen_by_the_next_check(fresh_store):
    """The ontology's N-Triples are kept per store until a graph no study owns is written."""
    from acse_kg.loader import ONTOLOGY_GRAPH

    assert "implausible-unit" in {f.rule for f in check_study(fresh_store, NCT)}
    fresh_store.update(f"DELETE DATA {{ GRAPH <{ONTOLOGY_GRAPH}> "
                       "{ acse:InclusionCriterion rdfs:subClassOf acse:EligibilityCriterion } }")
    # the haemoglobin criterion is an inclusion criterion: no longer an EligibilityCriterion, the shape's target
    assert "implausible-unit" not in {f.rule for f in check_study(fresh_store, NCT)}
