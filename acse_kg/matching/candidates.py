"""Which cohorts of a study a profile is a candidate for, from the cohorts the model states.

Three kinds of cohort, told apart by the graph (``acse:cohortKind``, ``acse:cohortRule``):

- **named pathology** (the default): the diagnosis falls under one of the
  cohort's OncoTree pathologies (subtypes included), the profile carries one
  of its target genes with an accepted alteration type, and the age fits the
  population (minimum inclusive, maximum exclusive) and its condition;
- **other pathology / rare paediatric**: a pair of pathology and alteration
  that no named cohort of the same study covers. Decision (documented in the
  AcSé record's comments): an alteration is *covered* when a named cohort
  would take this patient with it; these cohorts take an uncovered qualifying
  alteration in their own age range, so two such slots with the same rule
  both take a profile that fits one;
- **rule**: a whole candidacy rule (a CTML arm's match tree: alternatives of
  genes and variants, excluded diagnoses, age), a candidate where the rule is
  not false and one of the genes it can be satisfied by is altered.

An uncovered pair that a common exclusion criterion of the study rejects on
its own (reading only the diagnosis and the alterations) makes no candidacy;
the criterion is named in the result's notes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..model import Cohort, Criterion, Study
from ..model.expressions import AlterationTest, walk
from ..store import GraphStore
from .decisions import Shared, shape
from .rules import ALTS, DX, DX_CLASS, Facts, compile_expr, compile_status, needed_pairs

NAMED, OTHER, RULE = "named", "other", "rule"
#: How many (diagnosis, pair) answers a study's pair exclusions keep before starting afresh.
PAIRS_KEPT = 4096
OTHER_KINDS = frozenset({"OtherPathologyCohort", "RarePaediatricCohort"})


@dataclass
class Taxonomy:
    """The OncoTree hierarchy, read once: codes, NCIt matches and ancestor sets."""

    by_code: dict[str, str]
    by_ncit: dict[str, str]
    parents: dict[str, list[str]]
    code_of: dict[str, str]
    #: Each class's name and OncoTree level (1 = tissue): what CTML's ``oncotree_primary_diagnosis`` names.
    label_of: dict[str, str] = field(default_factory=dict)
    level_of: dict[str, int] = field(default_factory=dict)
    _anc: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: GraphStore) -> Taxonomy:
        """The one reading of OncoTree from the graph (matching, CTML import and export use it)."""
        rows = store.select(
            "SELECT ?c ?code ?parent ?ncit ?label ?level WHERE { ?c acse:oncotreeCode ?code . "
            "OPTIONAL { ?c rdfs:subClassOf ?parent } OPTIONAL { ?c skos:exactMatch ?ncit } "
            "OPTIONAL { ?c rdfs:label ?label } OPTIONAL { ?c acse:oncotreeLevel ?level } }"
        )
        by_code: dict[str, str] = {}
        by_ncit: dict[str, str] = {}
        parents: dict[str, list[str]] = defaultdict(list)
        code_of: dict[str, str] = {}
        label_of: dict[str, str] = {}
        level_of: dict[str, int] = {}
        for r in sorted(rows, key=lambda r: tuple(str(r.get(k) or "") for k in ("c", "code", "label"))):
            c = str(r["c"])
            code = str(r["code"])
            by_code[code.upper()] = c
            code_of[c] = code
            if r.get("parent") is not None and str(r["parent"]) not in parents[c]:
                parents[c].append(str(r["parent"]))
            if r.get("ncit") is not None and "NCIT_" in str(r["ncit"]):
                by_ncit.setdefault(str(r["ncit"]).rsplit("NCIT_", 1)[1].upper(), c)
            if r.get("label") is not None:
                label_of.setdefault(c, str(r["label"]))
            if r.get("level") is not None:
                level_of.setdefault(c, int(str(r["level"])))
        return cls(by_code, by_ncit, dict(parents), code_of, label_of, level_of)

    def resolve(self, code: str) -> str | None:
        """The OncoTree class IRI of an OncoTree code or an NCIt code (NCIT:C3512), else None."""
        c = code.strip().upper()
        if c.startswith(("NCIT:", "NCIT_")):
            return self.by_ncit.get(c[5:])
        return self.by_code.get(c)

    def ancestors(self, iri: str) -> frozenset[str]:
        """The class and every class above it (what a TumourTypeTest on it may name)."""
        got = self._anc.get(iri)
        if got is None:
            out = {iri}
            stack = [iri]
            while stack:
                for p in self.parents.get(stack.pop(), ()):
                    if p not in out:
                        out.add(p)
                        stack.append(p)
            got = self._anc[iri] = frozenset(out)
        return got


# identity: cohorts are compared in the per-profile hot path; slots: their fields are read in every
# trial a profile enters, from memory that is cold at 1,000 trials (one object, not an object and its dict).
@dataclass(eq=False, slots=True)
class Basket:
    """A cohort compiled for candidacy: IRIs as strings, its condition and rule as functions."""

    model: Cohort
    kind: str
    pathologies: frozenset[str]
    genes: frozenset[str]
    accepts: frozenset[str]
    min_age: float | None
    max_age: float | None
    condition: Callable[[Facts], Any] | None
    rule: Callable[[Facts], Any] | None
    excluded: frozenset[str] = frozenset()  # diagnosis classes the cohort does not take (benign entities ...)
    #: A rule cohort's (gene, type) pairs (None: any) of which a profile must carry one for its rule to be anything
    #: but false (:func:`.rules.needed_pairs`); None when the rule does not say (then it is asked).
    needs: frozenset[tuple[str | None, str | None]] | None = None
    #: Every (gene, accepted type) pair: whether one qualifying alteration is among a profile's pairs is one
    #: set operation.
    combos: frozenset[tuple[str, str]] = field(init=False)
    #: The cohort's IRI and number, read once from the model (the hot path touches nothing else of it).
    iri: str = field(init=False)
    number: int = field(init=False)

    def __post_init__(self) -> None:
        self.combos = frozenset((g, t) for g in self.genes for t in self.accepts)
        self.iri, self.number = self.model.iri, self.model.number

    @classmethod
    def of(cls, c: Cohort) -> Basket:
        kind = RULE if c.rule is not None else OTHER if c.kind and c.kind.iri.rsplit("#", 1)[-1] in OTHER_KINDS else NAMED
        pop = c.population
        return cls(
            c, kind,
            frozenset(t.iri for t in c.pathologies), frozenset(t.iri for t in c.genes),
            frozenset(t.iri for t in c.accepts),
            pop.min_age if pop else None, pop.max_age if pop else None,
            compile_expr(pop.condition) if pop and pop.condition is not None else None,
            compile_expr(c.rule) if c.rule is not None else None,
            frozenset(t.iri for t in c.excluded_pathologies),
            needed_pairs(c.rule) if c.rule is not None else None,
        )

    def age_fits(self, age: float) -> bool:
        return (self.min_age is None or age >= self.min_age) and (self.max_age is None or age < self.max_age)

    def rule_takes(self, facts: Facts, age: float) -> bool:
        """A rule cohort's test once one of its genes is known altered: the age, and the rule not false
        (false without one of the pairs it needs: one set operation before the rule is asked)."""
        return self.rule_value(facts, age) is not False

    def rule_value(self, facts: Facts, age: float) -> Any:
        """The rule's Kleene value for a profile (True, False, None), False outside the cohort's age or
        without one of the pairs the rule needs."""
        needs = self.needs
        if not self.age_fits(age) or (needs is not None and needs.isdisjoint(facts[ALTS])):
            return False
        return self.rule(facts)  # type: ignore[misc]

    def takes(self, facts: Facts, age: float, pairs: frozenset[tuple[str | None, str | None]]) -> bool:
        """Pathology, one qualifying alteration among ``pairs``, age and population condition."""
        if self.rule is not None:
            if self.genes and not any((g, None) in pairs for g in self.genes):
                return False
            return self.age_fits(age) and self.rule(facts) is not False
        if not self.age_fits(age) or self.pathologies.isdisjoint(facts[DX]) or facts[DX_CLASS] in self.excluded:
            return False
        if self.combos.isdisjoint(pairs):
            return False
        return self.condition is None or self.condition(facts) is True


def pair_set(alts: list[tuple[str, str]]) -> frozenset[tuple[str | None, str | None]]:
    """(gene, type) pairs with wildcards, so an AlterationTest without gene or type is one lookup."""
    out: set[tuple[str | None, str | None]] = set()
    for g, t in alts:
        out.update(((g, t), (None, t), (g, None), (None, None)))
    return frozenset(out)


@dataclass(eq=False)  # identity: shared by the studies that state the exclusions alike
class PairExclusions:
    """A study's pair exclusions (common exclusion criteria reading only the diagnosis and the alterations).

    Shared by every study that states them alike (by structural key, :mod:`.decisions`), and decided
    once per profile and alteration: at 1,000 trials a profile is a candidate for several copies of
    one protocol, and each asked the same exclusions of the same alterations again.
    """

    statuses: list[Callable[[Facts], str]]
    #: Answers by (diagnosis class, pair): a pure function of the two (the exclusions read nothing else, and
    #: the classes above a diagnosis follow from it), which profiles repeat; a bounded table.
    _decided: dict[tuple[str, tuple[str, str]], int | None] = field(default_factory=dict, repr=False)

    def first_rejecting(self, facts: Facts, pair: tuple[str, str]) -> int | None:
        """The position of the first exclusion that rejects this (gene, type) pair with the profile's diagnosis."""
        key = (facts[DX_CLASS], pair)
        got: int | None = self._decided.get(key, -1)  # -1: not asked yet
        if got == -1:
            f = {DX: facts[DX], ALTS: pair_set([pair])}
            got = next((n for n, status in enumerate(self.statuses) if status(f) == "not_met"), None)
            if len(self._decided) >= PAIRS_KEPT:
                self._decided.clear()
            self._decided[key] = got
        return got


def _pair_decides(c: Criterion) -> bool:
    """Whether a (gene, type) pair with a diagnosis decides the criterion: no test of it names a variant's
    properties or a wild type (a pair exclusion is asked with the pair alone, no variants)."""
    return not any(isinstance(x, AlterationTest) and (x.variant_level or x.wildtype)
                   for e in (c.requires, c.applies_when) if e is not None for x in walk(e))


@dataclass
class CandidateFinder:
    """Candidate cohorts of one study for a profile, with notes when there are none."""

    study: Study
    baskets: list[Basket]
    pair_exclusions: list[tuple[Criterion, Callable[[Facts], str]]]
    symbols: dict[str, str]
    type_words: dict[str, str]
    check: PairExclusions
    by_pair: dict[tuple[str, str], list[Basket]] = field(default_factory=dict)
    #: The named cohorts by (gene, alteration type), then by pathology, in the study's order.
    by_key: dict[tuple[str, str], dict[str, list[Basket]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Index the named cohorts by the (gene, alteration type) pairs they accept, and by those pairs under
        # each of their pathologies: a profile then looks up, under each class of its diagnosis, only the
        # cohorts whose pathology and alteration already fit (a study of many cohorts on one gene,
        # each with its pathology, is a handful of lookups instead of a test per cohort).
        for b in self.baskets:
            if b.kind == NAMED:
                for g in b.genes:
                    for t in b.accepts:
                        self.by_pair.setdefault((g, t), []).append(b)
                        for path in b.pathologies:
                            self.by_key.setdefault((g, t), {}).setdefault(path, []).append(b)
        self.others = [b for b in self.baskets if b.kind == OTHER]
        #: Every (gene, type) pair an "other pathology" cohort accepts: an uncovered alteration outside it
        #: (in a registry, most of a profile's alterations for most studies) makes no such candidacy.
        self.others_take = frozenset().union(*(b.combos for b in self.others))
        self.ruled = [b for b in self.baskets if b.kind == RULE]
        #: The rule cohorts by the genes they name (positions in ``ruled``), and those that name none: a rule
        #: cohort that names genes takes only a profile with an alteration of one of them (:meth:`Basket.takes`),
        #: so a profile asks the rules of its genes' cohorts alone (a CTML trial of many arms, each on its
        #: genes: at 1,000 trials, testing every arm of every copy a profile reached was a third of a request).
        self._ruled_by_gene: dict[str, list[int]] = {}
        self._ruled_always: list[int] = []
        for n, b in enumerate(self.ruled):
            if not b.genes:
                self._ruled_always.append(n)
            for g in b.genes:
                self._ruled_by_gene.setdefault(g, []).append(n)
        #: Every pair one of the rule cohorts needs (None: a rule that does not say): a profile whose pairs miss
        #: them all is taken by no rule cohort, whatever its genes (see :meth:`rules_may_take`). None too when a
        #: rule needs a pair of no gene or of a gene the cohort does not name (CTML's `variant_category` alone,
        #: a curated rule): the registry asks this pair by pair, for the pairs of the genes that reached the
        #: study, and a profile's pair of another gene, which reaches nothing, could be the one the rule takes.
        self.rule_pairs: frozenset[tuple[str | None, str | None]] | None = frozenset().union(
            *(b.needs for b in self.ruled if b.needs is not None))
        if any(b.needs is None or any(g is None or g not in b.genes for g, _ in b.needs) for b in self.ruled):
            self.rule_pairs = None
        self.genes = frozenset(g for b in self.baskets for g in b.genes)
        # A study with a cohort that names no gene must be asked about every profile.
        self.any_gene = any(not b.genes for b in self.baskets)
        # What "why none" says of the study alone, read once (it is said for every study a profile's
        # genes reach without a cohort taking it: most of them, at 1,000 trials).
        ages = [b.min_age for b in self.baskets if b.min_age is not None]
        self._min_age = min(ages) if ages else None
        self._targets = frozenset(g.iri for g in self.study.target_genes)
        self._names = ", ".join(sorted(self.symbols.get(g, _local(g)) for g in self._targets))
        drugs = ", ".join(d.label or d.name for d in self.study.drugs)
        self._whose = f"of the study drug ({drugs})" if drugs else "of the study"
        #: "why none" for a profile's on-target alteration types: a function of them alone (kept per set).
        self._limited: dict[frozenset[str], str] = {}

    @classmethod
    def build(cls, study: Study, symbols: dict[str, str], type_words: dict[str, str],
              shared: Shared | None = None) -> CandidateFinder:
        """``shared``: the registry's table of compiled criteria (the pair exclusions' check is shared
        with the studies that state them alike); without it, the study's own."""
        table = shared if shared is not None else Shared(enabled=False)
        # Exclusion criteria common to all cohorts that read only the diagnosis and the
        # alterations reject a pathology-alteration pair on their own.
        # (Not those that ask an alteration's variant or wild type: a pair alone cannot answer them.)
        criteria = [c for c in study.criteria
                    if c.kind == "exclusion" and c.decidable and not c.cohorts
                    and set(c.fields()) <= {"diagnosis", "alterations"} and _pair_decides(c)]
        keys: list[Hashable] = [(shape(c.requires), shape(c.applies_when)) for c in criteria]
        statuses = [table.get(("status", k), partial(compile_status, c)) for c, k in zip(criteria, keys, strict=True)]
        check = table.get(("pair-exclusions", tuple(keys)), partial(PairExclusions, statuses))
        baskets = [Basket.of(c) for c in study.cohorts]
        return cls(study, baskets, list(zip(criteria, statuses, strict=True)), symbols, type_words, check)

    def find(self, facts: Facts, age: float, alts: list[tuple[str, str]],
             rules: dict[Basket, Any] | None = None) -> tuple[list[Basket], list[str]]:
        """The candidate cohorts, and notes (pairs the protocol excludes, or why none takes the profile).

        ``rules``: filled with each rule cohort taken and its rule's value (True, or None: unknown), which
        the result reports (so that it is not asked twice)."""
        # The named cohorts a profile's (gene, type) pairs reach under the classes of its diagnosis fit on
        # pathology and alteration (what Basket.takes tests first); their age, excluded classes and
        # condition are tested once each. A pair is covered when a cohort taken was reached by it.
        by_key = self.by_key
        dx, dx_class = facts[DX], facts[DX_CLASS]
        tried: dict[Basket, bool] = {}
        covered: set[tuple[str, str]] = set()
        for a in alts:
            under = by_key.get(a)
            if under is None:  # no named cohort takes this pair (in a registry, most studies for most pairs)
                continue
            for path in dx:
                for c in under.get(path, ()):
                    ok = tried.get(c)
                    if ok is None:
                        ok = tried[c] = (c.age_fits(age) and dx_class not in c.excluded
                                         and (c.condition is None or c.condition(facts) is True))
                    if ok:
                        covered.add(a)
        named = [c for c, ok in tried.items() if ok]
        if len(named) > 1:
            named.sort(key=_number)
        notes: list[str] = []
        refused: list[tuple[tuple[str, str], Criterion]] = []
        uncovered: list[tuple[str, str]] = []
        for a in alts:
            # Covered: a named cohort takes the patient with this alteration alone. The named cohorts
            # listed for a pair accept it, and their other tests (pathology, age, condition) do not read
            # the alterations, so they are those of the cohorts taken above: no second evaluation.
            if a in covered:
                continue
            at = self.check.first_rejecting(facts, a)
            if at is not None:
                rejected = self.pair_exclusions[at][0]
                if (a, rejected) not in refused:
                    refused.append((a, rejected))
                continue
            uncovered.append(a)
        found = named
        if uncovered and not self.others_take.isdisjoint(uncovered):
            # These cohorts test the pairs they accept (no wildcard: that is rule cohorts' business).
            upairs = frozenset(uncovered)
            found = found + [c for c in self.others if c.takes(facts, age, upairs)]
        if self.ruled:
            # (Asked by gene: what Basket.takes tests first of a rule cohort holds of these.)
            taken = []
            for c in self._ruled_asked(alts):
                value = c.rule_value(facts, age)
                if value is not False:
                    taken.append(c)
                    if rules is not None:
                        rules[c] = value
            found = found + taken
        for a, crit in refused:
            # Excluded only when nothing else qualifies the patient; beside a qualifying alteration the
            # pair merely does not count (the criterion is then "not excluded" in the cohorts listed).
            if found:
                notes.append(f"{self._show(a)} does not qualify with this diagnosis on its own: {crit.text}")
            else:
                notes.append(f"{self._show(a)} with this diagnosis is excluded by the protocol: {crit.text}")
        if not found and not notes:
            notes.append(self._why_none(age, alts))
        return found, notes

    def rules_may_take(self, pairs: frozenset[tuple[str | None, str | None]]) -> bool:
        """Whether a rule cohort may take a profile with these (wildcard) pairs: False means none can."""
        return self.rule_pairs is None or not self.rule_pairs.isdisjoint(pairs)

    def notes_of_none(self, facts: Facts, age: float, alts: list[tuple[str, str]]) -> list[str]:
        """The notes :meth:`find` gives a profile that no cohort of the study can take, without looking for one.

        For a study the registry's index reached by a rule cohort's gene alone, when no rule cohort
        needs one of the profile's pairs (:meth:`rules_may_take`) and no named cohort was reached: at
        1,000 trials, most CTML copies a profile's gene reaches (an arm on MET's mutations, for a MET
        amplification). No named cohort covers a pair, so every pair is asked of the pair exclusions.
        """
        notes: list[str] = []
        refused: list[tuple[tuple[str, str], Criterion]] = []
        check = self.check
        for a in alts:
            at = check.first_rejecting(facts, a)
            if at is not None:
                rejected = self.pair_exclusions[at][0]
                if (a, rejected) not in refused:
                    refused.append((a, rejected))
        for a, crit in refused:
            notes.append(f"{self._show(a)} with this diagnosis is excluded by the protocol: {crit.text}")
        if not notes:
            notes.append(self._why_none(age, alts))
        return notes

    def _ruled_asked(self, alts: list[tuple[str, str]]) -> list[Basket]:
        """The rule cohorts that may take a profile with these alterations, in the study's order: those
        naming one of its genes, and those naming none."""
        by_gene = self._ruled_by_gene
        at = [n for g in dict.fromkeys(g for g, _ in alts) for n in by_gene.get(g, ())]
        if self._ruled_always or len(alts) > 1:
            at = sorted({*at, *self._ruled_always})
        ruled = self.ruled
        return [ruled[n] for n in at]

    def _show(self, a: tuple[str, str]) -> str:
        return f"{self.symbols.get(a[0], _local(a[0]))} {self.type_words.get(a[1], _local(a[1])).lower()}"

    def _why_none(self, age: float, alts: list[tuple[str, str]]) -> str:
        """Why no cohort of this study takes the profile, in the study's own terms (its genes, its types)."""
        min_age = self._min_age
        if min_age is not None and age < min_age:
            return f"age {age:g} years is below the protocol's minimum of {min_age:g} years"
        targets = self._targets
        on_target = [a for a in alts if a[0] in targets]
        if not on_target:
            return f"no alteration of a target gene {self._whose}: {self._names}"
        types = frozenset(a[1] for a in on_target)
        got = self._limited.get(types)
        if got is None:
            got = self._limited[types] = self._not_taken(types)
        return got

    def _not_taken(self, types: frozenset[str]) -> str:
        """Why no cohort takes a profile whose on-target alterations are of these types."""
        takers = {t: [b for b in self.baskets if t in b.accepts] for t in types}
        if all(takers[t] and all(b.kind == NAMED for b in takers[t]) for t in types) and len(types) == 1:
            (t,) = types
            only = ", ".join(f"cohort {b.number} ({b.model.label})" for b in takers[t])
            word = self.type_words.get(t, _local(t))
            if all(t not in b.accepts for b in self.others):
                return f"an alteration limited to {word} qualifies only where a cohort accepts it: {only}"
        return "no cohort takes this pathology with these alterations at this age"


def _number(b: Basket) -> int:
    return b.number


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
