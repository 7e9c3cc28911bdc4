"""Pages of a study whose cohorts are rules (a CTML arm's match tree), and the text of every expression type.

The record ``tests/data/ruled/NCT09000001.ttl`` is made up, shaped as an
imported CTML arm: alteration tests with protein change, exon, classification,
CNV call, function and wild type, a negated tumour type, an age comparison and
a prior therapy. Expression texts are checked on model objects built here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pages_fixtures import find_class, one_class, parse, section, text

from acse_kg.loader import load_study_file
from acse_kg.model import (
    AlterationTest,
    And,
    Cohort,
    Comparison,
    Not,
    Or,
    PriorTherapyTest,
    Study,
    Term,
    TumourTypeTest,
    Variable,
    read_study,
)
from acse_kg.pages import cohort_page, study_page
from acse_kg.pages.expressions import ExpressionText
from acse_kg.pages.graph import gene_order, study_graph
from acse_kg.store import open_store

RULED = Path(__file__).resolve().parent / "data" / "ruled" / "NCT09000001.ttl"
NCT = "NCT09000001"
ACSE = "https://w3id.org/acse-kg/ontology#"


@pytest.fixture(scope="module")
def ruled():
    store = open_store("memory")
    load_study_file(store, RULED)
    return store


def test_a_study_of_rule_defined_cohorts_renders_with_each_rule_in_its_cohort_row(ruled):
    root = parse(study_page(ruled, NCT))  # strict parser: raises on any HTML error
    rules = [text(e) for e in find_class(section(root, "cohorts"), "cohort-rule", "td")]
    assert rules == [
        "BRAF mutation (p.V600E, exon 15, missense mutation, activating) and age ≥ 18 years"
        " and not diagnosis is Melanoma (MEL) or a subtype and not prior treatment with vemurafenib",
        "BRAF alteration (any change at p.V600) or CDKN2A deletion (copy-number call homozygous deletion)"
        " or EGFR wild type",
    ]


@pytest.mark.parametrize("number", [1, 2])
def test_each_cohort_page_shows_its_rule_and_the_genes_the_rule_names(ruled, number):
    root = parse(cohort_page(ruled, NCT, number))
    cohort = read_study(ruled, NCT).cohort(number)
    rule = study_graph(ruled, NCT).text(cohort.rule)
    assert text(one_class(section(root, "definition"), "cohort-rule", "td")) == rule
    assert text(one_class(section(root, "criteria"), "cohort-rule", "li")) == "Rule: " + rule
    assert text(one_class(root, "gene", "td")).split(" or ") == [f"{g.code} {g.accession}" for g in cohort.genes]


def test_a_closed_cohort_of_a_rule_study_reads_closed(ruled):
    root = parse(cohort_page(ruled, NCT, 2))
    status = one_class(section(root, "definition"), "status", "a")
    assert ("closed" in status.get("class"), text(status)) == (True, "opens only after amendment")


# ------------------------------------------------------------------ expression text
BRAF = Term("urn:gene:BRAF", "BRAF", "BRAF")
MUTATION = Term(ACSE + "Mutation", "mutation", "mutation")
AGE = Variable(ACSE + "var_age", "age_years", "a", "number", "age")
CNS = Variable(ACSE + "var_cns", "history.cns_disease", None, "boolean", "central nervous system disease")
MEL = Term("urn:onco:MEL", "Melanoma", "MEL")
DRUG = Term("urn:drug:dabrafenib", "dabrafenib")
EXPR = ExpressionText(["dabrafenib", "trametinib"])


def test_a_comparison_reads_with_its_symbol_value_and_unit_in_words():
    assert EXPR.text(Comparison(AGE, "lt", 1.0, "a")) == "age < 1 year"
    assert EXPR.text(Comparison(AGE, "ge", 18.0, "a")) == "age ≥ 18 years"


def test_a_yes_no_comparison_reads_as_the_condition_or_its_absence():
    assert EXPR.text(Comparison(CNS, "eq", True)) == "central nervous system disease"
    assert EXPR.text(Comparison(CNS, "eq", False)) == "no central nervous system disease"


def test_tumour_type_and_prior_therapy_tests_name_their_term():
    assert EXPR.text(TumourTypeTest(MEL)) == "diagnosis is Melanoma (MEL) or a subtype"
    assert EXPR.text(PriorTherapyTest(DRUG)) == "prior treatment with dabrafenib"


def test_an_alteration_test_reads_every_variant_level_field_it_names():
    full = AlterationTest(BRAF, MUTATION, protein_change="p.V600E", exon=15,
                          variant_classification="Missense_Mutation", partner=Term("urn:gene:AGK", "AGK", "AGK"),
                          function="activating")
    assert EXPR.text(full) == "BRAF mutation (p.V600E, exon 15, missense mutation, with AGK, activating)"
    assert EXPR.text(AlterationTest(BRAF, protein_change="p.V600")) == "BRAF alteration (any change at p.V600)"
    assert EXPR.text(AlterationTest(BRAF, wildtype=True)) == "BRAF wild type"


def test_an_alteration_test_without_a_gene_names_the_study_drugs_targets():
    assert EXPR.text(AlterationTest(None, MUTATION)) == "a dabrafenib or trametinib target mutation"
    assert ExpressionText().text(AlterationTest(None, MUTATION)) == "any gene mutation"


def test_nested_and_or_are_parenthesised_and_negations_read_not():
    e = And((Or((TumourTypeTest(MEL), PriorTherapyTest(DRUG))), Not(Comparison(AGE, "lt", 18.0, "a"))))
    assert EXPR.text(e) == ("(diagnosis is Melanoma (MEL) or a subtype or prior treatment with dabrafenib)"
                            " and not age < 18 years")


leaves = st.sampled_from([TumourTypeTest(MEL), PriorTherapyTest(DRUG), AlterationTest(BRAF, MUTATION),
                          Comparison(AGE, "ge", 18.0, "a"), Comparison(CNS, "eq", True)])


@given(st.lists(leaves, min_size=2, max_size=5, unique=True), st.randoms())
def test_the_text_of_a_conjunction_does_not_depend_on_its_operands_order(ops, rnd):
    """The graph keeps operands as a set: the page must read the same whatever order they come in."""
    shuffled = list(ops)
    rnd.shuffle(shuffled)
    assert EXPR.text(And(tuple(ops))) == EXPR.text(And(tuple(shuffled)))


def test_thresholds_list_numeric_comparisons_and_flag_alternatives():
    e = And((Comparison(AGE, "ge", 18.0, "a"), Or((Comparison(AGE, "lt", 65.0, "a"), Comparison(CNS, "eq", True)))))
    rows = [(t.variable, t.comparator, t.value, t.unit_text, t.alternative) for t in EXPR.thresholds(e)]
    assert rows == [("age", "<", "65", "years", True), ("age", "≥", "18", "years", False)]


# ------------------------------------------------------------------ gene order
def test_genes_are_read_in_the_order_the_cohorts_first_name_them_then_alphabetically():
    def gene(sym: str) -> Term:
        return Term(f"urn:gene:{sym}", sym, sym)

    cohorts = (Cohort("urn:c:1", 1, "one", genes=(gene("ROS1"),)),
               Cohort("urn:c:2", 2, "two", genes=(gene("MET"),)),
               Cohort("urn:c:3", 3, "three", genes=(gene("MET"), gene("ZZZ3"), gene("AXL"), gene("ROS1"))))
    rank = gene_order(Study("urn:s", "NCT00000001", "urn:g", cohorts=cohorts))
    assert sorted(rank, key=rank.get) == ["urn:gene:ROS1", "urn:gene:MET", "urn:gene:AXL", "urn:gene:ZZZ3"]


# ------------------------------------------------------------------ nothing names a trial
GENERIC = [Path(__file__).resolve().parent.parent / "acse_kg" / p
           for p in ("pages", "templates", "ctgov/export.py", "record_check.py")]


def test_no_generic_page_code_or_template_names_the_bundled_trial():
    import re

    pattern = re.compile(r"crizotinib|\bALCL\b|\bALK\b|MST1R|ROS1", re.IGNORECASE)
    files = [f for p in GENERIC for f in ([p] if p.is_file() else sorted(p.rglob("*.*")))
             if f.suffix in (".py", ".html", ".txt", ".js", ".css") and "__pycache__" not in f.parts]
    hits = [f"{f.name}:{n}" for f in files for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)]
    assert len(files) > 8 and hits == []


# ------------------------------------------------------------------ a record the model cannot read
def test_a_record_the_model_cannot_read_keeps_its_study_page_with_the_fault_in_its_record_check(fresh_store):
    from acse_kg.pages import PageNotFound

    fresh_store.update("""INSERT { GRAPH ?g { ?r acse:operand <urn:x:untyped> . <urn:x:untyped> acse:gene gene:AXL } }
        WHERE { GRAPH ?g { study:NCT02034981\\/criterion\\/inc-03 acse:requires ?r } }""")
    root = parse(study_page(fresh_store, "NCT02034981"))
    findings = [text(tr) for tr in find_class(section(root, "check"), "finding", "tr")]
    assert any(f.startswith("record-structure") and "urn:x:untyped" in f for f in findings)
    assert [e.get("id") for e in root.iter("section") if e.get("id") == "cohorts"] == []
    with pytest.raises(PageNotFound, match="urn:x:untyped"):
        cohort_page(fresh_store, "NCT02034981", 5)
