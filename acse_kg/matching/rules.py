"""The criteria of a study, read from the graph and compiled into fast Python functions.

The graph states each computable criterion as an expression tree
(acse:Comparison, acse:TumourTypeTest, acse:AlterationTest, acse:Conjunction,
acse:Disjunction, acse:Negation). This module reads those trees with SPARQL
through the :class:`GraphStore` interface (so it works on any store), and
compiles each into a small generated Python function evaluated in Kleene
three-valued logic:
``True``, ``False`` or ``None`` (unknown). A comparison whose datum is
missing is unknown; AND / OR / NOT then make a criterion unknown only where
the missing datum can change the outcome.

A criterion's status is ``(NOT appliesWhen) OR requires``: met, not met, or
unknown. The same trees feed :mod:`acse_kg.matching.shacl`, which writes them
as SHACL shapes; a property test checks that both give the same statuses.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rdflib import Literal
from rdflib.term import Node

from ..namespaces import ACSE
from ..store import GraphStore
from .profile import CANONICAL_UNITS, convert

Kleene = bool | None
Facts = dict[str, Any]

#: Keys of the facts dict that are not profile fields.
DX = "_dx"  # the diagnosis class and all its OncoTree ancestors (IRIs as str)
ALTS = "_alts"  # (gene IRI | None, alteration type IRI | None) pairs the profile carries

COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "ge": operator.ge,
    "gt": operator.gt,
    "le": operator.le,
    "lt": operator.lt,
    "eq": operator.eq,
}
EXPR_PROPS = ("operand", "variable", "comparator", "threshold", "unit", "tumourType", "gene", "alterationType")


# ------------------------------------------------------------------ model
@dataclass(frozen=True)
class Variable:
    iri: str
    field: str  # dotted path in the tumor-profile contract
    unit: str | None
    kind: str  # number | boolean | code


@dataclass(frozen=True)
class Expr:
    """One node of a criterion's logical form, as the graph states it."""

    node: Node
    op: str  # Comparison | TumourTypeTest | AlterationTest | Conjunction | Disjunction | Negation
    operands: tuple[Expr, ...] = ()
    variable: Variable | None = None
    comparator: str | None = None  # ge, gt, le, lt, eq
    threshold: Any = None  # in the variable's unit
    tumour_type: str | None = None
    gene: str | None = None
    alteration_type: str | None = None

    def fields(self) -> list[str]:
        """Profile fields the expression reads, in first-use order."""
        out: list[str] = []
        if self.op == "Comparison" and self.variable:
            out.append(self.variable.field)
        elif self.op == "TumourTypeTest":
            out.append("diagnosis")
        elif self.op == "AlterationTest":
            out.append("alterations")
        for o in self.operands:
            out.extend(f for f in o.fields() if f not in out)
        return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Criterion:
    iri: str
    id: str
    kind: str  # inclusion | exclusion
    text: str
    order: tuple[int, ...]
    computable: bool
    requires: Expr | None
    applies_when: Expr | None
    cohorts: frozenset[str] = field(default_factory=frozenset)  # empty: every cohort

    @property
    def decidable(self) -> bool:
        """A criterion the profile's fields decide (it has a structured rule)."""
        return self.computable and self.requires is not None

    def fields(self) -> list[str]:
        out: list[str] = []
        for e in (self.requires, self.applies_when):
            if e is not None:
                out.extend(f for f in e.fields() if f not in out)
        return out


class GraphModelError(ValueError):
    """The graph's structured criteria are incomplete or malformed; the message says where."""


# ------------------------------------------------------------ reading the graph
def _local(iri: Node | str) -> str:
    s = str(iri)
    return s.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _py(lit: Node | None) -> Any:
    if lit is None:
        return None
    v = lit.toPython() if isinstance(lit, Literal) else str(lit)
    if hasattr(v, "as_integer_ratio") and not isinstance(v, (bool, int, float)):
        v = float(v)  # Decimal -> float: profile values are floats
    return v


def load_variables(store: GraphStore) -> dict[str, Variable]:
    rows = store.select(
        "SELECT ?v ?f ?u ?k WHERE { ?v a acse:ClinicalVariable ; acse:profileField ?f . "
        "OPTIONAL { ?v acse:unit ?u } OPTIONAL { ?v acse:valueKind ?k } }"
    )
    return {
        str(r["v"]): Variable(str(r["v"]), str(r["f"]), _py(r.get("u")), str(r.get("k") or "number"))
        for r in rows
    }


def load_expressions(store: GraphStore, variables: dict[str, Variable]) -> dict[tuple[str, str], list[Expr]]:
    """Every expression tree hanging off a criterion or a population, keyed by (owner IRI, property)."""
    roots_rel = "acse:requires|acse:appliesWhen|acse:excludesWhen|acse:populationCondition"
    q = f"""
    SELECT DISTINCT ?s ?p ?o WHERE {{
      {{ ?s ?p ?o . VALUES ?p {{ acse:requires acse:appliesWhen acse:excludesWhen acse:populationCondition }} }}
      UNION
      {{ ?x {roots_rel} ?root . ?root acse:operand* ?s . ?s ?p ?o .
         VALUES ?p {{ rdf:type {' '.join('acse:' + p for p in EXPR_PROPS)} }} }}
    }}"""
    triples: dict[Node, dict[str, list[Node]]] = defaultdict(lambda: defaultdict(list))
    owners: list[tuple[str, str, Node]] = []
    for r in store.select(q):
        s, p, o = r["s"], _local(r["p"]), r["o"]
        if p in ("requires", "appliesWhen", "excludesWhen", "populationCondition") and o is not None:
            owners.append((str(s), p, o))
        else:
            triples[s][p].append(o)  # type: ignore[index]

    cache: dict[Node, Expr] = {}

    def build(node: Node, depth: int = 0) -> Expr:
        if node in cache:
            return cache[node]
        if depth > 50:
            raise GraphModelError(f"expression {node} nests too deep (a cycle?)")
        t = triples.get(node, {})
        types = {_local(x) for x in t.get("type", []) if str(x).startswith(str(ACSE))}
        ops = types & {"Comparison", "TumourTypeTest", "AlterationTest", "Conjunction", "Disjunction", "Negation"}
        if len(ops) != 1:
            raise GraphModelError(f"expression {node} has no single expression type (found {sorted(types)})")
        op = ops.pop()
        operands = tuple(sorted((build(o, depth + 1) for o in t.get("operand", [])), key=_expr_key))
        kw: dict[str, Any] = {}
        if op == "Comparison":
            var_iri = str(t["variable"][0]) if t.get("variable") else None
            if var_iri not in variables:
                raise GraphModelError(f"comparison {node} tests {var_iri}, which has no acse:profileField")
            var = variables[var_iri]
            comp = _local(t["comparator"][0]) if t.get("comparator") else None
            if comp not in COMPARATORS:
                raise GraphModelError(f"comparison {node} has no known comparator ({comp})")
            thr = _py(t["threshold"][0]) if t.get("threshold") else None
            if thr is None:
                raise GraphModelError(f"comparison {node} has no threshold")
            unit = _py(t["unit"][0]) if t.get("unit") else None
            if isinstance(thr, (int, float)) and not isinstance(thr, bool):
                thr = float(thr)
                target = CANONICAL_UNITS.get(var.field, var.unit)
                if unit and target and unit != target:
                    thr = convert(thr, unit, target)  # the rule works in the profile's unit
            kw = {"variable": var, "comparator": comp, "threshold": thr}
        elif op == "TumourTypeTest":
            kw = {"tumour_type": str(t["tumourType"][0])}
        elif op == "AlterationTest":
            kw = {
                "gene": str(t["gene"][0]) if t.get("gene") else None,
                "alteration_type": str(t["alterationType"][0]) if t.get("alterationType") else None,
            }
        elif op == "Negation" and len(operands) != 1:
            raise GraphModelError(f"negation {node} needs exactly one operand")
        elif not operands and op != "Negation":
            raise GraphModelError(f"{op} {node} has no operand")
        e = Expr(node, op, operands, **kw)
        cache[node] = e
        return e

    out: dict[tuple[str, str], list[Expr]] = defaultdict(list)
    for owner, rel, root in owners:
        out[(owner, rel)].append(build(root))
    return out


def _expr_key(e: Expr) -> str:
    """A stable order for operands (the graph's are a set), so output and shapes are deterministic."""
    return e.op + "|" + (e.variable.field if e.variable else "") + "|" + str(e.comparator) + "|" + str(
        e.threshold) + "|" + str(e.tumour_type) + "|" + str(e.gene) + "|" + str(e.alteration_type) + "|" + ";".join(
        _expr_key(o) for o in e.operands)


def load_criteria(store: GraphStore, study: str, exprs: dict[tuple[str, str], list[Expr]]) -> list[Criterion]:
    """The study's criteria in registered order, with their expressions."""
    rows = store.select(
        f"""SELECT ?c ?type ?text ?pos ?comp ?parent ?cohort WHERE {{
          <{study}> acse:hasCriterion ?c .
          ?c a ?type . VALUES ?type {{ acse:InclusionCriterion acse:ExclusionCriterion }}
          OPTIONAL {{ ?c acse:criterionText ?text }}
          OPTIONAL {{ ?c acse:position ?pos }}
          OPTIONAL {{ ?c acse:computable ?comp }}
          OPTIONAL {{ ?c acse:subCriterionOf|acse:componentOf ?parent }}
          OPTIONAL {{ ?c acse:appliesToCohort ?cohort }}
        }}"""
    )
    info: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = str(r["c"])
        d = info.setdefault(c, {"cohorts": set(), "parent": None, "type": _local(r["type"])})
        d["text"] = str(r["text"]) if r.get("text") is not None else d.get("text", "")
        d["pos"] = int(_py(r["pos"])) if r.get("pos") is not None else d.get("pos", 0)
        d["comp"] = bool(_py(r["comp"])) if r.get("comp") is not None else d.get("comp", False)
        if r.get("parent") is not None:
            d["parent"] = str(r["parent"])
        if r.get("cohort") is not None:
            d["cohorts"].add(str(r["cohort"]))

    def order(c: str, seen: int = 0) -> tuple[int, ...]:
        d = info[c]
        own = (d["pos"],)
        if d["parent"] and d["parent"] in info and seen < 10:
            return order(d["parent"], seen + 1) + own
        return own

    out = []
    for c, d in info.items():
        req = exprs.get((c, "requires"), [])
        app = exprs.get((c, "appliesWhen"), [])
        if len(req) > 1 or len(app) > 1:
            raise GraphModelError(f"criterion {c} has several acse:requires or acse:appliesWhen")
        kind = "inclusion" if d["type"] == "InclusionCriterion" else "exclusion"
        out.append(
            Criterion(
                iri=c,
                id=_criterion_id(c),
                kind=kind,
                text=d.get("text", ""),
                order=(0 if kind == "inclusion" else 1, *order(c)),
                computable=d["comp"],
                requires=req[0] if req else None,
                applies_when=app[0] if app else None,
                cohorts=frozenset(d["cohorts"]),
            )
        )
    out.sort(key=lambda c: (c.order, c.iri))
    return out


def _criterion_id(iri: str) -> str:
    marker = "/criterion/"
    return iri.split(marker, 1)[1] if marker in iri else _local(iri)


# ------------------------------------------------------------------ compiling
# Each expression tree is compiled into the source of one small Python function and exec'd:
# Kleene AND / OR / NOT become inline conditional expressions (no call per node), which is
# what lets a batch decide some 400 000 criterion statuses a second. Every value that comes
# from the graph (field names, thresholds, IRIs) is passed in as a constant of the
# function's namespace, never spliced into the source; only the operators come from a
# fixed table.
OPERATORS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "=="}


class Source:
    """Builds one function's source: constants by name, fresh temporaries."""

    def __init__(self) -> None:
        self.consts: dict[str, Any] = {}
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
        if e.op == "Comparison":
            assert e.variable is not None and e.comparator is not None
            v = self.tmp()
            return (f"(None if ({v} := F.get({self.const(e.variable.field)})) is None "
                    f"else {v} {OPERATORS[e.comparator]} {self.const(e.threshold)})")
        if e.op == "TumourTypeTest":
            return f"({self.const(e.tumour_type)} in F[{self.const(DX)}])"
        if e.op == "AlterationTest":
            return f"({self.const((e.gene, e.alteration_type))} in F[{self.const(ALTS)}])"
        subs = [self.expr(o) for o in e.operands]
        if e.op == "Negation":
            v = self.tmp()
            return f"(None if ({v} := {subs[0]}) is None else not {v})"
        if e.op in ("Conjunction", "Disjunction"):
            # Kleene: AND is False as soon as one operand is False, else unknown if one is unknown;
            # OR is the mirror image. Operands after a deciding one are not evaluated.
            decisive, other = ("False", "True") if e.op == "Conjunction" else ("True", "False")
            names = [self.tmp() for _ in subs]
            first = " or ".join(f"({n} := {x}) is {decisive}" for n, x in zip(names, subs))
            unknown = " or ".join(f"{n} is None" for n in names)
            return f"({decisive} if {first} else (None if {unknown} else {other}))"
        raise GraphModelError(f"cannot compile {e.op}")

    def function(self, name: str, body: str) -> Callable[[Facts], Any]:
        namespace = dict(self.consts)
        exec(compile(f"def {name}(F):\n{body}", f"<criterion rule {name}>", "exec"), namespace)  # noqa: S102
        return namespace[name]  # type: ignore[no-any-return]


def compile_expr(e: Expr) -> Callable[[Facts], Kleene]:
    """A function evaluating ``e`` over a profile's facts in Kleene logic (True / False / None)."""
    src = Source()
    return src.function("rule", f"    return {src.expr(e)}\n")


STATUS = {True: "met", False: "not_met", None: "unknown"}


def compile_status(c: Criterion) -> Callable[[Facts], str]:
    """Kleene value of (NOT appliesWhen) OR requires, as 'met' / 'not_met' / 'unknown'."""
    assert c.requires is not None
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
    yield e
    for o in e.operands:
        yield from iter_exprs(o)
