"""Values derived from the graph follow it: recomputed after any write, even one that keeps the size."""

from __future__ import annotations

from acse_kg.derived import DerivedCache
from acse_kg.store import GraphStore, open_store

EDIT = """DELETE {{ GRAPH ?g {{ ?c acse:cohortNumber 23 }} }} INSERT {{ GRAPH ?g {{ ?c acse:cohortNumber {n} }} }}
          WHERE {{ GRAPH ?g {{ ?c acse:cohortNumber 23 }} }}"""


def _largest_cohort(store: GraphStore) -> int:
    return int(store.select("SELECT (MAX(?n) AS ?m) WHERE { ?c acse:cohortNumber ?n }").values("m")[0])


def test_a_value_is_computed_once_while_the_store_does_not_change(store: GraphStore) -> None:
    cache, calls = DerivedCache(), []
    for _ in range(3):
        cache.get(store, "k", lambda: calls.append(1) or len(calls))
    assert calls == [1]


def test_a_same_size_edit_makes_the_value_recomputed(fresh_store: GraphStore) -> None:
    cache = DerivedCache()
    size = len(fresh_store)
    assert cache.get(fresh_store, "max", lambda: _largest_cohort(fresh_store)) == 23
    fresh_store.update(EDIT.format(n=99))
    assert len(fresh_store) == size
    assert cache.get(fresh_store, "max", lambda: _largest_cohort(fresh_store)) == 99


def test_two_stores_never_share_a_value() -> None:
    cache = DerivedCache()
    a, b = open_store("memory"), open_store("memory")
    b.update(EDIT.format(n=42))
    assert cache.get(a, "max", lambda: _largest_cohort(a)) == 23
    assert cache.get(b, "max", lambda: _largest_cohort(b)) == 42
