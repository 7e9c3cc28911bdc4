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

What is not sent to the reasoner (``OverlapPlan``), each shortcut resting on axioms
HermiT is given, never on genes (a patient may carry several alterations, so
cohorts requiring different genes overlap on patients with both):

- a pair whose diagnoses are declared disjoint through OncoTree (sibling
  disjointness; ``hasDiagnosis`` is functional), or whose one diagnoses are
  leaves the other excludes exactly: disjoint;
- a pair whose age bands do not meet: disjoint;
- cohorts whose population classes are written identically (copies) form one
  group: one set of questions answers every pair of two groups, and the
  shared population's words are computed once per pair of distinct cohorts' readings.

The pairs pruned are never visited one by one (blocking by diagnosis), only
counted; :class:`OverlapReport` lists them on demand. The pairs left are asked
block by block (``BLOCK`` cohorts; the pairs between two blocks): a reasoner over
the vocabulary, OncoTree and only the population classes those pairs name.
Why: every definition a reasoner holds costs every question (a pair took ≈ 1–5
ms over one trial's classes, ≈ 30 ms over a hundred trials'), while building a
reasoner over a block's classes costs about a second; sending the two classes'
expressions with each question instead was slower still (HermiT clausifies
them for every question). ``prune=False`` is the reference (every pair, every
definition in one TBox); a test compares the two.

The result is written back into its own named graph (:data:`OVERLAPS_GRAPH`),
replaced as a whole on each write, so SPARQL can ask which open cohorts
compete for the same patients (``pt:overlapsCohort``, ``pt:subsumesCohort``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL

from ..model import AlterationTest, Cohort, Comparison, Not, Study, TumourTypeTest, walk
from ..reasoning import ReasonerError
from ..store import GRAPH_PREFIX, GraphStore
from . import classes as K
from .classify import OwlEngine, _defines_population
from .reasoner import Hermit

OVERLAPS_GRAPH = GRAPH_PREFIX + "inferred/cohort-overlaps"
PTN = Namespace(K.PT)
RELATIONS = ("subsumes", "subsumed_by", "overlaps", "disjoint")
#: Cohorts per block: the pairs between two blocks are asked of one reasoner holding only their classes.
BLOCK = 250


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
    """Every pair of ``members`` (in order: a before b), of which only ``decided`` is held.

    A pair not in ``decided`` was found disjoint without the reasoner (see :func:`compute_overlaps`);
    at 1,000 trials that is nearly all of 264 million pairs, which are counted, not listed.
    """

    members: list[Cohort]
    decided: dict[tuple[int, int], Overlap]
    reasoner_pairs: int
    seconds: float
    groups: int = 0

    @property
    def cohorts(self) -> int:
        return len(self.members)

    @property
    def total(self) -> int:
        return len(self.members) * (len(self.members) - 1) // 2

    def iter_pairs(self) -> Iterator[Overlap]:
        """Every pair in order, the pruned ones as ``disjoint`` (generated: never all held at once)."""
        m = self.members
        for i, a in enumerate(m):
            for j in range(i + 1, len(m)):
                got = self.decided.get((i, j))
                yield got if got is not None else Overlap(a.iri, m[j].iri, "disjoint", "", a.label, m[j].label,
                                                         by_reasoner=False)

    @property
    def pairs(self) -> list[Overlap]:
        return list(self.iter_pairs())

    def counts(self) -> dict[str, int]:
        """How many pairs have each relation, without listing the pairs."""
        out = dict.fromkeys(RELATIONS, 0)
        for o in self.decided.values():
            out[o.relation] += 1
        out["disjoint"] += self.total - len(self.decided)
        return out


def compute_overlaps(store: GraphStore, ncts: Sequence[str] | None = None, *,
                     budget: float | None = None, prune: bool = True, engine: OwlEngine | None = None,
                     block: int = BLOCK) -> OverlapReport:
    """Every pair of cohorts of the studies (default: every structured study), decided by HermiT.

    With ``prune`` (the default) only the pairs that may meet are sent, once per pair of
    distinct population classes, and HermiT's TBox holds the vocabulary and OncoTree only
    (the classes' expressions go with each question): see the module docstring.
    ``prune=False`` asks HermiT about every pair over a TBox holding every population class,
    which is the reference the pruned computation is tested against. ``engine``: the studies'
    classes already read (a bench that plans first), instead of reading them again.
    """
    started = time.perf_counter()
    engine = engine or OwlEngine(store, ncts)
    members = [c for s in engine.studies for c in s.cohorts]
    ancestors = engine.oncotree.ancestors
    decided: dict[tuple[int, int], Overlap] = {}
    asked = 0
    groups = 0
    try:
        if not prune:
            with Hermit(engine.ontology(populations_only=True), deadline=budget) as h:
                h.abox(None)
                for i, a in enumerate(members):
                    for j in range(i + 1, len(members)):
                        b = members[j]
                        ea, eb = K.cohort_population(a), K.cohort_population(b)
                        decided[i, j] = _relate(a, b, _ask(h, ea, eb), describe(a, b, ancestors))
                        asked += 1
        else:
            plan = OverlapPlan(engine, members)
            groups = len(plan.reps)
            with Hermit(engine.ontology(definitions=False), deadline=budget) as h:
                answers: dict[tuple[int, int], tuple[bool, bool, bool]] = {}
                words: dict[tuple[Any, Any], str] = {}
                for bucket in plan.buckets(block):
                    needed = sorted({k for i, j in bucket if (k := plan.key(i, j)) not in answers})
                    if needed:
                        # A reasoner over the vocabulary and only the classes these pairs name.
                        if not h.abox(K.document(plan.definitions({plan.reps[g] for k in needed for g in k}), iri=None)):
                            raise ReasonerError("HermiT found the cohorts' population classes inconsistent")
                        for k in needed:
                            answers[k] = _ask(h, *(K.cohort_population(members[plan.reps[g]]) for g in k))
                            asked += 1
                    for i, j in bucket:
                        a, b = members[i], members[j]
                        got = answers[plan.key(i, j)]
                        if plan.group[i] > plan.group[j]:  # the answers were asked the other way round
                            got = (got[0], got[2], got[1])
                        dk = (plan.words_key(i), plan.words_key(j))
                        shared = words.get(dk)
                        if shared is None:
                            shared = words[dk] = describe(a, b, ancestors)
                        decided[i, j] = _relate(a, b, got, shared)
    except ReasonerError as exc:
        total = len(members) * (len(members) - 1) // 2
        raise type(exc)(f"{exc}: {len(decided):,} pairs decided with HermiT, of {total:,} pairs of "
                        f"{len(members)} cohorts (the others pruned as disjoint or not reached)") from exc
    return OverlapReport(members, decided, asked, time.perf_counter() - started, groups)


def _ask(h: Hermit, ea: str, eb: str) -> tuple[bool, bool, bool]:
    """(satisfiable together, a within b, b within a) for two population classes."""
    if not h.sat(ea, eb):
        return False, False, False
    return True, h.sub(ea, eb), h.sub(eb, ea)


def _relate(a: Cohort, b: Cohort, answer: tuple[bool, bool, bool], shared: str) -> Overlap:
    sat, a_in_b, b_in_a = answer
    if not sat:
        return Overlap(a.iri, b.iri, "disjoint", "", a.label, b.label)
    relation = "subsumes" if b_in_a else "subsumed_by" if a_in_b else "overlaps"
    if a_in_b and b_in_a:
        shared = f"equivalent classes; {shared}"
    return Overlap(a.iri, b.iri, relation, shared, a.label, b.label)


class OverlapPlan:
    """Which pairs of cohorts may meet, and which cohorts share one population class.

    Pruned as disjoint without the reasoner, each by axioms HermiT is given:

    - diagnoses: every diagnosis a cohort takes (a non-rule cohort's population requires
      ``hasDiagnosis`` in one of its pathologies; the property is functional) is declared
      disjoint from every one the other takes, through an OncoTree ancestor pair of
      :func:`classes.disjoint_tumour_pairs` — or is a leaf the other excludes exactly;
    - age: the two bands (a conjunct of every population class; age is functional) do not meet.

    Never pruned on genes: a patient may carry several alterations, so cohorts that require
    different genes overlap on the patients with both. Cohorts whose population classes are
    written identically form one group: one reasoner call answers every pair of two groups.
    """

    def __init__(self, engine: OwlEngine, members: list[Cohort]) -> None:
        self.members = members
        exprs: dict[str, str] = {}
        for sc in engine.classes:
            for ax in sc.axioms:
                if ax.startswith("EquivalentClasses(<") and _defines_population(ax):
                    iri, body = ax[len("EquivalentClasses(<"):-1].split("> ", 1)
                    exprs[iri] = body
        self._exprs = exprs
        index: dict[str, int] = {}
        self.reps: list[int] = []
        self.group: list[int] = []
        for i, c in enumerate(members):
            g = index.setdefault(exprs[K.cohort_population(c)], len(self.reps))
            if g == len(self.reps):
                self.reps.append(i)
            self.group.append(g)
        parents = engine.oncotree.parents
        disjoint = K.disjoint_tumour_pairs(engine.sig.tumour_types, parents)
        kids: set[str] = {p for ps in parents.values() for p in ps}  # classes with a child
        self.dx: list[frozenset[str] | None] = [
            None if c.rule is not None or not c.pathologies else frozenset(p.iri for p in c.pathologies)
            for c in members]
        self.leaves_out: list[frozenset[str]] = [
            frozenset(e.iri for e in c.excluded_pathologies if e.iri not in kids) if c.rule is None else frozenset()
            for c in members]
        self.age = [_band(c) for c in members]
        up = engine.oncotree.ancestors
        named = sorted({p for d in self.dx if d for p in d})
        self.meets: dict[str, set[str]] = {p: set() for p in named}
        for x, p in enumerate(named):
            for q in named[x:]:
                if not any(frozenset((u, v)) in disjoint for u in up(p) for v in up(q)):
                    self.meets[p].add(q)
                    self.meets[q].add(p)
        self._words: dict[int, Any] = {}

    def key(self, i: int, j: int) -> tuple[int, int]:
        """The pair of groups of two cohorts, smaller first: what one set of questions answers."""
        ga, gb = self.group[i], self.group[j]
        return (ga, gb) if ga <= gb else (gb, ga)

    def buckets(self, block: int) -> Iterator[list[tuple[int, int]]]:
        """The candidate pairs, a bucket per (block of ``block`` cohorts, block) that holds any: one reasoner each."""
        rows = -1
        pending: dict[int, list[tuple[int, int]]] = {}
        for i, j in self.candidates():
            if i // block != rows:
                yield from (pending[c] for c in sorted(pending))
                rows, pending = i // block, {}
            pending.setdefault(j // block, []).append((i, j))
        yield from (pending[c] for c in sorted(pending))

    def definitions(self, reps: set[int] | None = None) -> list[str]:
        """The population classes of these cohorts (default: one of each group)."""
        out = []
        for r in sorted(reps) if reps is not None else self.reps:
            iri = K.cohort_population(self.members[r])
            out += [f"Declaration(Class(<{iri}>))", f"EquivalentClasses(<{iri}> {self._exprs[iri]})"]
        return out

    def _dx_apart(self, i: int, j: int) -> bool:
        di, dj = self.dx[i], self.dx[j]
        if di is None or dj is None:
            return False
        return (all(q in self.leaves_out[i] or not (self.meets[q] & di) for q in dj)
                or all(p in self.leaves_out[j] or not (self.meets[p] & dj) for p in di))

    def _ages_apart(self, i: int, j: int) -> bool:
        (lo_a, hi_a), (lo_b, hi_b) = self.age[i], self.age[j]
        return (hi_a is not None and lo_b is not None and lo_b >= hi_a) or \
               (hi_b is not None and lo_a is not None and lo_a >= hi_b)

    def candidates(self) -> Iterator[tuple[int, int]]:
        """The pairs (i < j) no shortcut proves disjoint, in order, without visiting the rest."""
        by_dx: dict[str, list[int]] = {}
        anywhere = []
        for i, d in enumerate(self.dx):
            if d is None:
                anywhere.append(i)
            else:
                for p in d:
                    by_dx.setdefault(p, []).append(i)
        for i, d in enumerate(self.dx):
            if d is None:
                near: set[int] = set(range(i + 1, len(self.members)))
            else:
                near = {j for p in d for q in self.meets[p] for j in by_dx[q] if j > i}
                near.update(j for j in anywhere if j > i)
            for j in sorted(near):
                if not self._dx_apart(i, j) and not self._ages_apart(i, j):
                    yield i, j

    def words_key(self, i: int) -> Any:
        """What :func:`describe` reads of a cohort: cohorts with equal keys are described alike."""
        got = self._words.get(i)
        if got is None:
            c = self.members[i]
            taken, excluded = _diagnoses(c)
            got = self._words[i] = (tuple(taken), tuple(excluded), frozenset(_alterations(c)), _age(c))
        return got


def _band(c: Cohort) -> tuple[float | None, float | None]:
    """The population's age band, minimum inclusive and maximum exclusive (as :func:`classes.age_band`)."""
    pop = c.population
    return (pop.min_age if pop else None, pop.max_age if pop else None)


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
    size = report.cohorts
    for (i, j), o in sorted(report.decided.items()):
        if o.relation == "disjoint":
            continue
        n = i * size - i * (i + 1) // 2 + (j - i - 1)  # the pair's place among all pairs, as listed
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
