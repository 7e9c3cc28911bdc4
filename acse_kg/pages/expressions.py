"""Criterion expressions (acse:Comparison, tests, And/Or/Not) as readable text.

The graph states each computable rule as a tree of expression nodes, mostly
blank nodes. The pages fetch the trees' triples in one SPARQL result (so blank
node labels are consistent) and print them here, with thresholds and their
UCUM units, so a reader sees exactly what software evaluates.
"""

from __future__ import annotations

from collections import defaultdict
import re
from dataclasses import dataclass, field

from rdflib import RDF, Literal, URIRef
from rdflib.term import Node

from ..namespaces import ACSE

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


def number_text(value: Node) -> str:
    """A threshold as written: 8.0 -> '8', 1.5 -> '1.5', true -> 'yes'."""
    if isinstance(value, Literal):
        py = value.toPython()
        if isinstance(py, bool):
            return "yes" if py else "no"
        if isinstance(py, (int, float)) or hasattr(py, "as_integer_ratio"):
            try:
                f = float(py)
            except (TypeError, ValueError):
                return str(value)
            return str(int(f)) if f.is_integer() else f"{f:g}"
    return str(value)


@dataclass
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


@dataclass
class ExpressionGraph:
    """The triples of every expression node of one study, and labels of the IRIs they cite."""

    triples: dict[Node, dict[URIRef, list[Node]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    labels: dict[str, str] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

    def add(self, s: Node, p: URIRef, o: Node) -> None:
        if o not in self.triples[s][p]:
            self.triples[s][p].append(o)

    def one(self, node: Node, p: URIRef) -> Node | None:
        vals = self.triples.get(node, {}).get(p, [])
        return vals[0] if vals else None

    def label(self, iri: Node | None) -> str:
        if iri is None:
            return "?"
        return self.labels.get(str(iri), str(iri).rsplit("/", 1)[-1].rsplit("#", 1)[-1])

    def operands(self, node: Node) -> list[Node]:
        """An And/Or's operands in reading order: RDF keeps them as a set, and ordering by their
        text (not by blank-node labels, which change at every load) keeps every page stable."""
        return sorted(self.triples.get(node, {}).get(ACSE.operand, []), key=lambda o: self.text(o, top=False))

    # ------------------------------------------------------------ printing
    def text(self, node: Node, top: bool = True) -> str:
        """The expression as a sentence fragment; nested And/Or are parenthesised."""
        types = set(self.triples.get(node, {}).get(RDF.type, []))
        ops = self.triples.get(node, {}).get(ACSE.operand, [])
        if ACSE.Comparison in types:
            return self._comparison(node)
        if ACSE.TumourTypeTest in types:
            t = self.one(node, ACSE.tumourType)
            code = self.codes.get(str(t), "")
            return f"diagnosis is {self.label(t)}" + (f" ({code})" if code else "") + " or a subtype"
        if ACSE.AlterationTest in types:
            gene = self.one(node, ACSE.gene)
            alt = self.one(node, ACSE.alterationType)
            g = self.label(gene) if gene is not None else "a crizotinib target"
            a = self.label(alt) if alt is not None else "alteration"
            return f"{g} {a}"
        if ACSE.Negation in types and ops:
            return f"not {self.text(ops[0], top=False)}"
        if ACSE.Conjunction in types or ACSE.Disjunction in types:
            word = " and " if ACSE.Conjunction in types else " or "
            body = word.join(self.text(o, top=False) for o in self.operands(node))
            return body if top else f"({body})"
        return "?"

    def _comparison(self, node: Node) -> str:
        var = self.one(node, ACSE.variable)
        comp = self.one(node, ACSE.comparator)
        thr = self.one(node, ACSE.threshold)
        unit = self.one(node, ACSE.unit)
        value = number_text(thr) if thr is not None else "?"
        if isinstance(thr, Literal) and isinstance(thr.toPython(), bool) and comp == ACSE.eq:
            return self.label(var) if thr.toPython() else f"no {self.label(var)}"
        sym = self.symbols.get(str(comp), "?")
        ut = unit_text(str(unit), value) if unit is not None else ""
        return f"{self.label(var)} {sym} {value}" + (f" {ut}" if ut else "")

    def thresholds(self, node: Node) -> list[Threshold]:
        """Every numeric comparison inside an expression, in reading order."""
        out: list[Threshold] = []
        self._collect(node, out, set(), False)
        return out

    def _collect(self, node: Node, out: list[Threshold], seen: set[Node], alternative: bool) -> None:
        if node in seen:
            return
        seen.add(node)
        types = set(self.triples.get(node, {}).get(RDF.type, []))
        if ACSE.Comparison in types:
            thr = self.one(node, ACSE.threshold)
            if isinstance(thr, Literal) and isinstance(thr.toPython(), bool):
                return
            var = self.one(node, ACSE.variable)
            comp = self.one(node, ACSE.comparator)
            unit = self.one(node, ACSE.unit)
            reg_t = self.one(node, ACSE.registeredThreshold)
            reg_u = self.one(node, ACSE.registeredUnit)
            cur = self.one(node, ACSE.curation)
            registered = ""
            if reg_t is not None or reg_u is not None:
                registered = f"{number_text(reg_t) if reg_t is not None else ''} {reg_u or ''}".strip()
            out.append(
                Threshold(
                    variable=self.label(var),
                    variable_iri=str(var) if var is not None else "",
                    comparator=self.symbols.get(str(comp), "?"),
                    value=number_text(thr) if thr is not None else "",
                    unit=str(unit) if unit is not None else "",
                    unit_text=unit_text(str(unit), number_text(thr) if thr is not None else None)
                    if unit is not None else "",
                    registered=registered,
                    curation_iri=str(cur) if cur is not None else "",
                    alternative=alternative,
                )
            )
            return
        alternative = alternative or ACSE.Disjunction in types
        for o in self.operands(node):
            self._collect(o, out, seen, alternative)
