"""Record history: every import or edit of a study keeps the version before it.

Layout. Version ``n`` of study ``NCT…`` is the entity
``<HISTORY_PREFIX>NCT…/v<n>``. The current version lives in the study's live
graph; each earlier one is a named graph of that same IRI holding the study's
triples as they were (graphs under ``HISTORY_PREFIX`` are outside the default
graph, so queries and pages never see old versions by accident: the embedded
store keeps them in a dataset of its own, read through
:func:`acse_kg.store.history_of`). Who made each
version and when is PROV-O in the graph ``<HISTORY_PREFIX>log``. Versions are
written in one place, :mod:`acse_kg.versions`; this module reads them.

A diff is field by field: both versions are exported to ClinicalTrials.gov API
v2 JSON (the registry's public shape of a record) and compared path by path.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rdflib
from rdflib import URIRef
from rdflib.term import Node

from .errors import AcseError
from .loader import study_graph_name
from .namespaces import PREFIXES, compact_iri, study_iri
from .store import GraphStore, has_graph, term_value
from .versions import LOG_GRAPH, has_live, logged_versions, same_quads, save_study, stored_quads, version_iri

__all__ = ["LOG_GRAPH", "HistoryError", "Version", "diff_versions", "edit_study", "graph_changes",
           "list_versions", "replace_study", "same_quads", "stored_quads", "version_graph", "version_iri"]


class HistoryError(AcseError, LookupError):
    """No such study or version; the message says which."""


@dataclass(frozen=True)
class Version:
    number: int
    iri: str
    graph: str  # where its triples are: an archive graph, or the live graph for the current one
    agent: str | None
    time: str | None
    note: str | None
    current: bool

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.number, "iri": self.iri, "graph": self.graph, "agent": self.agent,
                "time": self.time, "note": self.note, "current": self.current}


def list_versions(store: GraphStore, nct: str) -> list[Version]:
    """Every version of the study, oldest first; the last is the current one.

    A study loaded from the bundle without any logged import is version 0.
    """
    live = has_live(store, nct)
    rows = logged_versions(store, nct)
    if not rows and not live:
        raise HistoryError(f"no study {nct} in the store")
    info = {int(term_value(r["n"])): r for r in rows}
    current = max(info, default=0)
    numbers = set(info)
    if (live and not info) or has_graph(store, version_iri(nct, 0)):
        numbers.add(0)  # the version loaded from the bundle, before any logged import
    out = []
    for n in sorted(numbers):
        r = info.get(n, {})
        is_current = n == current and live
        out.append(Version(
            n, version_iri(nct, n),
            study_graph_name(nct) if is_current else version_iri(nct, n),
            str(r["agent"]) if r.get("agent") is not None else (None if n else "bundle"),
            str(r["time"]) if r.get("time") is not None else None,
            str(r["note"]) if r.get("note") is not None else (None if n else "as loaded from the bundle"),
            is_current,
        ))
    return out


def replace_study(store: GraphStore, nct: str, data: bytes | str, rdf_format: str = "ntriples", *,
                  agent: str, note: str | None = None, when: datetime | None = None) -> str | None:
    """Replace the live graph of ``nct`` with ``data``, keeping the version before it, all or nothing
    (:func:`acse_kg.versions.save_study`, even when the content is unchanged); returns the archive
    graph of the previous version (None for a new study)."""
    return save_study(store, nct, data, rdf_format, agent=agent, note=note, when=when, if_changed=False).archived


def version_graph(store: GraphStore, nct: str, n: int,
                  versions: list[Version] | None = None) -> rdflib.Graph:
    """The triples of version ``n`` (``versions``: the study's :func:`list_versions`, when already read)."""
    by_number = {v.number: v for v in (versions if versions is not None else list_versions(store, nct))}
    if n not in by_number:
        raise HistoryError(f"{nct} has no version {n} (versions: {', '.join(map(str, by_number))})")
    return store.graph(by_number[n].graph)


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """{"a": {"b": [1]}} -> {"a.b[0]": 1}: one entry per field, for a field-by-field diff."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else k))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}


def diff_versions(store: GraphStore, nct: str, a: int, b: int) -> list[dict[str, Any]]:
    """Fields that differ between versions ``a`` and ``b``: [{field, from, to}].

    First the fields of the ClinicalTrials.gov API v2 record, by JSON path;
    then what that JSON cannot show (a curated record's cohorts, criteria and
    their expressions, regimens ...), by the graph path that holds it (see
    :func:`graph_changes`), so that an edit of, say, a threshold is named too.
    """
    from .ctgov.export import _codes, export_from_graph

    codes = _codes(store)
    versions = list_versions(store, nct)
    ga, gb = version_graph(store, nct, a, versions), version_graph(store, nct, b, versions)
    read: set[tuple[Node, Node]] = set()
    left = flatten(export_from_graph(ga, codes, nct, read=read))
    right = flatten(export_from_graph(gb, codes, nct, read=read))
    fields = [
        {"field": k, "from": left.get(k), "to": right.get(k)}
        for k in sorted(set(left) | set(right))
        if left.get(k) != right.get(k)
    ]
    return fields + graph_changes(ga, gb, study_iri(nct), shown=read)


def _short(term: Node, base: str) -> str:
    text = str(term)
    if isinstance(term, rdflib.BNode):
        return "[]"
    if text.startswith(base + "/"):
        return text[len(base) + 1:]
    return compact_iri(text) or text


def _anchored(g: rdflib.Graph) -> dict[tuple[Node, str], set[str]]:
    """Every triple keyed by (nearest IRI subject, property path from it), values as short text.

    Blank-node expressions (a comparison inside a criterion ...) are keyed by
    the path from the criterion that holds them, e.g. ``acse:requires/acse:threshold``.
    """
    parents: dict[Node, tuple[Node, Node]] = {}
    for s, p, o in g:
        if isinstance(o, rdflib.BNode):
            parents.setdefault(o, (s, p))
    out: dict[tuple[Node, str], set[str]] = {}
    for s, p, o in g:
        path, node, seen = [p], s, set()
        while isinstance(node, rdflib.BNode) and node in parents and node not in seen:
            seen.add(node)
            node, up = parents[node]
            path.insert(0, up)
        out.setdefault((node, "/".join(_short(x, "") for x in path)), set()).add(
            _short(o, "") if not isinstance(o, rdflib.Literal) else str(o))
    return out


def graph_changes(ga: rdflib.Graph, gb: rdflib.Graph, study: str,
                  shown: AbstractSet[tuple[Node, Node]] = frozenset()) -> list[dict[str, Any]]:
    """Changes between two versions' triples that the API v2 JSON does not carry.

    Keyed "<node> <property path>" (the node relative to the study IRI); a
    (subject, predicate) pair the JSON export reads (``shown``) is left to the
    JSON diff. Values are one item, or a sorted list when there are several.
    """
    from rdflib.compare import graph_diff, to_isomorphic

    _, only_a, only_b = graph_diff(to_isomorphic(ga), to_isomorphic(gb))
    changed_a, changed_b = _anchored(only_a), _anchored(only_b)
    shown_nodes = {s for s, _ in shown}
    full_a, full_b = _anchored(ga), _anchored(gb)
    out = []
    for node, path in sorted(set(changed_a) | set(changed_b), key=lambda k: (str(k[0]), k[1])):
        if (node, URIRef(_expand(path.split("/", 1)[0]))) in shown:
            continue  # the export reads this property (and what hangs from it): the JSON diff has it
        if path in ("rdf:type", "rdfs:label") and node in shown_nodes:
            continue  # the type or display label of a node the JSON shows (a renamed facility, the study's label)
        before, after = sorted(full_a.get((node, path), set())), sorted(full_b.get((node, path), set()))
        if before == after:
            continue
        out.append({"field": f"{_short(node, study)} {path}",
                    "from": None if not before else before[0] if len(before) == 1 else before,
                    "to": None if not after else after[0] if len(after) == 1 else after})
    return out


def _expand(step: str) -> str:
    """The full IRI of a property written with a registry prefix (``acse:acronym``)."""
    prefix, _, local = step.partition(":")
    return PREFIXES[prefix] + local if prefix in PREFIXES else step


def edit_study(store: GraphStore, nct: str, data: bytes | str, rdf_format: str = "turtle", *,
               agent: str, note: str | None = None) -> str | None:
    """Replace a study's live graph with an edited version, keeping the one before it.

    The new content is parsed before anything is archived or replaced (a bad
    file changes nothing), and the whole change is one transaction (see
    :func:`acse_kg.versions.save_study`, which every writer of a study graph
    goes through); returns the archive graph of the previous version.
    """
    return replace_study(store, nct, data, rdf_format, agent=agent, note=note or "edit")
