"""The study model's expressions (criteria, cohort rules) as readable text, with thresholds and units.

The expressions are the model's tagged union (:mod:`acse_kg.model.expressions`),
read once from the graph; this module only prints them, so a reader sees
exactly what software evaluates. Every expression type has its text, the
variant-level fields of an alteration test included. Nothing here names a
trial: a gene-less alteration test reads as "a <drug> target", the drugs being
the study's own, whatever they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..model import (
    COMPARATORS,
    AlterationTest,
    And,
    Comparison,
    Expr,
    Not,
    Or,
    Population,
    PriorTherapyTest,
    Term,
    TumourTypeTest,
    operands,
)

#: How UCUM codes read in prose, after a number; each page shows the code itself beside it
#: (thresholds table) or in a title attribute. Singular and plural where the word has both.
_UNIT_TEXT: dict[str, tuple[str, str]] = {
    "10*9/L": ("× 10⁹/L", "× 10⁹/L"),
    "{ULN}": ("× ULN", "× ULN"),
    "a": ("year", "years"),
    "mo": ("month", "months"),
    "wk": ("week", "weeks"),
    "d": ("day", "days"),
    "{score}": ("", ""),
}

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _ucum_prose(code: str) -> str:
    """A UCUM code with its exponents as superscripts: 'mg/m2' -> 'mg/m²', '10*9/L' -> '× 10⁹/L'."""
    text = re.sub(r"10\*(-?\d+)", lambda m: "× 10" + m.group(1).translate(_SUPERSCRIPT), code)
    return re.sub(r"(?<=[A-Za-z])(-?\d+)\b", lambda m: m.group(1).translate(_SUPERSCRIPT), text)


def unit_text(code: str | None, value: str | float | None = None) -> str:
    """A UCUM code as it reads after the number ``value`` ('10*9/L' -> '× 10⁹/L'; 'a' after 1 -> 'year').

    Without a value the plural is used (a unit column, "< 18 years").
    """
    if not code:
        return ""
    if code in _UNIT_TEXT:
        one, many = _UNIT_TEXT[code]
        try:
            singular = value is not None and float(value) == 1
        except (TypeError, ValueError):
            singular = False
        return one if singular else many
    return _ucum_prose(code)


def number_text(value: float | int | bool | str | None) -> str:
    """A threshold or dose as written: 8.0 -> '8', 1.5 -> '1.5', true -> 'yes'; None -> ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        f = float(value)
        return str(int(f)) if f.is_integer() else f"{f:g}"
    return str(value)


def ages_text(pop: Population | None) -> str:
    """Age bounds as the ontology states them: minimum inclusive, maximum exclusive ("≥ 1 year")."""
    if pop is None:
        return "any age"
    lo = f"{pop.min_age:g}" if pop.min_age is not None else None
    hi = f"{pop.max_age:g}" if pop.max_age is not None else None
    if lo and hi:
        return f"≥ {lo} and < {hi} {unit_text('a', hi)}"
    if lo:
        return f"≥ {lo} {unit_text('a', lo)}"
    if hi:
        return f"< {hi} {unit_text('a', hi)}"
    return "any age"


@dataclass(frozen=True)
class Threshold:
    """One comparison of a criterion: the row of a thresholds table."""

    variable: str
    variable_iri: str
    comparator: str
    value: str
    unit: str
    unit_text: str
    registered: str = ""
    curation_iri: str = ""
    alternative: bool = False  # one of several alternatives (inside an Or): not required on its own


def _local(iri: str) -> str:
    return iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _label(t: Term) -> str:
    """A term as the pages name it in a rule: a gene by its symbol, anything else by its label."""
    return t.label or t.code or _local(t.iri)


def _gene(t: Term) -> str:
    return t.code or t.label or _local(t.iri)


def _or_list(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


class ExpressionText:
    """Prints one study's expressions; ``drugs`` (the study's drug labels) name what a gene-less test targets."""

    def __init__(self, drugs: Iterable[str] = ()) -> None:
        self.drugs = [d for d in drugs if d]

    def operands(self, e: Expr) -> list[Expr]:
        """An And/Or's operands in reading order: ordered by their text, so every page is stable."""
        return sorted(operands(e), key=lambda o: self.text(o, top=False))

    def text(self, e: Expr | None, top: bool = True) -> str:
        """The expression as a sentence fragment; nested And/Or are parenthesised; None -> ''."""
        if e is None:
            return ""
        if isinstance(e, Comparison):
            return self._comparison(e)
        if isinstance(e, TumourTypeTest):
            t = e.tumour_type
            return f"diagnosis is {_label(t)}" + (f" ({t.code})" if t.code else "") + " or a subtype"
        if isinstance(e, AlterationTest):
            return self._alteration(e)
        if isinstance(e, PriorTherapyTest):
            return f"prior treatment with {_label(e.drug)}"
        if isinstance(e, Not):
            return f"not {self.text(e.operand, top=False)}"
        word = " and " if isinstance(e, And) else " or "
        body = word.join(self.text(o, top=False) for o in self.operands(e))
        return body if top else f"({body})"

    def _comparison(self, e: Comparison) -> str:
        name = e.variable.label or _local(e.variable.iri)
        value = number_text(e.threshold)
        if isinstance(e.threshold, bool) and e.comparator == "eq":
            return name if e.threshold else f"no {name}"
        sym = COMPARATORS.get(e.comparator, "?")
        ut = unit_text(e.unit, value) if e.unit else ""
        return f"{name} {sym} {value}" + (f" {ut}" if ut else "")

    def _alteration(self, e: AlterationTest) -> str:
        if e.gene is not None:
            gene = _gene(e.gene)
        elif self.drugs:
            gene = f"a {_or_list(self.drugs)} target"  # what the study's drugs target
        else:
            gene = "any gene"
        if e.wildtype:
            return f"{gene} wild type"
        kind = _label(e.alteration_type) if e.alteration_type is not None else "alteration"
        details = []
        if e.protein_change:
            details.append(f"any change at {e.protein_change}" if _wildcard(e.protein_change) else e.protein_change)
        if e.exon is not None:
            details.append(f"exon {e.exon}")
        if e.variant_classification:
            details.append(e.variant_classification.replace("_", " ").lower())
        if e.cnv_call:
            details.append(f"copy-number call {e.cnv_call.replace('_', ' ').lower()}")
        if e.partner is not None:
            details.append(f"with {_gene(e.partner)}")
        if e.function:
            details.append(e.function)
        return f"{gene} {kind}" + (f" ({', '.join(details)})" if details else "")

    # ------------------------------------------------------------ thresholds
    def thresholds(self, e: Expr | None) -> list[Threshold]:
        """Every numeric comparison inside an expression, in reading order."""
        out: list[Threshold] = []
        if e is not None:
            self._collect(e, out, False)
        return out

    def _collect(self, e: Expr, out: list[Threshold], alternative: bool) -> None:
        if isinstance(e, Comparison):
            if isinstance(e.threshold, bool):
                return
            value = number_text(e.threshold)
            registered = ""
            if e.registered_threshold is not None or e.registered_unit is not None:
                registered = f"{number_text(e.registered_threshold)} {e.registered_unit or ''}".strip()
            out.append(Threshold(
                variable=e.variable.label or _local(e.variable.iri),
                variable_iri=e.variable.iri,
                comparator=COMPARATORS.get(e.comparator, "?"),
                value=value,
                unit=e.unit or "",
                unit_text=unit_text(e.unit, value) if e.unit else "",
                registered=registered,
                curation_iri=e.curation or "",
                alternative=alternative,
            ))
            return
        alternative = alternative or isinstance(e, Or)
        for o in self.operands(e):
            self._collect(o, out, alternative)


def _wildcard(change: str) -> bool:
    """A protein change naming a position without the residue it becomes (p.V600), which any change there meets."""
    return re.fullmatch(r"p\.[A-Z][a-z]{0,2}\d+", change) is not None
