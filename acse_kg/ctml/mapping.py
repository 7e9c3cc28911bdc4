"""A CTML document -> the study's graph, with every malformed or unkept value reported as a :class:`Finding`.

Each arm becomes an ``acse:Cohort`` whose ``acse:cohortRule`` is the arm's
match tree as an expression of the study model (and / or, alteration tests,
tumour-type tests, comparisons); an arm whose dose levels carry match trees of
their own becomes one cohort per such level. Dose levels become drug
interventions with a dosing regimen, the trial's prior treatment requirements
inclusion criteria. The trees are built as :mod:`acse_kg.model` expressions
first and then written as triples, so that what the import writes is what the
reader reads back and what the CTML writer (:mod:`.export`) writes out.

Corrections (documented; each is a finding with action ``corrected`` and an
``acse:Curation`` in the graph saying what was registered and what is used):

- a CNV call written with other capitals, or under a name MatchMiner's engine
  itself reads as a call ("High Amplification" -> "High level amplification",
  "Low Amplification" -> "Gain"), or one edit or two away from such a name
  ("High Amplication"), is read as that call;
- a ``wildcard_protein_change`` that names its new residue (``p.V600E``) is
  not a wildcard: it is read as the exact ``protein_change``;
- a ``variant_classification`` outside MAF's list on a test that names an exact
  protein change is left out: the protein change fixes the variant;
- ``tmb: N`` (not a CTML field) is read as ``tmb_numerical: ">=N"``;
- a receptor status written "true" / "false" is read as "Positive" / "Negative".

A clinical node with one field is that test; with several, their conjunction.
A match list of several trees is their disjunction; a repeated operand is read
once (x and x is x).

Anything else that cannot be read (an unknown gene symbol or diagnosis name,
an unknown field in a match node, a value outside its vocabulary) refuses the
file: software deciding eligibility must not guess.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import rdflib
from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.namespace import PROV

from ..ctgov.import_ import decimal_literal, slug
from ..model import AlterationTest, And, Comparison, Expr, Not, Or, Term, TumourTypeTest, Variable, sort_key
from ..namespaces import ACSE, ID, SCHEMA, study_iri
from ..vocab import gene_iri
from .schema import Finding, json_path
from .vocabulary import (
    CLINICAL_VARIABLES,
    CNV_CALL_ALIASES,
    CNV_CALLS,
    DECLARED_VARIABLES,
    LIQUID,
    MMR_STATUSES,
    MOLECULAR_FUNCTIONS,
    MS_STATUSES,
    PHASE_CODES,
    SOLID,
    STATUS_CODES,
    VARIANT_CATEGORIES,
    VARIANT_CLASSIFICATIONS,
    Vocabulary,
    hgnc_symbols,
)

SOURCE = "CTML"
#: The cohort status of a suspended arm: closed (declared in the study graph).
SUSPENDED = URIRef(f"{ID}cohort-status/suspended")
#: The trial-level disease statuses are kept as one inclusion criterion with this id and prefix.
DISEASE_STATUS_ID = "ctml-disease-status"
DISEASE_STATUS_PREFIX = "Disease status: "
PRIOR_ID = "ctml-prior-"
#: Top-level fields the graph keeps (everything else is reported "not stored").
#: Fields of a step, an arm and a dose level that the graph keeps or reads (others are reported "not stored";
#: internal ids are MatchMiner's bookkeeping, which an export numbers afresh).
STEP_KEPT = {"arm"}
ARM_KEPT = {"arm_code", "arm_description", "arm_internal_id", "arm_suspended", "dose_level", "match"}
LEVEL_KEPT = {"level_code", "level_description", "level_internal_id", "level_suspended", "match"}
KEPT = {"nct_id", "long_title", "short_title", "phase", "status", "nct_purpose", "protocol_no",
        "prior_treatment_requirements", "match", "treatment_list", "site_list", "sponsor_list", "drug_list"}
COMPARATOR_NAMES = {">=": "ge", ">": "gt", "<=": "le", "<": "lt", "=": "eq", "==": "eq", "": "eq"}
_COMPARISON = re.compile(r"^\s*(>=|<=|>|<|==|=)?\s*(\d+(?:\.\d+)?)\s*$")
WILDCARD = re.compile(r"^p\.[A-Z*][0-9]+$")
_DOSE = re.compile(r"^\s*(?:\d+:\s*)?(\d+(?:\.\d+)?)\s*(mg/kg|mg/m2|mg|mcg|g)\b\s*(.*?)\s*\.?\s*$", re.I)
_COMBINATION = re.compile(r"\s+(?:plus|and|\+)\s+", re.I)


def drug_names(text: str) -> list[str]:
    """The drugs a dose level or drug-list entry names ("Nivolumab plus Ipilimumab" is two; a level code
    such as "1" names none)."""
    return [p.strip() for p in _COMBINATION.split(text) if re.search(r"[A-Za-z]{2}", p)]


def drug_iri(name: str) -> URIRef:
    """``id:drug/<name>``: one individual per drug across the registry (crizotinib is AcSé's)."""
    return URIRef(f"{ID}drug/{slug(name)}")


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def canonical_cnv_call(value: str) -> str | None:
    """The CNV call a curator's value stands for (see the module docstring), or None."""
    key = value.strip().casefold()
    names = {c.casefold(): c for c in CNV_CALLS} | CNV_CALL_ALIASES
    if key in names:
        return names[key]
    near = sorted((edit_distance(key, k), k) for k in names)
    if near and near[0][0] <= 2 and (len(near) < 2 or near[1][0] > near[0][0]):
        return names[near[0][1]]
    return None


@dataclass
class Mapped:
    """The result of mapping: the graph, the findings, and what the import reports."""

    nct: str
    graph: rdflib.Graph
    findings: list[Finding] = field(default_factory=list)
    cohorts: int = 0

    @property
    def refused(self) -> list[Finding]:
        return [f for f in self.findings if f.action == "refused"]


class _Mapper:
    def __init__(self, doc: dict[str, Any], vocab: Vocabulary, nct: str) -> None:
        self.doc = doc
        self.v = vocab
        self.nct = nct
        self.s = URIRef(study_iri(nct))
        self.g = rdflib.Graph()
        self.findings: list[Finding] = []
        self.genes_used: set[str] = set()
        self.drugs_used: dict[str, str] = {}
        self.declared: dict[str, Variable] = {}
        #: corrections by the expression object they produced (identity): (property, registered, used, why)
        self.curations: dict[int, list[tuple[URIRef, str, str, str]]] = {}
        self._pending: list[tuple[URIRef, str, str, str]] = []
        self.regimen_position = 0

    # ------------------------------------------------------------ helpers
    def add(self, s: Any, p: URIRef, o: Any) -> None:
        if o is not None:
            self.g.add((s, p, o))

    def find(self, path: list[Any], value: Any, message: str, action: str = "refused") -> None:
        self.findings.append(Finding(json_path(path), value, message, action))

    def correct(self, path: list[Any], value: Any, used: Any, why: str, prop: URIRef | None = None) -> None:
        """Report a documented correction; with ``prop``, the next expression built records it as a curation."""
        self.find(path, value, f"read as {used!r}: {why}" if used is not None else why, "corrected")
        if prop is not None:
            self._pending.append((prop, str(value), "" if used is None else str(used), why))

    def curated(self, e: Expr) -> Expr:
        """``e``, carrying the corrections made while building it."""
        if self._pending:
            self.curations.setdefault(id(e), []).extend(self._pending)
            self._pending = []
        return e

    # ------------------------------------------------------------ the study
    def study(self) -> None:
        d, s = self.doc, self.s
        arms = [a for st in (d.get("treatment_list") or {}).get("step") or [] for a in (st.get("arm") or [])]
        self.add(s, RDF.type, ACSE.BasketTrial if len(arms) > 1 else ACSE.Study)
        self.add(s, ACSE.nctId, Literal(self.nct))
        self.add(s, ACSE.studySource, Literal(SOURCE))
        short, long_ = _text(d.get("short_title")), _text(d.get("long_title"))
        title = short or long_
        if title:
            self.add(s, ACSE.briefTitle, Literal(title))
            self.add(s, RDFS.label, Literal(f"{self.nct}: {title}"))
        if long_:
            self.add(s, ACSE.officialTitle, Literal(long_))
        if _text(d.get("nct_purpose")):
            self.add(s, ACSE.briefSummary, Literal(d["nct_purpose"]))
        status = _text(d.get("status"))
        if status:
            code = STATUS_CODES.get(status)
            iri = self.v.enums.get(("RecruitmentStatus", code)) if code else None
            if iri is None:
                self.find(["status"], status, "not a CTML trial status; the study's status is left unstated",
                          "not stored")
            self.add(s, ACSE.overallStatus, iri)
        phase = _text(d.get("phase"))
        if phase:
            codes = [PHASE_CODES.get(p.strip()) for p in phase.split("/")]
            iris = [self.v.enums.get(("StudyPhase", c)) for c in codes if c]
            if not iris or None in iris or None in codes:
                self.find(["phase"], phase, "not a CTML phase (I, II, III, IV); the phase is left unstated",
                          "not stored")
            else:
                for iri in iris:
                    self.add(s, ACSE.phase, iri)
        if _text(d.get("protocol_no")):
            n = URIRef(f"{s}/identifier/protocol")
            self.add(s, ACSE.identifier, n)
            self.add(n, RDF.type, ACSE.StudyIdentifier)
            self.add(n, ACSE.scheme, ACSE.SponsorStudyId)
            self.add(n, ACSE.identifierValue, Literal(str(d["protocol_no"])))
        self.organisations()
        self.criteria()
        self.arms()
        arm_drugs = set(self.drugs_used)
        for i, entry in enumerate((d.get("drug_list") or {}).get("drug") or []):
            name = _text(entry.get("drug_name")) if isinstance(entry, dict) else ""
            if name and not all(str(drug_iri(n)) in arm_drugs for n in drug_names(name)):
                self.find(["drug_list", "drug", i, "drug_name"], name,
                          "not stored: no arm's dose level gives this drug", "not stored")
        for key in d:
            if key not in KEPT:
                self.find([key], d[key], "not stored: the registry keeps the trial's protocol, arms and rules",
                          "not stored")
        self.describe_terms()

    def org(self, name: str) -> URIRef:
        n = URIRef(f"{ID}org/{slug(name)}")
        self.add(n, RDF.type, ACSE.Organization)
        self.add(n, RDFS.label, Literal(name))
        return n

    def organisations(self) -> None:
        d, s = self.doc, self.s
        sites = (d.get("site_list") or {}).get("site") or []
        for i, site in enumerate(sites, 1):
            name = _text(site.get("site_name"))
            if not name:
                continue
            n = URIRef(f"{s}/site/{i}")
            self.add(s, ACSE.site, n)
            self.add(n, RDF.type, ACSE.Site)
            self.add(n, RDFS.label, Literal(name))
            self.add(n, ACSE.position, Literal(i))
            self.add(n, ACSE.facility, self.org(name))
        sponsors = [sp for sp in (d.get("sponsor_list") or {}).get("sponsor") or [] if _text(sp.get("sponsor_name"))]
        for i, sp in enumerate(sponsors):
            self.add(s, ACSE.leadSponsor if i == 0 else ACSE.collaborator, self.org(sp["sponsor_name"].strip()))

    def criteria(self) -> None:
        d = self.doc
        reqs = d.get("prior_treatment_requirements") or []
        if not isinstance(reqs, list):
            self.find(["prior_treatment_requirements"], reqs, "CTML lists the requirements as strings")
            return
        pos = 0
        for i, text in enumerate(reqs):
            if not isinstance(text, str) or not text.strip():
                self.find(["prior_treatment_requirements", i], text, "a requirement is a non-empty string")
                continue
            pos += 1
            self.criterion(f"{PRIOR_ID}{pos}", text.strip(), pos)
        statuses: list[str] = []
        for i, node in enumerate(d.get("match") or []):
            clinical = node.get("clinical") if isinstance(node, dict) else None
            if isinstance(clinical, dict) and set(clinical) == {"disease_status"} \
                    and all(isinstance(x, str) for x in clinical["disease_status"]):
                statuses += [x.strip() for x in clinical["disease_status"]]
            else:
                self.find(["match", i], node, "not stored: only disease statuses are read at trial level "
                          "(MatchMiner matches on the arms' trees)", "not stored")
        if statuses:
            self.criterion(DISEASE_STATUS_ID, DISEASE_STATUS_PREFIX + "; ".join(statuses), pos + 1)

    def criterion(self, cid: str, text: str, position: int) -> None:
        n = URIRef(f"{self.s}/criterion/{cid}")
        self.add(self.s, ACSE.hasCriterion, n)
        self.add(n, RDF.type, ACSE.InclusionCriterion)
        self.add(n, ACSE.criterionText, Literal(text))
        self.add(n, ACSE.computable, Literal(False))
        self.add(n, ACSE.position, Literal(position))

    # ------------------------------------------------------------ arms
    def arms(self) -> None:
        steps = (self.doc.get("treatment_list") or {}).get("step") or []
        number = 0
        for si, step in enumerate(steps):
            self.unkept(step, STEP_KEPT, ["treatment_list", "step", si])
            for ai, arm in enumerate(step.get("arm") or []):
                path: list[Any] = ["treatment_list", "step", si, "arm", ai]
                self.unkept(arm, ARM_KEPT, path)
                for li, lv in enumerate(arm.get("dose_level") or []):
                    self.unkept(lv, LEVEL_KEPT, [*path, "dose_level", li])
                code = _text(arm.get("arm_code"))
                if not code:
                    self.find([*path, "arm_code"], arm.get("arm_code"), "an arm needs its arm_code")
                    continue
                levels = arm.get("dose_level") or []
                arm_rule = self.match(arm.get("match"), [*path, "match"]) if arm.get("match") else None
                own = [i for i, lv in enumerate(levels) if lv.get("match")]
                if not own:
                    number += 1
                    self.cohort(number, arm, path, arm_rule, list(enumerate(levels)), None)
                    for li, lv in enumerate(levels):
                        if lv.get("level_suspended") == "Y" and arm.get("arm_suspended") != "Y":
                            self.find([*path, "dose_level", li, "level_suspended"], "Y",
                                      "not stored: a suspended dose level of an open arm (its levels share the "
                                      "arm's match tree, so the arm is one cohort, open)", "not stored")
                    continue
                for li in own:
                    lv = levels[li]
                    lpath = [*path, "dose_level", li]
                    rule = self.match(lv["match"], [*lpath, "match"])
                    if arm_rule is not None and rule is not None:
                        rule = And(tuple(sorted((arm_rule, rule), key=sort_key)))
                    number += 1
                    self.cohort(number, arm, path, rule, [(li, lv)], lv)
                for li, lv in enumerate(levels):
                    if li not in own:
                        self.find([*path, "dose_level", li], lv.get("level_code"),
                                  "not stored: a dose level without a match tree in an arm whose other levels "
                                  "have their own", "not stored")

    def unkept(self, obj: dict[str, Any], kept: set[str], path: list[Any]) -> None:
        for key in obj:
            if key not in kept:
                self.find([*path, key], obj[key], "not stored: the registry keeps no such field of CTML", "not stored")

    def cohort(self, n: int, arm: dict[str, Any], path: list[Any], rule: Expr | None,
               levels: list[tuple[int, dict[str, Any]]], level: dict[str, Any] | None) -> None:
        s = self.s
        c = URIRef(f"{s}/cohort/{n}")
        a = URIRef(f"{s}/arm/{n}")
        code, desc = _text(arm.get("arm_code")), _text(arm.get("arm_description"))
        if level is not None:
            code = f"{code} / {_text(level.get('level_code'))}"
        self.add(s, ACSE.hasCohort, c)
        self.add(c, RDF.type, ACSE.Cohort)
        self.add(c, ACSE.cohortNumber, Literal(n))
        self.add(c, ACSE.cohortOf, s)
        # A description that only repeats the arm's code ("Experimental: Group 12") names nothing a
        # clinician can read: the label then names the arm's drugs (its dose levels' codes).
        drugs = [_text(lv.get("level_code")) for _, lv in levels if _text(lv.get("level_code"))]
        if level is not None and _text(level.get("level_code")):
            drugs = [_text(level.get("level_code"))]
        if desc and desc != code and not desc.endswith(code):
            label = f"{code}: {desc}"
        elif drugs and level is None:
            label = f"{code}: {' / '.join(drugs)}"
        else:
            label = code
        self.add(c, RDFS.label, Literal(label))
        suspended = arm.get("arm_suspended") == "Y" or (level is not None and level.get("level_suspended") == "Y")
        self.add(c, ACSE.cohortStatus, SUSPENDED if suspended else ACSE.CohortOpen)
        # the arm: label its code, description as written, and its dose levels as interventions
        self.add(s, ACSE.hasArm, a)
        self.add(a, RDF.type, ACSE.Arm)
        self.add(a, RDFS.label, Literal(code))
        self.add(a, ACSE.position, Literal(n))
        if desc:
            self.add(a, ACSE.description, Literal(desc))
        self.add(a, ACSE.armType, self.v.enums.get(("ArmGroupType", "EXPERIMENTAL")))
        for li, lv in levels:
            self.dose_level(c, a, lv, [*path, "dose_level", li], n, li + 1)
        if rule is not None:
            self.write_expr(URIRef(f"{c}/rule"), rule)
            self.add(c, ACSE.cohortRule, URIRef(f"{c}/rule"))
            for gene in sorted(_satisfying_genes(rule)):
                self.add(c, ACSE.targetGene, URIRef(gene))

    def dose_level(self, cohort: URIRef, arm: URIRef, lv: dict[str, Any], path: list[Any], n: int, j: int) -> None:
        code, text = _text(lv.get("level_code")), _text(lv.get("level_description"))
        if not code and not text:
            self.find(path, lv, "a dose level needs a level_code or a level_description")
            return
        iv = URIRef(f"{self.s}/arm/{n}/level/{j}")
        self.add(arm, ACSE.hasIntervention, iv)
        self.add(iv, RDF.type, ACSE.DrugIntervention)
        self.add(iv, RDFS.label, Literal(code or text))
        self.add(iv, ACSE.interventionType, self.v.enums.get(("InterventionType", "DRUG")))
        names = drug_names(code) if code else []
        for name in names:
            d = drug_iri(name)
            self.drugs_used.setdefault(str(d), name)
            self.add(cohort, ACSE.studyDrug, d)
        if len(names) == 1:
            self.add(iv, ACSE.drug, drug_iri(names[0]))
        if text:
            self.regimen_position += 1
            r = URIRef(f"{iv}/regimen")
            self.add(iv, ACSE.hasDosingRegimen, r)
            self.add(r, RDF.type, ACSE.DosingRegimen)
            self.add(r, RDFS.label, Literal(text))
            self.add(r, ACSE.registeredText, Literal(text))
            self.add(r, ACSE.position, Literal(self.regimen_position))
            self.parse_dose(r, text)

    def parse_dose(self, r: URIRef, text: str) -> None:
        """Dose value, unit, route and frequency where the text says them plainly ("250mg orally twice daily")."""
        m = _DOSE.match(text)
        if not m:
            return
        self.add(r, ACSE.doseValue, decimal_literal(float(m.group(1))))
        unit = m.group(2).lower()
        self.add(r, ACSE.doseUnit, Literal(unit))
        self.add(r, ACSE.perBodySurfaceArea, Literal(unit.endswith("/m2")))
        rest = m.group(3).lower()
        if re.search(r"\borally\b", rest):
            self.add(r, ACSE.route, ACSE.Oral)
        phrase = re.sub(r"^(?:(?:administered|taken)\s+)?(?:orally)?[,\s]*", "", rest).strip()
        freq = self.v.frequencies.get(phrase)
        if freq is not None:
            self.add(r, ACSE.frequency, URIRef(freq))

    # ------------------------------------------------------------ match trees
    def match(self, trees: Any, path: list[Any]) -> Expr | None:
        if not isinstance(trees, list) or not trees:
            self.find(path, trees, "a match is a list of match trees")
            return None
        exprs = [self.node(t, [*path, i]) for i, t in enumerate(trees)]
        ok = [e for e in exprs if e is not None]
        if len(ok) != len(exprs):
            return None
        ops = _distinct(ok)
        return ops[0] if len(ops) == 1 else Or(ops)

    def node(self, node: Any, path: list[Any]) -> Expr | None:
        if not isinstance(node, dict) or len(node) != 1:
            self.find(path, node, "a match node has exactly one of and, or, genomic, clinical")
            return None
        (kind, body), = node.items()
        if kind in ("and", "or"):
            if not isinstance(body, list) or not body:
                self.find([*path, kind], body, f"{kind} takes a non-empty list of nodes")
                return None
            subs = [self.node(x, [*path, kind, i]) for i, x in enumerate(body)]
            exprs = [x for x in subs if x is not None]
            if len(exprs) < len(subs):
                return None
            ops = _distinct(exprs)
            if len(ops) == 1:
                return ops[0]
            return And(ops) if kind == "and" else Or(ops)
        if kind == "genomic" and isinstance(body, dict):
            return self.genomic(body, [*path, "genomic"])
        if kind == "clinical" and isinstance(body, dict):
            return self.clinical(body, [*path, "clinical"])
        self.find(path, node, "a match node has exactly one of and, or, genomic, clinical")
        return None

    def gene(self, symbol: str, path: list[Any]) -> Term | None:
        sym = symbol.strip()
        if sym in self.v.genes:
            iri = self.v.genes[sym]
        elif sym in hgnc_symbols():
            iri = str(gene_iri(sym))
        else:
            self.find(path, symbol, "not an HGNC approved gene symbol")
            return None
        self.genes_used.add(sym)
        return Term(iri, sym, sym)

    def genomic(self, g: dict[str, Any], path: list[Any]) -> Expr | None:
        errors = len(self.refusals())
        known = {"hugo_symbol", "variant_category", "protein_change", "wildcard_protein_change", "exon",
                 "variant_classification", "cnv_call", "fusion_partner_hugo_symbol", "molecular_function",
                 "wildtype", "display_name"}
        for k in g:
            if k not in known:
                self.find([*path, k], g[k], "not a genomic field of CTML")
        symbol = g.get("hugo_symbol")
        negated = False
        gene = None
        if symbol is not None:
            if not isinstance(symbol, str):
                self.find([*path, "hugo_symbol"], symbol, "a gene symbol is a string")
            else:
                negated = symbol.startswith("!")
                gene = self.gene(symbol[1:] if negated else symbol, [*path, "hugo_symbol"])
        category = g.get("variant_category")
        if category is not None and category not in VARIANT_CATEGORIES:
            self.find([*path, "variant_category"], category,
                      "not a CTML variant category (" + ", ".join(VARIANT_CATEGORIES) + ")")
        fields: dict[str, Any] = {}
        pc = g.get("protein_change")
        wc = g.get("wildcard_protein_change")
        if pc is not None and wc is not None:
            self.find([*path, "wildcard_protein_change"], wc, "a test names a protein change or a wildcard, not both")
        elif wc is not None:
            if not isinstance(wc, str) or not wc.startswith("p."):
                self.find([*path, "wildcard_protein_change"], wc, "a wildcard protein change looks like p.V600")
            else:
                if not WILDCARD.match(wc):
                    self.correct([*path, "wildcard_protein_change"], wc, f"protein_change {wc}",
                                 "names its new residue, so it is the exact protein_change, not a wildcard",
                                 ACSE.proteinChange)
                fields["protein_change"] = wc
        elif pc is not None:
            if not isinstance(pc, str) or not pc.startswith("p."):
                self.find([*path, "protein_change"], pc, "a protein change is HGVS, e.g. p.V600E")
            else:
                fields["protein_change"] = pc
        if g.get("exon") is not None:
            try:
                fields["exon"] = int(str(g["exon"]).strip())
            except ValueError:
                self.find([*path, "exon"], g["exon"], "an exon is a whole number")
        vc = g.get("variant_classification")
        if vc is not None:
            if vc in VARIANT_CLASSIFICATIONS:
                fields["variant_classification"] = vc
            elif "protein_change" in fields:
                self.correct([*path, "variant_classification"], vc, None,
                             "not a MAF variant classification; left out, the protein change fixes the variant",
                             ACSE.variantClassification)
            else:
                self.find([*path, "variant_classification"], vc, "not a MAF variant classification")
        mf = g.get("molecular_function")
        if mf is not None:
            if isinstance(mf, str) and mf.strip().capitalize() in MOLECULAR_FUNCTIONS:
                fields["function"] = mf.strip().lower()
            else:
                self.find([*path, "molecular_function"], mf, "not Activating or Inactivating")
        partner = g.get("fusion_partner_hugo_symbol")
        if partner is not None:
            fields["partner"] = self.gene(str(partner), [*path, "fusion_partner_hugo_symbol"])
        wt = g.get("wildtype")
        if wt is not None:
            if str(wt).lower() in ("true", "false"):
                fields["wildtype"] = True if str(wt).lower() == "true" else None
            else:
                self.find([*path, "wildtype"], wt, "wildtype is True or False")
        types: list[str | None] = [VARIANT_CATEGORIES.get(category) if category else None]
        call = g.get("cnv_call")
        if call is not None:
            canon = canonical_cnv_call(call) if isinstance(call, str) else None
            if canon is None:
                self.find([*path, "cnv_call"], call, "not a CTML CNV call (" + ", ".join(CNV_CALLS) + ")")
            else:
                if canon != call:
                    self.correct([*path, "cnv_call"], call, canon, "the CTML CNV call it stands for "
                                 "(case, MatchMiner's alias, or a misspelling of one)", ACSE.cnvCall)
                fields["cnv_call"] = canon
                types = [CNV_CALLS[canon]]
                if category not in (None, "Copy Number Variation"):
                    self.find([*path, "cnv_call"], call, f"a CNV call on a {category} test")
        elif category == "Copy Number Variation":
            types = ["Amplification", "CopyNumberLoss"]
        if len(self.refusals()) > errors:
            self._pending = []
            return None
        tests: list[Expr] = [
            AlterationTest(gene=gene, alteration_type=Term(str(ACSE[t]), code=t) if t else None, **fields)
            for t in types]
        e: Expr = self.curated(tests[0]) if len(tests) == 1 else Or(tuple(sorted(tests, key=sort_key)))
        return Not(e) if negated else e

    def clinical(self, c: dict[str, Any], path: list[Any]) -> Expr | None:
        errors = len(self.refusals())
        tests: list[Expr] = []
        for key, value in c.items():
            p = [*path, key]
            if key == "oncotree_primary_diagnosis":
                t = self.diagnosis(value, p)
                if t is not None:
                    tests.append(t)
            elif key == "tmb" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.correct(p, value, f"tmb_numerical >={value}", "tmb is not a CTML field; a bare number is "
                             "read as tmb_numerical: at least that many mutations per megabase", ACSE.threshold)
                t = self.comparison("tmb_numerical", f">={value}", p)
                if t is not None:
                    tests.append(self.curated(t))
            elif key in CLINICAL_VARIABLES:
                t = self.comparison(key, value, p)
                if t is not None:
                    tests.append(t)
            elif key in DECLARED_VARIABLES:
                t = self.declared_comparison(key, value, p)
                if t is not None:
                    tests.append(t)
            else:
                self.find(p, value, "not a clinical field the registry can read")
        if len(self.refusals()) > errors or not tests:
            if not tests and len(self.refusals()) == errors:
                self.find(path, c, "a clinical node with no criterion")
            return None
        ops = _distinct(tests)
        return ops[0] if len(ops) == 1 else And(ops)

    def diagnosis(self, value: Any, path: list[Any]) -> Expr | None:
        if not isinstance(value, str) or not value.strip("! "):
            self.find(path, value, "a diagnosis is an OncoTree name")
            return None
        negated = value.startswith("!")
        name = value[1:].strip() if negated else value.strip()
        e: Expr
        if name in (SOLID, LIQUID):
            tissues = self.v.tissues(liquid=name == LIQUID)
            e = Or(tuple(sorted((TumourTypeTest(Term(t.iri, t.label, t.code)) for t in tissues), key=sort_key)))
        else:
            t = self.v.tumour_type(name)
            if t is None:
                self.find(path, value, "not an OncoTree tumour type name (nor _SOLID_ / _LIQUID_)")
                return None
            e = TumourTypeTest(Term(t.iri, t.label, t.code))
        return Not(e) if negated else e

    def comparison(self, key: str, value: Any, path: list[Any]) -> Expr | None:
        var = self.v.variables.get(str(ACSE[CLINICAL_VARIABLES[key]]))
        if var is None:
            self.find(path, value, f"the registry has no variable for {key}")
            return None
        if var.kind == "number":
            m = _COMPARISON.match(str(value))
            if not m:
                self.find(path, value, 'a comparison such as ">=18"')
                return None
            thr = float(Decimal(m.group(2)))
            return Comparison(var, COMPARATOR_NAMES[m.group(1) or ""], thr, var.unit)
        allowed = {"ms_status": MS_STATUSES, "mmr_status": MMR_STATUSES}.get(key, ("Male", "Female"))
        if not isinstance(value, str) or value.strip().casefold() not in {a.casefold() for a in allowed}:
            self.find(path, value, "not one of " + ", ".join(allowed))
            return None
        text = value.strip()
        return Comparison(var, "eq", text.lower() if key in ("gender", "sex") else text)

    def declared_comparison(self, key: str, value: Any, path: list[Any]) -> Expr | None:
        label, allowed = DECLARED_VARIABLES[key]
        text = str(value).strip()
        if text.lower() in ("true", "false"):
            used = "Positive" if text.lower() == "true" else "Negative"
            self.correct(path, value, used, "a receptor status is Positive or Negative", ACSE.threshold)
            text = used
        if text not in allowed:
            self.find(path, value, "not one of " + ", ".join(allowed))
            return None
        var = self.declared.get(key)
        if var is None:
            known = next((v for v in self.v.variables.values() if v.field == key and v.iri.startswith(str(ACSE))),
                         None)
            var = known or Variable(f"{ID}variable/{key}", key, None, "code", label)
            self.declared[key] = var
        if not var.iri.startswith(str(ACSE)):
            self.find(path, value, f"the registry had no variable for {key}: the study graph declares one "
                      f"(profile field {key!r}); until profiles carry it, the arm's rule is unknown there "
                      "(to be confirmed), never silently true", "corrected")
        return self.curated(Comparison(var, "eq", text))

    def refusals(self) -> list[Finding]:
        return [f for f in self.findings if f.action == "refused"]

    # ------------------------------------------------------------ writing expressions
    def write_expr(self, node: URIRef, e: Expr) -> None:
        for i, (prop, registered, used, why) in enumerate(self.curations.get(id(e), []), 1):
            c = URIRef(f"{node}/curation/{i}")
            self.add(c, RDF.type, ACSE.Curation)
            self.add(c, RDFS.label, Literal(f"{registered} read as {used}" if used else f"{registered} left out",
                                            lang="en"))
            self.add(c, ACSE.curatedProperty, prop)
            self.add(c, ACSE.registeredValue, Literal(registered))
            if used:
                self.add(c, ACSE.curatedValue, Literal(used))
            self.add(c, ACSE.rationale, Literal(why, lang="en"))
            self.add(c, PROV.generated, node)  # not node acse:curation c: a re-read export has no curation
        g = self.add
        g(node, RDF.type, ACSE[e.kind])
        if isinstance(e, (And, Or, Not)):
            for o in e.operands:
                child = URIRef(f"{node}/{_h(o)}")
                g(node, ACSE.operand, child)
                self.write_expr(child, o)
        elif isinstance(e, Comparison):
            g(node, ACSE.variable, URIRef(e.variable.iri))
            g(node, ACSE.comparator, ACSE[e.comparator])
            thr = e.threshold
            g(node, ACSE.threshold, decimal_literal(thr) if isinstance(thr, float) else Literal(thr))
            if e.unit:
                g(node, ACSE.unit, Literal(e.unit))
        elif isinstance(e, TumourTypeTest):
            g(node, ACSE.tumourType, URIRef(e.tumour_type.iri))
        elif isinstance(e, AlterationTest):
            if e.gene is not None:
                g(node, ACSE.gene, URIRef(e.gene.iri))
            if e.alteration_type is not None:
                g(node, ACSE.alterationType, URIRef(e.alteration_type.iri))
            if e.protein_change is not None:
                g(node, ACSE.proteinChange, Literal(e.protein_change))
            if e.exon is not None:
                g(node, ACSE.exon, Literal(e.exon, datatype=XSD.integer))
            if e.variant_classification is not None:
                g(node, ACSE.variantClassification, Literal(e.variant_classification))
            if e.cnv_call is not None:
                g(node, ACSE.cnvCall, Literal(e.cnv_call))
            if e.partner is not None:
                g(node, ACSE.fusionPartner, URIRef(e.partner.iri))
            if e.function is not None:
                g(node, ACSE.molecularFunction, Literal(e.function))
            if e.wildtype is not None:
                g(node, ACSE.wildtype, Literal(e.wildtype))

    # ------------------------------------------------------------ terms the registry did not describe
    def describe_terms(self) -> None:
        """Genes, drugs, variables and statuses the graph points to, described in the study graph itself.

        Always, even when another graph describes them too (with the same triples: a gene's symbol and
        HGNC id, a drug's name): the study graph is replaced whole on the next import, so what it
        needs must not depend on the store's other graphs, nor on its own previous version.
        """
        g = self.add
        for sym in sorted(self.genes_used):
            iri = gene_iri(sym)
            g(iri, RDF.type, ACSE.Gene)
            g(iri, RDFS.label, Literal(sym))
            g(iri, ACSE.geneSymbol, Literal(sym))
            if sym in hgnc_symbols():
                g(iri, ACSE.hgncId, Literal(hgnc_symbols()[sym]))
        for drug, name in sorted(self.drugs_used.items()):
            g(URIRef(drug), RDF.type, ACSE.Drug)
            g(URIRef(drug), RDFS.label, Literal(name.lower(), lang="en"))
            g(URIRef(drug), SCHEMA.name, Literal(name))
        for _key, var in sorted(self.declared.items()):
            if var.iri.startswith(str(ACSE)):
                continue
            v = URIRef(var.iri)
            g(v, RDF.type, ACSE.ClinicalVariable)
            g(v, RDFS.label, Literal(var.label, lang="en"))
            g(v, ACSE.profileField, Literal(var.field))
            g(v, ACSE.valueKind, Literal(var.kind))
        if any(o == SUSPENDED for o in self.g.objects(None, ACSE.cohortStatus)):
            g(SUSPENDED, RDF.type, ACSE.CohortStatus)
            g(SUSPENDED, RDFS.label, Literal("suspended", lang="en"))
            g(SUSPENDED, ACSE.isOpen, Literal(False))


def _distinct(exprs: list[Expr]) -> tuple[Expr, ...]:
    """Operands in the model's order, each once: a repeated operand says nothing more (x and x is x), and
    the graph, whose operand nodes are named by what they say, holds it once anyway."""
    seen: dict[str, Expr] = {}
    for e in exprs:
        seen.setdefault(sort_key(e), e)
    return tuple(seen[k] for k in sorted(seen))


def _h(e: Expr) -> str:
    """A child node's IRI segment: a digest of what it says, so an export read back mints the same IRIs."""
    return hashlib.sha1(sort_key(e).encode("utf-8")).hexdigest()[:10]


def _text(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ("" if v is None else str(v))


def _satisfying_genes(e: Expr) -> set[str]:
    """Genes of the positive (not negated), non-wild-type alteration tests: what can satisfy the rule."""
    out: set[str] = set()

    def visit(x: Expr, negated: bool) -> None:
        if isinstance(x, Not):
            visit(x.operand, not negated)
        elif isinstance(x, (And, Or)):
            for o in x.operands:
                visit(o, negated)
        elif isinstance(x, AlterationTest) and not negated and not x.wildtype and x.gene is not None:
            out.add(x.gene.iri)

    visit(e, False)
    return out


def map_document(doc: dict[str, Any], vocab: Vocabulary, nct: str) -> Mapped:
    """The study graph of a CTML document, with its findings (nothing is stored here)."""
    m = _Mapper(doc, vocab, nct)
    m.study()
    cohorts = len(set(m.g.objects(m.s, ACSE.hasCohort)))
    return Mapped(nct, m.g, m.findings, cohorts)


__all__ = ["DISEASE_STATUS_ID", "DISEASE_STATUS_PREFIX", "PRIOR_ID", "SOURCE", "SUSPENDED", "Mapped",
           "canonical_cnv_call", "drug_iri", "drug_names", "map_document"]
