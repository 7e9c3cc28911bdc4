"""Deciding a registered criterion as a whole: a missing datum matters only where it can change the outcome.

Three-valued (Kleene) logic is sound but not complete: "ASAT ≤ 5×ULN with
liver metastasis, ≤ 3×ULN without" is stated as one rule per branch, and a
value of 6×ULN with the metastasis status unknown leaves each branch unknown,
although the patient fails whichever branch applies. The contract's definition
of *unknown* — a datum matters only where it can change the outcome — is the
supervaluation: try every completion of the missing data; met in all → met,
not met in all → not met, else unknown.

A :class:`Group` is the rules of one registered criterion that test the same
variable (a bullet's components that share a threshold variable, or one rule
alone). Where a member is unknown by Kleene logic, the group is decided over
the completions of the missing fields it reads. Only finitely many values
matter: a comparison is a step function of its variable, so the thresholds
the group tests and a point on each side of them stand for every number;
booleans are true or false; codes are the values tested or any other.
Kleene logic stays the fast path; completions are tried only for unknowns.

Performance scales offered as alternatives ("ECOG 0–2, or Karnofsky > 50 %,
or Lansky > 50 %") are one measurement written three ways: a completion of a
missing scale keeps to the values the known one corresponds to
(:class:`Correspondence`, read from the graph, where it is data with its source).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import AlterationTest, Comparison, Criterion, Expr, Or, PriorTherapyTest, Variable, walk
from ..store import GraphStore, term_value
from .rules import DX_CLASS, Facts, threshold

#: How far either side of a threshold a completion looks (any value strictly between two thresholds will do).
EPSILON = 1e-6
#: A group with more missing fields than this stays unknown by Kleene logic (the completions grow as 3^n).
MAX_MISSING = 6
OTHER_CODE = "\x00other"  # a code no criterion tests
#: How many decisions a group keeps (by diagnosis and field values) before it starts afresh.
DECIDED_KEPT = 4096


@dataclass(frozen=True)
class Correspondence:
    """For each value of one scale, the range of another scale it corresponds to (inclusive)."""

    source: str  # profile field, e.g. performance.ecog
    target: str  # e.g. performance.karnofsky
    ranges: tuple[tuple[float, float, float], ...]  # (source value, target min, target max)
    citation: str = ""

    def allowed(self, known: float) -> tuple[float, float] | None:
        for value, lo, hi in self.ranges:
            if value == known:
                return lo, hi
        return None

    def sources_for(self, target_value: float) -> list[float]:
        return [value for value, lo, hi in self.ranges if lo <= target_value <= hi]


def read_correspondences(store: GraphStore) -> list[Correspondence]:
    """The graph's scale correspondences (acse:ScaleCorrespondence), one per pair of scales."""
    rows = store.select(
        "SELECT ?from ?to ?v ?lo ?hi ?src WHERE { ?c a acse:ScaleCorrespondence ; acse:fromVariable/acse:profileField ?from ; "
        "acse:toVariable/acse:profileField ?to ; acse:fromValue ?v ; acse:toMinimum ?lo ; acse:toMaximum ?hi . "
        "OPTIONAL { ?c dcterms:source ?src } }"
    )
    acc: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    cites: dict[tuple[str, str], str] = {}
    for r in rows:
        key = (str(r["from"]), str(r["to"]))
        acc.setdefault(key, []).append((float(term_value(r["v"])), float(term_value(r["lo"])),
                                        float(term_value(r["hi"]))))
        if r.get("src") is not None:
            cites[key] = str(r["src"])
    return [Correspondence(s, t, tuple(sorted(v)), cites.get((s, t), "")) for (s, t), v in sorted(acc.items())]


def _comparisons(e: Expr | None) -> list[Comparison]:
    return [x for x in walk(e) if isinstance(x, Comparison)] if e is not None else []


def offered_as_alternatives(e: Expr | None, a: str, b: str) -> bool:
    """Whether one disjunction of ``e`` tests both fields in different alternatives."""
    if e is None:
        return False
    for x in walk(e):
        if isinstance(x, Or):
            seen = [{c.variable.field for c in _comparisons(o)} for o in x.operands]
            if any(a in s for s in seen) and any(b in s for s in seen) and not any(a in s and b in s for s in seen):
                return True
    return False


@dataclass
class Group:
    """The rules of one registered criterion on one variable, decided together over completions."""

    members: list[int]  # indexes into the matcher's decidable criteria
    statuses: list[Callable[[Facts], str]]
    points: dict[str, tuple[Any, ...]]  # field -> the values a completion tries
    correspondences: list[Correspondence] = field(default_factory=list)
    #: Whether a decision depends only on the diagnosis and the fields in ``points`` (no member reads the
    #: alterations or the prior therapies): then it is kept by those values, since profiles repeat them.
    keyed: bool = True
    _decided: dict[tuple[Any, ...], tuple[str, list[str]]] = field(default_factory=dict, repr=False)

    def completions(self, facts: Facts, missing: list[str]) -> Iterable[dict[str, Any]]:
        pools: list[Sequence[Any]] = []
        for f in missing:
            pool: Sequence[Any] = self.points[f]
            for c in self.correspondences:
                if c.target == f and facts.get(c.source) is not None:
                    rng = c.allowed(float(facts[c.source]))
                    if rng is not None:
                        lo, hi = rng
                        pool = [v for v in pool if lo <= v <= hi] + [lo, hi]
            # A missing source scale keeps to the values every known scale corresponds to; scales that
            # contradict each other (Karnofsky 0 beside Lansky 50) constrain nothing.
            allowed: set[float] | None = None
            for c in self.correspondences:
                if c.source == f and facts.get(c.target) is not None:
                    here = set(c.sources_for(float(facts[c.target])))
                    allowed = here if allowed is None else allowed & here
            if allowed:
                pool = sorted(allowed)
            pools.append(pool)
        for values in itertools.product(*pools):
            yield dict(zip(missing, values, strict=True))

    def decide(self, facts: Facts) -> tuple[str, list[str]]:
        """The group's status over every completion of its missing fields, and the fields that matter.

        The answer is a pure function of the diagnosis and the values of the group's fields, so it is
        kept by them (a bounded table): a batch asks the same question many times.
        """
        if not self.keyed:
            return self._decide(facts)
        key = (facts.get(DX_CLASS), *(facts.get(f) for f in self.points))
        got = self._decided.get(key)
        if got is None:
            if len(self._decided) >= DECIDED_KEPT:
                self._decided.clear()
            got = self._decided[key] = self._decide(facts)
        return got

    def _decide(self, facts: Facts) -> tuple[str, list[str]]:
        missing = [f for f in self.points if facts.get(f) is None]
        if not missing or len(missing) > MAX_MISSING:
            return "unknown", missing
        outcomes: list[tuple[dict[str, Any], bool]] = []
        for completion in self.completions(facts, missing):
            f2 = {**facts, **completion}
            outcomes.append((completion, all(st(f2) == "met" for st in self.statuses)))
        results = {ok for _, ok in outcomes}
        if results == {True}:
            return "met", []
        if results == {False}:
            return "not_met", []
        return "unknown", [f for f in missing if _matters(f, missing, outcomes)]


def _matters(f: str, missing: list[str], outcomes: list[tuple[dict[str, Any], bool]]) -> bool:
    """Whether changing ``f`` alone, the other missing fields fixed, changes the outcome somewhere."""
    others = [m for m in missing if m != f]
    seen: dict[tuple[Any, ...], set[bool]] = {}
    for completion, ok in outcomes:
        key = tuple(completion[o] for o in others)
        seen.setdefault(key, set()).add(ok)
    return any(len(v) > 1 for v in seen.values())


def _points(comparisons: list[Comparison], bounds: tuple[float | None, float | None] = (None, None)) -> tuple[Any, ...]:
    """The values that stand for every value of a variable, given the comparisons made on it.

    ``bounds``: the values the profile allows (ECOG 0 to 5): a completion never goes beyond them.
    """
    kind = comparisons[0].variable.kind
    if kind == "boolean":
        return (True, False)
    if kind == "code":
        return (*sorted({str(threshold(c)) for c in comparisons}), OTHER_CODE)
    out: set[float] = set()
    for c in comparisons:
        t = float(threshold(c))
        out.update((t - EPSILON, t, t + EPSILON))
    lo, hi = bounds
    if lo is not None:
        out = {max(v, lo) for v in out}
    if hi is not None:
        out = {min(v, hi) for v in out}
    return tuple(sorted(out))


def build_groups(decidable: list[Criterion], statuses: list[Callable[[Facts], str]],
                 correspondences: list[Correspondence], plain: frozenset[str],
                 bounds: dict[str, tuple[float | None, float | None]] | None = None) -> list[Group]:
    """One group per registered criterion and threshold variable (a rule alone is a group of one).

    ``plain``: the fields a completion may fill (values of the profile; not the
    diagnosis or the alterations, which a profile always states).
    """
    keyed: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for i, c in enumerate(decidable):
        tested = tuple(sorted({x.variable.field for x in _comparisons(c.requires)}))
        keyed.setdefault((c.component_of or c.iri, tested if c.component_of else ()), []).append(i)
    groups = []
    for members in keyed.values():
        comps: dict[str, list[Comparison]] = {}
        for i in members:
            for e in (decidable[i].requires, decidable[i].applies_when):
                for x in _comparisons(e):
                    if x.variable.field in plain:
                        comps.setdefault(x.variable.field, []).append(x)
        points = {f: _points(cs, (bounds or {}).get(f, (None, None))) for f, cs in sorted(comps.items())}
        corr = [c for c in correspondences if c.source in points and c.target in points
                and any(offered_as_alternatives(decidable[i].requires, c.source, c.target) for i in members)]
        structured = any(isinstance(x, (AlterationTest, PriorTherapyTest))
                         for i in members for e in (decidable[i].requires, decidable[i].applies_when)
                         if e is not None for x in walk(e))
        groups.append(Group(members, [statuses[i] for i in members], points, corr, keyed=not structured))
    return groups


def variables_plain(variables: Iterable[Variable]) -> frozenset[str]:
    """Profile fields a completion may fill: every clinical variable but the structured ones."""
    return frozenset(v.field for v in variables if v.field not in ("diagnosis", "alterations", "prior_therapies"))
