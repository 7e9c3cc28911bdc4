"""The one reader of the study model: a study's record graph in, a frozen :class:`Study` out.

Why this shape: a study's record lives in its own named graph, so the reader
takes that graph in one request (``store.graph``), walks it in Python, and
asks the store once more for the labels and codes of the vocabulary terms the
record points to (OncoTree classes, genes, alteration types, statuses), bound
as ``VALUES``. Two requests per study whatever its size, on any engine; the
result is kept per store version (:class:`~acse_kg.derived.DerivedCache`), so
pages, matching, shapes and exports share one reading until the store changes.

Malformed structure (an expression with no type, a comparison with no
threshold, a criterion with two rules) is a :class:`ModelError` naming the node:
software deciding eligibility must not guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import rdflib
from rdflib import RDF, RDFS, Literal, URIRef
from rdflib.namespace import PROV
from rdflib.term import Node

from ..derived import DerivedCache
from ..errors import AcseError
from ..loader import STUDY_GRAPH_PREFIX, study_graph_name
from ..namespaces import ACSE, SCHEMA, normalise_nct, sparql_string
from ..store import GraphStore, rdflib_triples
from .expressions import (
    COMPARATORS,
    AlterationTest,
    And,
    Comparison,
    Expr,
    Not,
    Or,
    PriorTherapyTest,
    Term,
    TumourTypeTest,
    Variable,
    sort_key,
)
from .study import (
    Arm,
    Cohort,
    CohortStatus,
    Criterion,
    Curation,
    Design,
    Drug,
    Intervention,
    Outcome,
    Population,
    Regimen,
    Study,
)

EXPRESSION_TYPES = ("Comparison", "TumourTypeTest", "AlterationTest", "PriorTherapyTest",
                    "Conjunction", "Disjunction", "Negation")
MAX_DEPTH = 64


class ModelError(AcseError, ValueError):
    """The graph's structure of a study is incomplete or malformed; the message says where."""


class StudyNotFound(AcseError, LookupError):
    """No study with that NCT number is in the graph."""


# ------------------------------------------------------------------ helpers
def local(iri: Node | str) -> str:
    s = str(iri)
    return s.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def py(v: Node | None) -> Any:
    """A literal's Python value, decimals as floats (profile values are floats); an IRI as its string."""
    if v is None:
        return None
    if isinstance(v, Literal):
        x = v.toPython()
        if isinstance(x, Decimal):
            return float(x)
        return x
    return str(v)


def _num(v: Node | None) -> float | None:
    x = py(v)
    if x is None or isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _text(v: Node | None) -> str:
    return "" if v is None else str(v)


#: One triple in rdflib's terms (what an rdflib graph yields, and :func:`~acse_kg.store.rdflib_triples`).
Triple = tuple[Node, Node, Node]


class _Graph:
    """A study's record graph with the lookups the reader needs."""

    def __init__(self, triples: Iterable[Triple], terms: dict[str, dict[str, Any]] | None = None) -> None:
        self.terms: dict[str, dict[str, Any]] = terms if terms is not None else {}
        # One pass over the triples into subject -> predicate -> objects: the reader asks a few
        # thousand questions of a record, and rdflib's pattern matching costs more than the walk.
        self.index: dict[Node, dict[Node, list[Node]]] = {}
        for s, p, o in triples:
            self.index.setdefault(s, {}).setdefault(p, []).append(o)

    def subject(self, p: URIRef, o: Node) -> Node | None:
        """The subject of (?, p, o): the study's node by its NCT number (the least, should a record hold two)."""
        found = [s for s, po in self.index.items() if o in po.get(p, ())]
        return min(found, key=str) if found else None

    def term_refs(self) -> set[str]:
        """The vocabulary terms the record points to (the reader needs their labels and codes)."""
        refs: set[str] = set()
        for po in self.index.values():
            for p in _TERM_PROPS:
                refs.update(str(o) for o in po.get(p, ()) if isinstance(o, URIRef))
            refs.update(str(t) for t in po.get(RDF.type, ()))
        return refs

    def one(self, s: Node, p: URIRef) -> Node | None:
        got = self.index.get(s, {}).get(p)
        return got[0] if got else None

    def all(self, s: Node, p: URIRef) -> list[Node]:
        return sorted(self.index.get(s, {}).get(p, ()), key=str)

    def types(self, s: Node) -> set[str]:
        return {local(t) for t in self.index.get(s, {}).get(RDF.type, ()) if str(t).startswith(str(ACSE))}

    def subjects_of_type(self, t: URIRef) -> list[Node]:
        return sorted((s for s, po in self.index.items() if t in po.get(RDF.type, ())), key=str)

    def label(self, s: Node) -> str:
        own = _pick_label(self.index.get(s, {}).get(RDFS.label, ()))
        return own or self.terms.get(str(s), {}).get("label", "")

    def term(self, iri: Node | None) -> Term | None:
        """A vocabulary term with its label and code, from the record or the registry's vocabularies."""
        if iri is None:
            return None
        t = self.terms.get(str(iri), {})
        label = self.label(iri)
        code = (t.get("code") or _text(self.one(iri, ACSE.oncotreeCode)) or _text(self.one(iri, ACSE.geneSymbol))
                or _text(self.one(iri, ACSE.profileTerm)) or _text(self.one(iri, ACSE.code)))
        accession = (t.get("acc") or _text(self.one(iri, ACSE.oncotreeCode)) or _text(self.one(iri, ACSE.hgncId)))
        return Term(str(iri), label, code, str(accession))


def _pick_label(labels: Iterable[Node]) -> str:
    """One label: English first, then any, deterministically."""
    ls = sorted(labels, key=lambda lit: (getattr(lit, "language", None) not in (None, "en"), str(lit)))
    return str(ls[0]) if ls else ""


# ------------------------------------------------------------------ vocabulary
#: One property a row, DISTINCT: a term that many records describe (a drug, a gene a CTML record
#: declares) costs one row per record, where OPTIONAL joins would multiply the records' rows.
_TERM_PATTERN = """
  { ?i rdfs:label ?v BIND("label" AS ?k) }
  UNION { ?i acse:oncotreeCode|acse:geneSymbol|acse:profileTerm|acse:code ?v BIND("code" AS ?k) }
  UNION { ?i acse:oncotreeCode|acse:hgncId ?v BIND("acc" AS ?k) }
  UNION { ?i acse:isOpen ?v BIND("open" AS ?k) }
  UNION { ?i acse:dosesPerDay ?v BIND("perDay" AS ?k) }
"""
_TERM_QUERY = "SELECT DISTINCT ?i ?k ?v WHERE {\n  VALUES ?i { %s }" + _TERM_PATTERN + "}"


#: The kinds of fact the term table holds, each with the properties it is read from (as _TERM_QUERY reads them).
_TERM_KINDS: tuple[tuple[str, tuple[URIRef, ...]], ...] = (
    ("label", (RDFS.label,)),
    ("code", (ACSE.oncotreeCode, ACSE.geneSymbol, ACSE.profileTerm, ACSE.code)),
    ("acc", (ACSE.oncotreeCode, ACSE.hgncId)),
    ("open", (ACSE.isOpen,)),
    ("perDay", (ACSE.dosesPerDay,)),
)


def _terms(store: GraphStore, iris: set[str]) -> dict[str, dict[str, Any]]:
    """Label, code, accession, openness and frequency of each IRI, from the whole live graph (one query)."""
    if not iris:
        return {}
    values = " ".join(f"<{i}>" for i in sorted(iris) if _safe_iri(i))
    return _term_table((str(r["i"]), str(r["k"]), r["v"]) for r in store.select(_TERM_QUERY % values)
                       if r["v"] is not None)  # always bound by the query's pattern


def _term_table(rows: Iterable[tuple[str, str, Node]]) -> dict[str, dict[str, Any]]:
    """(IRI, kind, value) facts as the term table: a label picked among all (English first), any other
    kind the first value in the order of its text. One reduction whichever way the facts were read
    (the store's query, or a vocabulary snapshot and a record's own graph), so both read alike."""
    out: dict[str, dict[str, Any]] = {}
    labels: dict[str, list[Node]] = {}
    for i, k, v in sorted(rows, key=lambda r: (r[0], r[1], str(r[2]))):
        d = out.setdefault(i, {})
        if k == "label":
            labels.setdefault(i, []).append(v)
        elif k not in d:
            d[k] = py(v)
    for i, ls in labels.items():
        out[i]["label"] = _pick_label(ls)
    return out


def _safe_iri(iri: str) -> bool:
    """An IRI that can stand between angle brackets (the reader binds only IRIs the graph holds)."""
    return not any(c in iri for c in '<>"{}|^`\\ \n\r\t')


def read_variables(store: GraphStore) -> dict[str, Variable]:
    """Every acse:ClinicalVariable of the registry, by IRI (kept per store version)."""
    return _cache.get(store, "model-variables", lambda: _read_variables(store), vocabulary=True)


def _read_variables(store: GraphStore) -> dict[str, Variable]:
    # One property a row (see _TERM_QUERY): a variable a CTML record declares is in every copy of it.
    rows = store.select(
        "SELECT DISTINCT ?v ?k ?x WHERE { ?v a acse:ClinicalVariable . "
        "{ ?v acse:profileField ?x BIND('f' AS ?k) } UNION { ?v acse:unit ?x BIND('u' AS ?k) } "
        "UNION { ?v acse:valueKind ?x BIND('kind' AS ?k) } UNION { ?v rdfs:label ?x BIND('label' AS ?k) } "
        "UNION { ?v acse:impliedByPriorTherapy ?x BIND('drug' AS ?k) } }"
    )
    props: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (str(r["v"]), str(r["k"]), str(r["x"]))):
        props.setdefault(str(r["v"]), {}).setdefault(str(r["k"]), py(r["x"]))
    return {v: Variable(v, str(d["f"]), d.get("u"), str(d.get("kind") or "number"), str(d.get("label") or ""),
                        d.get("drug"))
            for v, d in sorted(props.items()) if "f" in d}


# ------------------------------------------------------------------ reading
#: Properties whose objects are vocabulary terms the pages and matcher need labels and codes for.
_TERM_PROPS = (ACSE.pathology, ACSE.excludedPathology, ACSE.targetGene, ACSE.acceptsAlterationType, ACSE.allowsCoAlterationType,
               ACSE.cohortKind, ACSE.cohortStatus, ACSE.tumourType, ACSE.gene, ACSE.alterationType,
               ACSE.fusionPartner, ACSE.targetsGene, ACSE.frequency, ACSE.route, ACSE.overallStatus,
               ACSE.armType, ACSE.interventionType, ACSE.drug, ACSE.studyDrug, ACSE.comparator, ACSE.phase)


def read_study(store: GraphStore, nct: str, *, graph: rdflib.Graph | None = None) -> Study:
    """The study with this NCT number, read again only after a write to its graph or the vocabularies.

    ``graph``: the study's live graph as the caller read it just now (the search index reads it for
    its own use), so that a study read for the first time is not fetched from the store twice.

    >>> from acse_kg.store import open_store
    >>> s = read_study(open_store("memory"), "NCT02034981")
    >>> len(s.cohorts), s.cohort(5).label
    (23, 'NSCLC, adults, MET amplified')
    """
    wanted = normalise_nct(nct)
    if wanted is None:
        raise StudyNotFound(f"{nct!r} is not an NCT number")
    return _cache.get(store, f"model-study-{wanted}", lambda: _read_study(store, wanted, graph),
                      graph=study_graph_name(wanted))


def _read_study(store: GraphStore, nct: str, graph: rdflib.Graph | None = None) -> Study:
    name = study_graph_name(nct)
    g = _Graph(graph if graph is not None else rdflib_triples(store.graph_quads(name)))
    study = g.subject(ACSE.nctId, Literal(nct))
    if study is None:
        raise StudyNotFound(f"no study {nct} in the graph")
    refs = g.term_refs()
    # Studies share most of their terms (OncoTree classes, genes, statuses): each is looked up
    # once per store version, so reading the thousandth study asks only for what is new.
    known: dict[str, dict[str, Any]] = _cache.get(store, "model-terms", dict, vocabulary=True)
    missing = refs - known.keys()
    if missing:
        found = _terms(store, missing)
        known.update({i: found.get(i, {}) for i in missing})
    g.terms = {i: known[i] for i in refs}
    return _Reader(g, read_variables(store)).study(study, nct)


@dataclass(frozen=True)
class Vocabulary:
    """What reading a study's model needs from the registry besides the study's own graph: the facts
    (label, code, ...) about terms that the graphs no study owns hold (ontology, vocabularies), and
    the clinical variables. Read once and picklable, so that a bulk import's mapping workers read
    the model of a record not stored yet as :func:`read_study` will read it once stored
    (:func:`study_from_record`)."""

    facts: dict[str, list[tuple[str, Node]]]  # IRI -> (kind, value)
    variables: dict[str, Variable]


def read_vocabulary(store: GraphStore) -> Vocabulary:
    """The registry's :class:`Vocabulary` (one query over the graphs no study owns, one for the variables)."""
    rows = store.select(f"SELECT DISTINCT ?i ?k ?v WHERE {{ GRAPH ?g {{ {_TERM_PATTERN} }} "
                        f"FILTER(!STRSTARTS(STR(?g), {sparql_string(STUDY_GRAPH_PREFIX)})) }}")
    facts: dict[str, list[tuple[str, Node]]] = {}
    for r in rows:
        if (v := r["v"]) is not None:
            facts.setdefault(str(r["i"]), []).append((str(r["k"]), v))
    return Vocabulary(facts, dict(read_variables(store)))


def study_from_record(g: rdflib.Graph, nct: str, vocabulary: Vocabulary) -> Study:
    """The model of a study's record graph not stored yet, as :func:`read_study` reads it once stored:
    the same reader, its terms' facts from ``vocabulary`` and from the record's own triples (what the
    store's query over the live graph would find, unless another study's graph describes the same
    vocabulary term: a ClinicalTrials.gov record mints its own nodes under its study's IRI)."""
    wanted = normalise_nct(nct) or nct
    record = _Graph(g)
    study = record.subject(ACSE.nctId, Literal(wanted))
    if study is None:
        raise StudyNotFound(f"no study {wanted} in the graph")
    refs = record.term_refs()
    facts = [(i, k, v) for i in refs for k, v in vocabulary.facts.get(i, ())]
    for kind, props in _TERM_KINDS:
        for p in props:
            facts.extend((str(s), kind, o) for s, o in g.subject_objects(p) if str(s) in refs)
    table = _term_table(set(facts))
    record.terms = {i: table.get(i, {}) for i in refs}
    return _Reader(record, vocabulary.variables).study(study, wanted)


def study_from_graph(g: rdflib.Graph, nct: str, variables: dict[str, Variable] | None = None) -> Study:
    """A study read from its record's triples alone: a past version, or a record not stored yet.

    Not cached and without the store: vocabulary terms carry only what the
    record says about them. With ``variables`` None, a comparison's variable
    is known by its IRI alone (no profile field): enough for the study's
    structure (cohorts, criteria, regimens and their registered text), which
    is what the ClinicalTrials.gov export of a past version needs; matching
    reads :func:`read_study`.
    """
    wanted = normalise_nct(nct) or nct
    record = _Graph(g)
    study = record.subject(ACSE.nctId, Literal(wanted))
    if study is None:
        raise StudyNotFound(f"no study {wanted} in the graph")
    return _Reader(record, variables).study(study, wanted)


class _Reader:
    def __init__(self, g: _Graph, variables: dict[str, Variable] | None) -> None:
        self.g = g
        self.variables = variables
        self._exprs: dict[Node, Expr] = {}
        self._populations: dict[Node, Population] = {}

    # -------------------------------------------------------- expressions
    def expr(self, node: Node, depth: int = 0) -> Expr:
        got = self._exprs.get(node)
        if got is not None:
            return got
        if depth > MAX_DEPTH:
            raise ModelError(f"expression {node} nests deeper than {MAX_DEPTH} levels (a cycle?)")
        g = self.g
        kinds = g.types(node) & set(EXPRESSION_TYPES)
        if len(kinds) != 1:
            raise ModelError(f"expression {node} has no single expression type (found {sorted(g.types(node))})")
        kind = kinds.pop()
        subs = tuple(sorted((self.expr(o, depth + 1) for o in g.all(node, ACSE.operand)), key=sort_key))
        e: Expr
        if kind == "Comparison":
            var_iri = g.one(node, ACSE.variable)
            var = self.variables.get(str(var_iri)) if var_iri is not None and self.variables is not None else None
            if var is None and var_iri is not None and self.variables is None:  # study_from_graph without variables
                var = Variable(str(var_iri), "", None, "number", g.label(var_iri))
            if var is None:
                raise ModelError(f"comparison {node} tests {var_iri}, which has no acse:profileField")
            comp = g.one(node, ACSE.comparator)
            comp_name = local(comp) if comp is not None else None
            if comp_name not in COMPARATORS:
                raise ModelError(f"comparison {node} has no known comparator ({comp_name})")
            thr = py(g.one(node, ACSE.threshold))
            if thr is None:
                raise ModelError(f"comparison {node} has no threshold")
            if isinstance(thr, int) and not isinstance(thr, bool):
                thr = float(thr)
            cur = g.one(node, ACSE.curation)
            e = Comparison(var, comp_name, thr, py(g.one(node, ACSE.unit)),
                           py(g.one(node, ACSE.registeredThreshold)), py(g.one(node, ACSE.registeredUnit)),
                           str(cur) if cur is not None else None, node=node)
        elif kind == "TumourTypeTest":
            tt = g.term(g.one(node, ACSE.tumourType))
            if tt is None:
                raise ModelError(f"tumour type test {node} names no acse:tumourType")
            e = TumourTypeTest(tt, node=node)
        elif kind == "AlterationTest":
            exon = py(g.one(node, ACSE.exon))
            e = AlterationTest(
                gene=g.term(g.one(node, ACSE.gene)),
                alteration_type=g.term(g.one(node, ACSE.alterationType)),
                protein_change=py(g.one(node, ACSE.proteinChange)),
                exon=int(exon) if exon is not None else None,
                variant_classification=py(g.one(node, ACSE.variantClassification)),
                cnv_call=py(g.one(node, ACSE.cnvCall)),
                partner=g.term(g.one(node, ACSE.fusionPartner)),
                function=py(g.one(node, ACSE.molecularFunction)),
                wildtype=py(g.one(node, ACSE.wildtype)),
                node=node,
            )
        elif kind == "PriorTherapyTest":
            drug = g.term(g.one(node, ACSE.drug))
            if drug is None:
                raise ModelError(f"prior therapy test {node} names no acse:drug")
            e = PriorTherapyTest(drug, node=node)
        elif kind == "Negation":
            if len(subs) != 1:
                raise ModelError(f"negation {node} needs exactly one operand")
            e = Not(subs[0], node=node)
        else:
            if not subs:
                raise ModelError(f"{kind} {node} has no operand")
            e = And(subs, node=node) if kind == "Conjunction" else Or(subs, node=node)
        self._exprs[node] = e
        return e

    def one_expr(self, owner: Node, p: URIRef) -> Expr | None:
        roots = self.g.all(owner, p)
        if len(roots) > 1:
            if p == ACSE.populationCondition:  # several conditions: all of them
                return And(tuple(sorted((self.expr(r) for r in roots), key=sort_key)))
            raise ModelError(f"{owner} has several {local(p)}")
        return self.expr(roots[0]) if roots else None

    # -------------------------------------------------------- parts
    def population(self, node: Node | None) -> Population | None:
        if node is None:
            return None
        got = self._populations.get(node)
        if got is None:
            g = self.g
            got = self._populations[node] = Population(
                str(node), g.label(node), _num(g.one(node, ACSE.minimumAge)), _num(g.one(node, ACSE.maximumAge)),
                self.one_expr(node, ACSE.populationCondition))
        return got

    def cohort(self, node: Node) -> Cohort:
        g = self.g
        n = py(g.one(node, ACSE.cohortNumber))
        if n is None:
            raise ModelError(f"cohort {node} has no acse:cohortNumber")
        design_node = g.one(node, ACSE.statisticalDesign)
        design = None
        if design_node is not None:
            kinds = g.all(design_node, RDF.type)
            design = Design(str(design_node), g.label(design_node),
                            g.label(kinds[0]) if kinds else "",
                            _num(g.one(design_node, ACSE.alpha)), _num(g.one(design_node, ACSE.beta)))
        status_node = g.one(node, ACSE.cohortStatus)
        status = None
        if status_node is not None:
            t = g.terms.get(str(status_node), {})
            is_open = py(g.one(status_node, ACSE.isOpen))
            status = CohortStatus(str(status_node), g.label(status_node),
                                  is_open if is_open is not None else t.get("open"))
        text = _text(g.one(node, ACSE.registeredText))
        max_p = py(g.one(node, ACSE.maxPatients))
        return Cohort(
            iri=str(node),
            number=int(n),
            label=g.label(node) or text or f"cohort {n}",
            registered_text=text,
            kind=g.term(g.one(node, ACSE.cohortKind)),
            pathologies=self._terms(node, ACSE.pathology),
            genes=self._terms(node, ACSE.targetGene),
            accepts=self._terms(node, ACSE.acceptsAlterationType),
            co_accepts=self._terms(node, ACSE.allowsCoAlterationType),
            population=self.population(g.one(node, ACSE.population)),
            design=design,
            status=status,
            rare_disease=py(g.one(node, ACSE.rareDisease)),
            max_patients=int(max_p) if max_p is not None else None,
            rule=self.one_expr(node, ACSE.cohortRule),
            drugs=self._terms(node, ACSE.studyDrug),
            excluded_pathologies=self._terms(node, ACSE.excludedPathology),
            review_state="draft" if any("DraftingActivity" in g.types(a) for a in g.all(node, PROV.wasGeneratedBy)) else None,
        )

    def _terms(self, node: Node, p: URIRef) -> tuple[Term, ...]:
        out = [self.g.term(o) for o in self.g.all(node, p)]
        return tuple(sorted((t for t in out if t is not None), key=lambda t: (t.code or t.label, t.iri)))

    def criteria(self, study: Node) -> tuple[Criterion, ...]:
        g = self.g
        nodes = [c for c in g.all(study, ACSE.hasCriterion)]
        info: dict[str, dict[str, Any]] = {}
        for c in nodes:
            types = g.types(c)
            if "InclusionCriterion" in types:
                kind = "inclusion"
            elif "ExclusionCriterion" in types:
                kind = "exclusion"
            else:
                raise ModelError(f"criterion {c} is neither an inclusion nor an exclusion criterion")
            parent = g.one(c, ACSE.subCriterionOf)
            whole = g.one(c, ACSE.componentOf)
            info[str(c)] = {"node": c, "kind": kind, "pos": _num(g.one(c, ACSE.position)) or 0.0,
                            "parent": str(parent) if parent is not None else None,
                            "whole": str(whole) if whole is not None else None}

        def order(iri: str, hops: int = 0) -> tuple[float, ...]:
            d = info[iri]
            up = d["parent"] or d["whole"]
            own = (d["pos"],)
            if up and up in info and hops < 16:
                return order(up, hops + 1) + own
            return own

        out = []
        for iri, d in info.items():
            c = d["node"]
            comp = py(g.one(c, ACSE.computable))
            out.append(Criterion(
                iri=iri,
                id=_criterion_id(iri),
                kind=d["kind"],
                text=_text(g.one(c, ACSE.criterionText)),
                position=d["pos"],
                order=(0 if d["kind"] == "inclusion" else 1, *order(iri)),
                parent=d["parent"],
                component_of=d["whole"],
                computable=comp,
                requires=self.one_expr(c, ACSE.requires),
                applies_when=self.one_expr(c, ACSE.appliesWhen),
                excludes_when=self.one_expr(c, ACSE.excludesWhen),
                cohorts=frozenset(str(x) for x in g.all(c, ACSE.appliesToCohort)),
                comment=_text(g.one(c, RDFS.comment)),
                review_state=py(g.one(c, ACSE.reviewState)),
            ))
        out.sort(key=lambda c: (c.order, c.iri))
        return tuple(out)

    def drug(self, node: Node | None) -> Drug | None:
        if node is None:
            return None
        g = self.g
        codes = tuple((local(p), str(o)) for p in (ACSE.ncitCode, ACSE.chebiId, ACSE.rxnormCui, ACSE.drugbankId,
                                                   ACSE.atcCode, ACSE.formerAtcCode)
                      for o in g.all(node, p))
        return Drug(str(node), g.label(node), _text(g.one(node, SCHEMA.name)),
                    self._terms(node, ACSE.targetsGene), codes)

    def intervention(self, node: Node) -> Intervention:
        g = self.g
        ivterm = Term(str(node), g.label(node))
        regimens = []
        for r in g.all(node, ACSE.hasDosingRegimen):
            freq = g.one(r, ACSE.frequency)
            per_day = py(g.one(freq, ACSE.dosesPerDay)) if freq is not None else None
            if per_day is None and freq is not None:
                per_day = g.terms.get(str(freq), {}).get("perDay")
            regimens.append(Regimen(
                iri=str(r), label=g.label(r), position=_num(g.one(r, ACSE.position)) or 0.0,
                registered_text=_text(g.one(r, ACSE.registeredText)),
                dose=_num(g.one(r, ACSE.doseValue)), dose_unit=_text(g.one(r, ACSE.doseUnit)),
                per_bsa=py(g.one(r, ACSE.perBodySurfaceArea)),
                frequency=g.term(freq), doses_per_day=int(per_day) if per_day is not None else None,
                route=g.term(g.one(r, ACSE.route)),
                population=self.population(g.one(r, ACSE.population)), intervention=ivterm))
        regimens.sort(key=lambda r: (r.position, r.iri))
        itype = g.term(g.one(node, ACSE.interventionType))
        return Intervention(str(node), g.label(node), itype.code if itype else "",
                            _text(g.one(node, ACSE.description)), self.drug(g.one(node, ACSE.drug)),
                            tuple(regimens), g.term(g.one(node, ACSE.route)))

    def study(self, node: Node, nct: str) -> Study:
        g = self.g
        arms = []
        iv_nodes: dict[str, Node] = {str(x): x for x in g.all(node, ACSE.hasIntervention)}
        for a in g.all(node, ACSE.hasArm):
            ivs = g.all(a, ACSE.hasIntervention)
            iv_nodes.update({str(x): x for x in ivs})
            atype = g.term(g.one(a, ACSE.armType))
            arms.append(Arm(str(a), g.label(a), atype.code if atype else "", _text(g.one(a, ACSE.description)),
                            tuple(str(x) for x in ivs)))
        outcomes = []
        for p, kind in ((ACSE.primaryOutcome, "primary"), (ACSE.secondaryOutcome, "secondary")):
            for o in g.all(node, p):
                outcomes.append(Outcome(str(o), kind, _text(g.one(o, ACSE.measure)),
                                        _text(g.one(o, ACSE.description)), _text(g.one(o, ACSE.timeFrame)),
                                        _num(g.one(o, ACSE.position)) or 0.0))
        outcomes.sort(key=lambda o: (o.kind != "primary", o.position, o.iri))
        curations = []
        for c in g.subjects_of_type(ACSE.Curation):
            prop = g.one(c, ACSE.curatedProperty)
            curations.append(Curation(
                str(c), g.label(c), local(prop) if prop is not None else "",
                _text(g.one(c, ACSE.registeredValue)), _text(g.one(c, ACSE.curatedValue)),
                _text(g.one(c, ACSE.rationale)),
                tuple(str(x) for x in g.all(c, PROV.used)), tuple(str(x) for x in g.all(c, PROV.generated))))
        cohorts = sorted((self.cohort(c) for c in g.all(node, ACSE.hasCohort)), key=lambda c: c.number)
        return Study(
            iri=str(node), nct=nct, graph=study_graph_name(nct),
            title=_text(g.one(node, ACSE.briefTitle)), acronym=_text(g.one(node, ACSE.acronym)),
            status=g.term(g.one(node, ACSE.overallStatus)),
            cohorts=tuple(cohorts), criteria=self.criteria(node), arms=tuple(arms),
            interventions=tuple(self.intervention(iv_nodes[k]) for k in sorted(iv_nodes)),
            outcomes=tuple(outcomes), curations=tuple(curations),
            min_age=_num(g.one(node, ACSE.minimumAge)), max_age=_num(g.one(node, ACSE.maximumAge)),
            sex=_text(g.one(node, ACSE.sex)), source=_text(g.one(node, ACSE.studySource)),
            official_title=_text(g.one(node, ACSE.officialTitle)), summary=_text(g.one(node, ACSE.briefSummary)),
            phases=tuple(sorted((t for t in (g.term(x) for x in g.all(node, ACSE.phase)) if t is not None),
                                key=lambda t: (t.code, t.iri))),
            identifiers=tuple(sorted((local(sch), _text(g.one(i, ACSE.identifierValue)))
                                     for i in g.all(node, ACSE.identifier)
                                     if (sch := g.one(i, ACSE.scheme)) is not None)),
            sponsors=tuple(g.label(o) for o in [*g.all(node, ACSE.leadSponsor),
                                                *sorted(g.all(node, ACSE.collaborator), key=g.label)]),
            sites=tuple(g.label(x) for x in sorted(g.all(node, ACSE.site),
                                                   key=lambda x: (_num(g.one(x, ACSE.position)) or 0.0, str(x)))),
        )


def _criterion_id(iri: str) -> str:
    marker = "/criterion/"
    return iri.split(marker, 1)[1] if marker in iri else local(iri)


# ------------------------------------------------------------------ the registry
def registry_studies(store: GraphStore) -> list[tuple[str, str]]:
    """(NCT number, study IRI) of every live study, by NCT number (kept per store version)."""
    def read() -> list[tuple[str, str]]:
        rows = store.select("SELECT DISTINCT ?nct ?s WHERE { GRAPH ?g { ?s acse:nctId ?nct } "
                            f"FILTER(STRSTARTS(STR(?g), {sparql_string(STUDY_GRAPH_PREFIX)})) }}")
        return sorted({(str(r["nct"]), str(r["s"])) for r in rows})
    return _cache.get(store, "model-studies", read)


def structured_studies(store: GraphStore) -> list[str]:
    """NCT numbers of the studies that have cohorts (the matchable ones), kept per store version."""
    def read() -> list[str]:
        rows = store.select("SELECT DISTINCT ?nct WHERE { GRAPH ?g { ?s acse:hasCohort ?c ; acse:nctId ?nct } "
                            f"FILTER(STRSTARTS(STR(?g), {sparql_string(STUDY_GRAPH_PREFIX)})) }}")
        return sorted(str(r["nct"]) for r in rows)
    return _cache.get(store, "model-structured", read)


@dataclass(frozen=True)
class CohortKey:
    """What the registry's matching index needs of a cohort, without reading its study whole."""

    nct: str
    iri: str
    genes: frozenset[str]
    types: frozenset[str]
    pathologies: frozenset[str]
    min_age: float | None
    max_age: float | None
    ruled: bool


def cohort_keys(store: GraphStore) -> list[CohortKey]:
    """Every cohort of the registry with its genes, accepted types, pathologies, age band and whether a rule
    defines it, by study and cohort.

    Why apart from :func:`read_study`: a registry of thousands of studies is indexed from
    this alone, and a study is read (and compiled) only when a profile can enter it.
    """
    def read() -> list[CohortKey]:
        return sorted((k for keys in _read_cohort_keys(store, None).values() for k in keys),
                      key=lambda k: (k.nct, k.iri))
    keys: list[CohortKey] = _cache.get(store, "model-cohort-keys", read)
    return keys


def cohort_keys_of_genes(store: GraphStore, genes: Iterable[str]) -> dict[str, tuple[CohortKey, ...]]:
    """The cohort keys (all of them) of the cohorts that target any of ``genes`` (gene IRIs), by study
    graph: what a registry matcher reads when a profile first names a gene, so that its first
    request costs the cohorts of that gene, not the registry."""
    wanted = sorted(g for g in genes if _safe_iri(g))
    if not wanted:
        return {}
    return _read_cohort_keys(store, None, f"?c acse:targetGene ?wanted . VALUES ?wanted {{ {' '.join(f'<{g}>' for g in wanted)} }} ")


def cohort_keys_without_genes(store: GraphStore) -> dict[str, tuple[CohortKey, ...]]:
    """The cohort keys of the cohorts that name no target gene (every profile is asked about them)."""
    # The cohorts first (a light scan), then their keys: the filter inside the keys' query is
    # evaluated after the union of their properties, ten times slower.
    rows = store.select("SELECT DISTINCT ?c WHERE { GRAPH ?g { ?s acse:hasCohort ?c "
                        "FILTER NOT EXISTS { ?c acse:targetGene ?anyGene } } "
                        f"FILTER(STRSTARTS(STR(?g), {sparql_string(STUDY_GRAPH_PREFIX)})) }}")
    found = sorted(str(r["c"]) for r in rows if _safe_iri(str(r["c"])))
    if not found:
        return {}
    return _read_cohort_keys(store, None, f"VALUES ?c {{ {' '.join(f'<{c}>' for c in found)} }} ")


def matchable_count(store: GraphStore) -> int:
    """How many studies have cohorts (one count in the engine, kept per store version)."""
    def read() -> int:
        rows = store.select("SELECT (COUNT(DISTINCT ?nct) AS ?n) WHERE { GRAPH ?g { ?s acse:hasCohort ?c ; "
                            f"acse:nctId ?nct }} FILTER(STRSTARTS(STR(?g), {sparql_string(STUDY_GRAPH_PREFIX)})) }}")
        return int(rows.values("n")[0] or 0)
    count: int = _cache.get(store, "model-matchable-count", read)
    return count


def cohort_keys_of_graphs(store: GraphStore, graphs: Iterable[str]) -> dict[str, tuple[CohortKey, ...]]:
    """The cohort keys of the given study graphs (after a write to them)."""
    return _read_cohort_keys(store, frozenset(graphs))


def _read_cohort_keys(store: GraphStore, graphs: frozenset[str] | None,
                      cohorts: str = "") -> dict[str, tuple[CohortKey, ...]]:
    # One property a row (a cohort's genes, types and pathologies would multiply as OPTIONALs).
    # Inside each study's own graph (GRAPH ?g, live study graphs only): joined within one record,
    # not across a default graph that is the union of every record. ``cohorts``: a pattern on ?c
    # that keeps some cohorts only.
    within = (f"VALUES ?g {{ {' '.join(f'<{g}>' for g in sorted(graphs))} }} " if graphs is not None else "")
    rows = store.select(
        f"SELECT ?g ?nct ?c ?k ?v WHERE {{ {within}GRAPH ?g {{ ?s acse:hasCohort ?c ; acse:nctId ?nct . {cohorts}"
        "{ BIND('cohort' AS ?k) } UNION { ?c acse:targetGene ?v BIND('genes' AS ?k) } "
        "UNION { ?c acse:acceptsAlterationType ?v BIND('types' AS ?k) } "
        "UNION { ?c acse:pathology ?v BIND('paths' AS ?k) } UNION { ?c acse:cohortRule ?v BIND('rule' AS ?k) } "
        "UNION { ?c acse:population/acse:minimumAge ?v BIND('min' AS ?k) } "
        "UNION { ?c acse:population/acse:maximumAge ?v BIND('max' AS ?k) } } "
        f"FILTER(STRSTARTS(STR(?g), {sparql_string(STUDY_GRAPH_PREFIX)})) }}")
    acc: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        d = acc.setdefault((str(r["g"]), str(r["nct"]), str(r["c"])),
                           {"genes": set(), "types": set(), "paths": set(), "min": None, "max": None, "rule": False})
        k = str(r["k"])
        if k in ("genes", "types", "paths"):
            d[k].add(str(r["v"]))
        elif k in ("min", "max"):
            d[k] = _num(r["v"])
        elif k == "rule":
            d["rule"] = True
    out: dict[str, list[CohortKey]] = {}
    for (g, nct, c), d in sorted(acc.items()):
        out.setdefault(g, []).append(CohortKey(nct, c, frozenset(d["genes"]), frozenset(d["types"]),
                                               frozenset(d["paths"]), d["min"], d["max"], d["rule"]))
    return {g: tuple(v) for g, v in out.items()}


_cache = DerivedCache()

__all__ = [
    "ModelError",
    "StudyNotFound",
    "Vocabulary",
    "read_study",
    "read_variables",
    "read_vocabulary",
    "registry_studies",
    "structured_studies",
    "study_from_graph",
    "study_from_record",
]
