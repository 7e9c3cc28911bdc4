"""The ClinicalTrials.gov sections of a study page, from its API v2 JSON.

The JSON comes from :func:`acse_kg.ctgov.export.export_study`, the one
derivation of a ClinicalTrials.gov record from the graph, so that pages, the
``/ctgov`` API and exports agree, and imported records render like the
bundled one. This module only formats: API codes become the labels readers
know, ISO dates become "August 2013", the eligibility text becomes nested lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

#: Enumeration class (in the ontology) of each coded field the page shows.
ENUM_CLASS = {
    "overallStatus": "RecruitmentStatus",
    "phase": "StudyPhase",
    "studyType": "StudyType",
    "designInfo": "DesignAttribute",
    "armType": "ArmType",
    "role": "InvestigatorRole",
    "idType": "IdentifierScheme",
    "dateType": "DateType",
    "responsiblePartyType": "ResponsiblePartyType",
}

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]


def humanise(code: str) -> str:
    """An API code as words: 'OLDER_ADULT' -> 'Older Adult', 'PHASE2' -> 'Phase 2'."""
    m = re.fullmatch(r"(EARLY_)?PHASE(\d)", code)
    if m:
        return ("Early Phase " if m.group(1) else "Phase ") + m.group(2)
    return " ".join(w.capitalize() for w in code.split("_"))


def date_text(iso: str | None) -> str:
    """'2013-08' -> 'August 2013'; '2014-01-14' -> 'January 14, 2014' (as ClinicalTrials.gov writes)."""
    if not iso:
        return ""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", iso)
    if not m:
        return iso
    y, mo, d = int(m.group(1)), int(m.group(2)), m.group(3)
    if not 1 <= mo <= 12:
        return iso
    if d:
        try:
            date(y, mo, int(d))
        except ValueError:
            return iso
        return f"{_MONTHS[mo - 1]} {int(d)}, {y}"
    return f"{_MONTHS[mo - 1]} {y}"


def paragraphs(text: str | None) -> list[str]:
    """Registered prose split at blank lines."""
    if not text:
        return []
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


@dataclass
class Block:
    """A piece of registered prose: a paragraph or a (possibly nested) list."""

    kind: str  # "p" | "ul" | "ol"
    text: str = ""
    items: list[Item] = field(default_factory=list)
    segments: list[tuple[str, str]] = field(default_factory=list)  # a paragraph's text with drafted words marked
    drafts: list[Any] = field(default_factory=list)  # the drafts read from it (acse_kg.pages.drafts.DraftView)


@dataclass
class Item:
    text: str
    children: list[Item] = field(default_factory=list)
    iri: str = ""
    number: int | None = None
    segments: list[tuple[str, str]] = field(default_factory=list)  # (words, anchor of the drafted span or "")
    drafts: list[Any] = field(default_factory=list)  # the drafts read from this bullet (acse_kg.pages.drafts.DraftView)


_BULLET = re.compile(r"^(?P<indent>\s*)(?:[*\-•+]|(?P<num>\d+)[.)])\s+(?P<text>.*)$")


def blocks(text: str | None) -> list[Block]:
    """Registered text with Markdown-like lists ('* ', '- ', '1. ', indented for nesting) as blocks."""
    out: list[Block] = []
    if not text:
        return out
    stack: list[tuple[int, list[Item]]] = []
    para: list[str] = []

    def flush_para() -> None:
        if para:
            out.append(Block("p", " ".join(" ".join(para).split())))
            para.clear()

    for line in text.splitlines():
        m = _BULLET.match(line)
        if not line.strip():
            flush_para()
            continue
        if m is None:
            if stack and line.startswith((" ", "\t")):
                stack[-1][1][-1].text += " " + " ".join(line.split())  # continuation of a bullet
                continue
            stack = []  # prose ends a list; consecutive prose lines make one paragraph
            para.append(line)
            continue
        flush_para()
        indent = len(m.group("indent").expandtabs(4))
        item = Item(" ".join(m.group("text").split()), number=int(m.group("num")) if m.group("num") else None)
        if not stack:
            block = Block("ol" if m.group("num") else "ul")
            out.append(block)
            stack = [(indent, block.items)]
        while len(stack) > 1 and indent < stack[-1][0]:
            stack.pop()
        if indent > stack[-1][0] and stack[-1][1]:
            parent = stack[-1][1][-1]
            stack.append((indent, parent.children))
        stack[-1][1].append(item)
    flush_para()
    return out


@dataclass
class EligibilityList:
    heading: str
    kind: str  # "inclusion" | "exclusion" | ""
    blocks: list[Block]


def eligibility_sections(text: str | None) -> list[EligibilityList]:
    """The criteria text split at its 'Inclusion Criteria:' / 'Exclusion Criteria:' headings."""
    if not text:
        return []
    parts = re.split(r"^\s*((?:Key\s+)?(?:Inclusion|Exclusion)(?:\s+Criteria)?\s*:?)\s*$", text,
                     flags=re.IGNORECASE | re.MULTILINE)
    out: list[EligibilityList] = []
    if parts[0].strip():
        out.append(EligibilityList("", "", blocks(parts[0])))
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        kind = "inclusion" if "inclusion" in heading.lower() else "exclusion"
        out.append(EligibilityList(heading.strip().rstrip(":").strip(), kind, blocks(body)))
    return out


class Labels:
    """API code -> display label, from the graph's enumerated individuals."""

    def __init__(self, by_class: dict[tuple[str, str], str]) -> None:
        self.by_class = by_class

    def __call__(self, field_name: str, code: str | None) -> str:
        if not code:
            return ""
        cls = ENUM_CLASS.get(field_name, "")
        return self.by_class.get((cls, code)) or humanise(code)


def modules(study: dict[str, Any]) -> dict[str, Any]:
    """The protocolSection modules plus derivedSection, each defaulting to {}."""
    ps = study.get("protocolSection", {})
    names = ["identificationModule", "statusModule", "sponsorCollaboratorsModule", "oversightModule",
             "descriptionModule", "conditionsModule", "designModule", "armsInterventionsModule",
             "outcomesModule", "eligibilityModule", "contactsLocationsModule", "referencesModule"]
    out = {n: ps.get(n, {}) for n in names}
    out["derivedSection"] = study.get("derivedSection", {})
    return out


def age_text(minimum: str | None, maximum: str | None) -> str:
    """'1 Year' and none -> '1 Year and older', as ClinicalTrials.gov words the ages."""
    if minimum and maximum:
        return f"{minimum} to {maximum}"
    if minimum:
        return f"{minimum} and older"
    if maximum:
        return f"up to {maximum}"
    return "All ages"
