"""Split a record's eligibility text into its sections and bullets, keeping every character offset.

Why offsets and not cleaned strings: every drafted item must point back to
the record's own words (the span a curator checks), so a bullet is its text
*and* where that text sits in ``eligibilityModule.eligibilityCriteria``.

ClinicalTrials.gov stores the text as light Markdown: section headers
(``Inclusion Criteria:``, ``Exclusion :``, ``Key Exclusion Criteria``),
bullets (``*``, ``-``, ``•``, ``1.``, ``a)``), nested bullets indented under
their parent, and loose paragraphs. A paragraph is a bullet of its own; a
line that continues a bullet (no marker, no blank line before it) is joined
to it. Text before any header counts as inclusion, which is how registrants
write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A section header: the whole line names inclusion or exclusion (optionally "key", "criteria", a colon).
_HEADER = re.compile(
    r"^\s*(?:[*#-]\s*)?(?:key\s+|main\s+|general\s+)?(?P<kind>inclusion|exclusion|non[- ]?inclusion)"
    r"(?:\s+criteria)?\s*(?:\([^)]*\))?\s*:?\s*[*#]*\s*$",
    re.IGNORECASE,
)
#: A bullet marker at the start of a line: *, -, •, ·, o, 1. 1) a) i.
_BULLET = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[*•·▪◦‣⁃-]|\d{1,2}[.)]|[a-z][.)]|[ivx]{1,4}[.)])[ \t]+(?=\S)")


@dataclass(frozen=True)
class Bullet:
    """One criterion as registered: its section, nesting and exact place in the text."""

    index: int  # position among the record's bullets, from 0
    kind: str  # inclusion | exclusion
    level: int  # 0 for a top bullet, 1 for a bullet nested under it ...
    parent: int | None  # index of the bullet it is nested under
    text: str  # the words, marker removed, lines joined as written
    start: int  # offset of ``text`` in the eligibility text
    end: int


@dataclass
class _Open:
    kind: str
    indent: int
    start: int
    end: int
    marked: bool


def split_criteria(text: str) -> list[Bullet]:
    """The bullets of an eligibility text, in order, each with its section and offsets."""
    out: list[_Open] = []
    kind = "inclusion"
    pos = 0
    blank_before = True
    for raw in text.splitlines(keepends=True):
        line_start = pos
        pos += len(raw)
        line = raw.rstrip("\r\n")
        if not line.strip():
            blank_before = True
            continue
        header = _HEADER.match(line)
        if header:
            kind = "inclusion" if header["kind"].lower() == "inclusion" else "exclusion"
            blank_before = True
            continue
        m = _BULLET.match(line)
        if m:
            indent = len(m["indent"].expandtabs(4))
            content_start = line_start + m.end()
            out.append(_Open(kind, indent, content_start, line_start + len(line.rstrip()), True))
        elif out and not blank_before and out[-1].kind == kind:
            out[-1].end = line_start + len(line.rstrip())  # a continuation line
        else:
            lead = len(line) - len(line.lstrip())
            out.append(_Open(kind, lead, line_start + lead, line_start + len(line.rstrip()), False))
        blank_before = False
    return _nest(text, out)


def _nest(text: str, opened: list[_Open]) -> list[Bullet]:
    """Give each bullet its level and parent from the indentation of the marked bullets before it."""
    bullets: list[Bullet] = []
    stack: list[tuple[int, int]] = []  # (indent, index) of the open parents
    last_kind = None
    for i, o in enumerate(opened):
        if o.kind != last_kind:
            stack = []
            last_kind = o.kind
        if not o.marked:  # a loose paragraph is a top-level criterion of its own
            stack = []
            level, parent = 0, None
        else:
            while stack and stack[-1][0] >= o.indent:
                stack.pop()
            level = len(stack)
            parent = stack[-1][1] if stack else None
            stack.append((o.indent, i))
        bullets.append(Bullet(i, o.kind, level, parent, text[o.start:o.end], o.start, o.end))
    return bullets
