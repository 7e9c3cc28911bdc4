"""The arm's dosing regimen for a patient, from the regimens the graph states.

The record gives three regimens, each with a population (age bounds and,
for children with ALCL or without it, a condition on the diagnosis). The
regimen whose population takes the patient applies; where its dose is per m²
of body surface area and height and weight are known, the dose in mg is
computed with the Mosteller formula, BSA = sqrt(height_cm × weight_kg / 3600).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import GraphStore
from .rules import Expr, Facts, _py, compile_expr

UNIT_DISPLAY = {"mg/m2": "mg/m²"}


@dataclass
class Regimen:
    iri: str
    label: str
    position: int
    dose: float
    unit: str
    per_bsa: bool
    min_age: float | None
    max_age: float | None
    conditions: list[Callable[[Facts], Any]]
    population: str

    def applies(self, age: float, facts: Facts) -> bool:
        if self.min_age is not None and age < self.min_age:
            return False
        if self.max_age is not None and age >= self.max_age:
            return False
        return all(c(facts) is True for c in self.conditions)


def mosteller_bsa(height_cm: float, weight_kg: float) -> float:
    """Body surface area in m² (Mosteller 1987)."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


def load_regimens(store: GraphStore, study: str, exprs: dict[tuple[str, str], list[Expr]]) -> list[Regimen]:
    rows = store.select(
        f"""SELECT ?r ?label ?pos ?dose ?unit ?bsa ?freq ?pop ?plabel ?min ?max WHERE {{
          <{study}> (acse:hasArm/acse:hasIntervention)|acse:hasIntervention ?iv .
          ?iv acse:hasDosingRegimen ?r . ?r acse:doseValue ?dose .
          OPTIONAL {{ ?r rdfs:label ?label }} OPTIONAL {{ ?r acse:position ?pos }}
          OPTIONAL {{ ?r acse:doseUnit ?unit }} OPTIONAL {{ ?r acse:perBodySurfaceArea ?bsa }}
          OPTIONAL {{ ?r acse:frequency/rdfs:label ?freq }}
          OPTIONAL {{ ?r acse:population ?pop OPTIONAL {{ ?pop rdfs:label ?plabel }}
                      OPTIONAL {{ ?pop acse:minimumAge ?min }} OPTIONAL {{ ?pop acse:maximumAge ?max }} }}
        }}"""
    )
    out: dict[str, Regimen] = {}
    for r in rows:
        iri = str(r["r"])
        if iri in out:
            continue
        unit = str(r.get("unit") or "mg")
        dose = float(_py(r["dose"]))
        label = str(r.get("label") or f"{dose:g} {UNIT_DISPLAY.get(unit, unit)} {r.get('freq') or ''}".strip())
        pop = str(r["pop"]) if r.get("pop") is not None else ""
        out[iri] = Regimen(
            iri=iri,
            label=label,
            position=int(_py(r["pos"])) if r.get("pos") is not None else 0,
            dose=dose,
            unit=unit,
            per_bsa=bool(_py(r["bsa"])) if r.get("bsa") is not None else unit.endswith("/m2"),
            min_age=_py(r.get("min")),
            max_age=_py(r.get("max")),
            conditions=[compile_expr(e) for e in exprs.get((pop, "populationCondition"), [])],
            population=str(r.get("plabel") or ""),
        )
    return sorted(out.values(), key=lambda g: (g.position, g.iri))


def dosing_for(regimens: list[Regimen], age: float, facts: Facts,
               height_cm: float | None, weight_kg: float | None) -> dict[str, Any] | None:
    """The regimen that applies to the patient, with the dose in mg where it can be computed."""
    fitting = [g for g in regimens if g.applies(age, facts)]
    if not fitting:
        return None
    # A regimen with a population condition (e.g. children with ALCL) is more specific.
    g = max(fitting, key=lambda r: (len(r.conditions), -r.position))
    out: dict[str, Any] = {"regimen": g.label, "dose_mg": None, "iri": g.iri, "population": g.population}
    if not g.per_bsa:
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
