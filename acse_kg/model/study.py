"""The study model: one frozen, typed picture of a study's protocol, read once from the graph.

Why one model: the matcher, the pages, the SHACL shapes, the JSON-LD, the
ClinicalTrials.gov export's cohort and dosing lines, the CTML writer and the
record check all need the same cohorts, criteria, regimens and expressions.
Read by one reader (:mod:`acse_kg.model.reader`) and kept until the store
changes, they cannot drift apart the way four readers with their own SPARQL did.

Nothing here names a trial: genes, drugs, alteration types and wording all
come from the graph.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from .expressions import Expr, Term, fields_read


@dataclass(frozen=True)
class Population:
    """Who a cohort enrols or a regimen applies to: an age band (minimum inclusive, maximum exclusive)."""

    iri: str
    label: str = ""
    min_age: float | None = None
    max_age: float | None = None
    condition: Expr | None = None  # beyond age (acse:populationCondition), e.g. having ALCL

    def age_fits(self, age: float) -> bool:
        return (self.min_age is None or age >= self.min_age) and (self.max_age is None or age < self.max_age)


@dataclass(frozen=True)
class Design:
    """A cohort's statistical design (two-stage: alpha and beta)."""

    iri: str
    label: str = ""
    kind_label: str = ""
    alpha: float | None = None
    beta: float | None = None


@dataclass(frozen=True)
class CohortStatus:
    iri: str
    label: str = ""
    is_open: bool | None = None


@dataclass(frozen=True)
class Cohort:
    """One basket: who is a candidate (pathology × target alteration × age, or a whole rule) and its design.

    ``rule`` is the cohort's whole candidacy rule where pathology, gene and type
    do not say it (a CTML arm's match tree); ``genes`` then lists the genes the
    rule can be satisfied by, which is what the registry's index needs.
    """

    iri: str
    number: int
    label: str
    registered_text: str = ""
    kind: Term | None = None  # named pathology | rare paediatric | other pathology
    pathologies: tuple[Term, ...] = ()
    genes: tuple[Term, ...] = ()
    accepts: tuple[Term, ...] = ()  # alteration types that qualify
    co_accepts: tuple[Term, ...] = ()  # alteration types allowed alongside, not alone
    population: Population | None = None
    design: Design | None = None
    status: CohortStatus | None = None
    rare_disease: bool | None = None
    max_patients: int | None = None
    rule: Expr | None = None
    drugs: tuple[Term, ...] = ()
    #: OncoTree classes (each that exact class, not its subtypes) the cohort does not take although they fall
    #: under one of its pathologies: benign, borderline, in situ or precursor entities, or a subtype the
    #: registered pathology does not mean (acse:excludedPathology, each explained by a curation).
    excluded_pathologies: tuple[Term, ...] = ()
    review_state: str | None = None  # "draft" for a cohort drafted from the record (prov:wasGeneratedBy a DraftingActivity)

    @property
    def is_open(self) -> bool:
        return self.status is None or self.status.is_open is not False

    def takes_diagnosis(self, diagnosis: str, lineage: Collection[str]) -> bool:
        """Whether a diagnosis (an OncoTree class IRI) is one of the cohort's pathologies.

        ``lineage`` is the diagnosis class and every class above it. The
        diagnosis is taken when one of them is a pathology of the cohort and
        the diagnosis class itself is not excluded: an exclusion names one
        class, so that the malignant subtypes OncoTree files under a precursor
        (cholangiocarcinoma under the bile duct's intraductal papillary
        neoplasm) stay taken.
        """
        if any(t.iri == diagnosis for t in self.excluded_pathologies):
            return False
        return any(t.iri in lineage for t in self.pathologies)


@dataclass(frozen=True)
class Criterion:
    """One eligibility criterion: a registered bullet, a nested bullet, or a computable component of one.

    ``requires`` is what must hold to pass; ``applies_when`` the condition under
    which it applies (where false, the criterion is met); ``excludes_when``,
    for an exclusion, what excludes (``requires`` is its negation).
    """

    iri: str
    id: str
    kind: str  # inclusion | exclusion
    text: str
    position: float = 0.0
    order: tuple[float, ...] = ()
    parent: str | None = None  # acse:subCriterionOf
    component_of: str | None = None  # acse:componentOf
    computable: bool | None = None
    requires: Expr | None = None
    applies_when: Expr | None = None
    excludes_when: Expr | None = None
    cohorts: frozenset[str] = frozenset()  # empty: common to every cohort
    comment: str = ""
    review_state: str | None = None  # a drafted criterion's acse:reviewState (draft, accepted, rejected, edited); None: curated

    @property
    def decidable(self) -> bool:
        """A criterion the profile's fields decide (it has a structured rule)."""
        return bool(self.computable) and self.requires is not None

    def fields(self) -> list[str]:
        """Profile fields the criterion reads (condition and rule), in first-use order."""
        out = fields_read(self.requires)
        out += [f for f in fields_read(self.applies_when) if f not in out]
        return out

    def applies_to(self, cohort: str) -> bool:
        return not self.cohorts or cohort in self.cohorts


@dataclass(frozen=True)
class Drug:
    iri: str
    label: str
    name: str = ""
    targets: tuple[Term, ...] = ()  # genes
    codes: tuple[tuple[str, str], ...] = ()  # (scheme, code): ncit, chebi, rxnorm, drugbank, atc


@dataclass(frozen=True)
class Regimen:
    """A dose for one population: value, unit, per body surface area or not, frequency, route."""

    iri: str
    label: str
    position: float = 0.0
    registered_text: str = ""
    dose: float | None = None
    dose_unit: str = ""
    per_bsa: bool | None = None
    frequency: Term | None = None
    doses_per_day: int | None = None
    route: Term | None = None
    population: Population | None = None
    intervention: Term | None = None


@dataclass(frozen=True)
class Intervention:
    iri: str
    label: str
    type_code: str = ""
    description: str = ""
    drug: Drug | None = None
    regimens: tuple[Regimen, ...] = ()
    route: Term | None = None


@dataclass(frozen=True)
class Arm:
    iri: str
    label: str
    type_code: str = ""
    description: str = ""
    interventions: tuple[str, ...] = ()  # intervention IRIs


@dataclass(frozen=True)
class Outcome:
    iri: str
    kind: str  # primary | secondary
    measure: str
    description: str = ""
    time_frame: str = ""
    position: float = 0.0


@dataclass(frozen=True)
class Curation:
    """A recorded correction of a registered value, and why."""

    iri: str
    label: str
    property: str = ""
    registered: str = ""
    curated: str = ""
    rationale: str = ""
    used: tuple[str, ...] = ()
    generated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Study:
    """A study's protocol as the graph states it."""

    iri: str
    nct: str
    graph: str  # the named graph the record lives in
    title: str = ""
    acronym: str = ""
    status: Term | None = None  # overall recruitment status (code: RECRUITING ...)
    cohorts: tuple[Cohort, ...] = ()
    criteria: tuple[Criterion, ...] = ()  # registered order: inclusion then exclusion
    arms: tuple[Arm, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    curations: tuple[Curation, ...] = ()
    min_age: float | None = None
    max_age: float | None = None
    sex: str = ""  # ALL | FEMALE | MALE
    source: str = ""
    official_title: str = ""
    summary: str = ""  # the brief summary: what the trial is for
    phases: tuple[Term, ...] = ()  # codes PHASE1 ... PHASE4, in code order
    #: Identifiers other than the NCT number, as (scheme's local name, value): ("SponsorStudyId", "CAPTUR").
    identifiers: tuple[tuple[str, str], ...] = ()
    sponsors: tuple[str, ...] = ()  # the lead sponsor's name first, then the collaborators'
    sites: tuple[str, ...] = ()  # the sites' names, in registered order
    _by_iri: dict[str, Criterion] = field(default_factory=dict, compare=False, repr=False)

    @property
    def structured(self) -> bool:
        """Whether the study can be matched: it has cohorts."""
        return bool(self.cohorts)

    @property
    def recruiting(self) -> bool | None:
        """Whether the study recruits (None when its status is not stated)."""
        if self.status is None or not self.status.code:
            return None
        return self.status.code in RECRUITING_CODES

    @property
    def regimens(self) -> tuple[Regimen, ...]:
        """Every dosing regimen of the study's interventions, in registered order."""
        out = [r for iv in self.interventions for r in iv.regimens]
        return tuple(sorted(out, key=lambda r: (r.position, r.iri)))

    @property
    def drugs(self) -> tuple[Drug, ...]:
        seen: dict[str, Drug] = {}
        for iv in self.interventions:
            if iv.drug is not None:
                seen.setdefault(iv.drug.iri, iv.drug)
        return tuple(seen.values())

    @property
    def target_genes(self) -> tuple[Term, ...]:
        """Genes the study's drugs target, then the cohorts' genes (each once, in that order)."""
        seen: dict[str, Term] = {}
        for d in self.drugs:
            for g in d.targets:
                seen.setdefault(g.iri, g)
        for c in self.cohorts:
            for g in c.genes:
                seen.setdefault(g.iri, g)
        return tuple(seen.values())

    def criterion(self, iri: str) -> Criterion | None:
        if not self._by_iri:
            self._by_iri.update({c.iri: c for c in self.criteria})
        return self._by_iri.get(iri)

    def cohort(self, number: int) -> Cohort | None:
        return next((c for c in self.cohorts if c.number == number), None)

    def criteria_of(self, cohort: Cohort) -> tuple[Criterion, ...]:
        """The criteria that apply to one cohort: common ones and its own."""
        return tuple(c for c in self.criteria if c.applies_to(cohort.iri))


#: ClinicalTrials.gov overall statuses under which a study takes patients.
RECRUITING_CODES = frozenset({"RECRUITING", "ENROLLING_BY_INVITATION"})
