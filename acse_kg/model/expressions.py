"""The logical form of criteria and cohort rules: a tagged union of frozen expression types.

Why a union of small classes and not one class with an ``op`` string: each
kind carries only the fields it has (a comparison has a variable and a
threshold, an alteration test a gene and variant-level properties), so a
consumer — the matcher's compiler, the SHACL generator, the page text, the
CTML writer, the OWL class generator — matches on the type and mypy checks
that it reads what exists. Every consumer walks the same trees read once
from the graph by :mod:`acse_kg.model.reader`.

Expressions are evaluated in Kleene three-valued logic (see the ontology):
a test whose datum is missing is unknown, and AND / OR / NOT propagate
unknown only where it can change the outcome.

Identity: ``node`` is the graph node (IRI or blank node) the expression was
read from; it takes no part in equality, so two trees are equal when they
say the same thing, whatever their blank-node labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rdflib.term import Node

#: Comparator names as the graph's acse:Comparator individuals are named, with their symbols.
COMPARATORS: dict[str, str] = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "="}


@dataclass(frozen=True)
class Term:
    """A vocabulary item an expression or cohort refers to: its IRI, label and code.

    ``code`` is what people and contracts call it: an OncoTree code, an HGNC
    symbol, a profile term (``amplification``), an API code (``RECRUITING``).
    """

    iri: str
    label: str = ""
    code: str = ""
    #: The term's identifier in the external vocabulary it comes from, for display beside its label
    #: (an OncoTree code, an HGNC id such as HGNC:427); empty for the registry's own terms.
    accession: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        """The shortest readable name: code, else label, else the IRI's local name."""
        return self.code or self.label or self.iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


@dataclass(frozen=True)
class Variable:
    """A clinical variable: the bridge between a criterion and a field of the tumor profile."""

    iri: str
    field: str  # dotted path in the tumor-profile contract (labs.anc)
    unit: str | None  # canonical UCUM unit of the profile field
    kind: str  # number | boolean | code
    label: str = ""
    implied_by_drug: str | None = None  # acse:impliedByPriorTherapy: a drug IRI


@dataclass(frozen=True)
class Comparison:
    """A variable compared with a threshold, as the record states it (unit as written in the graph)."""

    kind: ClassVar[str] = "Comparison"
    variable: Variable
    comparator: str  # ge | gt | le | lt | eq
    threshold: float | bool | str
    unit: str | None = None
    registered_threshold: float | str | None = None
    registered_unit: str | None = None
    curation: str | None = None
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TumourTypeTest:
    """The diagnosis is this OncoTree class or one of its subclasses."""

    kind: ClassVar[str] = "TumourTypeTest"
    tumour_type: Term
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AlterationTest:
    """The profile carries an alteration of this gene and type with every variant-level property named.

    ``None`` fields are not asked for. ``wildtype=True`` asks for the gene reported wild type.
    """

    kind: ClassVar[str] = "AlterationTest"
    gene: Term | None = None
    alteration_type: Term | None = None
    protein_change: str | None = None  # p.V600E, or a wildcard p.V600
    exon: int | None = None
    variant_classification: str | None = None
    cnv_call: str | None = None
    partner: Term | None = None
    function: str | None = None  # activating | inactivating
    wildtype: bool | None = None
    node: Node | None = field(default=None, compare=False, repr=False)

    @property
    def variant_level(self) -> bool:
        """Whether the test names anything beyond gene and type."""
        return any(v is not None for v in (self.protein_change, self.exon, self.variant_classification,
                                           self.cnv_call, self.partner, self.function))


@dataclass(frozen=True)
class PriorTherapyTest:
    """The patient was given this drug before."""

    kind: ClassVar[str] = "PriorTherapyTest"
    drug: Term
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    kind: ClassVar[str] = "Conjunction"
    operands: tuple[Expr, ...]
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Or:
    kind: ClassVar[str] = "Disjunction"
    operands: tuple[Expr, ...]
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    kind: ClassVar[str] = "Negation"
    operand: Expr
    node: Node | None = field(default=None, compare=False, repr=False)

    @property
    def operands(self) -> tuple[Expr, ...]:
        return (self.operand,)


Expr = Comparison | TumourTypeTest | AlterationTest | PriorTherapyTest | And | Or | Not
LEAVES = (Comparison, TumourTypeTest, AlterationTest, PriorTherapyTest)


def operands(e: Expr) -> tuple[Expr, ...]:
    """The sub-expressions of ``e`` (none for a leaf)."""
    if isinstance(e, (And, Or)):
        return e.operands
    if isinstance(e, Not):
        return (e.operand,)
    return ()


def walk(e: Expr) -> Iterator[Expr]:
    """``e`` and every sub-expression, depth first."""
    yield e
    for o in operands(e):
        yield from walk(o)


def fields_read(e: Expr | None) -> list[str]:
    """The profile fields an expression reads, in first-use order (diagnosis, alterations, labs.anc ...)."""
    out: dict[str, None] = {}
    if e is None:
        return []
    for x in walk(e):
        if isinstance(x, Comparison):
            out[x.variable.field] = None
        elif isinstance(x, TumourTypeTest):
            out["diagnosis"] = None
        elif isinstance(x, AlterationTest):
            out["alterations"] = None
        elif isinstance(x, PriorTherapyTest):
            out["prior_therapies"] = None
    return list(out)


def sort_key(e: Expr) -> str:
    """A stable order for operands (the graph's are a set), so that every output is deterministic."""
    if isinstance(e, Comparison):
        own: tuple[Any, ...] = (e.variable.field, e.comparator, e.threshold, e.unit)
    elif isinstance(e, TumourTypeTest):
        own = (e.tumour_type.iri,)
    elif isinstance(e, AlterationTest):
        own = (e.gene.iri if e.gene else "", e.alteration_type.iri if e.alteration_type else "",
               e.protein_change, e.exon, e.variant_classification, e.cnv_call,
               e.partner.iri if e.partner else "", e.function, e.wildtype)
    elif isinstance(e, PriorTherapyTest):
        own = (e.drug.iri,)
    else:
        own = ()
    return e.kind + "|" + "|".join(str(x) for x in own) + "|" + ";".join(sort_key(o) for o in operands(e))
