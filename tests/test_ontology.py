"""The ontology documents itself and declares every term the data uses."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from acse_kg.namespaces import ACSE
from acse_kg.paths import DATA_DIR, ONTOLOGY_DIR
from acse_kg.store import GraphStore

KINDS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)


@pytest.fixture(scope="module")
def ontology() -> Graph:
    g = Graph()
    for path in sorted(ONTOLOGY_DIR.glob("*.ttl")):
        g.parse(path)
    return g


def declared_terms(g: Graph) -> set[URIRef]:
    return {s for kind in KINDS for s in g.subjects(RDF.type, kind) if isinstance(s, URIRef) and str(s).startswith(str(ACSE))}


def test_every_class_and_property_has_a_label_and_a_definition(ontology: Graph) -> None:
    undocumented = sorted(
        str(t) for t in declared_terms(ontology) if ontology.value(t, RDFS.label) is None or ontology.value(t, SKOS.definition) is None
    )
    assert undocumented == []


def test_labels_and_definitions_are_english(ontology: Graph) -> None:
    untagged = sorted(
        str(t)
        for t in declared_terms(ontology)
        for p in (RDFS.label, SKOS.definition)
        for v in ontology.objects(t, p)
        if getattr(v, "language", None) != "en"
    )
    assert untagged == []


def test_every_acse_term_the_records_use_is_declared(ontology: Graph) -> None:
    individuals = {s for s in ontology.subjects() if isinstance(s, URIRef) and str(s).startswith(str(ACSE))}
    known = declared_terms(ontology) | individuals
    used: set[URIRef] = set()
    for path in DATA_DIR.glob("*.ttl"):
        data = Graph().parse(path)
        for triple in data:
            used |= {t for t in triple if isinstance(t, URIRef) and str(t).startswith(str(ACSE))}
    assert sorted(str(t) for t in used - known) == []


def test_criterion_classes_align_to_obi(store: GraphStore) -> None:
    assert store.ask("ASK { acse:InclusionCriterion rdfs:subClassOf obo:OBI_0500027 . acse:ExclusionCriterion rdfs:subClassOf obo:OBI_0500028 }")


def test_study_is_a_schema_org_medical_trial(store: GraphStore) -> None:
    assert store.ask("ASK { id:study\\/NCT02034981 a/rdfs:subClassOf* schema:MedicalTrial }")


def test_translocation_is_also_called_fusion_and_rearrangement(store: GraphStore) -> None:
    labels = store.select("SELECT ?l WHERE { acse:Translocation skos:altLabel ?l }").values("l")
    assert sorted(labels) == ["fusion", "rearrangement"]


def test_alteration_types_align_to_the_sequence_ontology(store: GraphStore) -> None:
    rows = store.select(
        "SELECT ?t ?so WHERE { ?t a acse:AlterationType ; skos:exactMatch|skos:closeMatch ?so . FILTER(STRSTARTS(STR(?so), STR(obo:SO_))) }"
    )
    assert {str(r["t"]).rsplit("#", 1)[1] for r in rows} == {"Amplification", "Mutation", "Translocation", "CopyNumberLoss"}


def test_every_clinical_variable_names_a_profile_field(store: GraphStore) -> None:
    missing = store.select("SELECT ?v WHERE { ?v a acse:ClinicalVariable FILTER NOT EXISTS { ?v acse:profileField ?f } }")
    assert len(missing) == 0
