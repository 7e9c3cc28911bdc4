"""A basket study's cohorts as FHIR R4B ``Group`` resources: who each cohort enrols, coded.

One ``Group`` per cohort (``actual: false``: a definition, not a roster),
read from the study model (:func:`acse_kg.model.read_study`), never from the
registered text. Its characteristics, every one of which must hold (R4B's
rule for a Group):

- the age band of the cohort's population: LOINC 30525-0 (Age), a ``Range``
  in UCUM ``a`` (the model's maximum is exclusive; a Range has no way to say
  so, and the registry's convention — "under 18" — is stated here);
- the pathology: SNOMED CT 64572001 (Disease), coded in OncoTree with the
  NCIt translation of the same class (``skos:exactMatch`` in the graph); each
  class the cohort does not take although it falls under its pathologies
  (``acse:excludedPathology``) is the same characteristic with ``exclude:
  true`` — that class itself, not its subtypes, as the model means it;
- the target gene: LOINC 48018-6 (Gene studied), HGNC id; the accepted
  alteration type: LOINC 48019-4 (DNA change type), Sequence Ontology where
  the graph matches the type (exactly, else closely) and the registry's own
  code otherwise (overexpression has no SO term);
- each eligibility criterion that applies to the cohort (the common ones
  and its own). A criterion that is one comparison is coded: LOINC for the
  labs, performance scores and vitals the patient converters read
  (:data:`acse_kg.patients.vocabulary.LOINC_OF_FIELD`), else the graph's
  clinical variable as a code; its threshold is a ``Quantity`` with the
  comparator and a UCUM unit, a boolean, or normal/abnormal as HL7
  interpretation codes. An exclusion is ``exclude: true`` on what excludes.
  Any other criterion (conditional, several rules, to be confirmed by a
  person) is a characteristic in words (``code.text``, ``valueBoolean``
  true), so the Group still says all the protocol says.

Alternatives do not fit R4B's all-must-hold characteristics; where the model
has several pathologies, genes or alteration types (any of them), the
characteristic's value is a ``Reference`` to a contained ``ValueSet`` that
enumerates them ("the disease is in this set"). Gene and type are separate
characteristics, so a cohort taking genes {A, B} with types {x, y} reads as
any of the four pairs, as the model's candidacy does. A cohort defined by a
whole rule (a CTML arm) has its top-level conjuncts coded the same way, an
alternative of diagnoses or of one alteration type over several genes as a
value set, and anything else in words. What "another pathology" cohorts
exclude (the pairs the named cohorts cover) is said in the Group's name.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.group import Group, GroupCharacteristic
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.range import Range
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.valueset import (
    ValueSet,
    ValueSetCompose,
    ValueSetComposeInclude,
    ValueSetComposeIncludeConcept,
)

from ..ctml.vocabulary import hgnc_symbols
from ..derived import DerivedCache
from ..model import (
    COMPARATORS,
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
    Term,
    TumourTypeTest,
)
from ..namespaces import ACSE
from ..patients.vocabulary import (
    HGNC,
    LOINC,
    LOINC_FIELDS,
    LOINC_OF_FIELD,
    NCIT,
    ONCOTREE,
    SNOMED,
    SO,
    UCUM,
)
from ..store import GraphStore

_codes = DerivedCache()

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
IRI_SYSTEM = "urn:ietf:rfc:3986"
AGE = Coding(system=LOINC, code="30525-0", display="Age")
DISEASE = Coding(system=SNOMED, code="64572001", display="Disease (disorder)")
GENE = Coding(system=LOINC, code="48018-6", display="Gene studied [ID]")
CHANGE = Coding(system=LOINC, code="48019-4", display="DNA change type")
_FLAGS = {"normal": ("N", "Normal"), "abnormal": ("A", "Abnormal")}
_FHIR_COMPARATOR = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


class Codes:
    """What the graph knows beyond the model's terms: NCIt of an OncoTree class, SO of an alteration type."""

    def __init__(self, store: GraphStore) -> None:
        self.ncit: dict[str, tuple[str, str]] = {}
        for r in store.select("SELECT ?c ?n ?label WHERE { ?c acse:oncotreeCode ?code ; skos:exactMatch ?n . "
                              "OPTIONAL { ?c rdfs:label ?label } FILTER(CONTAINS(STR(?n), 'NCIT_')) }"):
            self.ncit.setdefault(str(r["c"]), (str(r["n"]).rsplit("NCIT_", 1)[1], str(r.get("label") or "")))
        self.so: dict[str, list[str]] = {}
        for match in ("exactMatch", "closeMatch"):
            for r in store.select(f"SELECT ?t ?so WHERE {{ ?t a acse:AlterationType ; skos:{match} ?so . "
                                  "FILTER(CONTAINS(STR(?so), '/SO_')) }"):
                t = str(r["t"])
                if match == "exactMatch" or t not in self.so or self.so.get(t + "#exact") is None:
                    self.so.setdefault(t, []).append("SO:" + str(r["so"]).rsplit("SO_", 1)[1])
                if match == "exactMatch":
                    self.so[t + "#exact"] = []
        self.hgnc = {symbol: hgnc_id for symbol, hgnc_id in hgnc_symbols().items()}

    def disease(self, t: Term) -> list[Coding]:
        out = [Coding(system=ONCOTREE, code=t.code, display=t.label or None)]
        if t.iri in self.ncit:
            code, label = self.ncit[t.iri]
            out.append(Coding(system=NCIT, code=code, display=label or t.label or None))
        return out

    def gene(self, t: Term) -> list[Coding]:
        hgnc_id = t.accession if t.accession.upper().startswith("HGNC:") else self.hgnc.get(t.code)
        if hgnc_id:
            return [Coding(system=HGNC, code=hgnc_id, display=t.code)]
        return [Coding(system=str(ACSE), code=t.iri.rsplit("/", 1)[-1], display=t.code or t.label)]

    def change(self, t: Term) -> list[Coding]:
        sos = sorted(self.so.get(t.iri, []))
        return [Coding(system=SO, code=s, display=t.code or t.label) for s in sos] or \
            [Coding(system=str(ACSE), code=t.iri.rsplit("#", 1)[-1], display=t.code or t.label)]


class _Builder:
    def __init__(self, cohort: Cohort, codes: Codes, value_sets: dict[tuple[str, ...], ValueSet]) -> None:
        self.cohort = cohort
        self.codes = codes
        self.value_sets = value_sets  # shared by the study's cohorts: one value set for the same alternatives
        self.chars: list[GroupCharacteristic] = []

    def coded(self, what: Coding, terms: list[Term], code_of: Any, name: str, exclude: bool = False) -> None:
        """One characteristic: ``what`` is the one term, or one of the terms (a contained value set)."""
        if len(terms) == 1:
            self.chars.append(GroupCharacteristic(code=CodeableConcept(coding=[what]), exclude=exclude,
                                                  valueCodeableConcept=CodeableConcept(coding=code_of(terms[0]),
                                                                                      text=terms[0].name)))
            return
        key = (name, *sorted(t.iri for t in terms))
        if key not in self.value_sets:
            vs_id = f"{name}-{len(self.value_sets) + 1}"
            includes: dict[str, list[ValueSetComposeIncludeConcept]] = {}
            for t in terms:
                first = code_of(t)[0]
                includes.setdefault(first.system, []).append(ValueSetComposeIncludeConcept(code=first.code,
                                                                                          display=first.display))
            self.value_sets[key] = ValueSet(
                id=vs_id, status="active", name=f"AnyOf{name.capitalize()}{len(self.value_sets) + 1}",
                title="Any of " + ", ".join(t.name for t in terms),
                compose=ValueSetCompose(include=[ValueSetComposeInclude(system=s, concept=c)
                                                 for s, c in includes.items()]))
        vs_id = str(self.value_sets[key].id)
        self.chars.append(GroupCharacteristic(code=CodeableConcept(coding=[what]), exclude=exclude,
                                              valueReference=Reference(reference=f"#{vs_id}",
                                                                       display=" or ".join(t.name for t in terms))))

    def age(self, low: float | None, high: float | None) -> None:
        if low is None and high is None:
            return
        rng = Range(low=_qty(low, "a") if low is not None else None, high=_qty(high, "a") if high is not None else None)
        self.chars.append(GroupCharacteristic(code=CodeableConcept(coding=[AGE]), valueRange=rng, exclude=False))

    def words(self, text: str, exclude: bool) -> None:
        self.chars.append(GroupCharacteristic(code=CodeableConcept(text=text), valueBoolean=True, exclude=exclude))

    def comparison(self, c: Comparison, exclude: bool) -> None:
        field = c.variable.field
        if field in LOINC_OF_FIELD:
            code = LOINC_OF_FIELD[field]
            coding = Coding(system=LOINC, code=code, display=LOINC_FIELDS[code].display)
        else:
            coding = Coding(system=str(ACSE), code=c.variable.iri.rsplit("#", 1)[-1], display=c.variable.label or field)
        concept = CodeableConcept(coding=[coding], text=c.variable.label or field)
        t = c.threshold
        if isinstance(t, bool):
            value: dict[str, Any] = {"valueBoolean": t}  # a yes/no variable is only ever compared with eq
        elif isinstance(t, str):
            flag = _FLAGS.get(t)
            value = {"valueCodeableConcept": CodeableConcept(
                coding=[Coding(system=INTERPRETATION, code=flag[0], display=flag[1])] if flag else None, text=t)}
        else:
            q = _qty(float(t), c.unit or c.variable.unit or "1")
            if c.comparator in _FHIR_COMPARATOR:
                q.comparator = _FHIR_COMPARATOR[c.comparator]
            value = {"valueQuantity": q}
        self.chars.append(GroupCharacteristic(code=concept, exclude=exclude, **value))

    def leaf(self, e: Expr, exclude: bool) -> bool:
        """Code one conjunct of a rule; False when it is not one this module codes."""
        if isinstance(e, Not) and not isinstance(e.operand, (And, Or, Not)):
            return self.leaf(e.operand, not exclude)
        if isinstance(e, TumourTypeTest):
            self.coded(DISEASE, [e.tumour_type], self.codes.disease, "disease", exclude)
            return True
        if isinstance(e, Comparison) and not (isinstance(e.threshold, (int, float)) and not isinstance(e.threshold, bool)
                                              and e.comparator == "eq" and exclude):
            self.comparison(e, exclude)
            return True
        if isinstance(e, AlterationTest) and not exclude and e.gene is not None and not e.variant_level \
                and not e.wildtype:
            self.coded(GENE, [e.gene], self.codes.gene, "gene")
            if e.alteration_type is not None:
                self.coded(CHANGE, [e.alteration_type], self.codes.change, "change")
            return True
        if isinstance(e, Or) and not exclude:
            ops = e.operands
            tumour_tests = [o for o in ops if isinstance(o, TumourTypeTest)]
            if len(tumour_tests) == len(ops):
                self.coded(DISEASE, [o.tumour_type for o in tumour_tests], self.codes.disease, "disease")
                return True
            types = {o.alteration_type for o in ops if isinstance(o, AlterationTest)}
            genes = [o.gene for o in ops if isinstance(o, AlterationTest) and o.gene is not None
                     and not o.variant_level and not o.wildtype]
            if len(genes) == len(ops) and len(types) == 1:
                self.coded(GENE, genes, self.codes.gene, "gene")
                (kind,) = types
                if kind is not None:
                    self.coded(CHANGE, [kind], self.codes.change, "change")
                return True
        return False

    def criterion(self, c: Criterion) -> None:
        exclusion = c.kind == "exclusion"
        if c.decidable and c.applies_when is None:
            rule = c.excludes_when if exclusion and c.excludes_when is not None else c.requires
            exclude = exclusion and c.excludes_when is not None
            if rule is not None and self.leaf(rule, exclude):
                return
        self.words(c.text, exclusion)


def _qty(value: float, unit: str) -> Quantity:
    v = int(value) if float(value).is_integer() else value  # 18, not 18.0, as the protocol writes it
    return Quantity(value=v, unit=unit, system=UCUM, code=unit)  # validated as a decimal


def words(e: Expr) -> str:
    """An expression in a reader's words, for the characteristics no code can carry."""
    if isinstance(e, (And, Or)):
        joiner = " and " if isinstance(e, And) else " or "
        return "(" + joiner.join(words(o) for o in e.operands) + ")"
    if isinstance(e, Not):
        return f"not {words(e.operand)}"
    if isinstance(e, TumourTypeTest):
        return e.tumour_type.name
    if isinstance(e, Comparison):
        return f"{e.variable.field} {COMPARATORS[e.comparator]} {e.threshold}{' ' + e.unit if e.unit else ''}"
    if isinstance(e, PriorTherapyTest):
        return f"prior {e.drug.name}"
    parts = [e.gene.name if e.gene else "any gene", e.alteration_type.name if e.alteration_type else "alteration"]
    parts += [str(v) for v in (e.protein_change, e.exon and f"exon {e.exon}", e.variant_classification, e.cnv_call,
                               e.partner and f"partner {e.partner.name}", e.function) if v]
    return " ".join(parts) + (" wild type" if e.wildtype else "")


def conjuncts(e: Expr) -> list[Expr]:
    """The parts of a conjunction, nested conjunctions flattened (a CTML match tree nests them)."""
    return [x for o in e.operands for x in conjuncts(o)] if isinstance(e, And) else [e]


def cohort_group(study: Study, cohort: Cohort, codes: Codes, value_sets: dict[tuple[str, ...], ValueSet]) -> Group:
    """The Group of one cohort; the value sets its characteristics refer to are added to ``value_sets``."""
    b = _Builder(cohort, codes, value_sets)
    pop = cohort.population
    if pop is not None:
        b.age(pop.min_age, pop.max_age)
        if pop.condition is not None and not b.leaf(pop.condition, False):
            b.words(f"population: {words(pop.condition)}", False)
    if cohort.rule is not None:
        if cohort.genes:
            b.coded(GENE, list(cohort.genes), codes.gene, "gene")
        for part in conjuncts(cohort.rule):
            if not b.leaf(part, False):
                b.words(f"cohort rule: {words(part)}", False)
    else:
        if cohort.pathologies:
            b.coded(DISEASE, list(cohort.pathologies), codes.disease, "disease")
        for t in cohort.excluded_pathologies:  # benign, in situ ... entities under a pathology: that class only
            b.coded(DISEASE, [t], codes.disease, "disease", exclude=True)
        if cohort.genes:
            b.coded(GENE, list(cohort.genes), codes.gene, "gene")
        if cohort.accepts:
            b.coded(CHANGE, list(cohort.accepts), codes.change, "change")
    wholes = {c.component_of for c in study.criteria if c.component_of}
    for c in study.criteria_of(cohort):
        if c.iri not in wholes:  # a registered bullet with computable components is said by its components
            b.criterion(c)
    group = Group(
        id=f"cohort-{cohort.number}", type="person", actual=False, active=cohort.is_open,
        identifier=[Identifier(system=IRI_SYSTEM, value=cohort.iri)],
        name=f"Cohort {cohort.number}: {cohort.label}", quantity=cohort.max_patients,
        characteristic=b.chars or None,
    )
    return group


def cohort_groups(store: GraphStore, study: Study) -> list[Any]:
    """Every cohort's Group, then the value sets they refer to (to be contained beside them)."""
    codes: Codes = _codes.get(store, "fhir-group-codes", lambda: Codes(store))
    value_sets: dict[tuple[str, ...], ValueSet] = {}
    groups: list[Any] = [cohort_group(study, cohort, codes, value_sets) for cohort in study.cohorts]
    return groups + list(value_sets.values())
