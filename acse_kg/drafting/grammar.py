"""The grammar of thresholds: comparator, number, unit or multiple of ULN, ranges, and their conditions.

Written with pyparsing so the language is stated as a grammar (and readable
as one) instead of a pile of regular expressions: a *chain* is one or more
constraints, each with an optional condition, joined by ``or`` / ``;`` /
``,``, as in "≤ 5x ULN if liver metastasis or ≤ 3x ULN without liver
metastasis". The parser is run only where a variable was named (see
:mod:`.parser`), from the first comparator or number after the name, so the
cost is a few short parses per bullet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyparsing as pp

from .lexicon import COMPARATORS, POSTFIX_COMPARATORS, UNITS

pp.ParserElement.set_default_whitespace_chars(" \t\r\n\u00a0")


@dataclass(frozen=True)
class Constraint:
    """One requirement on a number: ``comparator value unit`` with an optional condition, offsets in the parsed text."""

    comparator: str
    value: float | int | str
    unit: str | None
    start: int
    end: int
    condition: str | None = None
    high: float | int | None = None  # a range's upper end (comparator "range")


def _number(text: str) -> float | int:
    """A number as written: 1,500 is fifteen hundred, 1,5 is one and a half, 1.0 stays a float."""
    t = text.replace(" ", "")
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", t):
        t = t.replace(",", "")
    t = t.replace(",", ".")
    return float(t) if "." in t else int(t)


def _alternation(pairs: list[tuple[str, str]], name: str, flags: int = re.IGNORECASE) -> pp.ParserElement:
    """One regular expression trying each written form in order, giving the code the form stands for.

    One Regex element and not a MatchFirst of many: pyparsing's cost is per element tried, and the
    grammar is run at every threshold of every record.
    """
    codes = [code for _, code in pairs]
    named = re.compile("|".join(f"(?P<g{i}>{p})" for i, (p, _) in enumerate(pairs)), flags)
    el = pp.Regex("|".join(f"(?:{p})" for p, _ in pairs), flags=flags).set_name(name)

    def act(toks: pp.ParseResults) -> str:
        m = named.match(toks[0])
        return codes[int(m.lastgroup[1:])] if m and m.lastgroup else codes[0]

    return el.set_parse_action(act)


CMP = _alternation(COMPARATORS, "comparator")
POSTFIX_CMP = _alternation(POSTFIX_COMPARATORS, "postfix comparator")
UNIT = _alternation([(p if not p.startswith("G\\s") else f"(?-i:{p})", c) for p, c in UNITS], "unit")
NUMBER = pp.Regex(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:[.,]\d+)?").set_name("number")
ULN = pp.Regex(
    r"(?:[x×*]|times)?\s*(?:the\s+)?(?:institutional\s+|local\s+|laboratory\s+)?"
    r"(?:I?ULN|upper\s+limits?\s+of\s+(?:the\s+)?(?:institutional\s+|local\s+)?normal(?:\s+(?:range|limits?|values?))?"
    r"(?:\s*\(I?ULN\))?)(?:\s+\(?(?:institutional|local)\)?)?",
    flags=re.IGNORECASE,
).set_parse_action(pp.replace_with("xULN"))
RANGE_SEP = pp.Regex(r"to|through|-|–|—|and", flags=re.IGNORECASE)
LIST_SEP = pp.Regex(r",|or|and|/", flags=re.IGNORECASE)
#: A condition: "if", "unless", "for", "with(out)", "in patients with" ... up to the end of the clause, taking
#: balanced parentheses with it and stopping before a ";", a closing ")", or "or" / "," that starts the next threshold.
CONDITION = pp.Regex(
    r"(?:if|unless|when|except|excluding|for|in\s+(?:patients|subjects|participants|case|those|the\s+presence)|with|without|"
    r"due\s+to|in)\b(?:[^;()\[\]]|\([^()]*\))*?"
    r"(?=\s*(?:;|\)|\]|$|,\s|\.\s|\.$|\bor\s+(?:≤|≥|<|>|=|less|greater|more|at\s+least|no\s+more|\d)|\band\s+(?:≤|≥|<|>|\d)))",
    flags=re.IGNORECASE,
)




def _located(expr: pp.ParserElement, kind: str) -> pp.ParserElement:
    located = pp.Located(expr)

    def act(toks: pp.ParseResults) -> tuple[str, int, int, list]:
        start, body, end = toks[0], toks[1], toks[2]
        return (kind, start, end, body.as_list() if isinstance(body, pp.ParseResults) else [body])

    return located.set_parse_action(act)


# The constraint forms, each tagged so the builder below knows what it got.
_plain = _located(CMP + (ULN | NUMBER + pp.Optional(ULN | UNIT)), "plain")
_postfix = _located(NUMBER + pp.Optional(UNIT) + POSTFIX_CMP, "postfix")
_range = _located(pp.Optional(pp.Regex(r"(?:of|from|between)\b", flags=re.IGNORECASE)).suppress() + NUMBER + pp.Optional(UNIT)
                  + RANGE_SEP.suppress() + NUMBER + pp.Optional(UNIT), "range")
_list = _located(pp.Optional(pp.Regex(r"of\b", flags=re.IGNORECASE)).suppress() + NUMBER
                 + pp.OneOrMore(LIST_SEP.suppress() + NUMBER), "list")
_bare = _located(pp.Optional(pp.Regex(r"(?:of|is|=|:)", flags=re.IGNORECASE)).suppress() + NUMBER + pp.Optional(UNIT), "bare")
_condition = _located(CONDITION, "condition")

CONSTRAINT = _plain | _postfix | _range | _list
#: Between two thresholds of one name: ";", ",", "or", "and", or an alternative in parentheses ("≤ 1.5 x ULN (≤ 3 x ULN for …)").
_SEP = pp.Optional(pp.Regex(r"(?:\)\s*)?(?:;|,|\(|or\b|and/or\b|and\b)", flags=re.IGNORECASE)).suppress()
CHAIN = CONSTRAINT + pp.Optional(_condition) + pp.ZeroOrMore(_SEP + CONSTRAINT + pp.Optional(_condition))
#: For scores written with no comparator ("ECOG 0-1", "ECOG PS of 0 to 2", "ECOG 1"): ranges, lists, a bare number.
SCORE_CHAIN = (CONSTRAINT | _bare) + pp.Optional(_condition) + pp.ZeroOrMore(_SEP + CONSTRAINT + pp.Optional(_condition))

#: Where a constraint can begin: a comparator, a number, "of" + number (for scores).
START = re.compile(
    "|".join(f"(?:{p})" for p, _ in COMPARATORS if not p.startswith(("=", "<", ">")))
    + r"|[<>=≥≤⩾⩽≧≦]|\d",
    re.IGNORECASE,
)


def parse_chain(text: str, pos: int, *, score: bool = False) -> tuple[list[Constraint], int] | None:
    """The constraints written at ``text[pos:]`` (offsets in ``text``) and where they end; None if none is there."""
    grammar = SCORE_CHAIN if score else CHAIN
    try:
        parts = grammar.parse_string(text[pos:], parse_all=False)
    except pp.ParseException:
        return None
    out: list[Constraint] = []
    end = pos
    for kind, start, stop, body in parts:
        start, stop = start + pos, stop + pos
        if kind == "condition":
            if out:
                words = text[start:stop].strip()
                out[-1] = Constraint(out[-1].comparator, out[-1].value, out[-1].unit, out[-1].start, out[-1].end,
                                     words, out[-1].high)
                end = stop
            continue
        c = _build(kind, body, start, stop)
        if c is None:
            break
        out.append(c)
        end = stop
    return (out, end) if out else None


def _build(kind: str, body: list, start: int, stop: int) -> Constraint | None:
    if kind == "plain":
        if body[1] == "xULN":  # "≤ ULN": one times the upper limit
            return Constraint(body[0], 1, "xULN", start, stop)
        return Constraint(body[0], _number(body[1]), body[2] if len(body) > 2 else None, start, stop)
    if kind == "postfix":
        unit = body[1] if len(body) == 3 else None
        return Constraint(body[-1], _number(body[0]), unit, start, stop)
    if kind == "range":
        numbers = [b for b in body if re.match(r"\d", b)]
        units = [b for b in body if not re.match(r"\d", b)]
        low, high = _number(numbers[0]), _number(numbers[1])
        if high <= low:
            return None
        return Constraint("range", low, units[-1] if units else None, start, stop, high=high)
    if kind == "list":
        numbers = sorted(_number(b) for b in body)
        return Constraint("range", numbers[0], None, start, stop, high=numbers[-1])
    if kind == "bare":
        return Constraint("==", _number(body[0]), body[1] if len(body) > 1 else None, start, stop)
    return None
