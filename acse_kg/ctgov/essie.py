"""The part of ClinicalTrials.gov's Essie query syntax that ``query.*`` and ``filter.advanced`` need here.

ClinicalTrials.gov reads ``query.cond=lung cancer`` as "lung" AND "cancer"
(anywhere in the search area), ``"lung cancer"`` as a phrase, and allows
``OR``, ``AND``, ``NOT`` and parentheses: ``(head OR neck) AND pain``. The
search operators name a field: ``AREA[Phase]PHASE2`` searches one piece
instead of the parameter's area, ``AREA[StartDate]RANGE[2013-01-01, MAX]``
keeps values between two bounds (``MIN`` / ``MAX`` leave an end open) and
``AREA[LocationCity]MISSING`` keeps studies without the field. This module
parses that subset into a tree; :func:`to_sparql` writes the tree as a
SPARQL boolean expression, each leaf by the caller's function. Essie's
stemming, synonyms and the other operators (``EXPANSION``, ``COVERAGE``,
``SEARCH`` ...) are not supported and are refused by name.

The parser is recursive, so a query may nest at most :data:`MAX_DEPTH`
levels (parentheses, ``NOT``, ``AREA``) and hold at most :data:`MAX_TERMS`
leaves: beyond that it is refused with an :class:`EssieError` before any
recursion could exhaust the stack or any search could run long.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AcseError

#: How deeply a query may nest (parentheses, NOT, AREA): far more than a person writes.
MAX_DEPTH = 64
#: How many terms, ranges and MISSINGs one query may hold.
MAX_TERMS = 200


class EssieError(AcseError, ValueError):
    """The query is not well formed (unbalanced parentheses, an operator without operand ...)."""


@dataclass(frozen=True)
class Term:
    text: str


@dataclass(frozen=True)
class Range:
    """``RANGE[low, high]``: a bound is None for ``MIN`` / ``MAX`` (open)."""

    low: str | None
    high: str | None


@dataclass(frozen=True)
class Missing:
    """``MISSING``: the field has no value."""


@dataclass(frozen=True)
class Area:
    """``AREA[piece]operand``: the operand searches the field named ``piece`` instead of the default area."""

    piece: str
    operand: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Term | Range | Missing | Area | Not | And | Or
Leaf = Term | Range | Missing

_TOKEN = re.compile(r'\s*(?:(?P<phrase>"[^"]*")|(?P<paren>[()])'
                    r'|(?P<operator>[A-Z_]+)\[(?P<argument>[^\]]*)\]'
                    r'|(?P<word>[^\s()"]+)|(?P<quote>"))')
_OPERATORS = {"AND", "OR", "NOT"}
_BRACKETED = {"AREA", "RANGE"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # pragma: no cover - the pattern matches any non-space character
            raise EssieError(f"cannot read the query at character {pos + 1}")
        pos = m.end()
        if m.group("quote"):
            raise EssieError("a quoted phrase is not closed")
        if m.group("phrase") is not None:
            phrase = " ".join(m.group("phrase")[1:-1].split())
            if not phrase:
                raise EssieError("an empty quoted phrase")
            out.append(("term", phrase))
        elif m.group("paren"):
            out.append((m.group("paren"), m.group("paren")))
        elif m.group("operator"):
            op = m.group("operator")
            if op not in _BRACKETED:
                raise EssieError(f"the {op}[...] operator is not supported here (supported: AREA[...], RANGE[...], MISSING)")
            if not m.group("argument").strip():
                raise EssieError(f"{op}[] needs {'a field name' if op == 'AREA' else 'two bounds'} between the brackets")
            out.append((op, m.group("argument").strip()))
        else:
            word = m.group("word")
            out.append(("op", word) if word in _OPERATORS else ("missing", word) if word == "MISSING" else ("term", word))
    return out


def _range(argument: str) -> Range:
    bounds = [b.strip() for b in argument.split(",")]
    if len(bounds) != 2 or not all(bounds):
        raise EssieError(f"RANGE[{argument}] needs two bounds separated by a comma (MIN or MAX for an open end)")
    low, high = bounds
    return Range(None if low.upper() == "MIN" else low, None if high.upper() == "MAX" else high)


def parse(text: str) -> Node:
    """The query as a tree; juxtaposed terms are ANDed, as on ClinicalTrials.gov."""
    tokens = _tokens(text)
    if not tokens:
        raise EssieError("the query is empty")
    leaves = sum(kind in ("term", "missing", "RANGE") for kind, _ in tokens)
    if leaves > MAX_TERMS:
        raise EssieError(f"the query has {leaves} terms; at most {MAX_TERMS} are searched")
    pos = 0
    depth = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def deeper() -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise EssieError(f"the query nests deeper than {MAX_DEPTH} levels (parentheses, NOT, AREA)")

    def or_expr() -> Node:
        operands = [and_expr()]
        while peek() == ("op", "OR"):
            take()
            operands.append(and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr() -> Node:
        operands = [not_expr()]
        while (tok := peek()) is not None and tok != ("op", "OR") and tok[0] != ")":
            if tok == ("op", "AND"):
                take()
            operands.append(not_expr())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_expr() -> Node:
        nonlocal depth
        if peek() == ("op", "NOT"):
            take()
            deeper()
            inner = not_expr()
            depth -= 1
            return Not(inner)
        return atom()

    def atom() -> Node:
        nonlocal depth
        tok = peek()
        if tok is None:
            raise EssieError("the query ends with an operator")
        kind, value = take()
        if kind == "(":
            deeper()
            inner = or_expr()
            nxt = peek()
            if nxt is None or nxt[0] != ")":
                raise EssieError("a parenthesis is not closed")
            take()
            depth -= 1
            return inner
        if kind == ")":
            raise EssieError("a closing parenthesis without its opening one")
        if kind == "op":
            raise EssieError(f"{value} needs a term after it")
        if kind == "AREA":
            deeper()
            nxt = peek()
            if nxt is None or nxt in (("op", "AND"), ("op", "OR")) or nxt[0] == ")":
                raise EssieError(f"AREA[{value}] needs a term, RANGE[...] or MISSING after it")
            operand = not_expr()
            depth -= 1
            return Area(value, operand)
        if kind == "RANGE":
            return _range(value)
        if kind == "missing":
            return Missing()
        return Term(value)

    tree = or_expr()
    if peek() is not None:
        raise EssieError("a closing parenthesis without its opening one")
    return tree


def to_sparql(tree: Node, leaf: Callable[[Leaf, str | None], str], area: str | None = None) -> str:
    """The tree as a SPARQL expression; ``leaf(node, piece)`` writes the test of one term, range or
    MISSING, ``piece`` being the innermost ``AREA[...]`` around it (None: the parameter's own area)."""
    if isinstance(tree, (Term, Range, Missing)):
        return leaf(tree, area)
    if isinstance(tree, Area):
        return to_sparql(tree.operand, leaf, tree.piece)
    if isinstance(tree, Not):
        return f"!({to_sparql(tree.operand, leaf, area)})"
    joiner = " && " if isinstance(tree, And) else " || "
    return "(" + joiner.join(to_sparql(o, leaf, area) for o in tree.operands) + ")"


def areas(tree: Node) -> list[str]:
    """The piece names the tree's ``AREA[...]`` operators name, in order (to check them before searching)."""
    if isinstance(tree, Area):
        return [tree.piece, *areas(tree.operand)]
    if isinstance(tree, Not):
        return areas(tree.operand)
    if isinstance(tree, (And, Or)):
        return [a for o in tree.operands for a in areas(o)]
    return []


def positive_terms(tree: Node, area: str | None = None) -> list[tuple[Term, str | None]]:
    """Terms that count toward a match (not under NOT), with their AREA: what relevance scores."""
    if isinstance(tree, Term):
        return [(tree, area)]
    if isinstance(tree, Area):
        return positive_terms(tree.operand, tree.piece)
    if isinstance(tree, (And, Or)):
        return [t for o in tree.operands for t in positive_terms(o, area)]
    return []
