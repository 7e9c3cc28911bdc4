"""The dosing regimen that applies to a patient, from the regimens of the study model.

A regimen has a population (age bounds and, for some, a condition on the
diagnosis: children with a given lymphoma or without it). The regimen whose
population takes the patient applies; where its dose is per m² of body
surface area and height and weight are known, the dose in mg is computed with
the Mosteller formula, BSA = sqrt(height_cm × weight_kg / 3600). A regimen
known only by its registered text (a CTML dose level) is given as that text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from ..model import Regimen as RegimenModel
from .decisions import Memo, shape
from .rules import Facts, compile_expr

UNIT_DISPLAY = {"mg/m2": "mg/m²"}


@dataclass
class Regimen:
    """A model regimen compiled for matching: its population's bounds and condition as functions."""

    iri: str
    label: str
    position: float
    dose: float | None
    unit: str
    per_bsa: bool
    min_age: float | None
    max_age: float | None
    conditions: list[Callable[[Facts], Any]]
    population: str
    drug: str | None = None  # IRI of the intervention's drug
    #: What decides whether and how the regimen applies, and what the result shows of it but its IRI:
    #: regimens stated alike in many trials (copies of one protocol) are decided once per profile.
    key: Hashable = None

    def applies(self, age: float, facts: Facts) -> bool:
        if self.min_age is not None and age < self.min_age:
            return False
        if self.max_age is not None and age >= self.max_age:
            return False
        return all(c(facts) is True for c in self.conditions)


def compile_regimens(regimens: Iterable[RegimenModel], drug_of: dict[str, str | None]) -> list[Regimen]:
    """The study's regimens ready to be picked per patient (``drug_of``: intervention IRI -> drug IRI)."""
    out = []
    for r in regimens:
        unit = r.dose_unit or "mg"
        pop = r.population
        freq = r.frequency.label if r.frequency else ""
        label = r.label or (f"{r.dose:g} {UNIT_DISPLAY.get(unit, unit)} {freq}".strip() if r.dose is not None
                            else r.registered_text)
        per_bsa = bool(r.per_bsa) if r.per_bsa is not None else unit.endswith("/m2")
        min_age, max_age = (pop.min_age, pop.max_age) if pop else (None, None)
        population = pop.label if pop else ""
        condition = pop.condition if pop else None
        out.append(Regimen(
            iri=r.iri, label=label, position=r.position, dose=r.dose, unit=unit, per_bsa=per_bsa,
            min_age=min_age, max_age=max_age,
            conditions=[compile_expr(condition)] if condition is not None else [],
            population=population,
            drug=drug_of.get(r.intervention.iri) if r.intervention else None,
            key=(label, r.position, r.dose, unit, per_bsa, min_age, max_age, population, shape(condition)),
        ))
    return sorted(out, key=lambda g: (g.position, g.iri))


def mosteller_bsa(height_cm: float, weight_kg: float) -> float:
    """Body surface area in m² (Mosteller 1987)."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


def dosing_for(regimens: list[Regimen], age: float, facts: Facts,
               height_cm: float | None, weight_kg: float | None) -> dict[str, Any] | None:
    """The regimen that applies to the patient, with the dose in mg where it can be computed."""
    g = _pick(regimens, age, facts)
    return None if g is None else _dose(g, height_cm, weight_kg)


def dosing_shared(regimens: list[Regimen], key: Hashable, memo: Memo, age: float, facts: Facts,
                  height_cm: float | None, weight_kg: float | None) -> dict[str, Any] | None:
    """:func:`dosing_for`, decided once per profile for every trial whose regimens have the same ``key``
    (the tuple of their keys): each trial gets a copy with its own regimen's IRI."""
    got = memo.get(("dosing", key), False)
    if got is False:
        g = _pick(regimens, age, facts)
        got = memo["dosing", key] = None if g is None else (
            next(n for n, r in enumerate(regimens) if r is g), _dose(g, height_cm, weight_kg))
    if got is None:
        return None
    at, out = got
    return {**out, "iri": regimens[at].iri}


def _pick(regimens: list[Regimen], age: float, facts: Facts) -> Regimen | None:
    fitting = [g for g in regimens if g.applies(age, facts)]
    if not fitting:
        return None
    # A regimen with a population condition (e.g. children with one lymphoma) is more specific.
    return max(fitting, key=lambda r: (len(r.conditions), -r.position))


def _dose(g: Regimen, height_cm: float | None, weight_kg: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"regimen": g.label, "dose_mg": None, "iri": g.iri, "population": g.population}
    if g.dose is None:
        out["note"] = "the dose is given as registered text only"
    elif not g.per_bsa:
        out["dose_mg"] = _tidy(g.dose)
    elif height_cm is not None and weight_kg is not None:
        bsa = mosteller_bsa(height_cm, weight_kg)
        out["bsa_m2"] = round(bsa, 3)
        out["dose_mg"] = _tidy(round(g.dose * bsa, 1))
    else:
        out["note"] = "dose is per m² of body surface area: give height_cm and weight_kg for a dose in mg"
    return out


def _tidy(x: float) -> float | int:
    """250.0 -> 250, as the contract shows doses."""
    return int(x) if float(x).is_integer() else x
