"""SHACL shapes generated from the graph's structured criteria, and pyshacl as the reference.

SHACL validation is two-valued; a criterion is three-valued. So each
computable criterion gets two node shapes, both linked to the criterion
(``dcterms:source``) and carrying a message:

* the *met* shape (pessimistic, severity sh:Warning): conforms only when every
  datum the rule needs is present and the rule holds;
* the *possible* shape (optimistic, severity sh:Violation): a missing datum is
  taken as satisfiable; a violation means the criterion is certainly not met.

Status: conforms to the met shape -> ``met``; violates the possible shape ->
``not_met``; otherwise ``unknown``. This is exactly Kleene logic: for every
expression E we emit ``sure(E)`` (E is true) and ``poss(E)`` (E is not false),
with ``sure(NOT X) = NOT poss(X)`` and ``poss(NOT X) = NOT sure(X)``, AND/OR
mapping to sh:and/sh:or. The conditions of the protocol (platelets by
pathology, bilirubin unless Gilbert's, AST/ALT by liver metastasis and
fibrosis, performance by age) are therefore real sh:or/sh:not/sh:and in the
shapes. The criterion is ``(NOT appliesWhen) OR requires``.

The shapes are committed in ``shapes/eligibility.ttl``; a test regenerates
them from the graph and checks the two are isomorphic, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, RDF, RDFS

from ..namespaces import ACSE, SH
from ..paths import SHAPES_DIR
from ..store import GraphStore
from .jsonld import PROF
from .rules import Criterion, Expr, load_criteria, load_expressions, load_variables

SHAPES_FILE = SHAPES_DIR / "eligibility.ttl"
SHAPES_NS = "https://w3id.org/acse-kg/id/shape/"
TARGET = PROF.profileId  # every profile has one: the shapes target its subjects

RANGE = {"ge": SH.minInclusive, "gt": SH.minExclusive, "le": SH.maxInclusive, "lt": SH.maxExclusive}


class _Builder:
    def __init__(self, g: rdflib.Graph) -> None:
        self.g = g

    def _list(self, items: list[Any]) -> BNode:
        head = BNode()
        Collection(self.g, head, items)
        return head

    def _path(self, field: str) -> Any:
        parts = [PROF[p] for p in field.split(".")]
        return parts[0] if len(parts) == 1 else self._list(parts)

    def _node(self, *pairs: tuple[Any, Any]) -> BNode:
        n = BNode()
        self.g.add((n, RDF.type, SH.NodeShape))
        for p, o in pairs:
            self.g.add((n, p, o))
        return n

    def _prop(self, path: Any, *pairs: tuple[Any, Any]) -> BNode:
        p = BNode()
        self.g.add((p, SH.path, path))
        for k, v in pairs:
            self.g.add((p, k, v))
        return self._node((SH.property, p))

    def shape(self, e: Expr, sure: bool) -> BNode:
        """``sure``: E is true (datum present); else: E is not false (missing datum tolerated)."""
        if e.op == "Comparison":
            assert e.variable is not None
            path = self._path(e.variable.field)
            thr = _literal(e.threshold)
            if e.comparator == "eq":
                return self._prop(path, (SH.hasValue, thr)) if sure else self._prop(path, (SH["in"], self._list([thr])))
            extra = [(SH.minCount, Literal(1))] if sure else []
            return self._prop(path, (RANGE[e.comparator], thr), *extra)  # type: ignore[index]
        if e.op == "TumourTypeTest":
            zero = BNode()
            self.g.add((zero, SH.zeroOrMorePath, RDFS.subClassOf))
            return self._prop(self._list([PROF.diagnosis, zero]), (SH.hasValue, URIRef(e.tumour_type)))  # type: ignore[arg-type]
        if e.op == "AlterationTest":
            parts = []
            if e.gene:
                parts.append(self._prop_only(PROF.gene, (SH.hasValue, URIRef(e.gene))))
            if e.alteration_type:
                parts.append(self._prop_only(PROF.alterationType, (SH.hasValue, URIRef(e.alteration_type))))
            q = self._node(*[(SH.property, p) for p in parts])
            return self._prop(PROF.alteration, (SH.qualifiedValueShape, q), (SH.qualifiedMinCount, Literal(1)))
        if e.op == "Negation":
            return self._node((SH["not"], self.shape(e.operands[0], not sure)))
        logic = SH["and"] if e.op == "Conjunction" else SH["or"]
        return self._node((logic, self._list([self.shape(o, sure) for o in e.operands])))

    def _prop_only(self, path: Any, *pairs: tuple[Any, Any]) -> BNode:
        p = BNode()
        self.g.add((p, SH.path, path))
        for k, v in pairs:
            self.g.add((p, k, v))
        return p

    def criterion(self, c: Criterion) -> None:
        assert c.requires is not None
        for kind, sure in (("met", True), ("possible", False)):
            iri = URIRef(c.iri.replace("/criterion/", "/shape/") + f"/{kind}") if "/criterion/" in c.iri \
                else URIRef(f"{SHAPES_NS}{c.id}/{kind}")
            g = self.g
            g.add((iri, RDF.type, SH.NodeShape))
            g.add((iri, SH.targetSubjectsOf, TARGET))
            g.add((iri, DCTERMS.source, URIRef(c.iri)))
            g.add((iri, ACSE.computable, Literal(True)))
            if sure:
                g.add((iri, SH.severity, SH.Warning))
                g.add((iri, RDFS.label, Literal(f"{c.id}: met (every datum present and the rule holds)", lang="en")))
                g.add((iri, SH.message, Literal(f"Not established as met ({c.kind}): {c.text}", lang="en")))
            else:
                g.add((iri, SH.severity, SH.Violation))
                g.add((iri, RDFS.label, Literal(f"{c.id}: not certainly failed (missing data satisfiable)", lang="en")))
                g.add((iri, SH.message, Literal(f"Not met ({c.kind}): {c.text}", lang="en")))
            rule = self.shape(c.requires, sure)
            if c.applies_when is None:
                g.add((iri, SH.node, rule))
            else:
                # (NOT appliesWhen) OR requires, in the same Kleene reading.
                off = self._node((SH["not"], self.shape(c.applies_when, not sure)))
                g.add((iri, SH["or"], self._list([off, rule])))


def _literal(v: Any) -> Literal:
    if isinstance(v, bool) or isinstance(v, str):
        return Literal(v)
    if isinstance(v, float):
        return Literal(Decimal(repr(v)).normalize() if v != int(v) else Decimal(int(v)))
    return Literal(v)


def decidable_criteria(store: GraphStore, study: str) -> list[Criterion]:
    variables = load_variables(store)
    return [c for c in load_criteria(store, study, load_expressions(store, variables)) if c.decidable]


def generate(store: GraphStore, study: str | None = None) -> rdflib.Graph:
    """The eligibility shapes of a study (default: the matcher's study), from its criteria."""
    from .engine import _pick_study

    study = study or _pick_study(store, None)[0]
    g = rdflib.Graph()
    for prefix, ns in (("sh", SH), ("acse", ACSE), ("prof", PROF), ("dcterms", DCTERMS), ("rdfs", RDFS)):
        g.bind(prefix, ns)
    b = _Builder(g)
    for c in decidable_criteria(store, study):
        b.criterion(c)
    return g


def write(store: GraphStore, path: Any = SHAPES_FILE) -> None:
    g = generate(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Generated by `python -m acse_kg.matching.shacl` from the structured criteria of the graph.\n"
        "# Do not edit: tests/test_matching_shacl.py checks that regenerating gives the same graph.\n"
        + g.serialize(format="turtle"),
        encoding="utf-8",
    )


def load_shapes(path: Any = SHAPES_FILE) -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(path, format="turtle")
    return g


# ------------------------------------------------------------- reference run
def shape_index(shapes: rdflib.Graph) -> dict[URIRef, tuple[str, str]]:
    """Top-level shape -> (criterion IRI, 'met' | 'possible')."""
    out = {}
    for s, crit in shapes.subject_objects(DCTERMS.source):
        sev = shapes.value(s, SH.severity)
        out[s] = (str(crit), "met" if sev == SH.Warning else "possible")  # type: ignore[index]
    return out


def reference_statuses(data: rdflib.Graph, shapes: rdflib.Graph) -> dict[str, dict[str, str]]:
    """Run pyshacl over a data graph of profiles; status of every criterion for every profile id."""
    import pyshacl

    index = shape_index(shapes)
    criteria = sorted({c for c, _ in index.values()})
    ids = {node: str(pid) for node, pid in data.subject_objects(TARGET)}
    _, results, _ = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", allow_warnings=True, inplace=True, advanced=False
    )
    out = {pid: dict.fromkeys(criteria, "met") for pid in ids.values()}
    for r in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(r, SH.focusNode)
        src = results.value(r, SH.sourceShape)
        if focus not in ids or src not in index:
            continue
        crit, kind = index[src]  # type: ignore[index]
        row = out[ids[focus]]
        if kind == "possible":
            row[crit] = "not_met"
        elif row[crit] != "not_met":
            row[crit] = "unknown"
    return out


def main(argv: Iterable[str] | None = None) -> None:
    """Regenerate shapes/eligibility.ttl from the bundle."""
    from ..store import open_store

    write(open_store("memory"))
    print(f"wrote {SHAPES_FILE}")


if __name__ == "__main__":
    main()


def data_graph(matcher: Any, profiles: Iterable[Any]) -> rdflib.Graph:
    """Profiles as RDF through the JSON-LD context, with the OncoTree hierarchy they are judged under."""
    from .jsonld import to_graph

    g = rdflib.Graph()
    for child, parents in matcher.taxonomy.parents.items():
        for p in parents:
            g.add((URIRef(child), RDFS.subClassOf, URIRef(p)))
    return to_graph([matcher.document(p) for p in profiles], g)
