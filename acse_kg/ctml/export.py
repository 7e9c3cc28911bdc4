"""A structured study -> CTML (``acse-kg export NCT… --format ctml``), read only through the study model.

Each cohort becomes an arm. A cohort with a whole rule (``Cohort.rule``, as a
CTML import writes) has that rule as its match tree; a cohort defined by
pathology × target gene × alteration types × age band (AcSé's) gets the tree
``and`` of an ``or`` of genomic nodes and the clinical nodes of its
pathologies and age band. Conjunctions of clinical tests become clinical
nodes (one field each), so a CTML file read back gives the same rules.

The export is checked against the CTML schema (:func:`.schema.validate_ctml`)
before it is handed out: a document the registry writes must be one it would
accept. What CTML cannot say (an overexpression test, a comparison on a lab
value, an exclusion criterion's text) is listed in ``notes`` rather than
written wrongly; a rule that cannot be written at all is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import AcseError
from ..model import (
    AlterationTest,
    And,
    Cohort,
    Comparison,
    Expr,
    Not,
    Or,
    Regimen,
    Study,
    Term,
    TumourTypeTest,
    Variable,
    sort_key,
)
from ..namespaces import ACSE
from .mapping import DISEASE_STATUS_ID, DISEASE_STATUS_PREFIX, WILDCARD
from .schema import ctml_schema, validate_ctml
from .vocabulary import DECLARED_VARIABLES, PHASE_CODES, STATUS_NAMES, Vocabulary

SYMBOLS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "="}
#: Profile fields (of the registry's variables) and the CTML clinical field each is written as.
CLINICAL_FIELDS = {"age_years": "age_numerical", "sex": "gender", "tmb": "tmb_numerical", "msi": "ms_status",
                   "mmr": "mmr_status"}
CNV_CALLS_OF = {"Amplification": ("High level amplification", "Gain"),
                "CopyNumberLoss": ("Homozygous deletion", "Heterozygous deletion")}
CATEGORY_OF = {"Mutation": "Mutation", "Translocation": "Structural Variation"}


class CtmlExportError(AcseError, ValueError):
    """The study has a rule CTML cannot state, or the document written breaks the CTML schema."""


@dataclass
class Exported:
    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _number(x: float) -> str:
    text = format(Decimal(repr(float(x))).normalize(), "f")
    return text


def _type_name(t: Term | None) -> str | None:
    return None if t is None else t.iri.rsplit("#", 1)[-1]


class _Writer:
    def __init__(self, tissue_sets: dict[frozenset[str], str], notes: list[str]) -> None:
        self.tissues = tissue_sets
        self.notes = notes

    # ---------------------------------------------------------------- clinical leaves
    def clinical_leaf(self, e: Expr) -> tuple[str, Any] | None:
        """(CTML clinical field, value) when ``e`` is one clinical test, else None."""
        if isinstance(e, Not):
            inner = self.clinical_leaf(e.operand)
            if inner and inner[0] == "oncotree_primary_diagnosis" and not str(inner[1]).startswith("!"):
                return inner[0], "!" + str(inner[1])
            return None
        if isinstance(e, TumourTypeTest):
            return "oncotree_primary_diagnosis", e.tumour_type.label or e.tumour_type.code
        tumour_tests = [o for o in e.operands if isinstance(o, TumourTypeTest)] if isinstance(e, Or) else []
        if isinstance(e, Or) and len(tumour_tests) == len(e.operands):
            meta = self.tissues.get(frozenset(o.tumour_type.iri for o in tumour_tests))
            return ("oncotree_primary_diagnosis", meta) if meta else None
        if isinstance(e, Comparison):
            f = e.variable.field
            if f in CLINICAL_FIELDS:
                key = CLINICAL_FIELDS[f]
                if e.variable.kind == "number" and isinstance(e.threshold, (int, float)):
                    return key, SYMBOLS[e.comparator] + _number(float(e.threshold))
                if e.comparator == "eq" and isinstance(e.threshold, str):
                    return key, e.threshold.capitalize() if key == "gender" else e.threshold
            if f in DECLARED_VARIABLES and e.comparator == "eq":
                return f, e.threshold
        return None


    # ---------------------------------------------------------------- trees
    def tree(self, e: Expr, where: str) -> dict[str, Any]:
        leaf = self.clinical_leaf(e)
        if leaf is not None:
            return {"clinical": dict([leaf])}
        if isinstance(e, And):
            # A conjunction of clinical tests, each field once, is one clinical node (which reads back as
            # that conjunction); anything else is an "and" whose clinical tests stand one per node.
            leaves = [self.clinical_leaf(o) for o in e.operands]
            if all(leaves) and len({lf[0] for lf in leaves if lf}) == len(leaves):
                return {"clinical": dict(lf for lf in leaves if lf)}
            return {"and": [self.tree(o, where) for o in e.operands]}
        if isinstance(e, Or):
            nodes: list[dict[str, Any]] = []
            for o in e.operands:
                n = self.tree(o, where)
                # a CNV test without its call writes as an "or" of calls: one level of alternatives, not two
                nodes += n["or"] if isinstance(o, AlterationTest) and "or" in n else [n]
            return {"or": nodes}
        if isinstance(e, AlterationTest):
            return self.genomic(e, False, where)
        if isinstance(e, Not) and isinstance(e.operand, AlterationTest):
            return self.genomic(e.operand, True, where)
        raise CtmlExportError(f"{where}: a {e.kind} ({sort_key(e)[:80]}) cannot be written as CTML")

    def genomic(self, t: AlterationTest, negated: bool, where: str) -> dict[str, Any]:
        base: dict[str, Any] = {}
        if t.gene is not None:
            base["hugo_symbol"] = ("!" if negated else "") + (t.gene.code or t.gene.label)
        kind = _type_name(t.alteration_type)
        calls: tuple[str | None, ...] = (None,)
        if kind is None:
            base["variant_category"] = "Any Variation"
        elif kind in CATEGORY_OF:
            base["variant_category"] = CATEGORY_OF[kind]
        elif kind in CNV_CALLS_OF:
            base["variant_category"] = "Copy Number Variation"
            calls = (t.cnv_call,) if t.cnv_call else CNV_CALLS_OF[kind]
        else:
            raise CtmlExportError(f"{where}: CTML has no variant category for {t.alteration_type.label if t.alteration_type else kind}")
        if t.protein_change:
            wildcard = bool(WILDCARD.match(t.protein_change))
            base["wildcard_protein_change" if wildcard else "protein_change"] = t.protein_change
        if t.exon is not None:
            base["exon"] = t.exon
        if t.variant_classification:
            base["variant_classification"] = t.variant_classification
        if t.partner is not None:
            base["fusion_partner_hugo_symbol"] = t.partner.code or t.partner.label
        if t.function:
            base["molecular_function"] = t.function.capitalize()
        if t.wildtype:
            base["wildtype"] = True
        nodes = [{"genomic": {**base, "cnv_call": c} if c else dict(base)} for c in calls]
        if len(nodes) == 1:
            return nodes[0]
        return {"and" if negated else "or": nodes}  # not (a or b) = not a and not b

    # ---------------------------------------------------------------- cohorts without a whole rule
    def cohort_rule(self, c: Cohort) -> Expr | None:
        """AcSé's cohort as a rule: (any target gene × accepted type) and pathology and age band."""
        if c.rule is not None:
            return c.rule
        tests: list[Expr] = []
        for g in c.genes:
            for t in c.accepts or (None,):
                if t is not None and _type_name(t) not in CATEGORY_OF and _type_name(t) not in CNV_CALLS_OF:
                    self.notes.append(f"cohort {c.number}: {g.name} {t.label or t.name} has no CTML variant "
                                      "category; left out of the arm's genomic alternatives")
                    continue
                tests.append(AlterationTest(gene=g, alteration_type=t))
        parts: list[Expr] = []
        if tests:
            parts.append(tests[0] if len(tests) == 1 else Or(tuple(tests)))
        clinical: list[Expr] = []  # one clinical node: diagnosis and lower age bound
        if c.pathologies:
            tts = tuple(TumourTypeTest(p) for p in c.pathologies)
            clinical.append(tts[0] if len(tts) == 1 else Or(tts))
        pop = c.population
        if pop is not None:
            age = Variable(str(ACSE.var_age), "age_years", "a", "number", "age")
            if pop.min_age is not None:
                clinical.append(Comparison(age, "ge", pop.min_age, "a"))
            if pop.max_age is not None:  # a second age_numerical: a clinical node of its own
                parts.append(Comparison(age, "lt", pop.max_age, "a"))
            if pop.condition is not None:
                parts.append(pop.condition)
        if clinical:
            parts.insert(1 if tests else 0, clinical[0] if len(clinical) == 1 else And(tuple(clinical)))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))


def _overlaps(a_min: float | None, a_max: float | None, b_min: float | None, b_max: float | None) -> bool:
    lo = max(x for x in (a_min, b_min, float("-inf")) if x is not None)
    hi = min(x for x in (a_max, b_max, float("inf")) if x is not None)
    return lo < hi


def _applies(r: Regimen, c: Cohort) -> bool:
    """Whether a regimen can be the dose of a cohort: their age bands overlap and the regimen's diagnosis
    condition (having, or not having, a tumour type) does not rule out every pathology of the cohort."""
    pop, cp = r.population, c.population
    if pop is None:
        return True
    if cp is not None and not _overlaps(pop.min_age, pop.max_age, cp.min_age, cp.max_age):
        return False
    cond, paths = pop.condition, {p.iri for p in c.pathologies}
    if isinstance(cond, TumourTypeTest) and paths and cond.tumour_type.iri not in paths:
        return False
    negated = cond.operand if isinstance(cond, Not) else None
    return not (isinstance(negated, TumourTypeTest) and paths == {negated.tumour_type.iri})


#: CTML's phase numerals by ClinicalTrials.gov phase code (the inverse of the importer's table).
PHASE_NAMES = {code: numeral for numeral, code in PHASE_CODES.items()}


def site_names() -> frozenset[str] | None:
    """The site names the CTML schema allows (an enum of the CTIMS deployment's hospitals), or None
    when it allows any."""
    spec = ctml_schema()["properties"]["site_list"]["properties"]["site"]["items"]["properties"]["site_name"]
    return frozenset(n for n in spec["enum"] if n.strip()) if "enum" in spec else None


def study_to_ctml(study: Study, vocab: Vocabulary) -> Exported:
    """The study as a CTML document (validated against the CTML schema) and what it could not say."""
    if not study.cohorts:
        raise CtmlExportError(f"{study.nct} has no cohorts: nothing to write as CTML arms "
                              "(a ClinicalTrials.gov import is text until it is structured)")
    notes: list[str] = []
    w = _Writer(vocab.tissue_sets(), notes)
    doc: dict[str, Any] = {"nct_id": study.nct}
    if study.title or study.official_title:
        doc["short_title"] = study.title or study.official_title
        doc["long_title"] = study.official_title or study.title
    if study.summary:
        doc["nct_purpose"] = study.summary
    if study.status is not None and study.status.code in STATUS_NAMES:
        doc["status"] = STATUS_NAMES[study.status.code]
    phases = [PHASE_NAMES[t.code] for t in study.phases if t.code in PHASE_NAMES]
    if phases:
        doc["phase"] = "/".join(phases)  # "I/II", as the importer reads it
    protocol = [value for scheme, value in study.identifiers if scheme == "SponsorStudyId" and value]
    if protocol:
        doc["protocol_no"] = protocol[0]
    if study.sponsors:
        doc["sponsor_list"] = {"sponsor": [{"sponsor_name": name, "is_principal_sponsor": "Y" if i == 0 else "N"}
                                           for i, name in enumerate(study.sponsors)]}
    allowed = site_names()
    unknown_sites = [name for name in study.sites if allowed is not None and name not in allowed]
    if study.sites and not unknown_sites:
        doc["site_list"] = {"site": [{"site_name": name} for name in study.sites]}
    elif study.sites:
        notes.append(f"{len(study.sites)} sites: the CTML schema names sites from a fixed list of "
                     f"{len(allowed or ())} hospitals and {unknown_sites[0]!r} is not on it; the site list is not written")
    requirements, statuses, exclusions = [], [], []
    for cr in study.criteria:
        if cr.parent or cr.component_of:
            continue
        if cr.id == DISEASE_STATUS_ID and cr.text.startswith(DISEASE_STATUS_PREFIX):
            statuses = cr.text[len(DISEASE_STATUS_PREFIX):].split("; ")
        elif cr.kind == "inclusion":
            requirements.append(cr.text)
        else:
            exclusions.append(cr.id)
    if exclusions:
        notes.append(f"{len(exclusions)} exclusion criteria ({', '.join(exclusions)}): CTML has no place for "
                     "exclusion text; not written")
    if requirements:
        doc["prior_treatment_requirements"] = requirements
    if statuses:
        doc["match"] = [{"clinical": {"disease_status": statuses}}]
    by_iri = {iv.iri: iv for iv in study.interventions}
    arms_by_iri = {a.iri: a for a in study.arms}
    drugs: dict[str, str] = {}
    arms, level_id = [], 0
    for c in study.cohorts:
        paired = arms_by_iri.get(c.iri.replace("/cohort/", "/arm/"))
        arm: dict[str, Any] = {"arm_code": paired.label if paired else f"Cohort {c.number}",
                               "arm_description": (paired.description if paired else c.label) or c.label,
                               "arm_internal_id": str(c.number),
                               "arm_suspended": "N" if c.is_open else "Y"}
        levels: list[tuple[str, Regimen]] = []
        if paired is not None:
            for iri in paired.interventions:
                iv = by_iri.get(iri)
                if iv is not None:
                    levels += [(iv.label, r) for r in iv.regimens]
        else:
            wanted = {d.iri for d in c.drugs}
            for iv in study.interventions:
                if wanted and (iv.drug is None or iv.drug.iri not in wanted):
                    continue
                for r in iv.regimens:
                    if _applies(r, c):
                        levels.append((iv.drug.name or iv.drug.label if iv.drug else iv.label, r))
        levels.sort(key=lambda lr: (lr[1].position, lr[1].iri))
        dose = []
        for code, r in levels:
            level_id += 1
            dose.append({"level_code": code, "level_description": r.registered_text or r.label,
                         "level_internal_id": str(level_id), "level_suspended": "N"})
        if dose:
            arm["dose_level"] = dose
        for d in c.drugs:
            drugs.setdefault(d.iri, d.label or d.name)
        rule = w.cohort_rule(c)
        if rule is None:
            notes.append(f"cohort {c.number}: no rule to write; the arm has no match tree")
        else:
            arm["match"] = [w.tree(rule, f"cohort {c.number}")]
        arms.append(arm)
    for drug in study.drugs:  # drugs given to the whole study (AcSé's) when its cohorts name none
        drugs.setdefault(drug.iri, drug.name or drug.label)
    if drugs:
        doc["drug_list"] = {"drug": [{"drug_name": n[:1].upper() + n[1:]} for n in drugs.values()]}
    doc["treatment_list"] = {"step": [{"arm": arms}]}
    problems = validate_ctml(doc)
    if problems:
        raise CtmlExportError(f"the CTML written for {study.nct} breaks the CTML schema: {problems[0]}"
                              + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    return Exported(doc, notes)
