"""Record check: what a registry reviewer would flag before a study record is published.

The rules are SHACL shapes (``shapes/record_check.ttl``, core and SHACL-SPARQL
constraints) evaluated over the study's graph together with the ontology and
OncoTree, so that class membership and the tumour-type hierarchy
(``rdfs:subClassOf*``) are reasoned over rather than listed (the tumour types
whose lineage is brought in are those the study model names: see
:func:`_tumour_types`); a study the model cannot read (an expression with no
type, a comparison with no threshold) is a finding too; the OWL reasoner
(HermiT) adds its verdict on request. The shapes are run with SHACL's
SPARQL-based semantics on Oxigraph (:func:`check_graph`; pySHACL gives the
same findings far more slowly, see bench/bench_ctgov.py). Each finding names
its rule, the offending value and the IRI it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyoxigraph as ox
import rdflib
from rdflib.namespace import DCTERMS, RDFS, SH

from .derived import DerivedCache
from .errors import AcseError
from .loader import ONTOLOGY_GRAPH, study_graph_name
from .model import Expr, ModelError, Study, StudyNotFound, TumourTypeTest, operands, read_study
from .namespaces import study_iri
from .paths import SHAPES_DIR
from .store import GraphStore

SHAPES = SHAPES_DIR / "record_check.ttl"


class CheckError(AcseError, LookupError):
    """The study is not in the store."""


class ReasonerFailed(AcseError, RuntimeError):
    """The OWL reasoner could not run (no Java, HermiT failed): the check did not happen, which is
    not a finding about the record."""


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    focus: str  # the IRI the finding is about
    value: str | None  # the offending value

    def as_dict(self) -> dict[str, str | None]:
        return {"rule": self.rule, "message": self.message, "iri": self.focus, "value": self.value}

    def __str__(self) -> str:
        return f"[{self.rule}] {self.focus}: {self.message}"


@lru_cache(maxsize=1)
def _shapes() -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(SHAPES)
    return g


def _expressions(study: Study) -> list[Expr]:
    """Every expression of the study: criteria, cohort rules, and the conditions of cohort and dosing populations."""
    out: list[Expr | None] = []
    for c in study.criteria:
        out += [c.requires, c.applies_when, c.excludes_when]
    for co in study.cohorts:
        out += [co.rule, co.population.condition if co.population else None]
    out += [r.population.condition for r in study.regimens if r.population is not None]
    return [e for e in out if e is not None]


def _tumour_types(study: Study) -> set[str]:
    """Every tumour type the study names: its cohorts' pathologies and the tumour-type tests of its expressions."""
    found = {t.iri for c in study.cohorts for t in c.pathologies}
    for e in _expressions(study):
        found |= _tested_types(e)
    return found


def _tested_types(e: Expr) -> set[str]:
    own = {e.tumour_type.iri} if isinstance(e, TumourTypeTest) else set()
    return own.union(*(_tested_types(o) for o in operands(e)))


def _read(store: GraphStore, nct: str) -> Study | ModelError | None:
    """The study model, the reason it cannot be read, or None (no such study: the caller says so)."""
    try:
        return read_study(store, nct)
    except ModelError as exc:
        return exc
    except StudyNotFound:
        return None


def _structure_findings(store: GraphStore, nct: str) -> list[Finding]:
    """A record whose structure the study model cannot read is a finding, naming the node at fault."""
    got = _read(store, nct)
    if isinstance(got, ModelError):
        return [Finding("record-structure", f"the study cannot be read: {got}", study_iri(nct), None)]
    return []


def _safe_iri(iri: str) -> bool:
    return not any(c in iri for c in '<>"{}|^`\\ \n\r\t')


def _lineage(store: GraphStore, nct: str) -> rdflib.Graph:
    """The part of OncoTree above the study's tumour types (the lineage the rules climb)."""
    got = _read(store, nct)
    types = sorted(i for i in _tumour_types(got) if _safe_iri(i)) if isinstance(got, Study) else []
    if not types:
        return rdflib.Graph()
    values = " ".join(f"<{t}>" for t in types)
    return store.construct(
        f"""CONSTRUCT {{ ?a rdfs:subClassOf ?b . ?a rdfs:label ?label . ?a acse:oncotreeCode ?code }} WHERE {{
              VALUES ?t {{ {values} }}
              ?t rdfs:subClassOf* ?a . OPTIONAL {{ ?a rdfs:subClassOf ?b }}
              OPTIONAL {{ ?a rdfs:label ?label }} OPTIONAL {{ ?a acse:oncotreeCode ?code }} }}"""
    )


def _background(store: GraphStore, nct: str) -> rdflib.Graph:
    """The ontology, plus the part of OncoTree above the study's tumour types (the lineage the rules climb)."""
    g = store.graph(ONTOLOGY_GRAPH)
    g += _lineage(store, nct)
    return g


def _ontology_ntriples(store: GraphStore) -> bytes:
    """The ontology graph as N-Triples, kept until a graph no study owns is written: every study's
    check loads it, and reading it again (2,000 triples through rdflib) cost more than the check."""
    return bytes(_derived.get(store, "ontology-nt", lambda: _nt(store.graph(ONTOLOGY_GRAPH)), graph=ONTOLOGY_GRAPH))


def _nt(g: rdflib.Graph) -> bytes:
    """N-Triples of an rdflib graph. Parts serialised apart are joined by concatenation: their blank
    nodes keep rdflib's (or Oxigraph's) unique ids, so joining them merges the graphs as ``+=`` does."""
    return g.serialize(format="nt", encoding="utf-8")


@lru_cache(maxsize=1)
def _shapes_ntriples() -> bytes:
    return _nt(_shapes())


def _rule_of(shape: rdflib.Graph, node: rdflib.term.Node) -> str:
    """The rule name: the dcterms:identifier of the shape (or the node shape owning a property shape)."""
    ident = shape.value(node, DCTERMS.identifier)
    if ident is None:
        owner = shape.value(None, SH.property, node)
        ident = shape.value(owner, DCTERMS.identifier) if owner is not None else None
    return str(ident) if ident is not None else str(node)


def _prefixes(shapes: rdflib.Graph) -> str:
    lines = []
    for decl in shapes.objects(None, SH.declare):
        lines.append(f"PREFIX {shapes.value(decl, SH.prefix)}: <{shapes.value(decl, SH.namespace)}>")
    return "\n".join(lines) + "\n"


def _fill(template: str, row: dict[str, str]) -> str:
    return re.sub(r"\{[?$](\w+)\}", lambda m: row.get(m.group(1), m.group(0)), template)


def _text(term: ox.NamedNode | ox.Literal | ox.BlankNode | None) -> str | None:
    return None if term is None else term.value


def check_graph(study_graph: rdflib.Graph, background: rdflib.Graph) -> list[Finding]:
    """Findings of the shapes on one study's triples (with ontology + OncoTree as background).

    The shapes are evaluated with SHACL's SPARQL-based semantics (``$this``
    bound to each target, one result per solution, ``{?var}`` in messages;
    ``sh:minCount`` property shapes as "no value" queries), executed by
    Oxigraph: pySHACL's rdflib engine took minutes on the same joins.
    """
    # the shapes are data too: the rules' reference tables (plausible ranges, unit factors)
    return _check_ntriples(_nt(background) + _nt(study_graph) + _shapes_ntriples())


def _check_ntriples(data: bytes) -> list[Finding]:
    """The shapes run over ``data`` (N-Triples: the study, its background and the shapes themselves)."""
    shapes = _shapes()
    store = ox.Store()
    store.load(data, format=ox.RdfFormat.N_TRIPLES)
    prologue = _prefixes(shapes)
    findings: list[Finding] = []
    for shape in sorted(set(shapes.subjects(SH.targetClass, None)), key=str):
        target = shapes.value(shape, SH.targetClass)
        rule = _rule_of(shapes, shape)
        focus = f"?this a/<{RDFS.subClassOf}>* <{target}> ."
        for constraint in shapes.objects(shape, SH.sparql):
            select = str(shapes.value(constraint, SH.select)).replace("$this", "?this")
            head, body = select.split("WHERE", 1)
            query = prologue + head + "WHERE { " + focus + body.strip()[1:]
            message = str(shapes.value(constraint, SH.message))
            res = store.query(query)
            assert isinstance(res, ox.QuerySolutions)  # SHACL-SPARQL constraints are SELECTs
            names = [v.value for v in res.variables]
            for sol in res:
                row = {n: _text(sol[n]) or "" for n in names if sol[n] is not None}
                row["this"] = _text(sol["this"]) or ""
                findings.append(Finding(rule, _fill(message, row), row["this"], row.get("value")))
        for prop in shapes.objects(shape, SH.property):
            path = shapes.value(prop, SH.path)
            if shapes.value(prop, SH.minCount) is None:
                continue
            query = f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ ?this <{path}> ?v }} }}"
            solutions = store.query(query)
            assert isinstance(solutions, ox.QuerySolutions)  # a SELECT
            for sol in solutions:
                findings.append(Finding(rule, str(shapes.value(prop, SH.message)), _text(sol["this"]) or "", None))
    return sorted(set(findings), key=lambda f: (f.rule, f.focus, f.value or ""))


def owl_findings(study_graph: rdflib.Graph, background: rdflib.Graph, nct: str) -> list[Finding]:
    """HermiT over the record with the ontology: an inconsistent record (e.g. a criterion both
    inclusion and exclusion, disjoint classes) or a class it makes unsatisfiable is a finding."""
    from .reasoning import ReasonerError, reason_ntriples

    data = rdflib.Graph()
    data += background
    data += study_graph
    try:
        report = reason_ntriples(data.serialize(format="nt", encoding="utf-8"))
    except ReasonerError as exc:
        raise ReasonerFailed(f"the OWL reasoner could not run: {exc} (the check without it: --no-reason, "
                             "or reason=false)") from exc
    out = []
    if not report.consistent:
        out.append(Finding("owl-inconsistent", "the record contradicts the ontology (HermiT: inconsistent)",
                           study_iri(nct), None))
    out += [Finding("owl-unsatisfiable-class", f"class {c} can have no member once the record is added",
                    c, c) for c in report.unsatisfiable]
    return out


_derived = DerivedCache()


def _shacl_findings(store: GraphStore, nct: str) -> list[Finding]:
    g = store.graph(study_graph_name(nct))
    if len(g) == 0:
        raise CheckError(f"no study {nct} in the store")
    # check_graph's data, without copying the ontology into an rdflib graph for each study
    data = _ontology_ntriples(store) + _nt(_lineage(store, nct)) + _nt(g) + _shapes_ntriples()
    return sorted(set(_check_ntriples(data) + _structure_findings(store, nct)),
                  key=lambda f: (f.rule, f.focus, f.value or ""))


def check_study(store: GraphStore, nct: str, *, reason: bool = False) -> list[Finding]:
    """Every finding on the live version of study ``nct``; [] for a clean record.

    The SHACL findings (about 70 ms) are kept per study until the store changes,
    so the study page and ``GET /study/{nct}/check`` do not recompute them on
    every request. ``reason`` adds the OWL reasoner's verdict (HermiT, a few
    seconds), computed afresh each time: it is asked for on purpose.
    """
    if not reason:
        return list(_derived.get(store, "check-" + nct, lambda: _shacl_findings(store, nct),
                                 graph=study_graph_name(nct)))
    g = store.graph(study_graph_name(nct))
    if len(g) == 0:
        raise CheckError(f"no study {nct} in the store")
    background = _background(store, nct)
    return sorted(set(check_graph(g, background) + _structure_findings(store, nct)
                      + owl_findings(g, background, nct)),
                  key=lambda f: (f.rule, f.focus, f.value or ""))


__all__ = ["CheckError", "Finding", "ReasonerFailed", "check_graph", "check_study"]
