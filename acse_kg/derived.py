"""Values derived from a store (dumps, documentation, a page's record check), kept until it changes.

The graph is the single source of truth, so whatever is computed from it must
be recomputed after a write; computing it on every request would make a dump
or a page cost seconds. The embedded store counts its own writes
(``generation``), which tells every change, even one that keeps the size. A
remote endpoint keeps a token that every write through the store interface
replaces in the same request (any process: the CLI beside a server too), read
with one small query instead of counting the engine's quads on every request;
an engine no acse-kg client has written yet is compared by size and graph
names. Writes that other programs make straight to the engine are not seen
by the token.

Per study. A value derived from one study's record (its model, its compiled
matcher, its page data, its check) is given that study's graph: it is kept
while neither that graph nor any graph that is not a study's own (the
ontology, the vocabularies) has been written, so a write to study A leaves
study B's values in place (:meth:`~acse_kg.store.OxigraphStore.graph_version`).
A store that cannot tell its graphs' writes apart (a remote endpoint) keeps
them per store version, as every other value.

The vocabulary. A study's graph may declare things other studies use (a drug,
an organisation, a clinical variable: statements about IRIs outside the
study's own, typed in its graph). Values read from the registry's shared
terms (the matching vocabulary, the generated profile) are kept per
*vocabulary version* (:func:`vocabulary_version`), which changes when a graph
no study owns is written or when a write changes what the studies together
declare outside themselves — not when a study's cohorts change. A study's values follow the same version, so
a study never keeps a plan compiled against a vocabulary that is gone.

Kept in step. A value over the whole registry that can be updated from the
studies a write touched (the matcher's cohort index) is an :class:`InStep`
value: made whole once, then updated with the graphs each write touched
(:meth:`~acse_kg.store.OxigraphStore.changes_since`), made whole again only
after a write that may have touched anything.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from .store import GraphStore


def store_version(store: GraphStore) -> Hashable:
    """What changes whenever the store's content does (as far as the store can tell)."""
    generation = getattr(store, "generation", None)
    if generation is not None:
        return ("generation", generation)
    return ("size", len(store), tuple(store.named_graphs()))


def graph_version(store: GraphStore, graph: str) -> Hashable:
    """What changes whenever a value derived from ``graph`` may have (see the module docstring):
    that graph's writes and the vocabulary's version."""
    per_graph = getattr(store, "graph_version", None)
    if per_graph is not None:
        return per_graph(graph)
    return store_version(store)


T = TypeVar("T")


class InStep(Generic[T]):
    """A value per store kept in step with it: made whole the first time, then updated with the
    graphs each write touched; made whole again after a write that may have touched anything, and on
    a store that cannot say what a write touched (a remote endpoint: per store version).

    ``update(old, graphs)`` returns the new value (it may return ``old`` itself when nothing it holds
    changed); it must not change ``old`` in place, which readers may still hold. The update runs
    under a lock of its own, so two requests after a write do not both make it.
    """

    def __init__(self, make: Callable[[GraphStore], T], update: Callable[[GraphStore, T, frozenset[str]], T]) -> None:
        self._make, self._update = make, update
        self._lock = threading.Lock()
        self._values: weakref.WeakKeyDictionary[Any, tuple[Hashable, T]] = weakref.WeakKeyDictionary()

    def get(self, store: GraphStore) -> T:
        changes_since = getattr(store, "changes_since", None)
        hit = self._values.get(store)
        if changes_since is None:
            version: Hashable = store_version(store)
            if hit is not None and hit[0] == version:
                return hit[1]
            with self._lock:
                hit = self._values.get(store)
                if hit is None or hit[0] != version:
                    hit = (version, self._make(store))
                    self._values[store] = hit
                return hit[1]
        if hit is not None and hit[0] == store.generation:  # type: ignore[attr-defined]
            return hit[1]
        with self._lock:
            hit = self._values.get(store)
            # The generation is read before the store is: a write meanwhile is seen (again) next time.
            generation = store.generation  # type: ignore[attr-defined]
            if hit is not None and hit[0] == generation:
                return hit[1]
            changed = None if hit is None else changes_since(hit[0])
            value = self._make(store) if hit is None or changed is None else self._update(store, hit[1], changed)
            self._values[store] = (generation, value)
            return value


def vocabulary_version(store: GraphStore) -> Hashable:
    """What changes whenever the registry's shared terms may have: a write to a graph no study owns,
    or to what the studies declare of things outside themselves
    (:meth:`~acse_kg.store.OxigraphStore.vocabulary_version`). A store that cannot say what a write
    touched: its store version."""
    own = getattr(store, "vocabulary_version", None)
    return own() if own is not None else store_version(store)


class DerivedCache:
    """One value per (store, key), recomputed after the store changes.

    Stores are held weakly: a closed store's values go with it, and a new store
    never meets an old one's values (ids are reused, write counters restart).
    """

    def __init__(self, kept: Callable[[GraphStore], int] | None = None) -> None:
        """``kept``: how many values a store keeps, the most recently used (None: every key's).

        >>> c = DerivedCache(kept=lambda store: 2); s = __import__("acse_kg.store").store.open_store("memory")
        >>> for key in "abc": _ = c.get(s, key, lambda: key.upper())
        >>> c.keys(s)
        ['b', 'c']
        >>> _ = c.get(s, "b", lambda: "made again"); c.keys(s)  # a hit makes it the most recently used
        ['c', 'b']
        """
        self._lock = threading.Lock()
        self._kept = kept
        self._values: weakref.WeakKeyDictionary[Any, dict[str, tuple[Hashable, Any]]] = weakref.WeakKeyDictionary()

    def get(self, store: GraphStore, key: str, make: Callable[[], Any], *, graph: str | None = None,
            vocabulary: bool = False) -> Any:
        """The value of ``key``, made again when the store changed since; with ``graph`` (a study's
        graph), only when that graph or the vocabulary did; with ``vocabulary`` (a value read from
        the registry's shared terms), only when the vocabulary did."""
        version = (graph_version(store, graph) if graph is not None
                   else vocabulary_version(store) if vocabulary else store_version(store))
        with self._lock:
            values = self._values.get(store, {})
            hit = values.get(key)
            if hit is not None and hit[0] == version:
                if self._kept is not None:
                    values[key] = values.pop(key)  # the most recently used last
                return hit[1]
        value = make()
        with self._lock:
            values = self._values.setdefault(store, {})
            values.pop(key, None)
            values[key] = (version, value)
            if self._kept is not None:
                for old in list(values)[:max(0, len(values) - self._kept(store))]:
                    del values[old]
        return value

    def drop(self, store: GraphStore, key: str) -> None:
        """Forget ``key``'s value (made again when next asked): what a holder that evicted it asks."""
        with self._lock:
            self._values.get(store, {}).pop(key, None)

    def clear(self, store: GraphStore) -> None:
        """Forget every value of ``store`` (what a holder that knows them all stale asks)."""
        with self._lock:
            self._values.pop(store, None)

    def keys(self, store: GraphStore) -> list[str]:
        """The keys a store's values are kept under, the least recently used first (for tests and checks)."""
        with self._lock:
            return list(self._values.get(store, {}))
