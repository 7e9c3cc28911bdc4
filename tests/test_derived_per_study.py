"""Values derived from one study are kept per study: a write to study A leaves study B's model,
compiled matcher, page data and check in place, and a write to B makes them again."""

from __future__ import annotations

import pytest
from ctgov_fixtures import load_record

from acse_kg.ctgov.import_ import import_study
from acse_kg.derived import DerivedCache
from acse_kg.history import edit_study
from acse_kg.loader import study_graph_name
from acse_kg.matching.engine import registry_matcher_for
from acse_kg.model import read_study
from acse_kg.store import GraphStore

A = "NCT06171568"  # a ClinicalTrials.gov record, imported by the tests
B = "NCT02034981"  # the bundle's curated basket trial


def write_a(store: GraphStore) -> None:
    import_study(store, load_record("example_v2_NCT06171568_APHP_french.json"), agent="alice")


def edit_b(store: GraphStore) -> None:
    data = store.graph(study_graph_name(B)).serialize(format="nt")
    edit_study(store, B, data + '<urn:x:note> <http://www.w3.org/2000/01/rdf-schema#comment> "edited" .\n',
               "ntriples", agent="curator")


def test_a_write_to_another_study_keeps_the_study_model(fresh_store: GraphStore) -> None:
    before = read_study(fresh_store, B)
    write_a(fresh_store)
    assert read_study(fresh_store, B) is before


def test_a_write_to_the_study_reads_its_model_again(fresh_store: GraphStore) -> None:
    before = read_study(fresh_store, B)
    edit_b(fresh_store)
    assert read_study(fresh_store, B) is not before


def test_a_write_to_another_study_keeps_the_compiled_matcher(fresh_store: GraphStore) -> None:
    before = registry_matcher_for(fresh_store).study(B)
    assert before is not None
    write_a(fresh_store)
    rebuilt = registry_matcher_for(fresh_store)
    assert rebuilt.study(B) is before


def test_a_write_to_the_study_compiles_its_matcher_again(fresh_store: GraphStore) -> None:
    before = registry_matcher_for(fresh_store).study(B)
    edit_b(fresh_store)
    assert registry_matcher_for(fresh_store).study(B) is not before


@pytest.mark.parametrize("write", [write_a, edit_b], ids=["another study", "the study"])
def test_a_value_given_a_study_graph_is_made_again_only_after_a_write_to_it(fresh_store: GraphStore, write) -> None:
    cache, calls = DerivedCache(), []

    def make() -> int:
        calls.append(1)
        return len(calls)

    cache.get(fresh_store, "k", make, graph=study_graph_name(B))
    write(fresh_store)
    cache.get(fresh_store, "k", make, graph=study_graph_name(B))
    assert len(calls) == (2 if write is edit_b else 1)


def test_a_write_to_a_vocabulary_makes_every_study_value_again(fresh_store: GraphStore) -> None:
    cache, calls = DerivedCache(), []
    cache.get(fresh_store, "k", lambda: calls.append(1), graph=study_graph_name(B))
    fresh_store.update("INSERT DATA { GRAPH <urn:x:vocab> { <urn:x:a> <urn:x:p> 1 } }")
    cache.get(fresh_store, "k", lambda: calls.append(1), graph=study_graph_name(B))
    assert len(calls) == 2
