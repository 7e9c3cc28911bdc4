"""Cohorts and computable criteria as defined OWL classes, generated from the study model (acse_kg.owl.classes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import rdflib
from conftest import NCT, require

from acse_kg.loader import study_graph_name
from acse_kg.model import read_study
from acse_kg.owl import classes as K
from acse_kg.owl.classify import OwlEngine
from acse_kg.owl.reasoner import is_consistent
from acse_kg.store import open_store

RULED = Path(__file__).resolve().parent / "data" / "ruled" / "NCT09000001.ttl"
RULED_NCT = "NCT09000001"


def java() -> None:
    import shutil

    require(shutil.which("java") is not None, "Java (for HermiT)")


def defined(document: str) -> set[str]:
    return set(re.findall(r"^EquivalentClasses\(<([^>]+)> ", document, re.MULTILINE))


@pytest.fixture(scope="module")
def ruled_store():
    s = open_store("memory")
    g = rdflib.Graph().parse(RULED)
    s.replace_graph(study_graph_name(RULED_NCT), g.serialize(format="nt"), "ntriples")
    return s


def test_every_cohort_of_the_record_has_a_defined_class_of_the_patients_it_accepts(store) -> None:
    study = read_study(store, NCT)
    doc = OwlEngine(store, [NCT]).ontology()
    names = defined(doc)
    assert len(study.cohorts) == 23
    for c in study.cohorts:
        assert {K.cohort_eligible(c), K.cohort_candidate(c), K.cohort_population(c)} <= names


def test_every_computable_criterion_is_its_own_defined_class(store) -> None:
    study = read_study(store, NCT)
    names = defined(OwlEngine(store, [NCT]).ontology())
    computable = [c for c in study.criteria if c.decidable]
    assert computable and all(K.criterion_met(c) in names for c in computable)
    assert all(K.criterion_met(c) not in names for c in study.criteria if not c.decidable)


def test_a_lab_threshold_is_a_decimal_facet_on_the_canonical_unit(store) -> None:
    study = read_study(store, NCT)
    doc = OwlEngine(store, [NCT]).ontology()
    anc = next(c for c in study.criteria if c.id == "inc-06-anc")
    hb = next(c for c in study.criteria if c.id == "inc-06-hemoglobin")  # registered as 8 g/L, curated to g/dL
    assert (f"EquivalentClasses(<{K.criterion_met(anc)}> DataSomeValuesFrom(<{K.PT}labs.anc> "
            'DatatypeRestriction(xsd:decimal xsd:minInclusive "1.0"^^xsd:decimal)))') in doc
    assert (f"EquivalentClasses(<{K.criterion_met(hb)}> DataSomeValuesFrom(<{K.PT}labs.hemoglobin> "
            'DatatypeRestriction(xsd:decimal xsd:minInclusive "8.0"^^xsd:decimal)))') in doc


def test_a_conditional_threshold_is_the_union_of_its_branches(store) -> None:
    study = read_study(store, NCT)
    doc = OwlEngine(store, [NCT]).ontology()
    alcl = next(c for c in study.criteria if c.id == "inc-06-platelets-alcl")
    line = next(x for x in doc.splitlines() if x.startswith(f"EquivalentClasses(<{K.criterion_met(alcl)}>"))
    assert line.count("ObjectUnionOf(") == 1 and "ObjectComplementOf(" in line
    assert '"50.0"^^xsd:decimal' in line and "oncotree/2025_10_03/ALCL>" in line


def test_the_age_band_is_a_datatype_restriction_min_inclusive_max_exclusive(store) -> None:
    study = read_study(store, NCT)
    doc = OwlEngine(store, [NCT]).ontology()
    paediatric = study.cohort(21)
    line = next(x for x in doc.splitlines() if x.startswith(f"EquivalentClasses(<{K.cohort_candidate(paediatric)}>"))
    assert ('DatatypeRestriction(xsd:decimal xsd:minInclusive "1.0"^^xsd:decimal '
            'xsd:maxExclusive "18.0"^^xsd:decimal)') in line


def test_an_exclusion_of_a_diagnosis_is_a_complement(store) -> None:
    study = read_study(store, NCT)
    doc = OwlEngine(store, [NCT]).ontology()
    exc = next(c for c in study.criteria if c.id == "exc-01")  # NSCLC with an ALK translocation
    line = next(x for x in doc.splitlines() if x.startswith(f"EquivalentClasses(<{K.criterion_met(exc)}>"))
    assert line.split(" ", 1)[1].startswith("ObjectComplementOf(ObjectIntersectionOf(")


def test_a_rule_cohort_gets_its_classes_from_its_rule(ruled_store) -> None:
    study = read_study(ruled_store, RULED_NCT)
    names = defined(OwlEngine(ruled_store, [RULED_NCT]).ontology())
    ruled = [c for c in study.cohorts if c.rule is not None]
    assert ruled and all({K.cohort_rule(c), K.cohort_eligible(c)} <= names for c in ruled)


def test_a_protein_change_wildcard_is_an_xsd_pattern() -> None:
    assert K.protein_pattern("V600") == "V600([^0-9].*)?"
    assert re.fullmatch(K.protein_pattern("V600"), "V600E") and not re.fullmatch(K.protein_pattern("V600"), "V6001")


def test_hermit_finds_the_ontology_consistent_with_every_cohorts_class(store, ruled_store) -> None:
    java()
    # AcSé's classes and a rule trial's, with the OncoTree classes they name and the patient vocabulary.
    axioms = OwlEngine(store, [NCT]).ontology().split("\n")
    ruled = OwlEngine(ruled_store, [RULED_NCT]).ontology().split("\n")
    body = [a for a in axioms + ruled if a and not a.startswith(("Prefix(", "Ontology(")) and a != ")"]
    assert is_consistent(K.document(body), budget=300)


def test_hermit_finds_contradictory_assertions_inconsistent() -> None:
    java()
    doc = K.document(["Declaration(Class(<urn:x:A>))", "ClassAssertion(owl:Nothing <urn:x:i>)"])
    assert is_consistent(doc, budget=120) is False


TINY = "Prefix(:=<urn:x#>)\nOntology(<urn:x>\nDeclaration(Class(:A))\n)"


def test_the_helper_is_compiled_once_into_the_cache_and_answers_from_there(tmp_path, monkeypatch) -> None:
    import shutil as sh

    from acse_kg.owl import reasoner

    require(sh.which("java") is not None and sh.which("javac") is not None, "a JDK (java and javac)")
    monkeypatch.setenv("ACSE_KG_HOME", str(tmp_path))
    assert is_consistent(TINY)
    (compiled,) = (tmp_path / "cache" / "owl").iterdir()  # one folder, no work folder left beside it
    assert (compiled / "OwlQueries.class").is_file() and list(compiled.rglob("*.class")) == [compiled / "OwlQueries.class"]
    monkeypatch.setattr(reasoner, "_javac", lambda java: None)  # a JRE alone
    command = reasoner._helper_command()
    assert command[-1].endswith("OwlQueries.java")  # the source launcher...
    assert is_consistent(TINY)  # ...answers


def test_a_compiled_helper_in_the_cache_is_used_without_compiling_again(tmp_path, monkeypatch) -> None:
    import shutil as sh

    from acse_kg.owl import reasoner

    require(sh.which("java") is not None and sh.which("javac") is not None, "a JDK (java and javac)")
    monkeypatch.setenv("ACSE_KG_HOME", str(tmp_path))
    first = reasoner._helper_command()
    monkeypatch.setattr(reasoner.subprocess, "run", lambda *a, **k: pytest.fail("compiled again"))
    assert reasoner._helper_command() == first and first[-1] == "OwlQueries"
    assert is_consistent(TINY)
