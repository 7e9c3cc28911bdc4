"""Drafted criteria on the study page: each drafted rule under its bullet, its source words marked in the bullet.

Why placed by words and not by the drafter's bullet index: the page splits the
registered text into bullets with its own reader (:mod:`.ctgov_view`, nested
lists, continuation lines), which need not count bullets as the drafter does.
The quote of a drafted item is the record's own words, so it is found in the
page's bullet text (spaces collapsed on both sides), walking the bullets in the
order of the text as the items' spans go, so the same words in two bullets are
each found where they were drafted. Each span found becomes a ``<mark>`` with an
anchor, and every drafted item under the bullet links to it: a curator sees the
rule, the state and the words it came from together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .ctgov_view import Block, EligibilityList, Item

#: Where a structured field's draft points on the page (the cells of the eligibility table).
FIELD_ANCHORS = {"minimumAge": "src-ages", "maximumAge": "src-ages", "sex": "src-sexes"}


@dataclass(frozen=True)
class DraftView:
    """One drafted item as the page shows it: its rule in words, state, and the anchor of its source words."""

    id: str
    rule_text: str
    state: str
    rule: str
    kind: str
    anchor: str
    quote: str


def rule_text(item: dict[str, Any]) -> str:
    """``anc >= 1500 /uL``, ``biomarker present KRAS G12C``, ``brain_metastases present (if untreated)``."""
    what = item["variable"] + (f" [{item['name']}]" if item.get("name") else "")
    parts = [what, item["comparator"]]
    parts += [str(item[k]) for k in ("value", "unit", "gene", "alteration", "drug") if item.get(k) not in (None, "")]
    cond = f" ({item['condition']})" if item.get("condition") else ""
    return " ".join(parts) + cond


def _pattern(quote: str) -> re.Pattern[str] | None:
    words = quote.split()
    return re.compile(r"\s+".join(re.escape(w) for w in words)) if words else None


def _nodes(sections: list[EligibilityList]) -> list[Item | Block]:
    """The bullets and paragraphs of the eligibility text, in the order of the text."""
    out: list[Item | Block] = []

    def walk(items: list[Item]) -> None:
        for it in items:
            out.append(it)
            walk(it.children)

    for section in sections:
        for block in section.blocks:
            if block.kind == "p":
                out.append(block)
            else:
                walk(block.items)
    return out


def place(sections: list[EligibilityList], items: list[dict[str, Any]]) -> tuple[list[DraftView], list[DraftView]]:
    """Put each drafted item under the bullet its words are in, marking the words; returns (structured, unplaced).

    Structured items (age, sex) point at the table's cells; an item whose words are in no
    bullet (the record's text changed since it was drafted) is returned unplaced, shown apart
    with its quote, so nothing drafted is hidden.
    """
    nodes = _nodes(sections)
    spans: dict[int, list[tuple[int, int, str]]] = {}  # node index -> (start, end, anchor), by start
    structured, unplaced = [], []
    cursor = 0
    for item in sorted(items, key=lambda i: ((i.get("span") or [-1])[0], i["id"])):
        source = (item.get("source") or "").rsplit(".", 1)[-1]
        if not item.get("span"):
            anchor = FIELD_ANCHORS.get(source, "")
            structured.append(DraftView(item["id"], rule_text(item), item["state"], item["rule"], item["kind"], anchor,
                                        item.get("quote") or ""))
            continue
        pattern = _pattern(item.get("quote") or "")
        found = None
        for n in [*range(cursor, len(nodes)), *range(cursor)] if pattern else []:
            assert pattern is not None  # the loop runs only with one
            m = pattern.search(nodes[n].text)
            if m:
                found = (n, m.start(), m.end())
                break
        if found is None:
            unplaced.append(DraftView(item["id"], rule_text(item), item["state"], item["rule"], item["kind"], "",
                                      item.get("quote") or ""))
            continue
        n, start, end = found
        cursor = n
        marks = spans.setdefault(n, [])
        anchor = next((a for s, e, a in marks if s <= start and end <= e), "")
        if not anchor:  # a new span (words inside a marked span link to that span)
            anchor = f"src-{item['id']}"
            marks.append((start, end, anchor))
        nodes[n].drafts.append(DraftView(item["id"], rule_text(item), item["state"], item["rule"], item["kind"], anchor,
                                         item.get("quote") or ""))
    for n, marks in spans.items():
        nodes[n].segments = _segments(nodes[n].text, marks)
    return structured, unplaced


def _segments(text: str, marks: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """The text cut at the marked spans: (words, anchor) with anchor "" between marks; overlaps join the earlier mark."""
    out: list[tuple[str, str]] = []
    pos = 0
    for start, end, anchor in sorted(marks):
        start = max(start, pos)
        if end <= start:
            continue
        if start > pos:
            out.append((text[pos:start], ""))
        out.append((text[start:end], anchor))
        pos = end
    if pos < len(text):
        out.append((text[pos:], ""))
    return out
