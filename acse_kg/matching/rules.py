"""The model's expressions compiled into fast Python functions, evaluated in Kleene logic.

The study model (:mod:`acse_kg.model`) states each computable criterion and
each cohort rule as an expression tree. This module compiles a tree into the
source of one small Python function and execs it: Kleene AND / OR / NOT
become inline conditional expressions (no call per node), which is what lets
a batch decide some 400,000 criterion statuses a second. A function returns
``True``, ``False`` or ``None`` (unknown): a comparison whose datum is missing
is unknown, and AND / OR / NOT make the whole unknown only where the missing
datum can change the outcome.

Every value that comes from the graph (field names, thresholds, IRIs) is
passed in as a constant bound to a name of the function (a free variable of
its closure), never spliced into the source; only the operators come from a
fixed table. So expressions of one shape have one source text, compiled once:
their functions share a code object (see :func:`_factory`).

A criterion's status is ``(NOT appliesWhen) OR requires``: met, not met, or
unknown. The same trees feed :mod:`acse_kg.matching.shacl`, which writes them
as SHACL shapes; a property test checks that both give the same statuses.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

from ..model import (
    AlterationTest,
    And,
    Comparison,
    Criterion,
    Expr,
    ModelError,
    Not,
    Or,
    PriorTherapyTest,
    TumourTypeTest,
    walk,
)
from .profile import convert

Kleene = bool | None
Facts = dict[str, Any]

#: Keys of the facts dict that are not profile fields.
DX = "_dx"  # the diagnosis class and all its OncoTree ancestors (IRIs as str)
DX_CLASS = "_dx_class"  # the diagnosis class itself (IRI as str)
ALTS = "_alts"  # (gene IRI | None, alteration type IRI | None) pairs the profile carries
VARIANTS = "_variants"  # the profile's alterations with their variant-level properties (see Variant)
DRUGS = "_drugs"  # IRIs of the drugs given before, or None when the profile does not say

#: A profile alteration as the rules read it:
#: (gene IRI, type IRI, protein change, exon, classification, CNV call, partner IRI, function, wild type).
Variant = tuple[str, str | None, str | None, int | None, str | None, str | None, str | None, str | None, bool]

#: Kept for callers that knew the graph-model error by its old name.
GraphModelError = ModelError

OPERATORS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "=="}
STATUS = {True: "met", False: "not_met", None: "unknown"}


# ------------------------------------------------------------ protein changes
_THREE = {"Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
          "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
          "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*", "Sec": "U", "Pyl": "O"}
_THREE_RE = re.compile("|".join(_THREE))


def protein_key(change: str) -> str:
    """An HGVS protein change in one spelling: no ``p.``, no parentheses, one-letter residues.

    >>> protein_key("p.(Val600Glu)"), protein_key("V600E"), protein_key("p.V600")
    ('V600E', 'V600E', 'V600')
    """
    s = change.strip()
    if s[:2].lower() == "p.":
        s = s[2:]
    s = s.strip("()")
    return _THREE_RE.sub(lambda m: _THREE[m.group(0)], s)


def protein_matches(wanted: str, observed: str) -> bool:
    """Whether a trial's protein change takes the profile's: equal, or ``wanted`` is a position wildcard.

    A change without its new residue (``V600``) is a wildcard for every change at
    that position (``V600E``, ``V600K``), but not for another position (``V6001``).
    """
    if observed == wanted:
        return True
    return (observed.startswith(wanted) and wanted[-1:].isdigit()
            and len(observed) > len(wanted) and not observed[len(wanted)].isdigit())


def alteration_status(test: tuple[Any, ...], variants: tuple[Variant, ...]) -> Kleene:
    """Kleene value of a variant-level alteration test over the profile's alterations.

    True when one alteration of the gene (and type) has every property the test
    names; unknown when one would, but lacks a named property (the lab did not
    report its function, say); false otherwise. A wild-type test is true when
    the gene is reported wild type, false when it carries an alteration.
    """
    gene, atype, protein, exon, klass, cnv, partner, function, wildtype = test
    if wildtype:
        seen_wild = False
        for v in variants:
            if gene is None or v[0] == gene:
                if not v[8]:
                    return False
                seen_wild = True
        return True if seen_wild else None
    result: Kleene = False
    for v in variants:
        if v[8] or (gene is not None and v[0] != gene) or (atype is not None and v[1] != atype):
            continue
        this: Kleene = True
        checks: tuple[tuple[Any, Any, Callable[[Any, Any], bool]], ...] = (
            (protein, v[2], protein_matches), (exon, v[3], _eq), (klass, v[4], _eq),
            (cnv, v[5], _eq), (partner, v[6], _eq), (function, v[7], _eq))
        for want, have, same in checks:
            if want is None:
                continue
            if have is None:
                this = None
            elif not same(want, have):
                this = False
                break
        if this is True:
            return True
        if this is None:
            result = None
    return result


def any_alteration(by_pair: dict[tuple[str | None, str | None], tuple[tuple[Any, ...] | None, ...]],
                   pairs: frozenset[tuple[str | None, str | None]], variants: tuple[Variant, ...]) -> Kleene:
    """Kleene OR of alteration tests, given by their (gene, type) pair (a test None: the pair alone decides).

    Only the tests of the profile's pairs are asked: the others are false (see :func:`alteration_status`),
    and an OR of tests that read nothing else does not depend on their order.
    """
    result: Kleene = False
    for pair in pairs:
        tests = by_pair.get(pair)
        if tests is None:
            continue
        for test in tests:
            if test is None:
                return True
            got = alteration_status(test, variants)
            if got is True:
                return True
            if got is None:
                result = None
    return result


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def alteration_pair(e: AlterationTest) -> tuple[str | None, str | None]:
    """The (gene, type) pair a profile must carry for the test to be anything but false (None: any)."""
    return (e.gene.iri if e.gene else None, e.alteration_type.iri if e.alteration_type else None)


def needed_pairs(e: Expr) -> frozenset[tuple[str | None, str | None]] | None:
    """(gene, type) pairs (None: any) such that ``e`` is false for a profile that carries none of them;
    None when no such set can be told from the tree (a NOT, a wild type, a test of another field).

    Why: a CTML arm's rule names its genes, but most of its alternatives ask one type of one gene
    (a mutation of MET, not its amplification); a profile whose pairs miss every pair the rule
    needs cannot be taken by it, which one set operation tells before the rule is asked.
    Kleene: an alteration test (not wild type) is false without its pair (:func:`alteration_status`);
    an AND is false when one operand is; an OR when all are.
    """
    if isinstance(e, AlterationTest):
        return None if e.wildtype else frozenset({alteration_pair(e)})
    if isinstance(e, And):
        known = [p for p in map(needed_pairs, e.operands) if p is not None]
        return min(known, key=len) if known else None
    if isinstance(e, Or) and e.operands:
        out: set[tuple[str | None, str | None]] = set()
        for o in e.operands:
            p = needed_pairs(o)
            if p is None:
                return None
            out |= p
        return frozenset(out)
    return None


def variant_test(e: AlterationTest) -> tuple[Any, ...]:
    """The constant tuple :func:`alteration_status` reads (values in the spelling profiles are normalised to)."""
    return (e.gene.iri if e.gene else None, e.alteration_type.iri if e.alteration_type else None,
            protein_key(e.protein_change) if e.protein_change else None, e.exon,
            e.variant_classification.lower() if e.variant_classification else None,
            e.cnv_call.lower() if e.cnv_call else None, e.partner.iri if e.partner else None,
            e.function.lower() if e.function else None, bool(e.wildtype))


# ------------------------------------------------------------------ compiling
class Source:
    """Builds one function's source: constants by name, fresh temporaries."""

    def __init__(self) -> None:
        self.consts: dict[str, Any] = {"_alteration_status": alteration_status, "_any_alteration": any_alteration}
        self.count = 0

    def const(self, value: Any) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def tmp(self) -> str:
        self.count += 1
        return f"_t{self.count}"

    def expr(self, e: Expr) -> str:
        """A Python expression over the facts ``F`` whose value is True, False or None (unknown)."""
        if isinstance(e, Comparison):
            v = self.tmp()
            return (f"(None if ({v} := F.get({self.const(e.variable.field)})) is None "
                    f"else {v} {OPERATORS[e.comparator]} {self.const(threshold(e))})")
        if isinstance(e, TumourTypeTest):
            return f"({self.const(e.tumour_type.iri)} in F[{self.const(DX)}])"
        if isinstance(e, AlterationTest):
            if not e.variant_level and not e.wildtype:
                return f"({self.const(alteration_pair(e))} in F[{self.const(ALTS)}])"
            call = f"_alteration_status({self.const(variant_test(e))}, F[{self.const(VARIANTS)}])"
            if e.wildtype:
                return call
            # The test's properties are asked of an alteration of its gene and type: without one among the
            # profile's pairs it is false (one set lookup; in a CTML arm's alternatives, most of them).
            return f"(False if {self.const(alteration_pair(e))} not in F[{self.const(ALTS)}] else {call})"
        if isinstance(e, PriorTherapyTest):
            v = self.tmp()
            return f"(None if ({v} := F.get({self.const(DRUGS)})) is None else {self.const(e.drug.iri)} in {v})"
        if isinstance(e, Not):
            v = self.tmp()
            return f"(None if ({v} := {self.expr(e.operand)}) is None else not {v})"
        if isinstance(e, Or) and e.operands and all(isinstance(o, AlterationTest) and not o.wildtype
                                                    for o in e.operands):
            # Alternatives of alterations (a CTML arm's genes and variants, ~70 in one): each is false without
            # its (gene, type) pair among the profile's, so only those of the profile's pairs are asked.
            tests = [o for o in e.operands if isinstance(o, AlterationTest)]
            by_pair: dict[tuple[str | None, str | None], tuple[tuple[Any, ...] | None, ...]] = {}
            for o in tests:
                by_pair[alteration_pair(o)] = (*by_pair.get(alteration_pair(o), ()),
                                               variant_test(o) if o.variant_level else None)
            variants = f"F[{self.const(VARIANTS)}]" if any(o.variant_level for o in tests) else "()"
            return f"_any_alteration({self.const(by_pair)}, F[{self.const(ALTS)}], {variants})"
        if isinstance(e, (And, Or)):
            return self._connective(e)
        raise ModelError(f"cannot compile {type(e).__name__}")

    def _connective(self, e: And | Or) -> str:
        """Kleene: AND is False as soon as one operand is False, else unknown if one is unknown;
        OR is the mirror image. Operands after a deciding one are not evaluated."""
        subs = [self.expr(o) for o in e.operands]
        decisive, other = ("False", "True") if isinstance(e, And) else ("True", "False")
        names = [self.tmp() for _ in subs]
        first = " or ".join(f"({n} := {x}) is {decisive}" for n, x in zip(names, subs, strict=True))
        unknown = " or ".join(f"{n} is None" for n in names)
        return f"({decisive} if {first} else (None if {unknown} else {other}))"

    def function(self, name: str, body: str) -> Callable[[Facts], Any]:
        return self.function_of(name, "F", body)

    def function_of(self, name: str, params: str, body: str) -> Callable[..., Any]:
        """The function ``def name(params): body`` with the constants bound to their names.

        The constants are the free variables of a closure made by a factory compiled once per
        source text (:func:`_factory`): functions of the same shape with other constants (the
        copies of a protocol, the cohorts of a basket trial) share one code object.
        """
        names = tuple(self.consts)
        return _factory(name, params, body, names)(*self.consts.values())


#: Factories by their source text, so that functions of one shape share their code object (bounded).
_FACTORIES: dict[tuple[str, str, str, tuple[str, ...]], Callable[..., Callable[..., Any]]] = {}
FACTORIES_KEPT = 65_536


def _factory(name: str, params: str, body: str, names: tuple[str, ...]) -> Callable[..., Callable[..., Any]]:
    """``def _make(<names>): def name(params): body; return name``, compiled once per source text.

    Why: CPython 3.11 specialises a code object's instructions only after it has run a few
    times, and keeps that state in the code object. One function compiled per cohort ran once
    per profile each: at 1,000 trials every request ran hundreds of code objects that had not
    warmed up, and a server's first requests cost twice the later ones. Sharing the code object
    between functions of one shape warms it once for all of them (and keeps less bytecode
    in memory).
    """
    key = (name, params, body, names)
    got = _FACTORIES.get(key)
    if got is None:
        inner = textwrap.indent(body if body.endswith("\n") else body + "\n", "    ")
        text = f"def _make({', '.join(names)}):\n    def {name}({params}):\n{inner}    return {name}\n"
        namespace: dict[str, Any] = {}
        exec(compile(text, f"<criterion rule {name}>", "exec"), namespace)
        got = namespace["_make"]
        if len(_FACTORIES) >= FACTORIES_KEPT:
            _FACTORIES.clear()
        _FACTORIES[key] = got
    return got


def threshold(e: Comparison) -> Any:
    """The comparison's threshold in the profile field's unit (the graph may state it in another)."""
    thr = e.threshold
    if isinstance(thr, float) and e.unit and e.variable.unit and e.unit != e.variable.unit:
        return convert(thr, e.unit, e.variable.unit)
    return thr


def compile_expr(e: Expr) -> Callable[[Facts], Kleene]:
    """A function evaluating ``e`` over a profile's facts in Kleene logic (True / False / None)."""
    src = Source()
    return src.function("rule", f"    return {src.expr(e)}\n")


def compile_status(c: Criterion) -> Callable[[Facts], str]:
    """Kleene value of (NOT appliesWhen) OR requires, as 'met' / 'not_met' / 'unknown'."""
    if c.requires is None:
        raise ModelError(f"criterion {c.iri} has no acse:requires to compile")
    src = Source()
    req = src.expr(c.requires)
    if c.applies_when is None:
        body = (f"    r = {req}\n"
                "    return 'met' if r is True else 'not_met' if r is False else 'unknown'\n")
    else:
        body = (f"    a = {src.expr(c.applies_when)}\n"
                "    if a is False:\n        return 'met'\n"
                f"    r = {req}\n"
                "    if r is True:\n        return 'met'\n"
                "    return 'unknown' if a is None or r is None else 'not_met'\n")
    return src.function("status", body)


def iter_exprs(e: Expr) -> Iterable[Expr]:
    """``e`` and every sub-expression (the model's :func:`~acse_kg.model.walk`)."""
    return walk(e)
