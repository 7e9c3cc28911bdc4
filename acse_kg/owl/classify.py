"""Matching by classification: each profile becomes an OWL individual and HermiT places it in the cohorts' classes.

Why a second engine: the fast path (:mod:`acse_kg.matching`) evaluates the
model's expressions in Kleene logic; this one hands the same expressions, as
defined classes (:mod:`.classes`), to a complete OWL 2 DL reasoner. Where the
two disagree on ``eligible``, one of them misreads the protocol: the property
test ``tests/test_owl_engines.py`` compares them verdict by verdict. The fast
path stays the default; this is the semantic cross-check and the reference.

Closure axioms, and why. OWL reads facts in an open world: a profile that
lists a MET amplification does not say the patient has no ALK fusion, and a
diagnosis of lung adenocarcinoma does not say it is not also something else,
so without closure every exclusion would be unknown. The matching contract
reads a profile as the fast path does, and the individual says so:

- the alterations listed are all the alterations: the patient is in
  ``∀ hasAlteration . (D₁ ⊔ … ⊔ Dₙ)``, each Dᵢ describing one listed alteration
  by what the profile states of it (gene, type, protein change …) — a
  property the lab did not report stays open, as in the fast path;
- the diagnosis is the most specific one known: its individual is in the
  OncoTree class of the code and in the complement of every tumour class the
  cohorts name that is not one of its ancestors (``LUNG`` is not ``NSCLC``);
- the drugs given before are all the drugs, when the profile lists them (or a
  history flag names one); a profile silent on prior therapy stays open;
- a clinical value the profile leaves out is not asserted: it stays unknown.

Which cohorts are listed: those the patient is provably a candidate of
(``#candidate``); for a rule cohort, those whose genes and age fit and whose
rule is not provably false. Verdicts: ``eligible`` when the individual is in
``#eligible``, ``ineligible`` when provably outside it (or the cohort is not
open to accrual), else ``unknown``; each criterion likewise from ``#met``.
Only these memberships are asked, candidacy first (see :mod:`.reasoner`). Many profiles are classified in one HermiT process (one TBox, a
reasoner per few profiles), which is how a batch is affordable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..derived import DerivedCache
from ..loader import study_graph_name
from ..matching.candidates import Taxonomy as OncoTree
from ..matching.dosing import Regimen, compile_regimens, dosing_for
from ..matching.engine import (
    OPEN_TEXT,
    VERDICT_RANK,
    TrialNotFound,
    Vocabulary,
    pick_study,
    vocabulary_for,
)
from ..matching.profile import ProfileModel
from ..matching.rules import DRUGS, DX, VARIANTS, Facts
from ..model import Cohort, ModelError, Study, read_study, structured_studies
from ..namespaces import NCT_HINT, normalise_nct
from ..store import GraphStore
from . import classes as K
from .reasoner import Hermit, InconsistentOntology

PROFILE_BASE = "urn:acse-kg:profile:"
#: Profiles that share one reasoner: building a reasoner (clausifying the TBox) costs more than the
#: membership tests, and unconnected individuals do not change each other's answers; a few per
#: reasoner halves the time, many make every test slower (each builds the whole ABox's model).
PER_REASONER = 8


@dataclass
class _Profile:
    model: Any  # the profile parsed by the graph's generated schema (a ProfileModel subclass)
    facts: Facts
    iri: str


class OwlEngine:
    """The defined classes of some studies of a store, ready to classify profiles against."""

    def __init__(self, store: GraphStore, ncts: Sequence[str] | None = None) -> None:
        self.vocab: Vocabulary = vocabulary_for(store)
        self.oncotree: OncoTree = self.vocab.taxonomy
        self.studies: list[Study] = []
        self.skipped: dict[str, str] = {}
        for nct in (ncts if ncts is not None else structured_studies(store)):
            try:
                study = read_study(store, nct)
            except ModelError as exc:
                self.skipped[nct] = str(exc)
                continue
            if study.cohorts:
                self.studies.append(study)
        kids: dict[str, list[str]] = {}
        for child, parents in self.oncotree.parents.items():
            for parent in parents:
                kids.setdefault(parent, []).append(child)

        def children(iri: str) -> list[str]:
            return sorted(kids.get(iri, ()))

        def build(study: Study) -> Callable[[], K.StudyClasses]:
            return lambda: K.study_classes(study, children)

        self.classes: list[K.StudyClasses] = [
            _classes.get(store, f"owl-classes-{s.nct}", build(s), graph=study_graph_name(s.nct)) for s in self.studies]
        self.sig = K.Signature()
        for c in self.classes:
            self.sig.merge(c.sig)
        self.regimens: dict[str, list[Regimen]] = {}
        for s in self.studies:
            drug_of = {iv.iri: iv.drug.iri if iv.drug else None for iv in s.interventions}
            self.regimens[s.iri] = compile_regimens(s.regimens, drug_of)

    # ------------------------------------------------------------ the document
    def ontology(self, extra: K.Signature | None = None, individuals: Sequence[str] = (),
                 more: Sequence[str] = (), *, populations_only: bool = False, definitions: bool = True) -> str:
        """The functional-syntax document: vocabulary, OncoTree subset, every study's classes, individuals.

        ``populations_only`` keeps only the cohorts' ``#population`` classes (what the overlaps
        compare): the TBox HermiT must preprocess is then a fraction of the whole. Without
        ``definitions``, no cohort's or criterion's class: the vocabulary and OncoTree alone
        (the overlaps send the classes' expressions with each question).
        """
        sig = K.Signature()
        sig.merge(self.sig)
        if extra is not None:
            sig.merge(extra)
        tumour, _ = K.tumour_axioms(sig.tumour_types, self.oncotree.parents)
        axioms = [*K.vocabulary_axioms(sig), *tumour]
        for c in self.classes if definitions else ():
            axioms += [a for a in c.axioms if _defines_population(a)] if populations_only else c.axioms
        return K.document([*axioms, *more, *individuals])

    def individual(self, n: int, p: Any, facts: Facts, sig: K.Signature) -> list[str]:
        """The axioms stating one profile as an individual, closure axioms included (see the module doc)."""
        me = f"<{PROFILE_BASE}{n}>"
        ax = [f"Declaration(NamedIndividual({me}))", f"ClassAssertion({K.PATIENT} {me})"]
        dx_iri = self.oncotree.resolve(p.diagnosis)
        assert dx_iri is not None  # facts() refused an unknown diagnosis
        dx = f"<{PROFILE_BASE}{n}-dx>"
        sig.tumour_types.add(dx_iri)
        ax += [f"ObjectPropertyAssertion({K.HAS_DIAGNOSIS} {me} {dx})", f"ClassAssertion(<{dx_iri}> {dx})"]
        ancestors = facts[DX]
        for t in sorted(self.sig.tumour_types - ancestors):
            ax.append(f"ClassAssertion(ObjectComplementOf(<{t}>) {dx})")
        ax.append(f"DataPropertyAssertion({K.AGE} {me} {K.decimal(p.age_years)})")
        for name in sorted(self.sig.fields):
            value = facts.get(name)
            if value is not None and name != "age_years":
                ax.append(f"DataPropertyAssertion({K.field_property(name)} {me} {K.literal(value)})")
        descriptions = []
        for i, (gene, atype, protein, exon, klass, cnv, partner, function, wild) in enumerate(facts[VARIANTS]):
            alt = f"<{PROFILE_BASE}{n}-alt-{i}>"
            sig.genes.add(gene)
            kind = K.WILD_TYPE if wild or atype is None else K.type_class(atype)
            if atype is not None and not wild:
                sig.types.add(atype)
            desc = [K.gene_class(gene), kind]
            ax += [f"ObjectPropertyAssertion({K.HAS_ALTERATION} {me} {alt})",
                   f"ClassAssertion({K.gene_class(gene)} {alt})", f"ClassAssertion({kind} {alt})"]
            values = [(K.PROTEIN, K.string(protein) if protein else None),
                      (K.VARIANT_PROPS["exon"], K.decimal(exon) if exon is not None else None),
                      (K.VARIANT_PROPS["variant_classification"], K.string(klass) if klass else None),
                      (K.VARIANT_PROPS["cnv_call"], K.string(cnv) if cnv else None),
                      (K.VARIANT_PROPS["function"], K.string(function) if function else None)]
            for prop, lit in values:
                if lit is not None:
                    ax.append(f"DataPropertyAssertion({prop} {alt} {lit})")
                    desc.append(f"DataHasValue({prop} {lit})")
            if partner:
                sig.genes.add(partner)
                other = f"<{PROFILE_BASE}{n}-alt-{i}-partner>"
                ax += [f"ObjectPropertyAssertion({K.FUSION_PARTNER} {alt} {other})",
                       f"ClassAssertion({K.gene_class(partner)} {other})"]
                desc.append(f"ObjectSomeValuesFrom({K.FUSION_PARTNER} {K.gene_class(partner)})")
            descriptions.append(K.conj(desc))
        ax.append(f"ClassAssertion(ObjectAllValuesFrom({K.HAS_ALTERATION} {K.disj(descriptions)}) {me})")
        drugs = facts.get(DRUGS)
        if drugs is not None:
            for j, d in enumerate(sorted(drugs)):
                sig.drugs.add(d)
                given = f"<{PROFILE_BASE}{n}-drug-{j}>"
                ax += [f"ObjectPropertyAssertion({K.RECEIVED_DRUG} {me} {given})",
                       f"ClassAssertion({K.drug_class(d)} {given})"]
            ax.append(f"ClassAssertion(ObjectAllValuesFrom({K.RECEIVED_DRUG} "
                      f"{K.disj([K.drug_class(d) for d in sorted(drugs)])}) {me})")
        return ax

    # ------------------------------------------------------------ classifying
    def classify(self, profiles: Sequence[ProfileModel | bytes | str | dict[str, Any]],
                 budget: float | None = None) -> list[list[dict[str, Any]]]:
        """For each profile, the v1 result of every study with a candidate cohort (one HermiT process for all)."""
        parsed = [self.vocab.parse(p) for p in profiles]
        people, assertions, sig = [], [], K.Signature()
        for n, p in enumerate(parsed):
            facts, _ = self.vocab.facts(p)
            people.append(_Profile(p, facts, f"{PROFILE_BASE}{n}"))
            assertions.append(self.individual(n, p, facts, sig))
        out = []
        with Hermit(self.ontology(sig), deadline=budget) as h:
            for start in range(0, len(people), PER_REASONER):
                chunk = range(start, min(start + PER_REASONER, len(people)))
                if not h.abox(K.document([a for i in chunk for a in assertions[i]], iri=None)):
                    raise InconsistentOntology("profiles " + ", ".join(repr(people[i].model.id) for i in chunk)
                                               + " contradict the ontology")
                for i in chunk:
                    person = people[i]
                    cache: dict[tuple[str, bool], bool] = {}

                    def has(cls: str, inside: bool = True, _iri: str = person.iri,
                            _cache: dict[tuple[str, bool], bool] = cache) -> bool:
                        got = _cache.get((cls, inside))
                        if got is None:
                            got = _cache[cls, inside] = h.type(_iri, cls) if inside else h.not_type(_iri, cls)
                        return got

                    out.append([r for r in (self._study_result(s, person, has) for s in self.studies) if r is not None])
            self.questions = h.questions
        return out

    def _study_result(self, study: Study, person: _Profile, has: Callable[[str, bool], bool]) -> dict[str, Any] | None:
        p, facts = person.model, person.facts
        classes = next(c for c in self.classes if c.study is study)
        cohorts_out: list[dict[str, Any]] = []
        notes: list[str] = []
        for cohort in study.cohorts:
            kind = K.cohort_kind(cohort)
            if not has(K.cohort_candidate(cohort), True):
                continue
            if kind == "rule" and has(K.cohort_rule(cohort), False):
                continue
            items = [self._open_item(study, cohort)]
            if kind == "rule":
                items.append({"id": f"cohort-{cohort.number}-rule", "iri": cohort.iri,
                              "text": f"the cohort's molecular and clinical rule: {cohort.label}", "kind": "inclusion",
                              "status": "met" if has(K.cohort_rule(cohort), True) else "unknown",
                              "observed": facts["alterations"]})
            for c in classes.criteria:
                if not c.applies_to(cohort.iri):
                    continue
                status = ("met" if has(K.criterion_met(c), True) else
                          "not_met" if has(K.criterion_met(c), False) else "unknown")
                fields = c.fields()
                observed = facts.get(fields[0]) if len(fields) == 1 else {f: facts.get(f) for f in fields}
                items.append({"id": c.id, "iri": c.iri, "text": c.text, "kind": c.kind, "status": status,
                              "observed": observed})
            confirm = [c.text for c in study.criteria if not c.computable and c.applies_to(cohort.iri)
                       and not (c.applies_when is not None and has(K.criterion_applies(c), False))]
            if not cohort.is_open:
                verdict = "ineligible"
                notes.append(f"cohort {cohort.number} ({cohort.label}) is not open to accrual: "
                             f"{items[0]['observed']}")
            elif has(K.cohort_eligible(cohort), True):
                verdict = "eligible"
            elif has(K.cohort_eligible(cohort), False):
                verdict = "ineligible"
            else:
                verdict = "unknown"
            cohorts_out.append({"cohort": cohort.number, "iri": cohort.iri, "label": cohort.label,
                                "verdict": verdict, "criteria": items, "to_confirm": confirm,
                                "recruiting": bool(cohort.is_open and study.recruiting is not False)})
        if not cohorts_out:
            return None
        cohorts_out.sort(key=lambda c: (VERDICT_RANK[str(c["verdict"])], int(c["cohort"])))
        if study.recruiting is False and study.status is not None:
            notes.append(f"{study.nct} is not recruiting ({study.status.label or study.status.code}): "
                         "its cohorts take no patient now")
        first = study.cohort(int(cohorts_out[0]["cohort"]))
        drugs = {d.iri for d in first.drugs} if first else set()
        regimens = [r for r in self.regimens[study.iri] if not drugs or r.drug in drugs]
        dosing = dosing_for(regimens, p.age_years, facts, p.height_cm, p.weight_kg)
        notes.append("classified by HermiT over the cohorts' defined OWL classes (engine=owl)")
        return {"profile_id": p.id, "trial": study.nct, "cohorts": cohorts_out, "dosing": dosing, "notes": notes}

    @staticmethod
    def _open_item(study: Study, cohort: Cohort) -> dict[str, Any]:
        observed = cohort.status.label if cohort.status and cohort.status.label else (
            "open" if cohort.is_open else "closed")
        if cohort.is_open and study.recruiting is False and study.status is not None:
            observed = f"{observed}; the study is {study.status.label or study.status.code}"
        return {"id": f"cohort-{cohort.number}-open", "iri": cohort.status.iri if cohort.status else cohort.iri,
                "text": OPEN_TEXT, "kind": "inclusion", "status": "met" if cohort.is_open else "not_met",
                "observed": observed}


def _defines_population(axiom: str) -> bool:
    head = axiom.split(">", 1)[0]
    return head.endswith("#population") and not axiom.startswith("AnnotationAssertion")


class OwlMatcher:
    """``Matcher``'s interface (one study, the v1 result) with HermiT deciding: ``--engine owl``."""

    def __init__(self, store: GraphStore, nct: str | None = None) -> None:
        trial = pick_study(store, nct)  # the fast path's reading of the NCT number and its errors
        studies = [trial]
        self.engine = OwlEngine(store, studies[:1])
        #: Seconds HermiT may take for one call (a request's budget).
        self.budget: float | None = 120.0
        self.trial = studies[0]

    def match_many(self, profiles: Sequence[ProfileModel | bytes | str | dict[str, Any]], *,
                   budget: float | Literal["default"] | None = "default") -> list[dict[str, Any]]:
        """One v1 result per profile; ``budget`` (seconds for HermiT, None: none) overrides ``self.budget``
        for this call only (the server's matcher is shared by concurrent requests)."""
        out = []
        limit = self.budget if budget == "default" else budget
        for p, results in zip(profiles, self.engine.classify(profiles, budget=limit), strict=True):
            if results:
                out.append(results[0])
            else:
                model = self.engine.vocab.parse(p)
                out.append({"profile_id": model.id, "trial": self.trial, "cohorts": [], "dosing": None,
                            "notes": [f"no cohort of {self.trial} takes this profile (classified by HermiT)"]})
        return out

    def match(self, profile: ProfileModel | bytes | str | dict[str, Any], *,
              budget: float | Literal["default"] | None = "default") -> dict[str, Any]:
        return self.match_many([profile], budget=budget)[0]

    def match_json(self, data: bytes | str, *, budget: float | Literal["default"] | None = "default") -> bytes:
        return orjson.dumps(self.match(data, budget=budget))


class OwlRegistryMatcher:
    """``RegistryMatcher``'s interface (every study) with HermiT deciding."""

    def __init__(self, store: GraphStore) -> None:
        self.engine = OwlEngine(store)
        self.skipped = self.engine.skipped
        self.studies = {s.nct: s for s in self.engine.studies}
        #: Seconds HermiT may take for one profile (None: no limit).
        self.budget: float | None = 120.0

    def match_all(self, profile: ProfileModel | bytes | str | dict[str, Any]) -> dict[str, Any]:
        model = self.engine.vocab.parse(profile)
        (results,) = self.engine.classify([model], budget=self.budget)
        results.sort(key=lambda r: (min(VERDICT_RANK[c["verdict"]] for c in r["cohorts"]), r["trial"]))
        notes = [] if results else [f"no cohort of the registry's {len(self.studies)} matchable trials takes this profile"]
        return {"profile_id": model.id, "results": results, "notes": notes}

    def match_all_json(self, data: bytes | str) -> bytes:
        return orjson.dumps(self.match_all(data))

    match_json = match_all_json



_matchers = DerivedCache()
#: Each study's classes, built again only after a write to its graph or to a graph no study owns (OncoTree):
#: a second overlaps run or matcher in one process does not rebuild a hundred studies' classes.
_classes = DerivedCache()


def owl_matcher_for(store: GraphStore, nct: str | None = None) -> OwlMatcher:
    """The OWL matcher of one study of a store, built once per store version (``POST /match?engine=owl``)."""
    wanted = normalise_nct(nct) if nct else None
    if nct and wanted is None:
        raise TrialNotFound(f"{nct!r} is not an NCT number ({NCT_HINT})")
    return _matchers.get(store, f"owl-{wanted}", lambda: OwlMatcher(store, wanted))
