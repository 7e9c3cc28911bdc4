"""The cohorts of other trials that compete for a study's patients, read from the inferred overlaps graph.

Why read, not computed: deciding overlaps takes HermiT seconds to minutes
(``acse-kg overlaps`` writes them into their own named graph, see
:mod:`acse_kg.owl.overlaps`); a page only reads what was inferred. Nothing is
listed when the graph was never computed, or holds no pair across trials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..namespaces import BASE
from ..owl.overlaps import OVERLAPS_GRAPH, PTN
from ..store import GraphStore

_COHORT = re.compile(r"^" + re.escape(BASE) + r"id/study/(NCT\d{8})/cohort/(\d+)$")
#: How the other cohort's population stands to this one's, in words (this cohort is the subject).
_WORDS = {"overlaps": "overlaps", "subsumes": "includes all of", "subsumed_by": "lies within",
          "equivalent": "takes the same patients as"}


@dataclass(frozen=True)
class Competitor:
    """A cohort of another trial whose population meets this cohort's."""

    iri: str
    nct: str
    number: int
    label: str
    relation: str  # overlaps | subsumes | subsumed_by | equivalent, read from this cohort's side
    shared: str

    @property
    def words(self) -> str:
        return _WORDS[self.relation]


def competing_cohorts(store: GraphStore, nct: str) -> dict[str, list[Competitor]]:
    """For each cohort of ``nct`` (by IRI) that has any, the cohorts of other trials it overlaps, by NCT and number."""
    if not store.ask(f"ASK {{ GRAPH <{OVERLAPS_GRAPH}> {{ ?s ?p ?o }} }}"):
        return {}
    mine = f"{BASE}id/study/{nct}/cohort/"
    rows = store.select(f"""
        SELECT ?a ?b ?relation ?shared WHERE {{
          GRAPH <{OVERLAPS_GRAPH}> {{
            ?n a <{PTN.CohortOverlap}> ; <{PTN.cohortA}> ?a ; <{PTN.cohortB}> ?b ;
               <{PTN.relation}> ?relation ; <{PTN.sharedPopulation}> ?shared .
          }}
          FILTER((STRSTARTS(STR(?a), "{mine}") || STRSTARTS(STR(?b), "{mine}")) && ?relation != "disjoint")
        }}""")
    found: dict[str, list[tuple[str, str, str]]] = {}
    for r in rows:
        a, b, relation, shared = str(r["a"]), str(r["b"]), str(r["relation"]), str(r["shared"])
        if relation in ("subsumes", "subsumed_by") and shared.startswith("equivalent classes; "):
            relation, shared = "equivalent", shared.removeprefix("equivalent classes; ")
        for me, other, rel in ((a, b, relation), (b, a, _flip(relation))):
            m = _COHORT.match(other)
            if me.startswith(mine) and m is not None and m.group(1) != nct:
                found.setdefault(me, []).append((other, rel, shared))
    if not found:
        return {}
    labels = _labels(store, {o for items in found.values() for o, _, _ in items})
    out: dict[str, list[Competitor]] = {}
    for me, items in found.items():
        listed = []
        for other, rel, shared in items:
            m = _COHORT.match(other)
            assert m is not None
            n = int(m.group(2))
            listed.append(Competitor(other, m.group(1), n, labels.get(other, f"cohort {n}"), rel, shared))
        out[me] = sorted(listed, key=lambda c: (c.nct, c.number))
    return out


def _flip(relation: str) -> str:
    return {"subsumes": "subsumed_by", "subsumed_by": "subsumes"}.get(relation, relation)


def _labels(store: GraphStore, iris: set[str]) -> dict[str, str]:
    values = " ".join(f"<{i}>" for i in sorted(iris))
    rows = store.select(f"SELECT ?c ?l WHERE {{ VALUES ?c {{ {values} }} GRAPH ?g {{ ?c <http://www.w3.org/2000/01/rdf-schema#label> ?l }} }}")
    return {str(r["c"]): str(r["l"]) for r in rows}
