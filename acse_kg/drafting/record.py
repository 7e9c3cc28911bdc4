"""Draft a whole ClinicalTrials.gov API v2 record: structured eligibility fields plus the criteria text.

The output is the criteria JSON format (docs/criteria-json.md): one object per
atomic requirement, with its evidence (the quoted words, their character span
in ``eligibilityCriteria``, the bullet, the rule) and review state ``draft``.
Bullets the parser could not structure are listed apart (``to_confirm``), so
nothing the record says is silently dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ..errors import AcseError
from .parser import Item, draft_bullet
from .sections import Bullet, split_criteria

#: The keys of one criteria-JSON object, in the order they are written.
FIELDS = ("id", "kind", "variable", "name", "comparator", "value", "unit", "condition", "gene", "alteration", "drug", "quote",
          "span", "bullet", "source", "rule", "state")

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(years?|months?|weeks?|days?|hours?|minutes?)\s*$", re.IGNORECASE)
_AGE_UNITS = {"year": "a", "month": "mo", "week": "wk", "day": "d", "hour": "h", "minute": "min"}


class DraftingError(AcseError, ValueError):
    """The input is not a study record the drafter can read (the message names what is wrong)."""


@dataclass(frozen=True)
class Draft:
    """A record's drafted criteria, and the bullets left as text for a curator to confirm."""

    nct: str | None
    items: list[dict[str, Any]]
    to_confirm: list[dict[str, Any]]
    bullets: list[Bullet]


def eligibility(record: dict[str, Any]) -> dict[str, Any]:
    """The record's eligibility module; a clear error when the record is not an API v2 study."""
    if not isinstance(record, dict):
        raise DraftingError(f"a study record is a JSON object, not {type(record).__name__}")
    proto = record.get("protocolSection")
    if not isinstance(proto, dict):
        raise DraftingError("not a ClinicalTrials.gov API v2 study record: no protocolSection object")
    module = proto.get("eligibilityModule") or {}
    if not isinstance(module, dict):
        raise DraftingError("protocolSection.eligibilityModule is not an object")
    text = module.get("eligibilityCriteria")
    if text is not None and not isinstance(text, str):
        raise DraftingError("protocolSection.eligibilityModule.eligibilityCriteria is not a string")
    return module


def draft(record: dict[str, Any]) -> Draft:
    """Draft every computable requirement of an API v2 record (structured fields first, then bullet by bullet)."""
    module = eligibility(record)
    ident = (record.get("protocolSection") or {}).get("identificationModule") or {}
    nct = ident.get("nctId") if isinstance(ident, dict) else None
    items = _structured(module)
    text = module.get("eligibilityCriteria") or ""
    bullets = split_criteria(text)
    to_confirm = []
    for b in bullets:
        drafted = draft_bullet(b)
        for it in drafted:
            items.append(_as_json(it, b, text))
        if not drafted:
            to_confirm.append({"kind": b.kind, "bullet": b.index, "parent": b.parent, "quote": b.text,
                               "span": [b.start, b.end], "state": "to_confirm"})
    return Draft(nct, items, to_confirm, bullets)


def draft_record(record_json: dict[str, Any] | str | bytes) -> list[dict[str, Any]]:
    """The record's drafted criteria as the criteria-JSON list (a record as a dict, or its JSON text)."""
    record: dict[str, Any]
    if isinstance(record_json, (str, bytes)):
        import json

        try:
            record = json.loads(record_json)
        except ValueError as exc:
            raise DraftingError(f"the study record is not JSON: {exc}") from None
    else:
        record = record_json
    return draft(record).items


def _item_id(obj: dict[str, Any]) -> str:
    """An id that stays the same when a re-draft finds the same item in the same words (so reviews survive)."""
    key = "|".join(str(obj.get(k)) for k in ("kind", "variable", "name", "comparator", "value", "unit", "condition", "gene",
                                              "alteration", "drug", "quote"))
    return "d-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def _finish(obj: dict[str, Any]) -> dict[str, Any]:
    obj["id"] = _item_id(obj)
    return {k: obj.get(k) for k in FIELDS}


def _as_json(it: Item, b: Bullet, text: str) -> dict[str, Any]:
    start, end = b.start + it.start, b.start + it.end
    return _finish({
        "kind": it.kind, "variable": it.variable, "name": it.name, "comparator": it.comparator, "value": it.value,
        "unit": it.unit, "condition": it.condition, "gene": it.gene, "alteration": it.alteration, "drug": it.drug,
        "quote": text[start:end], "span": [start, end], "bullet": b.index,
        "source": "protocolSection.eligibilityModule.eligibilityCriteria", "rule": it.rule, "state": "draft",
    })


def _structured(module: dict[str, Any]) -> list[dict[str, Any]]:
    """Minimum and maximum age, and sex, from the record's own fields (rule ``structured:<field>``)."""
    out = []
    for field, comparator in (("minimumAge", ">="), ("maximumAge", "<=")):
        raw = module.get(field)
        if not isinstance(raw, str):
            continue
        m = _AGE.match(raw)
        if not m:
            continue
        value = float(m[1]) if "." in m[1] else int(m[1])
        unit = _AGE_UNITS[m[2].lower().rstrip("s")]
        out.append(_finish({"kind": "inclusion", "variable": "age_years", "comparator": comparator, "value": value, "unit": unit,
                            "quote": raw, "source": f"protocolSection.eligibilityModule.{field}",
                            "rule": f"structured:{field}", "state": "draft"}))
    sex = module.get("sex")
    if sex in ("FEMALE", "MALE"):
        out.append(_finish({"kind": "inclusion", "variable": "sex", "comparator": "==", "value": sex.lower(), "quote": sex,
                            "source": "protocolSection.eligibilityModule.sex", "rule": "structured:sex", "state": "draft"}))
    return out
