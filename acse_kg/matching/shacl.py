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
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD
from rdflib.term import Node

from ..model import (
    AlterationTest,
    And,
    Comparison,
    Criterion,
    Expr,
    Not,
    PriorTherapyTest,
    TumourTypeTest,
    read_study,
)
from ..namespaces import ACSE, SH
from ..paths import SHAPES_DIR
from ..store import GraphStore
from .jsonld import PROF
from .rules import threshold

SHAPES_FILE = SHAPES_DIR / "eligibility.ttl"
SHAPES_NS = "https://w3id.org/acse-kg/id/shape/"
TARGET = PROF.profileId  # every profile has one: the shapes target its subjects

RANGE = {"ge": SH.minInclusive, "gt": SH.minExclusive, "le": SH.maxInclusive, "lt": SH.maxExclusive}


class _Builder:
    """Writes shapes with minted IRIs; only property paths are blank nodes, as SHACL requires.

    Minted IRIs keep the graph nearly ground, so :func:`canonical` can compare two
    generations as sets instead of running a costly blank-node isomorphism.
    """

    def __init__(self, g: rdflib.Graph) -> None:
        self.g = g
        self.base = ""
        self.count = 0

    def _mint(self) -> URIRef:
        self.count += 1
        return URIRef(f"{self.base}-{self.count}")

    def _list(self, items: list[Any]) -> URIRef:
        nodes = [self._mint() for _ in items]
        for i, (node, item) in enumerate(zip(nodes, items, strict=True)):
            self.g.add((node, RDF.first, item))
            self.g.add((node, RDF.rest, nodes[i + 1] if i + 1 < len(nodes) else RDF.nil))
        return nodes[0] if nodes else RDF.nil

    def _path_list(self, items: list[Any]) -> BNode:
        """SHACL paths must be blank nodes (a predicate IRI is read as a predicate path)."""
        head = BNode()
        Collection(self.g, head, items)
        return head

    def _path(self, field: str) -> Any:
        parts = [PROF[p] for p in field.split(".")]
        return parts[0] if len(parts) == 1 else self._path_list(parts)

    def _node(self, *pairs: tuple[Any, Any]) -> URIRef:
        n = self._mint()
        self.g.add((n, RDF.type, SH.NodeShape))
        for p, o in pairs:
            self.g.add((n, p, o))
        return n

    def _prop(self, path: Any, *pairs: tuple[Any, Any]) -> URIRef:
        p = self._mint()
        self.g.add((p, SH.path, path))
        for k, v in pairs:
            self.g.add((p, k, v))
        return self._node((SH.property, p))

    def shape(self, e: Expr, sure: bool) -> URIRef:
        """``sure``: E is true (datum present); else: E is not false (missing datum tolerated)."""
        if isinstance(e, Comparison):
            path = self._path(e.variable.field)
            thr = _literal(threshold(e))
            if e.comparator == "eq":
                return self._prop(path, (SH.hasValue, thr)) if sure else self._prop(path, (SH["in"], self._list([thr])))
            extra = [(SH.minCount, Literal(1))] if sure else []
            return self._prop(path, (RANGE[e.comparator], thr), *extra)
        if isinstance(e, TumourTypeTest):
            zero = BNode()
            self.g.add((zero, SH.zeroOrMorePath, RDFS.subClassOf))
            return self._prop(self._path_list([PROF.diagnosis, zero]), (SH.hasValue, URIRef(e.tumour_type.iri)))
        if isinstance(e, AlterationTest):
            # Gene, type and the variant-level values the test names, on one alteration of the profile.
            parts = []
            for path, value in ((PROF.gene, e.gene.iri if e.gene else None),
                                (PROF.alterationType, e.alteration_type.iri if e.alteration_type else None),
                                (PROF.partner, e.partner.iri if e.partner else None)):
                if value is not None:
                    parts.append(self._prop_only(path, (SH.hasValue, URIRef(value))))
            for path, lit in ((PROF.protein_change, e.protein_change), (PROF.exon, e.exon),
                              (PROF.variant_classification, e.variant_classification), (PROF.cnv_call, e.cnv_call),
                              (PROF.function, e.function), (PROF.wildtype, e.wildtype)):
                if lit is not None:
                    parts.append(self._prop_only(path, (SH.hasValue, Literal(lit))))
            q = self._node(*[(SH.property, p) for p in parts])
            return self._prop(PROF.alteration, (SH.qualifiedValueShape, q), (SH.qualifiedMinCount, Literal(1)))
        if isinstance(e, PriorTherapyTest):
            return self._prop(PROF.prior_therapies, (SH.hasValue, URIRef(e.drug.iri)))
        if isinstance(e, Not):
            return self._node((SH["not"], self.shape(e.operand, not sure)))
        logic = SH["and"] if isinstance(e, And) else SH["or"]
        return self._node((logic, self._list([self.shape(o, sure) for o in e.operands])))

    def _prop_only(self, path: Any, *pairs: tuple[Any, Any]) -> URIRef:
        p = self._mint()
        self.g.add((p, SH.path, path))
        for k, v in pairs:
            self.g.add((p, k, v))
        return p

    def criterion(self, c: Criterion) -> None:
        assert c.requires is not None
        for kind, sure in (("met", True), ("possible", False)):
            iri = URIRef(c.iri.replace("/criterion/", "/shape/") + f"/{kind}") if "/criterion/" in c.iri \
                else URIRef(f"{SHAPES_NS}{c.id}/{kind}")
            self.base, self.count = str(iri), 0
            g = self.g
            g.add((iri, RDF.type, SH.NodeShape))
            g.add((iri, SH.targetSubjectsOf, TARGET))
            g.add((iri, DCTERMS.source, URIRef(c.iri)))
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
    if isinstance(v, (bool, str)):
        return Literal(v)
    if isinstance(v, (int, float)):
        # xsd:decimal in the lexical form Turtle writes back ("75.0", "1.5"): a reload compares equal.
        d = Decimal(repr(float(v)))
        text = f"{d:.1f}" if d == d.to_integral_value() else format(d.normalize(), "f")
        return Literal(text, datatype=XSD.decimal)
    return Literal(v)


def decidable_criteria(store: GraphStore, nct: str) -> list[Criterion]:
    return [c for c in read_study(store, nct).criteria if c.decidable]


def generate(store: GraphStore, nct: str | None = None) -> rdflib.Graph:
    """The eligibility shapes of a study (default: the first matchable one), from its criteria in the model."""
    from .engine import pick_study

    study = pick_study(store, nct)
    g = rdflib.Graph()
    for prefix, ns in (("sh", SH), ("acse", ACSE), ("tp", PROF), ("dcterms", DCTERMS), ("rdfs", RDFS)):
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


def canonical(g: rdflib.Graph) -> set[tuple[Any, Any, Any]]:
    """The graph's triples with each blank node (a property path) replaced by a rendering of its content."""

    def render(node: Any, depth: int = 0) -> Any:
        if not isinstance(node, BNode) or depth > 20:
            return node
        return "[" + " ".join(sorted(f"{p} {render(o, depth + 1)}" for p, o in g.predicate_objects(node))) + "]"

    return {(render(s), p, render(o)) for s, p, o in g if not isinstance(s, BNode)}


def load_shapes(path: Any = SHAPES_FILE) -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(path, format="turtle")
    return g


# ------------------------------------------------------------- reference run
def shape_index(shapes: rdflib.Graph) -> dict[Node, tuple[str, str]]:
    """Top-level shape -> (criterion IRI, 'met' | 'possible')."""
    out: dict[Node, tuple[str, str]] = {}
    for s, crit in shapes.subject_objects(DCTERMS.source):
        sev = shapes.value(s, SH.severity)
        out[s] = (str(crit), "met" if sev == SH.Warning else "possible")
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
        crit, kind = index[src]
        row = out[ids[focus]]
        if kind == "possible":
            row[crit] = "not_met"
        elif row[crit] != "not_met":
            row[crit] = "unknown"
    return out


def criterion_shapes(shapes: rdflib.Graph, criterion: str) -> rdflib.Graph:
    """The two shapes of one criterion and everything they reach (sub-shapes, lists, paths)."""
    out = rdflib.Graph()
    stack: list[Any] = list(shapes.subjects(DCTERMS.source, URIRef(criterion)))
    seen: set[Any] = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for p, o in shapes.predicate_objects(node):
            out.add((node, p, o))
            if isinstance(o, (URIRef, BNode)) and (o, None, None) in shapes:
                stack.append(o)
    return out


def read_paths(shapes: rdflib.Graph) -> set[tuple[str, ...]]:
    """The profile fields the shapes read, as JSON key paths (("labs", "anc"), ("diagnosis",), ...).

    Read from the shapes' sh:path values, so a projection on them is exactly what
    pyshacl can see: nothing of the fast path's own model is used.
    """
    from .jsonld import context
    from .profile import TumorProfile

    rename = {v["@id"]: k for k, v in context()["@context"].items() if isinstance(v, dict) and "@id" in v}
    top = set(TumorProfile.model_fields)
    out = set()
    for path in shapes.objects(None, SH.path):
        items = [path] if isinstance(path, URIRef) else list(Collection(shapes, path))
        keys = tuple(rename.get(str(x)[len(str(PROF)):], str(x)[len(str(PROF)):])
                     for x in items if isinstance(x, URIRef) and str(x).startswith(str(PROF)))
        if keys and keys[0] in top:
            out.add(keys)
    return out


def _project(doc: dict[str, Any], paths: set[tuple[str, ...]]) -> dict[str, Any]:
    """The part of a normalised profile on ``paths``; the alterations as a sorted set (their RDF reading)."""
    import orjson

    out: dict[str, Any] = {}
    for keys in sorted(paths):
        src, dst = doc, out
        for k in keys[:-1]:
            src = src.get(k, {})
            dst = dst.setdefault(k, {})
        if keys[-1] in src:
            value = src[keys[-1]]
            if keys == ("alterations",):  # an @set of nodes: order and repeats say nothing
                value = [orjson.loads(x) for x in sorted({orjson.dumps(a, option=orjson.OPT_SORT_KEYS)
                                                          for a in value})]
            dst[keys[-1]] = value
    return out


def projected_reference_statuses(matcher: Any, profiles: list[Any], shapes: rdflib.Graph) -> dict[str, dict[str, str]]:
    """pyshacl's status of every criterion for every profile, affordable for thousands of profiles.

    A criterion's shapes see only the fields on their paths, so pyshacl validates
    each criterion's two shapes once per distinct combination of those fields
    (its projection) and every profile with that combination gets the status.
    Same semantics as :func:`reference_statuses` on the whole profiles; the
    work is the number of distinct projections, not profiles x shapes.
    """
    import orjson

    docs = {p.id: (p, matcher.document(p)) for p in profiles}
    out: dict[str, dict[str, str]] = {pid: {} for pid in docs}
    for crit in sorted({c for c, _ in shape_index(shapes).values()}):
        sub = criterion_shapes(shapes, crit)
        paths = read_paths(sub)
        groups: dict[bytes, list[str]] = {}
        nodes: list[dict[str, Any]] = []
        data = rdflib.Graph()
        for pid, (p, doc) in docs.items():
            proj = _project(doc, paths)
            key = orjson.dumps(proj, option=orjson.OPT_SORT_KEYS)
            if key not in groups:
                groups[key] = []
                nodes.append({**proj, "id": f"projection-{len(nodes)}"})
                if "diagnosis" in proj:
                    _add_lineage(data, matcher, p.diagnosis)
            groups[key].append(pid)
        from .jsonld import to_graph

        ref = reference_statuses(to_graph(nodes, data), sub)
        for node, pids in zip(nodes, groups.values(), strict=True):
            for pid in pids:
                out[pid][crit] = ref[node["id"]][crit]
    return out


def _add_lineage(g: rdflib.Graph, matcher: Any, diagnosis: str) -> None:
    """The OncoTree rdfs:subClassOf links above a diagnosis: what a TumourTypeTest shape walks."""
    dx = matcher.taxonomy.resolve(diagnosis)
    for cls in matcher.taxonomy.ancestors(dx) if dx else ():
        for parent in matcher.taxonomy.parents.get(cls, ()):
            g.add((URIRef(cls), RDFS.subClassOf, URIRef(parent)))


def main(argv: Iterable[str] | None = None) -> None:
    """Regenerate shapes/eligibility.ttl from the bundle."""
    from ..store import open_store

    write(open_store("memory"))
    print(f"wrote {SHAPES_FILE}")


if __name__ == "__main__":
    main()


def data_graph(matcher: Any, profiles: Iterable[Any]) -> rdflib.Graph:
    """Profiles as RDF through the JSON-LD context, with the OncoTree classes above their diagnoses.

    Only the chains from each diagnosis up to the root are added (not the whole
    tree): that is all ``rdfs:subClassOf*`` can reach, and it keeps pyshacl quick.
    """
    from .jsonld import to_graph

    profiles = list(profiles)
    g = rdflib.Graph()
    for p in profiles:
        _add_lineage(g, matcher, p.diagnosis)
    return to_graph([matcher.document(p) for p in profiles], g)
