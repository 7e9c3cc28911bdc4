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
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from .store import GraphStore


def store_version(store: GraphStore) -> Hashable:
    """What changes whenever the store's content does (as far as the store can tell)."""
    generation = getattr(store, "generation", None)
    if generation is not None:
        return ("generation", generation)
    return ("size", len(store), tuple(store.named_graphs()))


def graph_version(store: GraphStore, graph: str) -> Hashable:
    """What changes whenever a value derived from ``graph`` may have (see the module docstring)."""
    per_graph = getattr(store, "graph_version", None)
    if per_graph is not None:
        return per_graph(graph)
    return store_version(store)


class DerivedCache:
    """One value per (store, key), recomputed after the store changes.

    Stores are held weakly: a closed store's values go with it, and a new store
    never meets an old one's values (ids are reused, write counters restart).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: weakref.WeakKeyDictionary[Any, dict[str, tuple[Hashable, Any]]] = weakref.WeakKeyDictionary()

    def get(self, store: GraphStore, key: str, make: Callable[[], Any], *, graph: str | None = None) -> Any:
        """The value of ``key``, made again when the store changed since; with ``graph`` (a study's
        graph), only when that graph or a graph no study owns did."""
        version = store_version(store) if graph is None else graph_version(store, graph)
        with self._lock:
            hit = self._values.get(store, {}).get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
        value = make()
        with self._lock:
            self._values.setdefault(store, {})[key] = (version, value)
        return value
