"""The part of ClinicalTrials.gov's Essie query syntax that ``query.*`` parameters need here.

ClinicalTrials.gov reads ``query.cond=lung cancer`` as "lung" AND "cancer"
(anywhere in the search area), ``"lung cancer"`` as a phrase, and allows
``OR``, ``AND``, ``NOT`` and parentheses: ``(head OR neck) AND pain``. This
module parses that subset into a tree and writes it as a SPARQL boolean
expression in which each term is a case-insensitive substring test over the
area's texts. Essie's stemming, synonyms and ``AREA[...]`` operators are not
supported; anything malformed is an :class:`EssieError` naming the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union


class EssieError(ValueError):
    """The query is not well formed (unbalanced parentheses, an operator without operand ...)."""


@dataclass(frozen=True)
class Term:
    text: str


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class And:
    operands: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    operands: tuple["Node", ...]


Node = Union[Term, Not, And, Or]

_TOKEN = re.compile(r'\s*(?:(?P<phrase>"[^"]*")|(?P<paren>[()])|(?P<word>[^\s()"]+)|(?P<quote>"))')
_OPERATORS = {"AND", "OR", "NOT"}


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
        else:
            word = m.group("word")
            out.append(("op", word) if word in _OPERATORS else ("term", word))
    return out


#: The deepest nesting of parentheses and NOTs accepted: the parser and the SPARQL writer recurse
#: once per level, and 500 levels overflowed Python's stack (a 500, not a 400).
MAX_DEPTH = 50


def _check_depth(tokens: list[tuple[str, str]]) -> None:
    depth = nots = 0
    for kind, value in tokens:
        if kind == "(":
            depth += 1
        elif kind == ")":
            depth -= 1
        nots = nots + 1 if (kind, value) == ("op", "NOT") else 0
        if depth + nots > MAX_DEPTH:
            raise EssieError(f"the query nests parentheses or NOT more than {MAX_DEPTH} levels deep")


def parse(text: str) -> Node:
    """The query as a tree; juxtaposed terms are ANDed, as on ClinicalTrials.gov."""
    tokens = _tokens(text)
    if not tokens:
        raise EssieError("the query is empty")
    _check_depth(tokens)  # before the recursive descent below
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

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
        if peek() == ("op", "NOT"):
            take()
            return Not(not_expr())
        return atom()

    def atom() -> Node:
        tok = peek()
        if tok is None:
            raise EssieError("the query ends with an operator")
        kind, value = take()
        if kind == "(":
            inner = or_expr()
            if peek() is None or peek()[0] != ")":  # type: ignore[index]
                raise EssieError("a parenthesis is not closed")
            take()
            return inner
        if kind == ")":
            raise EssieError("a closing parenthesis without its opening one")
        if kind == "op":
            raise EssieError(f"{value} needs a term after it")
        return Term(value)

    tree = or_expr()
    if peek() is not None:
        raise EssieError("a closing parenthesis without its opening one")
    return tree


def to_sparql(tree: Node, term_test: Callable[[str], str]) -> str:
    """The tree as a SPARQL expression; ``term_test(text)`` writes the test of one term."""
    if isinstance(tree, Term):
        return term_test(tree.text)
    if isinstance(tree, Not):
        return f"!({to_sparql(tree.operand, term_test)})"
    joiner = " && " if isinstance(tree, And) else " || "
    return "(" + joiner.join(to_sparql(o, term_test) for o in tree.operands) + ")"
