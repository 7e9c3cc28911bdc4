"""What a cohort's criteria say of a profile, decided once per profile for every trial that states them alike.

Why: a registry's trials share their criteria. Copies of one protocol, or
trials written from one template, state "ANC ≥ 1.0 × 10⁹/L", "ECOG ≤ 2"
with the same variable, comparator, threshold, unit and condition; at 1,000
trials a profile enters several of them, and deciding each criterion again
per trial made matching cost grow with the trials a profile enters.

Two levels of sharing, both by *structural key* (:func:`shape`: what an
expression decides — variable, comparator, threshold, unit, genes, tumour
types, drugs — and not where the graph states it: no node, no curation note):

- a :class:`CriterionPart` is one criterion without its trial's words: its
  status, whether it applies, the value observed, the finding, and where it
  is unknown, the whole-criterion decision of its group (:mod:`.completion`)
  and the fields that matter. Its answer for a profile is kept in a memo
  that lives as long as the profile, so the first trial that states it
  decides it and the others copy, even where their other criteria differ
  (copies of a protocol that name other genes);
- a :class:`Decision` is a set of parts, summed up once per profile (the
  worst status, the unknown and unmet ones, the fields that would settle
  them). A cohort holds two: its criteria on plain fields and the diagnosis,
  alike in many trials, and its trial's own alteration criteria (they name its
  genes), so that one differing criterion does not stop the others being
  shared. (Its to-confirm
  items, few and worded by the trial, are kept by the trial.)

Both are kept in a :class:`Shared` table of the vocabulary, so that every
study stating the same criteria holds the same objects; the trial then adds
its own words (ids, IRIs, texts). Equal keys compile to the same functions,
so sharing changes no verdict and no reason; a property test checks the
shared path against a registry built with sharing off.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..model import AlterationTest, Comparison, Expr, PriorTherapyTest, TumourTypeTest, operands
from .completion import Group
from .rules import Facts, Source, threshold, variant_test

#: A criterion's status in a clinician's words: an exclusion that is "met" means the patient is not excluded.
FINDINGS = {
    "inclusion": {"met": "met", "not_met": "not met", "unknown": "unknown"},
    "exclusion": {"met": "not excluded", "not_met": "excluded", "unknown": "unknown"},
}

#: Per profile: id of a shared object (CriterionPart, Decision, Group), or (id, argument), -> its answer.
#: Lives as long as one profile.
Memo = dict[Hashable, Any]
#: (per-criterion dynamic items, worst rank, to-confirm positions kept, unknown positions, unmet positions,
#: fields that would settle the unknown ones).
Decided = tuple[list[dict[str, Any]], int, tuple[int, ...], tuple[int, ...], tuple[int, ...], list[str]]


def shape(e: Expr | None) -> Hashable:
    """What an expression decides, as a hashable key: equal keys compile to functions that answer alike.

    Leaves by what their compiled test reads (the threshold in the profile field's unit,
    the normalised variant test); the graph node and curation notes left out.
    """
    if e is None:
        return None
    if isinstance(e, Comparison):
        thr = threshold(e)
        return ("cmp", e.variable.field, e.variable.unit, e.variable.kind, e.comparator, type(thr).__name__, thr)
    if isinstance(e, TumourTypeTest):
        return ("type", e.tumour_type.iri)
    if isinstance(e, AlterationTest):
        return ("alt", e.variant_level, variant_test(e))
    if isinstance(e, PriorTherapyTest):
        return ("drug", e.drug.iri)
    return (e.kind, *(shape(o) for o in operands(e)))


class Shared:
    """Compiled objects by structural key, shared by every study of a registry (off: one per call).

    The table only grows with the distinct criteria of the registry, not with its
    studies: copies of one protocol add nothing.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._table: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if not self.enabled:
            return make()
        got = self._table.get(key)
        if got is None:
            got = self._table.setdefault(key, make())
        return got

    def __len__(self) -> int:
        return len(self._table)


@dataclass(eq=False)  # identity: the memo is keyed by the object
class CriterionPart:
    """One decidable criterion as a Decision reads it (nothing of the trial's words)."""

    status: Callable[[Facts], str]
    applies: Callable[[Facts], Any] | None
    fields: list[str]  # every field the criterion reads (the value observed)
    own: list[str]  # the fields a completion may fill (what "missing" may name)
    kind: str  # inclusion | exclusion
    group: Group


@dataclass(eq=False)
class Decision:
    """One cohort's criteria and to-confirm conditions, summed up once per profile (see the module docstring)."""

    parts: list[CriterionPart]
    confirm: list[tuple[Callable[[Facts], Any] | None, tuple[int, ...]]]  # (applies-when, positions of its parts)
    _explain: Callable[[Facts, Memo], tuple[list[dict[str, Any]], tuple[str, ...]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._explain = self._compile()

    def _compile(self) -> Callable[[Facts, Memo], tuple[list[dict[str, Any]], tuple[str, ...]]]:
        """A generated function: each part's item (status, value observed, whether it applies, finding), from
        the profile's memo where another trial or cohort decided it, else decided and kept there; and
        the items' statuses as they stand before any settling.

        One function with the items written as dict literals is about twice as fast as
        assembling them criterion by criterion. Graph values are constants of the
        function's namespace, never source text.
        """
        src = Source()
        lines, names = [], []
        for n, part in enumerate(self.parts):
            d, s, a = f"d{n}", f"s{n}", f"a{n}"
            names.append(d)
            key = src.const(id(part))
            if len(part.fields) == 1:
                observed = f"F.get({src.const(part.fields[0])})"
            else:
                observed = "{" + ", ".join(f"{k}: F.get({k})" for k in (src.const(f) for f in part.fields)) + "}"
            words = src.const(FINDINGS[part.kind])
            applies = f"{src.const(part.applies)}(F)" if part.applies is not None else "True"
            lines += [f"    {d} = M.get({key})",
                      f"    if {d} is None:",
                      f"        {s} = {src.const(part.status)}(F)",
                      f"        {a} = {applies}",
                      f"        {d} = M[{key}] = {{'status': {s}, 'observed': {observed}, 'applies': {a}, "
                      f"'finding': 'not applicable' if {a} is False else {words}[{s}], 'missing': []}}"]
        statuses = "".join(f"{d}['status'], " for d in names)
        body = "\n".join(lines) + f"\n    return [{', '.join(names)}], ({statuses})\n"
        return src.function_of("explain", "F, M", body)

    def decide(self, facts: Facts, memo: Memo) -> Decided:
        """The decision for this profile: from the memo when another trial (or cohort) asked already."""
        got: Decided | None = memo.get(id(self))
        if got is None:
            got = memo[id(self)] = self._decide(facts, memo)
        return got

    def tails(self, decided: Decided, memo: Memo) -> list[bytes]:
        """Each decided item as the tail of its JSON object (``"status":…,"missing":[…]}``), once per profile.

        Why: the trials that share this decision each wrote its items again, merged with their own
        words and serialized; a trial now joins its words' heads, serialized when its plan is built,
        to these tails. An item is final once its decision is decided (settling happens inside it).
        """
        key = (id(self), "json")
        got: list[bytes] | None = memo.get(key)
        if got is None:
            dumps = orjson.dumps
            got = memo[key] = [dumps(x)[1:] for x in decided[0]]
        return got

    def _decide(self, facts: Facts, memo: Memo) -> Decided:
        items, statuses = self._explain(facts, memo)
        if "unknown" not in statuses and not self.confirm:
            # Nothing to settle: the common case of a trial's own few criteria, asked in every trial
            # a profile enters. (An item is given fields that matter only when it stays unknown.)
            if "not_met" not in statuses:
                return items, 0, (), (), (), []
            return items, 2, (), (), tuple(n for n, s in enumerate(statuses) if s == "not_met"), []
        worst = self._settle(items, facts, memo) if "unknown" in statuses else (2 if "not_met" in statuses else 0)
        # A bullet whose computable parts are decided as failing is decided as a whole (a positive HIV
        # history settles "HIV ... or any other uncontrolled infection"): it is not to be confirmed then.
        confirm = tuple(n for n, (cond, parts) in enumerate(self.confirm)
                        if (cond is None or cond(facts) is not False)
                        and not any(items[k]["status"] == "not_met" for k in parts))
        unknown = tuple(n for n, x in enumerate(items) if x["status"] == "unknown")
        unmet = tuple(n for n, x in enumerate(items) if x["status"] == "not_met")
        lacking = list(dict.fromkeys(f for x in items if x["missing"] for f in x["missing"]))
        return items, worst, confirm, unknown, unmet, lacking

    def _settle(self, items: list[dict[str, Any]], facts: Facts, memo: Memo) -> int:
        """Decide each unknown criterion with its group over the completions of the missing data; the worst rank.

        An item is settled once per profile: the part's item in the memo is the settled one, which
        the other trials and cohorts then read (a second settling would give the same answer).
        The memo also keeps each group's decision for the other criteria of its group.
        """
        for n, item in enumerate(items):
            if item["status"] != "unknown" or item["missing"]:
                continue  # decided, or settled as unknown already (by another trial or cohort: same answer)
            part = self.parts[n]
            group = part.group
            got = memo.get(id(group))
            if got is None:
                got = memo[id(group)] = group.decide(facts)
            status, matter = got
            if status != "unknown":
                item["status"] = status
                item["finding"] = FINDINGS[part.kind][status] if item["applies"] is not False else "not applicable"
                continue
            own = [f for f in part.own if facts.get(f) is None]
            item["missing"] = [f for f in own if f in matter] or own or matter
        final = [item["status"] for item in items]
        return 2 if "not_met" in final else 1 if "unknown" in final else 0


@dataclass(eq=False)  # identity: the memo is keyed by the object
class ToConfirm:
    """A cohort's to-confirm conditions (criteria no field decides), which of them stand for a profile.

    One is kept: its condition is not known false, and no computable part of its bullet is decided as
    failing (a positive HIV history settles "HIV ... or any other uncontrolled infection"). Both read only
    shared objects (the condition's compiled expression, the parts' items in the memo), so cohorts and
    trials that state the same conditions over the same parts share one answer per profile: a copy of a
    protocol holds ~18 of them a cohort, asked again in every trial a profile enters.
    """

    conditions: list[tuple[Callable[[Facts], Any] | None, tuple[CriterionPart, ...]]]

    def __post_init__(self) -> None:
        #: Per condition: its position, its applies-when, and the memo keys of its bullet's parts.
        self._flat = [(n, cond, tuple(id(part) for part in parts)) for n, (cond, parts) in enumerate(self.conditions)]

    def kept(self, facts: Facts, memo: Memo) -> tuple[int, ...]:
        """The positions of the conditions that stand. The parts' items must be in the memo (decided)."""
        got: tuple[int, ...] | None = memo.get(id(self))
        if got is None:
            # Loops, not a generator per condition: asked in every trial a profile enters whose copy of a
            # protocol names its own genes in a bullet's parts (~18 conditions a cohort).
            out = []
            for n, cond, keys in self._flat:
                if cond is not None and cond(facts) is False:
                    continue
                for key in keys:
                    if memo[key]["status"] == "not_met":
                        break
                else:
                    out.append(n)
            got = memo[id(self)] = tuple(out)
        return got

