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
counted; :class:`OverlapReport` lists them on demand. The pairs left are taken
block by block (``BLOCK`` cohorts; the pairs between two blocks, so that a run
of pairs names few classes) and asked of reasoners over the vocabulary,
OncoTree and only the classes those pairs name, up to ``PER_REASONER`` pairs
each. A pair's three questions (do they meet; is a within b; b within a) are
the satisfiability of three named classes bounded by subclass axioms:
``in-g ⊑ C`` and ``out-g ⊑ ¬C`` for each group's population class ``C``, and
``P ⊑ in-a ⊓ in-b``, ``Q ⊑ in-a ⊓ out-b``, ``R ⊑ in-b ⊓ out-a`` per pair (P
satisfiable iff the two meet; Q unsatisfiable iff a lies within b). Why: HermiT
absorbs an axiom with a named class on the left, which then costs only the
questions that reach that class, whereas a definition (``≡``) costs every
question (≈ 30 ms a pair over a hundred trials' definitions, as first built),
and an anonymous ``A ⊓ B`` makes HermiT copy the TBox's clauses for each
question. A file of questions goes in one call; reasoners can be asked by
several JVMs side by side (``workers``). ``prune=False`` is the reference
(every pair, every definition in one TBox, asked the plain way); a test
compares the two.

The result is written back into its own named graph (:data:`OVERLAPS_GRAPH`),
replaced as a whole on each write, so SPARQL can ask which open cohorts
compete for the same patients (``pt:overlapsCohort``, ``pt:subsumesCohort``).
Each decided pair is written with a digest of both cohorts' classes and words
(:meth:`OverlapPlan.digest`); an incremental run keeps every pair whose two
digests are unchanged and asks HermiT only about the rest, so adding one study
to a registry costs that study's pairs. The pruned pairs are not written: the
shortcuts find them again without the reasoner.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rdflib import RDF, RDFS, Graph, Namespace
from rdflib.namespace import OWL

from ..model import AlterationTest, Cohort, Comparison, Not, TumourTypeTest, walk
from ..reasoning import ReasonerError
from ..store import GRAPH_PREFIX, AddToGraph, GraphStore, RemoveFromGraph
from . import classes as K
from .classify import OwlEngine, _defines_population
from .reasoner import Hermit

OVERLAPS_GRAPH = GRAPH_PREFIX + "inferred/cohort-overlaps"
PTN = Namespace(K.PT)
RELATIONS = ("subsumes", "subsumed_by", "overlaps", "disjoint")
#: Cohorts per block: the candidate pairs are taken block against block, so that a run of them names few classes.
BLOCK = 250
#: Pairs of classes per call to the reasoner (a file of questions, answered in one go).
CHUNK = 500
#: Pairs of classes one reasoner is built for: its classes cost the questions nothing (see
#: :func:`_ask_buckets`), but building it grows with them, and more reasoners let JVMs work side by side.
PER_REASONER = 10_000
#: The named class of a pair of groups' intersection, minted in a reasoner's assertions only.
PAIR = "urn:acse-kg:overlap-pair:"
FLIP = {"subsumes": "subsumed_by", "subsumed_by": "subsumes"}
#: Part of every digest: bumped when what decides a pair's answer or words changes outside the class
#: expressions (this module's shortcuts, :func:`describe`), so that no answer of the old code is kept.
DIGEST_LAYOUT = "overlaps-1"
_IRI = re.compile(r"<([^>]+)>")


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
    #: Pairs whose answer was kept from the inferred graph (their digests unchanged), not asked again.
    reused: int = 0
    #: The pairs (i, j) decided by HermiT in this run (an incremental run: the new and changed ones).
    fresh: list[tuple[int, int]] = field(default_factory=list)
    #: Each member's digest (:meth:`OverlapPlan.digest`), written beside its pairs; empty when unpruned.
    digests: list[str] = field(default_factory=list)
    #: Seconds by step (studies read, pairs planned, reasoners built, questions, words): where the time went.
    timings: dict[str, float] = field(default_factory=dict)
    #: An incremental run over a graph that held pairs: those it did not keep (to take out when this
    #: report is written, its fresh pairs put in), by the graph's (a, b). None: write the graph whole.
    stale: list[tuple[tuple[str, str], Kept]] | None = None

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
                     block: int = BLOCK, per_reasoner: int = PER_REASONER, incremental: bool = False,
                     workers: int = 1) -> OverlapReport:
    """Every pair of cohorts of the studies (default: every structured study), decided by HermiT.

    With ``prune`` (the default) only the pairs that may meet are sent, once per pair of
    distinct population classes, block by block: see the module docstring.
    ``prune=False`` asks HermiT about every pair over a TBox holding every population class,
    which is the reference the pruned computation is tested against. ``engine``: the studies'
    classes already read (a bench that plans first), instead of reading them again.
    ``incremental``: a pair the inferred graph holds with the digests both cohorts have now
    (:meth:`OverlapPlan.digest`) keeps its answer; only the others go to HermiT.
    ``per_reasoner``: the most pairs of classes one reasoner is built for (a bucket is never split).
    ``workers``: HermiT processes asking reasoners' questions side by side (one JVM each).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    engine = engine or OwlEngine(store, ncts)
    timings["studies read"] = time.perf_counter() - started
    members = [c for s in engine.studies for c in s.cohorts]
    ancestors = engine.oncotree.ancestors
    decided: dict[tuple[int, int], Overlap] = {}
    fresh: list[tuple[int, int]] = []
    before: dict[tuple[str, str], Kept] = {}
    digests: list[str] = []
    answers: dict[tuple[int, int], tuple[bool, bool, bool]] = {}
    asked = reused = groups = 0
    try:
        if not prune:
            if incremental:
                raise ValueError("the unpruned reference computation is never incremental")
            with Hermit(engine.ontology(populations_only=True), deadline=budget) as h:
                h.abox(None)
                for i, a in enumerate(members):
                    for j in range(i + 1, len(members)):
                        b = members[j]
                        ea, eb = K.cohort_population(a), K.cohort_population(b)
                        decided[i, j] = _relate(a, b, _ask(h, ea, eb), describe(a, b, ancestors))
                        fresh.append((i, j))
                        asked += 1
        else:
            t = time.perf_counter()
            plan = OverlapPlan(engine, members)
            groups = len(plan.reps)
            digests = [plan.digest(i) for i in range(len(members))]
            timings["pairs planned"] = time.perf_counter() - t
            t = time.perf_counter()
            before = previous_decisions(store) if incremental else {}
            timings["inferred graph read"] = time.perf_counter() - t
            t = time.perf_counter()
            kept: set[tuple[str, str]] = set()  # the keys of ``before`` whose answers were kept
            todo: list[tuple[int, int]] = []
            questions: list[list[tuple[int, int]]] = []  # per bucket: the pairs of groups first asked there
            seen: set[tuple[int, int]] = set()
            batch: list[tuple[int, int]] = []  # needed pairs of groups of consecutive buckets
            for bucket in plan.buckets(block):
                needed = []
                for i, j in bucket:
                    a, b = members[i], members[j]
                    hit = _reuse(before, a.iri, b.iri, digests[i], digests[j])
                    if hit is not None:
                        decided[i, j] = Overlap(a.iri, b.iri, hit[0], hit[1], a.label, b.label)
                        kept.add(hit[2])
                        reused += 1
                        continue
                    todo.append((i, j))
                    if (k := plan.key(i, j)) not in seen:
                        seen.add(k)
                        needed.append(k)
                if needed:
                    # Consecutive buckets share a reasoner up to ``per_reasoner`` pairs (an incremental
                    # run's few pairs, spread over every block, go to one): building one costs seconds.
                    if batch and len(batch) + len(needed) > per_reasoner:
                        questions.append(sorted(batch))
                        batch = []
                    batch += needed
            if batch:
                questions.append(sorted(batch))
            asked = len(seen)
            timings["pairs planned"] += time.perf_counter() - t
            t = time.perf_counter()
            if questions:
                _ask_buckets(engine, plan, questions, answers, budget=budget, workers=workers,
                             timings=timings)
            timings["HermiT (wall)"] = time.perf_counter() - t
            t = time.perf_counter()
            words: dict[tuple[Any, Any], str] = {}
            for i, j in todo:
                a, b = members[i], members[j]
                got = answers[plan.key(i, j)]
                if plan.group[i] > plan.group[j]:  # the answers were asked the other way round
                    got = (got[0], got[2], got[1])
                dk = (plan.words_key(i), plan.words_key(j))
                shared = words.get(dk)
                if shared is None:
                    shared = words[dk] = describe(a, b, ancestors)
                decided[i, j] = _relate(a, b, got, shared)
                fresh.append((i, j))
            timings["answers and words"] = time.perf_counter() - t
    except ReasonerError as exc:
        total = len(members) * (len(members) - 1) // 2
        raise type(exc)(f"{exc}: {len(decided):,} pairs decided ({reused:,} kept from the inferred graph) and "
                        f"{len(answers):,} pairs of classes answered by HermiT, of {total:,} pairs of "
                        f"{len(members)} cohorts (the others pruned as disjoint or not reached)") from exc
    stale = None if not before else [(k, v) for k, v in before.items() if k not in kept]
    return OverlapReport(members, decided, asked, time.perf_counter() - started, groups,
                         reused=reused, fresh=fresh, digests=digests, timings=timings, stale=stale)


def _ask_buckets(engine: OwlEngine, plan: OverlapPlan, questions: list[list[tuple[int, int]]],
                 answers: dict[tuple[int, int], tuple[bool, bool, bool]],
                 *, budget: float | None, workers: int, timings: dict[str, float]) -> None:
    """Answer every pair of groups, a reasoner per bucket (its classes only), ``workers`` JVMs side by side.

    Why threads: each waits on its JVM's pipe, so two JVMs use the two cores while Python waits.
    """
    tbox = engine.ontology(definitions=False)
    workers = max(1, min(workers, len(questions)))
    pool: queue.SimpleQueue[Hermit] = queue.SimpleQueue()
    started: list[Hermit] = []
    lock = threading.Lock()

    def one(keys: list[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[bool, bool, bool]]]:
        h = pool.get()
        try:
            # Only subclass axioms with a named class on the left, which HermiT absorbs: a class is
            # touched only by the questions that reach it (a definition, ≡, costs every question).
            # in-g ⊑ C and out-g ⊑ ¬C for each group's class C; per pair, P ⊑ in-a ⊓ in-b (satisfiable iff
            # the two meet), Q ⊑ in-a ⊓ out-b (unsatisfiable iff a lies within b), R the other way round.
            axioms = []
            for g in sorted({g for k in keys for g in k}):
                expr = plan.expression(g)
                axioms += [f"Declaration(Class(<{PAIR}in-{g}>))", f"Declaration(Class(<{PAIR}out-{g}>))",
                           f"SubClassOf(<{PAIR}in-{g}> {expr})",
                           f"SubClassOf(<{PAIR}out-{g}> ObjectComplementOf({expr}))"]
            for ga, gb in keys:
                for name, x, y in ((f"{ga}-{gb}", f"in-{ga}", f"in-{gb}"), (f"{ga}-{gb}-q", f"in-{ga}", f"out-{gb}"),
                                   (f"{ga}-{gb}-r", f"in-{gb}", f"out-{ga}")):
                    both = f"<{PAIR}{x}>" if x == y else f"ObjectIntersectionOf(<{PAIR}{x}> <{PAIR}{y}>)"
                    axioms += [f"Declaration(Class(<{PAIR}{name}>))", f"SubClassOf(<{PAIR}{name}> {both})"]
            # A reasoner over the vocabulary and only the classes these pairs name.
            t = time.perf_counter()
            if not h.abox(K.document(axioms, iri=None)):
                raise ReasonerError("HermiT found the cohorts' population classes inconsistent")
            built = time.perf_counter() - t
            out = []
            for at in range(0, len(keys), CHUNK):
                chunk = keys[at:at + CHUNK]
                got = h.pairs([(f"{PAIR}{ga}-{gb}", f"{PAIR}{ga}-{gb}-q", f"{PAIR}{ga}-{gb}-r") for ga, gb in chunk])
                out += [(k, (p, p and not q, p and not r)) for k, (p, q, r) in zip(chunk, got, strict=True)]
            with lock:
                timings["reasoners built (sum)"] = timings.get("reasoners built (sum)", 0.0) + built
                timings["questions (sum)"] = (timings.get("questions (sum)", 0.0) + time.perf_counter() - t - built)
                timings["reasoners"] = timings.get("reasoners", 0) + 1
            return out
        finally:
            pool.put(h)

    try:
        t = time.perf_counter()
        with ThreadPoolExecutor(workers) as ex:  # each waits for its JVM to load the TBox
            starting = [ex.submit(Hermit, tbox, deadline=budget) for _ in range(workers)]
        for f in starting:  # every JVM that started is closed below, whichever failed
            if f.exception() is None:
                started.append(f.result())
                pool.put(f.result())
        for f in starting:
            if (exc := f.exception()) is not None:
                raise exc
        timings["JVMs started"] = time.perf_counter() - t
        if workers == 1:
            for keys in questions:
                answers.update(one(keys))
        else:
            with ThreadPoolExecutor(workers) as ex:
                for got in ex.map(one, questions):
                    answers.update(got)
    finally:
        for h in started:
            h.close()


def _ask(h: Hermit, ea: str, eb: str) -> tuple[bool, bool, bool]:
    """(satisfiable together, a within b, b within a) for two population classes (the unpruned reference)."""
    if not h.sat(ea, eb):
        return False, False, False
    return True, h.sub(ea, eb), h.sub(eb, ea)


def _reuse(before: dict[tuple[str, str], Kept], a: str, b: str, da: str,
           db: str) -> tuple[str, str, tuple[str, str]] | None:
    """(relation, shared, the graph's key) of a pair the inferred graph holds with these digests, from a's side."""
    got = before.get((a, b))
    if got is not None and (got.digest_a, got.digest_b) == (da, db):
        return got.relation, got.shared, (a, b)
    got = before.get((b, a))
    if got is not None and (got.digest_a, got.digest_b) == (db, da):
        return FLIP.get(got.relation, got.relation), got.shared, (b, a)
    return None


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
        self._up = up
        self._tumours = engine.sig.tumour_types

    def digest(self, i: int) -> str:
        """What decides a cohort's side of every pair's answer and words, hashed.

        Its population class as written, the OncoTree ancestors of every diagnosis the class
        and the words name (the sibling disjointness a pair's answer rests on is between
        ancestors), and what :func:`describe` reads. The rest of a reasoner's TBox does not
        change an answer: the vocabulary and OncoTree axioms another study brings name only
        classes and properties of its own or declare disjoint classes neither cohort reaches
        (a conservative extension: interpret the new names as empty), and the other cohorts'
        classes are definitions of fresh names.
        """
        c = self.members[i]
        expr = self._exprs[K.cohort_population(c)]
        taken, excluded, alterations, age = self.words_key(i)
        named = sorted({t for t in _IRI.findall(expr) if t in self._tumours} | {t for t, _ in taken})
        canon = (DIGEST_LAYOUT, expr, [(t, sorted(self._up(t))) for t in named],
                 taken, excluded, sorted(alterations), age)
        return hashlib.sha256(repr(canon).encode("utf-8")).hexdigest()[:32]

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

    def expression(self, g: int) -> str:
        """The population class of a group, as a class expression."""
        return self._exprs[K.cohort_population(self.members[self.reps[g]])]

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
@dataclass(frozen=True)
class Kept:
    """A pair as the inferred graph holds it: its answer, and the digests of the two cohorts it was decided on."""

    relation: str
    shared: str
    digest_a: str
    digest_b: str


def previous_decisions(store: GraphStore) -> dict[tuple[str, str], Kept]:
    """Every pair the inferred graph holds with its digests, by (cohort a, cohort b) IRIs (none: an empty dict)."""
    rows = store.select(f"""
        SELECT ?a ?b ?relation ?shared ?da ?db WHERE {{
          GRAPH <{OVERLAPS_GRAPH}> {{
            ?n <{PTN.cohortA}> ?a ; <{PTN.cohortB}> ?b ; <{PTN.relation}> ?relation ;
               <{PTN.sharedPopulation}> ?shared ; <{PTN.digestA}> ?da ; <{PTN.digestB}> ?db .
          }} }}""")
    return {(str(r["a"]), str(r["b"])): Kept(str(r["relation"]), str(r["shared"]), str(r["da"]), str(r["db"]))
            for r in rows}


def _lit(text: str, lang: str | None = None) -> str:
    """An N-Triples literal."""
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{body}"' + (f"@{lang}" if lang else "")


_SCHEMA = (
    ("subsumesCohort", "subsumes cohort", ("Every patient the object cohort targets, the subject targets too "
                                           "(inferred by HermiT from the cohorts' population classes).")),
    ("overlapsCohort", "overlaps cohort", ("Some patient could be in both cohorts: the intersection of their "
                                           "population classes is satisfiable (inferred by HermiT); symmetric.")),
)


def _schema_lines() -> list[str]:
    typ, label, comment = f"<{RDF.type}>", f"<{RDFS.label}>", f"<{RDFS.comment}>"
    lines = []
    for prop, words, text in _SCHEMA:
        lines += [f"<{PTN[prop]}> {typ} <{OWL.ObjectProperty}> .", f"<{PTN[prop]}> {label} {_lit(words, 'en')} .",
                  f"<{PTN[prop]}> {comment} {_lit(text, 'en')} ."]
    return lines


_TERMS = {x: f"<{PTN[x]}>" for x in ("overlapsCohort", "subsumesCohort", "CohortOverlap", "cohortA", "cohortB",
                                     "relation", "sharedPopulation", "digestA", "digestB")}


def _pair_lines(a_iri: str, b_iri: str, relation: str, shared_nt: str, da: str | None, db: str | None) -> list[str]:
    """One decided pair's triples: the direct properties (none when disjoint) and its node."""
    t = _TERMS
    a, b = f"<{a_iri}>", f"<{b_iri}>"
    lines = []
    if relation != "disjoint":
        lines += [f"{a} {t['overlapsCohort']} {b} .", f"{b} {t['overlapsCohort']} {a} ."]
        if relation == "subsumes":
            lines.append(f"{a} {t['subsumesCohort']} {b} .")
            if shared_nt.startswith('"equivalent'):
                lines.append(f"{b} {t['subsumesCohort']} {a} .")
        elif relation == "subsumed_by":
            lines.append(f"{b} {t['subsumesCohort']} {a} .")
    node = f"<{OVERLAPS_GRAPH}/pair/{hashlib.sha256(f'{a_iri} {b_iri}'.encode()).hexdigest()[:24]}>"
    lines += [f"{node} <{RDF.type}> {t['CohortOverlap']} .", f"{node} {t['cohortA']} {a} .",
              f"{node} {t['cohortB']} {b} .", f"{node} {t['relation']} {_lit(relation)} .",
              f"{node} {t['sharedPopulation']} {shared_nt} ."]
    if da is not None and db is not None:
        lines += [f"{node} {t['digestA']} {_lit(da)} .", f"{node} {t['digestB']} {_lit(db)} ."]
    return lines


def overlaps_ntriples(report: OverlapReport, pairs: Iterable[tuple[int, int]] | None = None) -> str:
    """The inferred relations as N-Triples: direct properties for SPARQL, and one node per decided pair.

    A node holds the pair's relation (``disjoint`` too, when HermiT decided it: the pairs the
    shortcuts prune are not written), its words, and the digests of both cohorts it was decided
    on, which an incremental run compares (:func:`compute_overlaps`). Written as text: at a
    hundred trials that is 700,000 triples, which an rdflib graph takes minutes to build.
    ``pairs``: only these decided pairs (default: every one), with the properties' declarations.
    """
    lines = _schema_lines()
    words_nt: dict[str, str] = {}
    digests = report.digests
    for i, j in sorted(report.decided) if pairs is None else pairs:
        o = report.decided[i, j]
        shared = words_nt.get(o.shared)
        if shared is None:
            shared = words_nt[o.shared] = _lit(o.shared, "en")
        lines += _pair_lines(o.a, o.b, o.relation, shared, digests[i] if digests else None,
                             digests[j] if digests else None)
    return "\n".join(lines) + "\n"


def overlaps_graph(report: OverlapReport) -> Graph:
    """:func:`overlaps_ntriples` as an rdflib graph (small reports)."""
    g = Graph()
    g.bind("pt", PTN)
    g.parse(data=overlaps_ntriples(report), format="nt")
    return g


def write_overlaps(store: GraphStore, report: OverlapReport) -> int:
    """Put this report's relations into the overlaps graph; the number of triples written.

    A report of an incremental run over a graph that held pairs takes out the pairs it did not
    keep and puts in the ones it decided, in one write (so adding a study writes that study's
    pairs, not the registry's); any other report replaces the graph whole. Either way the graph
    then holds exactly the report's decided pairs (a kept pair as first written, maybe b before a).
    """
    if report.stale is None:
        data = overlaps_ntriples(report)
        store.replace_graph(OVERLAPS_GRAPH, data, "ntriples")
        return data.count("\n")
    gone = [line for (a, b), k in report.stale
            for line in _pair_lines(a, b, k.relation, _lit(k.shared, "en"), k.digest_a, k.digest_b)]
    data = overlaps_ntriples(report, report.fresh)
    store.write([RemoveFromGraph(OVERLAPS_GRAPH, "\n".join(gone) + "\n", "ntriples"),
                 AddToGraph(OVERLAPS_GRAPH, data, "ntriples")])
    return data.count("\n")
