"""HermiT over ontology + vocabularies + record: the graph must be consistent.

One reasoner run costs a JVM start and a few seconds, so the real graph is
reasoned over once per session and shared.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import require
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.reasoning import ReasoningReport, reason_ntriples
from acse_kg.store import GraphStore


@pytest.fixture(autouse=True)
def _java() -> None:
    require(shutil.which("java") is not None, "Java (for HermiT)")

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
OWL_CLASS = "<http://www.w3.org/2002/07/owl#Class>"
ACSE = "https://w3id.org/acse-kg/ontology#"


@pytest.fixture(scope="session")
def live_ntriples(store: GraphStore) -> bytes:
    return store.dump("ntriples", include_history=False)


@pytest.fixture(scope="session")
def report(live_ntriples: bytes) -> ReasoningReport:
    return reason_ntriples(live_ntriples)


def test_the_real_graph_is_consistent(report: ReasoningReport) -> None:
    assert report.consistent, report.summary()


def test_no_class_of_the_real_graph_is_unsatisfiable(report: ReasoningReport) -> None:
    assert report.unsatisfiable == [], report.summary()


def test_the_reasoner_saw_ontology_vocabularies_and_record(report: ReasoningReport, store: GraphStore) -> None:
    lines = store.dump("ntriples", include_history=False).splitlines()
    imports = [ln for ln in lines if b"<http://www.w3.org/2002/07/owl#imports>" in ln]
    assert report.triples == len(lines) - len(imports)  # imports are dropped: their targets are in the store
    assert report.triples > 9000


def test_an_individual_of_two_disjoint_classes_makes_the_graph_inconsistent(live_ntriples: bytes) -> None:
    # Inclusion and exclusion criteria are disjoint in the ontology.
    contradiction = (
        f"<https://example.org/c> {RDF_TYPE} <{ACSE}InclusionCriterion> .\n"
        f"<https://example.org/c> {RDF_TYPE} <{ACSE}ExclusionCriterion> .\n"
    ).encode()
    report = reason_ntriples(live_ntriples + contradiction)
    assert not report.consistent
    assert "INCONSISTENT" in report.summary()


def test_a_class_under_two_disjoint_classes_is_reported_unsatisfiable(live_ntriples: bytes) -> None:
    odd = "<https://example.org/Both>"
    extra = (
        f"{odd} {RDF_TYPE} {OWL_CLASS} .\n"
        f"{odd} {SUBCLASS} <{ACSE}PrimaryOutcome> .\n"
        f"{odd} {SUBCLASS} <{ACSE}SecondaryOutcome> .\n"
    ).encode()
    report = reason_ntriples(live_ntriples + extra)
    assert report.consistent
    assert report.unsatisfiable == ["https://example.org/Both"]


def test_acse_kg_reason_reports_consistency_and_exits_0() -> None:
    result = CliRunner().invoke(app, ["reason", "--store", "memory"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("consistent: HermiT over ")
    assert "unsatisfiable classes: 0" in result.stdout


def test_acse_kg_reason_exits_1_on_an_inconsistent_store(tmp_path) -> None:
    from acse_kg.store import open_store

    path = tmp_path / "store"
    st = open_store(str(path))
    st.add_to_graph(
        "https://w3id.org/acse-kg/id/graph/study/NCT02034981",
        f"<https://example.org/o> {RDF_TYPE} <{ACSE}PrimaryOutcome> .\n"
        f"<https://example.org/o> {RDF_TYPE} <{ACSE}SecondaryOutcome> .\n",
        "ntriples",
    )
    st.close()
    result = CliRunner().invoke(app, ["reason", "--store", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith("INCONSISTENT")
    assert "Traceback" not in result.stdout + result.stderr


def test_owl_imports_are_dropped_before_reasoning_so_nothing_is_downloaded() -> None:
    from acse_kg.reasoning import without_imports

    data = (
        "<https://example.org/o> <http://www.w3.org/2002/07/owl#imports> <https://unreachable.invalid/onto> .\n"
        f"<https://example.org/C> {RDF_TYPE} {OWL_CLASS} .\n"
    ).encode()
    assert without_imports(data).decode().strip() == f"<https://example.org/C> {RDF_TYPE} {OWL_CLASS} ."
