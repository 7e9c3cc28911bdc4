"""The registry's matcher reads its index gene by gene, and after a write is updated with the studies
the write touched, not rebuilt.

The reference is a matcher that reads every cohort at once from the store as it is after the
writes (``RegistryMatcher(store, lazy=False)``): the lazy, updated one must answer every profile
exactly as it does, while keeping the vocabulary and the compiled plans of the studies no write
touched.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matching_fixtures import ALTERATIONS, POOLS, build, registry_profiles
from rdflib import URIRef

from acse_kg.derived import vocabulary_version
from acse_kg.loader import study_graph_name
from acse_kg.matching.engine import RegistryMatcher, registry_matcher_for, vocabulary_for
from acse_kg.model import structured_studies
from acse_kg.namespaces import ACSE
from acse_kg.store import GraphStore, open_store
from acse_kg.synthetic import synthetic_nct, vary

GENES = sorted({a["gene"] for a in ALTERATIONS} - {"RON"} | {"MST1R"})


def write_copy(store: GraphStore, i: int, seed: int) -> None:
    """Copy ``i`` of a real study (new or replacing the one there), its cohorts drawn with ``seed``."""
    tax = vocabulary_for(store).taxonomy
    pathologies = sorted(set().union(*(tax.ancestors(tax.resolve(code) or "") for code in POOLS["diagnosis"]))
                         - {""})
    real = [s for s in structured_studies(store) if not s.startswith("NCT9")]
    src = real[i % len(real)]
    g = vary(store.graph(study_graph_name(src)), src, synthetic_nct(i), random.Random(seed), pathologies, GENES)
    store.replace_graph(study_graph_name(synthetic_nct(i)), g.serialize(format="nt"), "ntriples")


def move_cohorts(store: GraphStore, i: int, seed: int) -> None:
    """Copy ``i`` with its cohorts' pathologies drawn again: a change to the study's own statements."""
    rng = random.Random(seed)
    tax = vocabulary_for(store).taxonomy
    pathologies = sorted(set(tax.ancestors(tax.resolve("LUAD") or "")) - {""})
    g = store.graph(study_graph_name(synthetic_nct(i)))
    for cohort, path in sorted(g.subject_objects(ACSE.pathology)):
        g.remove((cohort, ACSE.pathology, path))
        g.add((cohort, ACSE.pathology, URIRef(rng.choice(pathologies))))
    store.replace_graph(study_graph_name(synthetic_nct(i)), g.serialize(format="nt"), "ntriples")


@pytest.fixture(scope="module")
def registry() -> GraphStore:
    store = open_store("memory")
    for i in range(1, 7):
        write_copy(store, i, i)
    return store


def lung_met() -> dict[str, Any]:
    return build({path: pool[0] for path, pool in POOLS.items()} | {"age_years": 54, "diagnosis": "LUAD"},
                 [{"gene": "MET", "type": "amplification"}, {"gene": "ALK", "type": "translocation"}], 1)


profiles = registry_profiles


# Writes a registry meets: a study replaced by another version, a new study, a study dropped.
WRITES = st.lists(st.tuples(st.sampled_from(["replace", "add", "drop"]), st.integers(1, 9), st.integers(0, 99)),
                  min_size=1, max_size=4)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(writes=WRITES, ps=st.lists(profiles(), min_size=3, max_size=3))
def test_the_updated_matcher_answers_as_one_built_whole(registry: GraphStore, writes: list[tuple[str, int, int]],
                                                         ps: list[dict[str, Any]]) -> None:
    before = registry_matcher_for(registry)  # the matcher as it is before the writes, its caches warm
    for p in [lung_met(), *ps]:
        before.match_all(p)
    for kind, i, seed in writes:
        if kind == "drop":
            registry.drop_graph(study_graph_name(synthetic_nct(i)))
        else:
            write_copy(registry, i if kind == "replace" else i + 10, seed)
    updated, whole = registry_matcher_for(registry), RegistryMatcher(registry, lazy=False)
    assert updated.ncts == whole.ncts and updated.matchable == whole.matchable
    for p in [lung_met(), *ps]:
        assert updated.match_all(p) == whole.match_all(p)


def test_a_profile_reads_the_cohorts_of_its_genes_only(registry: GraphStore) -> None:
    lazy, whole = RegistryMatcher(registry), RegistryMatcher(registry, lazy=False)
    assert lazy.index == {} and lazy.lazy and not whole.lazy
    met = vocabulary_for(registry).genes["MET"]
    p = build({path: pool[0] for path, pool in POOLS.items()} | {"age_years": 54, "diagnosis": "LUAD"},
              [{"gene": "MET", "type": "amplification"}], 2)

    assert lazy.match_all(p) == whole.match_all(p)
    assert lazy._genes == {met}
    assert {k for k in lazy.index if k[0] == met} == {k for k in whole.index if k[0] == met}
    assert len(lazy.index) < len(whole.index)


def test_a_write_to_one_study_keeps_the_vocabulary_and_the_other_studies_plans(registry: GraphStore) -> None:
    write_copy(registry, 3, 1)
    before = registry_matcher_for(registry)
    before.match_all(lung_met())  # compiles the studies this profile enters
    plans = dict(before._compiled)
    vocab, version = before.vocab, vocabulary_version(registry)

    move_cohorts(registry, 3, 2)

    after = registry_matcher_for(registry)
    assert after is not before and after.vocab is vocab and vocabulary_version(registry) == version
    assert synthetic_nct(3) not in after._compiled
    assert all(after._compiled[n] is m for n, m in plans.items() if n != synthetic_nct(3))


def test_the_old_matcher_is_left_as_it_was_for_the_requests_still_using_it(registry: GraphStore) -> None:
    write_copy(registry, 4, 1)
    before = registry_matcher_for(registry)
    answer = before.match_all(lung_met())
    index = {k: list(v) for k, v in before.index.items()}

    registry.drop_graph(study_graph_name(synthetic_nct(4)))

    assert registry_matcher_for(registry) is not before
    assert {k: list(v) for k, v in before.index.items()} == index
    assert before.match_all(lung_met())["profile_id"] == answer["profile_id"]


def test_a_study_that_declares_a_new_drug_changes_the_vocabulary(registry: GraphStore) -> None:
    before = registry_matcher_for(registry)
    version = vocabulary_version(registry)
    g = registry.graph(study_graph_name(synthetic_nct(5)))
    drug = "https://w3id.org/acse-kg/id/drug/test-drug-x"
    nt = (g.serialize(format="nt") + f'<{drug}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{ACSE.Drug}> .\n'
          f'<{drug}> <http://www.w3.org/2000/01/rdf-schema#label> "test drug x"@en .\n')

    registry.replace_graph(study_graph_name(synthetic_nct(5)), nt, "ntriples")

    assert vocabulary_version(registry) != version
    after = registry_matcher_for(registry)
    assert after.vocab is not before.vocab and after.vocab is vocabulary_for(registry)


def test_a_new_study_declaring_a_drug_others_declare_alike_keeps_the_vocabulary(registry: GraphStore) -> None:
    """Copies of one protocol declare its drugs alike: the registry's terms are the same after the write."""
    write_copy(registry, 2, 7)
    version = vocabulary_version(registry)
    g = registry.graph(study_graph_name(synthetic_nct(2)))
    nt = g.serialize(format="nt").replace(synthetic_nct(2), synthetic_nct(40))

    registry.replace_graph(study_graph_name(synthetic_nct(40)), nt, "ntriples")

    assert vocabulary_version(registry) == version


def test_a_write_to_a_vocabulary_graph_rebuilds_the_matcher_whole(registry: GraphStore) -> None:
    before = registry_matcher_for(registry)
    registry.update('INSERT DATA { GRAPH <https://w3id.org/acse-kg/id/graph/ontology> '
                    '{ <https://w3id.org/acse-kg/id/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" } }')
    after = registry_matcher_for(registry)
    assert after.vocab is not before.vocab and after._compiled == {}


def profile_of(gene: str, kind: str, dx: str = "LUAD", n: int = 3) -> dict[str, Any]:
    return build({path: pool[0] for path, pool in POOLS.items()} | {"age_years": 54, "diagnosis": dx},
                 [{"gene": gene, "type": kind}], n)


def test_an_old_matcher_reading_a_gene_after_a_write_leaves_the_new_one_as_it_was() -> None:
    """The matcher made after a write shares its lists with the old one, which requests may still be
    using: a gene the old one reads then must not appear, half, in the new one."""
    store = open_store("memory")
    write_copy(store, 1, 1)
    old = RegistryMatcher(store)
    old.match_all(profile_of("ALK", "translocation"))
    new = old.updated(frozenset({study_graph_name(synthetic_nct(1))}))

    old.match_all(profile_of("MET", "amplification"))  # a request still on the old matcher
    newer = new.updated(frozenset({study_graph_name("NCT02034981")}))

    whole = RegistryMatcher(store, lazy=False)
    for p in (profile_of("MET", "amplification"), profile_of("ALK", "translocation")):
        assert newer.match_all(p) == whole.match_all(p)


def test_a_plan_compiled_by_a_matcher_of_an_older_vocabulary_is_not_kept() -> None:
    store = open_store("memory")
    before = registry_matcher_for(store)
    store.update('INSERT DATA { GRAPH <https://w3id.org/acse-kg/id/graph/ontology> '
                 '{ <https://w3id.org/acse-kg/id/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" } }')
    stale = before.study("NCT02034981")  # a request still on the old matcher, after the write
    assert stale is not None and stale.vocab is before.vocab

    after = registry_matcher_for(store)
    plan = after.study("NCT02034981")
    assert after.vocab is not before.vocab and plan is not None and plan.vocab is after.vocab
