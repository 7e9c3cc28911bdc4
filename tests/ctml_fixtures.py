"""Shared material of the CTML tests: the real CAPTUR trial and the v1 YAML example, and a readable rule shape."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from conftest import SHARED

from acse_kg.model import AlterationTest, And, Comparison, Expr, Not, Or, PriorTherapyTest, TumourTypeTest

DATA = SHARED / "reference" / "matchminer"
CAPTUR_FILE = DATA / "ctml_example_CAPTUR_NCT03297606.json"
V1_FILE = DATA / "ctml_example_v1_00-001.yml"
CAPTUR = "NCT03297606"


def captur() -> dict[str, Any]:
    """A fresh copy of CAPTUR's CTML (tests may change it)."""
    return copy.deepcopy(json.loads(CAPTUR_FILE.read_text(encoding="utf-8")))


def v1_example() -> dict[str, Any]:
    return yaml.safe_load(V1_FILE.read_text(encoding="utf-8"))


def arm(doc: dict[str, Any], code: str) -> dict[str, Any]:
    return next(a for s in doc["treatment_list"]["step"] for a in s["arm"] if a["arm_code"] == code)


def shape(e: Expr) -> Any:
    """A rule as nested (kind, frozenset) pairs of short strings: order-blind, blank of IRIs and labels.

    ``ALK Translocation``, ``MET Amplification cnv=High level amplification``, ``age_years ge 18.0``,
    ``not NSCLC``: what a reader of the protocol would check.
    """
    if isinstance(e, And):
        return ("and", frozenset(shape(o) for o in e.operands))
    if isinstance(e, Or):
        return ("or", frozenset(shape(o) for o in e.operands))
    if isinstance(e, Not):
        inner = shape(e.operand)
        return f"not {inner}" if isinstance(inner, str) else ("not", inner)
    if isinstance(e, TumourTypeTest):
        return e.tumour_type.code
    if isinstance(e, Comparison):
        return f"{e.variable.field} {e.comparator} {e.threshold}"
    if isinstance(e, PriorTherapyTest):
        return f"prior {e.drug.name}"
    assert isinstance(e, AlterationTest)
    parts = [e.gene.code if e.gene else "any-gene",
             e.alteration_type.iri.rsplit("#", 1)[-1] if e.alteration_type else "any-type"]
    for name, value in (("pc", e.protein_change), ("exon", e.exon), ("vc", e.variant_classification),
                        ("cnv", e.cnv_call), ("partner", e.partner.code if e.partner else None),
                        ("fn", e.function), ("wt", e.wildtype)):
        if value is not None:
            parts.append(f"{name}={value}")
    return " ".join(parts)
