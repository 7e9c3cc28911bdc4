"""Which cohorts compete for the same patients: subsumption, overlap and disjointness of their OWL classes.

Why the reasoner: two cohorts of different trials compete for a patient when
the intersection of their ``#population`` classes (:mod:`.classes`) is
satisfiable — a question about diagnoses (OncoTree subtrees, excluded types),
alterations, age bands and thresholds together, which HermiT decides exactly.
Per pair: ``disjoint`` when the intersection is unsatisfiable; else
``subsumes`` (every patient ``b`` accepts, ``a`` accepts too; equivalent
classes are reported as ``subsumes`` and said to be equivalent), ``subsumed_by``,
or ``overlaps``.

Why the population and not ``#eligible``: the screening criteria (labs, cardiac
and infectious history, performance status) are about the patient's state at
inclusion, not about whom a cohort is for; with them nearly every pair of
trials still overlaps (any patient with good labs meets both), and deciding
the complement of thirty thresholds costs HermiT about a second a pair.

What is not sent to the reasoner: a pair of cohorts whose named pathologies
lie in disjoint OncoTree branches (neither is an ancestor of the other) and
neither of which is a rule cohort is disjoint by the sibling-disjointness
axioms alone (one diagnosis per patient); the check reads the same hierarchy
HermiT is given, and ``tests/test_owl_overlaps.py`` checks it against the
reasoner on every pair of the record. This is what keeps a registry of many
trials from costing a reasoner call per pair of cohorts.

The result is written back into its own named graph (:data:`OVERLAPS_GRAPH`),
replaced as a whole on each write, so SPARQL can ask which open cohorts
compete for the same patients (``pt:overlapsCohort``, ``pt:subsumesCohort``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL

from ..model import AlterationTest, Cohort, Comparison, Not, Study, TumourTypeTest, walk
from ..reasoning import ReasonerError
from ..store import GRAPH_PREFIX, GraphStore
from . import classes as K
from .classify import OwlEngine
from .reasoner import Hermit

OVERLAPS_GRAPH = GRAPH_PREFIX + "inferred/cohort-overlaps"
PTN = Namespace(K.PT)
RELATIONS = ("subsumes", "subsumed_by", "overlaps", "disjoint")


@dataclass(frozen=True)
class Overlap:
    """One pair of cohorts and how their classes of patients relate."""

    a: str
    b: str
    relation: str
    shared: str
    a_label: str = ""
    b_label: str = ""
    by_reasoner: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "relation": self.relation, "shared": self.shared}


@dataclass
class OverlapReport:
    pairs: list[Overlap]
    cohorts: int
    reasoner_pairs: int
    seconds: float


def compute_overlaps(store: GraphStore, ncts: Sequence[str] | None = None, *,
                     budget: float | None = None, use_tree: bool = True) -> OverlapReport:
    """Every pair of cohorts of the studies (default: every structured study), decided by HermiT.

    ``use_tree=False`` sends every pair to the reasoner (the check of the OncoTree shortcut).
    """
    started = time.perf_counter()
    engine = OwlEngine(store, ncts)
    cohorts = [(s, c) for s in engine.studies for c in s.cohorts]
    tree = engine.oncotree
    pairs: list[Overlap] = []
    try:
        with Hermit(engine.ontology(populations_only=True), deadline=budget) as h:
            h.abox(None)
            asked = _decide(h, cohorts, tree, pairs, use_tree)
    except ReasonerError as exc:
        total = len(cohorts) * (len(cohorts) - 1) // 2
        raise type(exc)(f"{exc}: {len(pairs)} of {total} pairs of {len(cohorts)} cohorts decided") from exc
    return OverlapReport(pairs, len(cohorts), asked, time.perf_counter() - started)


def _decide(h: Hermit, cohorts: list[tuple[Study, Cohort]], tree: Any, pairs: list[Overlap], use_tree: bool) -> int:
    """Append every pair's relation to ``pairs``; the number of pairs sent to the reasoner."""
    asked = 0
    for i, (sa, a) in enumerate(cohorts):
        for sb, b in cohorts[i + 1:]:
            if use_tree and _apart_by_diagnosis(a, b, tree.ancestors):
                pairs.append(Overlap(a.iri, b.iri, "disjoint", "", a.label, b.label, by_reasoner=False))
                continue
            asked += 1
            shared = describe(a, b, tree.ancestors)
            ea, eb = K.cohort_population(a), K.cohort_population(b)
            if not h.sat(ea, eb):
                relation, shared = "disjoint", ""
            else:
                a_in_b, b_in_a = h.sub(ea, eb), h.sub(eb, ea)
                relation = "subsumes" if b_in_a else "subsumed_by" if a_in_b else "overlaps"
                if a_in_b and b_in_a:
                    shared = f"equivalent classes; {shared}"
            pairs.append(Overlap(a.iri, b.iri, relation, shared, a.label, b.label))
    return asked


def _apart_by_diagnosis(a: Cohort, b: Cohort, ancestors: Any) -> bool:
    """Named pathologies in disjoint OncoTree branches (no rule cohort): disjoint by the tree alone."""
    if a.rule is not None or b.rule is not None or not a.pathologies or not b.pathologies:
        return False
    for p in a.pathologies:
        for q in b.pathologies:
            if p.iri in ancestors(q.iri) or q.iri in ancestors(p.iri):
                return False
    return True


# ------------------------------------------------------------------ the shared population, in words
def _diagnoses(c: Cohort) -> tuple[list[tuple[str, str]], list[str]]:
    """(IRI, name) of the diagnoses a cohort takes, and the names of those its rule excludes."""
    if c.rule is None:
        return [(p.iri, p.name) for p in c.pathologies], []
    taken, excluded = [], []
    for e in walk(c.rule):
        if isinstance(e, Not) and isinstance(e.operand, TumourTypeTest):
            excluded.append(e.operand.tumour_type.name)
    negated = {id(e.operand) for e in walk(c.rule) if isinstance(e, Not)}
    for e in walk(c.rule):
        if isinstance(e, TumourTypeTest) and id(e) not in negated:
            taken.append((e.tumour_type.iri, e.tumour_type.name))
    return taken, excluded


def _alterations(c: Cohort) -> set[tuple[str, str]]:
    """(gene, type) names a cohort takes; type '' for any type."""
    if c.rule is None:
        return {(g.name, t.name) for g in c.genes for t in c.accepts}
    negated = {id(e.operand) for e in walk(c.rule) if isinstance(e, Not)}
    return {(e.gene.name, e.alteration_type.name if e.alteration_type else "")
            for e in walk(c.rule) if isinstance(e, AlterationTest) and e.gene and not e.wildtype and id(e) not in negated}


def _age(c: Cohort) -> tuple[float | None, float | None]:
    lo = c.population.min_age if c.population else None
    hi = c.population.max_age if c.population else None
    if c.rule is not None:
        for e in walk(c.rule):
            if isinstance(e, Comparison) and e.variable.field == "age_years" and isinstance(e.threshold, (int, float)):
                if e.comparator in ("ge", "gt"):
                    lo = max(lo or 0.0, float(e.threshold))
                elif e.comparator in ("le", "lt"):
                    hi = min(hi if hi is not None else float("inf"), float(e.threshold))
    return lo, hi


def describe(a: Cohort, b: Cohort, ancestors: Any) -> str:
    """The population two cohorts share, in words: diagnosis, alteration, age."""
    (da, xa), (db, xb) = _diagnoses(a), _diagnoses(b)
    if da and db:
        common = sorted({n for i, n in da if any(j in ancestors(i) for j, _ in db)} |
                        {n for i, n in db if any(j in ancestors(i) for j, _ in da)})
        # keep the most specific: a name whose class is under another's is what both take
        dx = ", ".join(common) or "no common diagnosis"
    else:
        dx = ", ".join(n for _, n in (da or db)) or "any diagnosis"
    excluded = sorted(set(xa) | set(xb))
    if excluded:
        dx += " (not " + ", ".join(excluded) + ")"
    aa, ab = _alterations(a), _alterations(b)
    both = sorted({(g, t or u) for g, t in aa for h, u in ab if g == h and (not t or not u or t == u)})
    alt = ", ".join(f"{g} {t}".strip() for g, t in both) or "an alteration of each cohort's genes"
    (la, ha), (lb, hb) = _age(a), _age(b)
    lo = max((x for x in (la, lb) if x is not None), default=None)
    hi = min((x for x in (ha, hb) if x is not None), default=None)
    age = ("any age" if lo is None and hi is None else f"{lo:g} years and over" if hi is None
           else f"under {hi:g} years" if lo is None else f"{lo:g} to under {hi:g} years")
    return f"diagnosis: {dx}; alteration: {alt}; age: {age}"


# ------------------------------------------------------------------ written back
def overlaps_graph(report: OverlapReport, studies: Sequence[Study] = ()) -> Graph:
    """The inferred relations as triples: direct properties for SPARQL, and one node per pair with its words."""
    g = Graph()
    g.bind("pt", PTN)
    for prop, label, comment in (
        ("subsumesCohort", "subsumes cohort", ("Every patient the object cohort targets, the subject targets too "
                                               "(inferred by HermiT from the cohorts' population classes).")),
        ("overlapsCohort", "overlaps cohort", ("Some patient could be in both cohorts: the intersection of their "
                                               "population classes is satisfiable (inferred by HermiT); symmetric.")),
    ):
        g.add((PTN[prop], RDF.type, OWL.ObjectProperty))
        g.add((PTN[prop], RDFS.label, Literal(label, lang="en")))
        g.add((PTN[prop], RDFS.comment, Literal(comment, lang="en")))
    for n, o in enumerate(report.pairs):
        if o.relation == "disjoint":
            continue
        a, b = URIRef(o.a), URIRef(o.b)
        g.add((a, PTN.overlapsCohort, b))
        g.add((b, PTN.overlapsCohort, a))
        if o.relation == "subsumes":
            g.add((a, PTN.subsumesCohort, b))
            if o.shared.startswith("equivalent"):
                g.add((b, PTN.subsumesCohort, a))
        elif o.relation == "subsumed_by":
            g.add((b, PTN.subsumesCohort, a))
        node = URIRef(f"{OVERLAPS_GRAPH}/pair/{n}")
        g.add((node, RDF.type, PTN.CohortOverlap))
        g.add((node, PTN.cohortA, a))
        g.add((node, PTN.cohortB, b))
        g.add((node, PTN.relation, Literal(o.relation)))
        g.add((node, PTN.sharedPopulation, Literal(o.shared, lang="en")))
    return g


def write_overlaps(store: GraphStore, report: OverlapReport) -> int:
    """Replace the overlaps graph with this report's relations; the number of triples written."""
    g = overlaps_graph(report)
    store.replace_graph(OVERLAPS_GRAPH, g.serialize(format="nt"), "ntriples")
    return len(g)
