"""Cohorts and computable criteria as defined OWL classes of patients, generated from the study model.

Why: a cohort read as an individual with properties lets a reasoner check
the graph and nothing more. Read as the *class of the patients it accepts*,
it lets HermiT classify a patient into cohorts with OWL's open world (member,
provably not a member, or not known: the matcher's eligible / ineligible /
unknown) and compare cohorts of different trials (subsumption, overlap,
disjointness). Everything here is generated from :mod:`acse_kg.model`, so an
imported CTML trial or a drafted study gets its classes with no SPARQL of ours.

The patient vocabulary (namespace :data:`PT`):

- ``pt:hasDiagnosis`` (functional) to an individual of an OncoTree class;
  the OncoTree classes the cohorts and criteria name, and their ancestors,
  come with their ``rdfs:subClassOf`` axioms, and the children of one parent
  are pairwise disjoint (OncoTree is a tree: one diagnosis is one node).
- ``pt:hasAlteration`` to alteration individuals, each in one gene class
  (``pt:gene-MET``) and one alteration-type class (``pt:type-Amplification``,
  or ``pt:WildType`` for a gene reported wild type); gene classes are
  pairwise disjoint, and so are type classes. Genes and types are classes,
  not individuals compared with ``owl:hasValue``, so that the ontology has no
  nominals, which HermiT decides much faster. Variant-level properties are
  functional data properties: ``pt:proteinChange`` (a one-letter HGVS key;
  a position wildcard such as ``V600`` is an ``xsd:pattern`` facet),
  ``pt:exon``, ``pt:variantClassification``, ``pt:cnvCall``, ``pt:function``;
  ``pt:fusionPartner`` points to an individual of a gene class.
- one functional data property per clinical variable, named by its profile
  field (``pt:labs.anc``): numbers as ``xsd:decimal`` in the variable's
  canonical unit (the threshold converted where the record states another),
  booleans as ``xsd:boolean``, coded values as ``xsd:string``.
- ``pt:receivedDrug`` to an individual of a drug class (``pt:drug-crizotinib``).

Constructs, all OWL 2 DL: ``EquivalentClasses`` with intersection, union and
complement (Kleene AND / OR / NOT; complements are classical, which can only
make the reasoner decide *more* than the matcher, never contradict it);
``ObjectSomeValuesFrom`` for "has a diagnosis / an alteration / a drug of
this class"; ``DataSomeValuesFrom`` over ``DatatypeRestriction(xsd:decimal
xsd:minInclusive …)`` for thresholds and age bands (the OWL 2 datatype map,
which HermiT implements); ``DataHasValue`` for flags and codes;
``FunctionalObjectProperty`` / ``FunctionalDataProperty`` so that one value
excludes the others; ``DisjointClasses`` for OncoTree siblings, genes, types
and drugs. No nominals, no property chains, no cardinalities beyond
functionality: the profile the OWL 2 DL tableau of HermiT handles well.

The classes minted per cohort and criterion (fragments of their IRIs, which
dereference to the cohort's or criterion's page):

- ``<criterion>#met``: (NOT appliesWhen) OR requires (not met: provably outside it);
  ``#applies`` for a criterion to confirm that has a condition;
- ``<cohort>#candidate``: the cohort's pathology, target alteration, age band and
  population condition (for a rule cohort: its genes and age band);
  ``#rule``: a rule cohort's whole rule;
- ``<cohort>#population``: candidate and rule — whom the cohort targets, before the
  screening criteria (labs, history), which the cohort comparisons read;
- ``<cohort>#eligible``: candidate, rule, and every computable criterion that
  applies to the cohort, written out in full (not by reference to the classes above).

Whether a cohort is open is not a property of the patient: a closed cohort
keeps its class (the population its protocol defines) and the matcher's
"cohort open to accrual" item makes it ineligible, as the fast path does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ..matching.rules import protein_key, threshold
from ..model import (
    AlterationTest,
    And,
    Cohort,
    Comparison,
    Criterion,
    Expr,
    Not,
    Or,
    PriorTherapyTest,
    Study,
    TumourTypeTest,
    walk,
)
from ..namespaces import BASE

PT = BASE + "ontology/patient#"
ONTOLOGY_IRI = BASE + "ontology/patient"
XSD = "http://www.w3.org/2001/XMLSchema#"
THING = "owl:Thing"
NOTHING = "owl:Nothing"
OTHER_KINDS = frozenset({"OtherPathologyCohort", "RarePaediatricCohort"})

HAS_DIAGNOSIS = f"<{PT}hasDiagnosis>"
HAS_ALTERATION = f"<{PT}hasAlteration>"
RECEIVED_DRUG = f"<{PT}receivedDrug>"
FUSION_PARTNER = f"<{PT}fusionPartner>"
WILD_TYPE = f"<{PT}WildType>"
PATIENT = f"<{PT}Patient>"
AGE = f"<{PT}age_years>"
#: Variant-level data properties and the AlterationTest field each reads.
VARIANT_PROPS = {"exon": f"<{PT}exon>", "variant_classification": f"<{PT}variantClassification>",
                 "cnv_call": f"<{PT}cnvCall>", "function": f"<{PT}function>"}
PROTEIN = f"<{PT}proteinChange>"
FACETS = {"ge": "xsd:minInclusive", "gt": "xsd:minExclusive", "le": "xsd:maxInclusive", "lt": "xsd:maxExclusive"}


# ------------------------------------------------------------------ names
def local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def gene_class(iri: str) -> str:
    return f"<{PT}gene-{local(iri)}>"


def type_class(iri: str) -> str:
    return f"<{PT}type-{local(iri)}>"


def drug_class(iri: str) -> str:
    return f"<{PT}drug-{local(iri)}>"


def field_property(name: str) -> str:
    return f"<{PT}{name}>"


def criterion_met(c: Criterion) -> str:
    return f"{c.iri}#met"


def criterion_applies(c: Criterion) -> str:
    return f"{c.iri}#applies"


def cohort_candidate(c: Cohort) -> str:
    return f"{c.iri}#candidate"


def cohort_population(c: Cohort) -> str:
    return f"{c.iri}#population"


def cohort_eligible(c: Cohort) -> str:
    return f"{c.iri}#eligible"


def cohort_rule(c: Cohort) -> str:
    return f"{c.iri}#rule"


def cohort_kind(c: Cohort) -> str:
    """named | other | rule, as the matcher tells cohorts apart."""
    if c.rule is not None:
        return "rule"
    if c.kind is not None and local(c.kind.iri) in OTHER_KINDS:
        return "other"
    return "named"


# ------------------------------------------------------------------ literals
def decimal(x: float) -> str:
    d = Decimal(str(x))
    text = format(d, "f")
    if "." not in text:
        text += ".0"
    return f'"{text}"^^xsd:decimal'


def string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: object) -> str:
    """A profile value as an OWL literal: boolean, decimal or string."""
    if isinstance(value, bool):
        return f'"{str(value).lower()}"^^xsd:boolean'
    if isinstance(value, (int, float)):
        return decimal(value)
    v = getattr(value, "value", value)  # an Enum of the generated profile
    return string(str(v))


_XSD_META = re.compile(r"([\\|.\-^?*+{}()\[\]$])")


def protein_pattern(wanted: str) -> str:
    """An ``xsd:pattern`` for a position wildcard (``V600`` takes ``V600E`` and ``V600``, not ``V6001``)."""
    return _XSD_META.sub(r"\\\1", wanted) + "([^0-9].*)?"


# ------------------------------------------------------------------ class expressions
def conj(parts: Sequence[str]) -> str:
    parts = [p for p in dict.fromkeys(parts) if p != THING]
    if NOTHING in parts:
        return NOTHING
    if not parts:
        return THING
    return parts[0] if len(parts) == 1 else f"ObjectIntersectionOf({' '.join(parts)})"


def disj(parts: Sequence[str]) -> str:
    parts = [p for p in dict.fromkeys(parts) if p != NOTHING]
    if THING in parts:
        return THING
    if not parts:
        return NOTHING
    return parts[0] if len(parts) == 1 else f"ObjectUnionOf({' '.join(parts)})"


def neg(part: str) -> str:
    if part == THING:
        return NOTHING
    if part == NOTHING:
        return THING
    if part.startswith("ObjectComplementOf(") and part.endswith(")") and _balanced(part[19:-1]):
        return part[19:-1]
    return f"ObjectComplementOf({part})"


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def age_band(lo: float | None, hi: float | None) -> str:
    """Minimum inclusive, maximum exclusive, as the model reads a population's band."""
    facets = []
    if lo is not None:
        facets.append(f"xsd:minInclusive {decimal(lo)}")
    if hi is not None:
        facets.append(f"xsd:maxExclusive {decimal(hi)}")
    if not facets:
        return THING
    return f"DataSomeValuesFrom({AGE} DatatypeRestriction(xsd:decimal {' '.join(facets)}))"


def alteration(gene: str | None, atype: str | None, *extra: str) -> str:
    """Has an alteration (not a wild-type report) of this gene and type, with the extra restrictions."""
    parts = [gene_class(gene)] if gene else []
    parts.append(type_class(atype) if atype else neg(WILD_TYPE))
    return f"ObjectSomeValuesFrom({HAS_ALTERATION} {conj([*parts, *extra])})"


@dataclass
class Signature:
    """Everything the generated axioms name, for declarations and disjointness axioms."""

    tumour_types: set[str] = field(default_factory=set)
    genes: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    drugs: set[str] = field(default_factory=set)
    fields: dict[str, str] = field(default_factory=dict)  # profile field -> number | boolean | code

    def merge(self, other: Signature) -> None:
        self.tumour_types |= other.tumour_types
        self.genes |= other.genes
        self.types |= other.types
        self.drugs |= other.drugs
        self.fields.update(other.fields)


class Translator:
    """Model expressions to OWL class expressions, noting what they name."""

    def __init__(self) -> None:
        self.sig = Signature()

    def expr(self, e: Expr | None) -> str:
        if e is None:
            return THING
        if isinstance(e, And):
            return conj([self.expr(o) for o in e.operands])
        if isinstance(e, Or):
            return disj([self.expr(o) for o in e.operands])
        if isinstance(e, Not):
            return neg(self.expr(e.operand))
        if isinstance(e, TumourTypeTest):
            return self.diagnosis(e.tumour_type.iri)
        if isinstance(e, AlterationTest):
            return self.alteration_test(e)
        if isinstance(e, PriorTherapyTest):
            self.sig.drugs.add(e.drug.iri)
            return f"ObjectSomeValuesFrom({RECEIVED_DRUG} {drug_class(e.drug.iri)})"
        if isinstance(e, Comparison):
            return self.comparison(e)
        raise TypeError(f"no OWL form for {type(e).__name__}")

    def diagnosis(self, iri: str) -> str:
        self.sig.tumour_types.add(iri)
        return f"ObjectSomeValuesFrom({HAS_DIAGNOSIS} <{iri}>)"

    def pair(self, gene: str | None, atype: str | None) -> str:
        if gene:
            self.sig.genes.add(gene)
        if atype:
            self.sig.types.add(atype)
        return alteration(gene, atype)

    def alteration_test(self, e: AlterationTest) -> str:
        gene = e.gene.iri if e.gene else None
        if gene:
            self.sig.genes.add(gene)
        if e.alteration_type:
            self.sig.types.add(e.alteration_type.iri)
        if e.wildtype:
            # Reported wild type: a wild-type report of the gene and no alteration of it.
            g = [gene_class(gene)] if gene else []
            return conj([f"ObjectSomeValuesFrom({HAS_ALTERATION} {conj([*g, WILD_TYPE])})",
                         neg(f"ObjectSomeValuesFrom({HAS_ALTERATION} {conj([*g, neg(WILD_TYPE)])})")])
        extra = []
        if e.protein_change:
            key = protein_key(e.protein_change)
            extra.append(f"DataSomeValuesFrom({PROTEIN} DatatypeRestriction(xsd:string xsd:pattern "
                         f"{string(protein_pattern(key))}))" if key[-1:].isdigit()
                         else f"DataHasValue({PROTEIN} {string(key)})")
        if e.exon is not None:
            extra.append(f"DataHasValue({VARIANT_PROPS['exon']} {decimal(e.exon)})")
        for name in ("variant_classification", "cnv_call", "function"):
            v = getattr(e, name)
            if v is not None:
                extra.append(f"DataHasValue({VARIANT_PROPS[name]} {string(str(v).lower())})")
        if e.partner is not None:
            self.sig.genes.add(e.partner.iri)
            extra.append(f"ObjectSomeValuesFrom({FUSION_PARTNER} {gene_class(e.partner.iri)})")
        return alteration(gene, e.alteration_type.iri if e.alteration_type else None, *extra)

    def comparison(self, e: Comparison) -> str:
        var = e.variable
        prop = field_property(var.field)
        thr = threshold(e)
        if isinstance(thr, bool):
            self.sig.fields[var.field] = "boolean"
            value = literal(thr)
            return f"DataHasValue({prop} {value})" if e.comparator == "eq" else \
                neg(f"DataHasValue({prop} {value})") if e.comparator in ("gt", "lt") else THING
        if isinstance(thr, (int, float)):
            self.sig.fields[var.field] = "number"
            if e.comparator == "eq":
                return f"DataHasValue({prop} {decimal(thr)})"
            return f"DataSomeValuesFrom({prop} DatatypeRestriction(xsd:decimal {FACETS[e.comparator]} {decimal(thr)}))"
        self.sig.fields[var.field] = "code"
        if e.comparator != "eq":
            raise TypeError(f"a coded variable ({var.field}) can only be compared for equality")
        return f"DataHasValue({prop} {string(str(thr))})"


# ------------------------------------------------------------------ one study's classes
@dataclass
class StudyClasses:
    """The axioms of one study's defined classes, and what they name."""

    study: Study
    axioms: list[str]
    sig: Signature
    criteria: list[Criterion]  # the computable ones, with #met classes
    confirm: list[Criterion]  # to confirm, with a condition: #applies classes


def study_classes(study: Study, children: Callable[[str], Sequence[str]] = lambda iri: ()) -> StudyClasses:
    """Every cohort's and computable criterion's defined class for one study.

    ``children`` gives an OncoTree class's direct subclasses: an excluded pathology is that
    exact class (a patient diagnosed with it, not with one of its subtypes).
    """
    tr = Translator()

    def pathology(c: Cohort) -> str:
        taken = disj([tr.diagnosis(p.iri) for p in c.pathologies])
        exact = []
        for e in c.excluded_pathologies:
            kids = list(children(e.iri))
            tr.sig.tumour_types.update([e.iri, *kids])
            inner = conj([f"<{e.iri}>", *(neg(f"<{k}>") for k in kids)])
            exact.append(f"ObjectSomeValuesFrom({HAS_DIAGNOSIS} {inner})")
        return conj([taken, neg(disj(exact))])
    axioms: list[str] = []

    def define(iri: str, expr: str, label: str) -> str:
        axioms.append(f"Declaration(Class(<{iri}>))")
        axioms.append(f"EquivalentClasses(<{iri}> {expr})")
        axioms.append(f"AnnotationAssertion(rdfs:label <{iri}> {string(label)})")
        return expr

    computable = [c for c in study.criteria if c.decidable]
    met: dict[str, str] = {}
    for c in computable:
        req = tr.expr(c.requires)
        expr = req if c.applies_when is None else disj([neg(tr.expr(c.applies_when)), req])
        met[c.iri] = define(criterion_met(c), expr, f"meets {c.id}: {c.text}")
    confirm = [c for c in study.criteria if not c.computable and c.applies_when is not None]
    for c in confirm:
        define(criterion_applies(c), tr.expr(c.applies_when), f"{c.id} applies")

    named = [c for c in study.cohorts if cohort_kind(c) == "named"]
    pair_exclusions = [c for c in computable if c.kind == "exclusion" and not c.cohorts
                       and set(c.fields()) <= {"diagnosis", "alterations"}]
    for cohort in study.cohorts:
        kind = cohort_kind(cohort)
        pop = cohort.population
        age = age_band(pop.min_age if pop else None, pop.max_age if pop else None)
        cond = tr.expr(pop.condition) if pop and pop.condition is not None else THING
        paths = pathology(cohort)
        genes = [g.iri for g in cohort.genes]
        types = [t.iri for t in cohort.accepts]
        rule = THING
        if kind == "rule":
            altered = disj([tr.pair(g, None) for g in genes]) if genes else THING
            candidate = conj([age, altered])
            rule = define(cohort_rule(cohort), tr.expr(cohort.rule), f"{cohort.label}: the cohort's rule")
        elif kind == "named":
            candidate = conj([age, paths, disj([tr.pair(g, t) for g in genes for t in types]), cond])
        else:
            # An alteration no named cohort would take this patient with, and that no common
            # exclusion rejects with this diagnosis on its own (see acse_kg.matching.candidates).
            slots = []
            for g in genes:
                for t in types:
                    covered = disj([conj([_age_of(n), pathology(n),
                                          tr.expr(n.population.condition) if n.population and
                                          n.population.condition is not None else THING])
                                    for n in named if g in {x.iri for x in n.genes} and t in {x.iri for x in n.accepts}])
                    rejected = disj([neg(_residual(tr, c, g, t)) for c in pair_exclusions])
                    slots.append(conj([tr.pair(g, t), neg(covered), neg(rejected)]))
            candidate = conj([age, paths, disj(slots), cond])
        define(cohort_candidate(cohort), candidate, f"{cohort.label}: a candidate")
        define(cohort_population(cohort), conj([candidate, rule]), f"the population {cohort.label} targets")
        # Written out in full, not by reference to the classes above: HermiT (1.3.8) has been seen
        # to miss a named class's instances when that class is used inside another definition.
        parts = [candidate, rule, *(met[c.iri] for c in computable if c.applies_to(cohort.iri))]
        define(cohort_eligible(cohort), conj(parts), f"patients {cohort.label} accepts")
    return StudyClasses(study, [a for a in axioms if a], tr.sig, computable, confirm)


def _age_of(c: Cohort) -> str:
    pop = c.population
    return age_band(pop.min_age if pop else None, pop.max_age if pop else None)


def _residual(tr: Translator, c: Criterion, gene: str, atype: str) -> str:
    """A criterion's #met class for a patient whose only alteration is (gene, type): reads the diagnosis only."""

    def sub(e: Expr) -> Expr | bool:
        if isinstance(e, AlterationTest):
            if e.variant_level or e.wildtype:
                return True  # a variant-level test is not decided by a (gene, type) pair: never rejects
            return (e.gene is None or e.gene.iri == gene) and (e.alteration_type is None or e.alteration_type.iri == atype)
        if isinstance(e, Not):
            inner = sub(e.operand)
            return (not inner) if isinstance(inner, bool) else Not(inner)
        if isinstance(e, (And, Or)):
            ops = [sub(o) for o in e.operands]
            absorbing = isinstance(e, Or)
            if any(o is absorbing for o in ops):
                return absorbing
            rest = tuple(o for o in ops if not isinstance(o, bool))
            if not rest:
                return not absorbing
            return rest[0] if len(rest) == 1 else type(e)(rest)
        return e

    def cls(e: Expr | None) -> str:
        if e is None:
            return THING
        s = sub(e)
        return (THING if s else NOTHING) if isinstance(s, bool) else tr.expr(s)

    req = cls(c.requires)
    return req if c.applies_when is None else disj([neg(cls(c.applies_when)), req])


# ------------------------------------------------------------------ the ontology document
def tumour_axioms(types: Iterable[str], parents: dict[str, list[str]]) -> tuple[list[str], set[str]]:
    """SubClassOf axioms for the named tumour types and their ancestors, and sibling disjointness.

    Two children of one parent are declared disjoint unless some class of the set
    lies under both (which would make it unsatisfiable: OncoTree is a tree, but a
    vocabulary that is not must not break the ontology).
    """
    seen: set[str] = set()
    stack = list(types)
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        stack.extend(parents.get(c, ()))
    axioms = []
    children: dict[str, list[str]] = {}
    for c in sorted(seen):
        axioms.append(f"Declaration(Class(<{c}>))")
        for p in parents.get(c, ()):
            axioms.append(f"SubClassOf(<{c}> <{p}>)")
            children.setdefault(p, []).append(c)
    anc: dict[str, set[str]] = {}

    def up(c: str) -> set[str]:
        if c not in anc:
            anc[c] = {c}
            for p in parents.get(c, ()):
                anc[c] |= up(p)
        return anc[c]

    shared = {frozenset((a, b)) for c in seen for a in up(c) for b in up(c) if a != b}
    for kids in children.values():
        kids = sorted(kids)
        for i, a in enumerate(kids):
            for b in kids[i + 1:]:
                if frozenset((a, b)) not in shared:
                    axioms.append(f"DisjointClasses(<{a}> <{b}>)")
    return axioms, seen


def disjoint_tumour_pairs(types: Iterable[str], parents: dict[str, list[str]]) -> set[frozenset[str]]:
    """The pairs of tumour classes :func:`tumour_axioms` declares disjoint (read back from its axioms).

    Why read back: a shortcut that calls two diagnoses disjoint without the reasoner must
    rest on exactly the axioms the reasoner is given, no more.
    """
    axioms, _ = tumour_axioms(types, parents)
    out = set()
    for a in axioms:
        if a.startswith("DisjointClasses(<"):
            x, y = a[len("DisjointClasses(<"):-2].split("> <")
            out.add(frozenset((x, y)))
    return out


def vocabulary_axioms(sig: Signature) -> list[str]:
    """Declarations, functionality and disjointness of the patient vocabulary."""
    ax = [f"Declaration(Class({PATIENT}))", f"Declaration(Class({WILD_TYPE}))"]
    for p in (HAS_DIAGNOSIS, HAS_ALTERATION, RECEIVED_DRUG, FUSION_PARTNER):
        ax.append(f"Declaration(ObjectProperty({p}))")
    for p in (HAS_DIAGNOSIS, FUSION_PARTNER):
        ax.append(f"FunctionalObjectProperty({p})")
    data = {AGE, PROTEIN, *VARIANT_PROPS.values(), *(field_property(f) for f in sig.fields)}
    for p in sorted(data):
        ax.append(f"Declaration(DataProperty({p}))")
        ax.append(f"FunctionalDataProperty({p})")
    for group in ([gene_class(g) for g in sorted(sig.genes)], [type_class(t) for t in sorted(sig.types)] + [WILD_TYPE],
                  [drug_class(d) for d in sorted(sig.drugs)]):
        for c in group:
            ax.append(f"Declaration(Class({c}))")
        if len(group) > 1:
            ax.append(f"DisjointClasses({' '.join(group)})")
    return ax


def document(axioms: Iterable[str], imports: Sequence[str] = (), iri: str | None = ONTOLOGY_IRI) -> str:
    """An OWL 2 functional-syntax document (anonymous without ``iri``: a patient's assertions)."""
    head = [f"Prefix(xsd:=<{XSD}>)", "Prefix(owl:=<http://www.w3.org/2002/07/owl#>)",
            "Prefix(rdfs:=<http://www.w3.org/2000/01/rdf-schema#>)", f"Prefix(pt:=<{PT}>)",
            f"Ontology(<{iri}>" if iri else "Ontology("]
    head += [f"Import(<{i}>)" for i in imports]
    return "\n".join([*head, *axioms, ")"]) + "\n"


def tumour_types_named(studies: Iterable[StudyClasses]) -> set[str]:
    return {t for s in studies for t in s.sig.tumour_types}


def expressions_of(study: Study) -> Iterable[Expr]:
    """Every expression of a study (for callers that inspect what its classes read)."""
    for c in study.criteria:
        for e in (c.requires, c.applies_when, c.excludes_when):
            if e is not None:
                yield from walk(e)
    for k in study.cohorts:
        if k.rule is not None:
            yield from walk(k.rule)
        if k.population and k.population.condition is not None:
            yield from walk(k.population.condition)
