"""Drafts stored in a study's graph, and a curator's review of them.

Why in the study's own graph: the graph is the single source of truth, so a
draft is data there — an ``acse:InclusionCriterion`` / ``acse:ExclusionCriterion``
with ``acse:reviewState``, ``acse:draftRule``, the source span, the quoted
words (``acse:criterionText``) and ``prov:wasGeneratedBy`` a
``acse:DraftingActivity`` — and, where the parser's item maps onto the
ontology's variables, genes and drugs without an unparsed condition, an
expression the study model reads (``acse:requires`` / ``acse:excludesWhen``),
so SPARQL, the pages and the matcher see it like any criterion. Every write
(a draft, an accept, a reject, an edit) goes through
:func:`acse_kg.history.edit_study`: a new version of the study in the
history, with who and when.

Only studies with no curated criteria take drafts: a curated study's
criteria are the reviewed truth, and drafts beside them would be matched too.

A re-draft keeps every decision: an item a curator accepted, rejected or
edited keeps its state and content (items are identified by their stable
``id``), and only the untouched drafts are replaced by the new parser's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyparsing as pp
import rdflib
from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.namespace import PROV
from rdflib.term import Node

from ..errors import AcseError
from ..loader import study_graph_name
from ..namespaces import ACSE, study_iri
from ..store import GraphStore
from .record import FIELDS, draft

STATES = ("draft", "accepted", "rejected", "edited")
_CMP_IRI = {">=": ACSE.ge, ">": ACSE.gt, "<=": ACSE.le, "<": ACSE.lt, "==": ACSE.eq}
_ALTERATION_IRI = {"mutation": ACSE.Mutation, "amplification": ACSE.Amplification, "fusion": ACSE.Translocation,
                   "overexpression": ACSE.Overexpression, "deletion": ACSE.CopyNumberLoss}
_FIELD_PREFIXES = ("", "labs.", "performance.", "history.")


class ReviewError(AcseError, LookupError):
    """A draft or a review the registry cannot make (the message says which study or item, and why)."""


@dataclass(frozen=True)
class Saved:
    """What a draft run stored: the items now in the graph, how many kept a curator's decision, the version."""

    nct: str
    items: list[dict[str, Any]]
    kept_decisions: int
    previous_version: str | None


def _draft_prefix(nct: str) -> str:
    return f"{study_iri(nct)}/criterion/draft-"


def stored_items(store: GraphStore, nct: str) -> list[dict[str, Any]]:
    """The drafted items stored for a study, each as its criteria-JSON object with its current state.

    One query for the items alone: the study page asks on every first view of a study, and most
    studies hold no draft (reading the study's whole graph for that cost as much as the rest of the page)."""
    rows = store.select("SELECT ?node ?item ?state WHERE { GRAPH ?g { ?node acse:draftItem ?item "
                        "OPTIONAL { ?node acse:reviewState ?state } } }", {"g": URIRef(study_graph_name(nct))})
    out = []
    seen: set[str] = set()
    for r in rows:
        if str(r["node"]) in seen:  # one item however many states it holds (the first, as Graph.value gives)
            continue
        seen.add(str(r["node"]))
        obj = json.loads(str(r["item"]))
        state = r["state"]
        obj["state"] = str(state) if state is not None else obj.get("state", "draft")
        out.append(obj)
    out.sort(key=lambda i: (i.get("bullet") is not None, i.get("bullet") or 0, (i.get("span") or [0])[0], i["id"]))
    return out


def _study_graph(store: GraphStore, nct: str) -> rdflib.Graph:
    g = store.graph(study_graph_name(nct))
    if (URIRef(study_iri(nct)), None, None) not in g:
        raise ReviewError(f"no study {nct} in the store (import its record first)")
    return g


def _cohort_prefix(nct: str) -> str:
    return f"{study_iri(nct)}/cohort/draft-"


def _without_drafts(g: rdflib.Graph, nct: str) -> rdflib.Graph:
    """The study graph with every drafted node (criteria, their expressions, the cohort, the activity) taken out.

    ``g`` itself when it holds no drafts (it may then be added to: callers pass a graph of their own).
    """
    prefixes = (_draft_prefix(nct), _cohort_prefix(nct))
    study = URIRef(study_iri(nct))
    if (URIRef(_draft_prefix(nct) + "activity"), None, None) not in g and not any(
            str(o).startswith(prefixes) for p in (ACSE.hasCriterion, ACSE.hasCohort) for o in g.objects(study, p)):
        return g  # nothing drafted (a freshly imported record): no copy, the drafts are added to it
    out = rdflib.Graph()
    for s, p, o in g:
        if str(s).startswith(prefixes) or (isinstance(o, URIRef) and str(o).startswith(prefixes)):
            continue
        out.add((s, p, o))
    return out


def decided_items(g: rdflib.Graph) -> list[dict[str, Any]]:
    """The drafted items of a study graph a curator decided on (accepted, rejected, edited), as stored."""
    out = []
    for node, item in g.subject_objects(ACSE.draftItem):
        state = g.value(node, ACSE.reviewState)
        if state is not None and str(state) != "draft":
            obj = json.loads(str(item))
            obj["state"] = str(state)
            out.append(obj)
    out.sort(key=lambda i: i["id"])
    return out


def merge_decisions(fresh: list[dict[str, Any]], decided: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The fresh drafts with every curator's decision in place of its item (by ``id``); how many decisions kept.

    A decision on words the parser no longer drafts is kept too (after the fresh items): a
    curator's work is never dropped by a parser change.
    """
    left = {i["id"]: i for i in decided}
    items = [left.pop(i["id"], i) for i in fresh]
    return items + list(left.values()), len(decided)


def with_drafts(store: GraphStore, nct: str, g: rdflib.Graph, record: dict[str, Any],
                previous: rdflib.Graph | None) -> rdflib.Graph:
    """``g`` (a study graph about to be stored) with the drafts of ``record``, keeping the decisions of ``previous``.

    The import calls this so that the new version of an imported study carries its drafts in the
    same version. Where the items are those ``previous`` holds, the drafting keeps its time, so a
    re-import of the same record is still no new version.
    """
    before = previous if previous is not None else rdflib.Graph()
    items, _ = merge_decisions(draft(record).items, decided_items(before))
    activity = URIRef(_draft_prefix(nct) + "activity")
    ended = before.value(activity, PROV.endedAtTime)
    stored = sorted(str(i) for i in before.objects(None, ACSE.draftItem))
    same = stored == sorted(json.dumps({k: i.get(k) for k in FIELDS}, ensure_ascii=False) for i in items)
    if not same or ended is None:
        ended = Literal(datetime.now(UTC).isoformat(timespec="seconds"), datatype=XSD.dateTime)
    return _drafted(store, nct, g, items, ended)


def _curated(g: rdflib.Graph, nct: str) -> bool:
    prefix = _draft_prefix(nct)
    return any(not str(c).startswith(prefix) for c in g.objects(URIRef(study_iri(nct)), ACSE.hasCriterion))


def save_drafts(store: GraphStore, nct: str, *, agent: str, note: str | None = None) -> Saved:
    """Draft the stored study's record again and store the drafts, keeping every curator's decision."""
    from ..ctgov.export import StudyNotFound, export_study

    g = _study_graph(store, nct)
    if _curated(g, nct):
        raise ReviewError(f"{nct} has curated criteria; drafts are stored only for studies without them "
                          f"(`acse-kg draft {nct} --json` still prints the drafts)")
    try:
        record = export_study(store, nct, full_text=True)
    except StudyNotFound as exc:
        raise ReviewError(str(exc)) from None
    items, kept = merge_decisions(draft(record).items, decided_items(g))
    previous = _write(store, nct, g, items, agent=agent, note=note or "draft of the eligibility criteria", redrafted=True)
    return Saved(nct, items, kept, previous)


def review(store: GraphStore, nct: str, item_id: str, decision: str, *, agent: str, edit: str | None = None) -> dict[str, Any]:
    """Accept, reject or edit one stored draft; a new version of the study records it. Returns the item."""
    if decision not in ("accepted", "rejected", "edited"):
        raise ReviewError(f"unknown review decision {decision!r} (accepted, rejected or edited)")
    g = _study_graph(store, nct)
    items = stored_items(store, nct)
    found = [i for i in items if i["id"] == item_id]
    if not found:
        known = ", ".join(i["id"] for i in items[:5]) or "none: run `acse-kg draft NCT… --save` first"
        raise ReviewError(f"{nct} has no drafted item {item_id!r} (ids: {known}{' …' if len(items) > 5 else ''})")
    item = found[0]
    if decision == "edited":
        if not edit:
            raise ReviewError("an edit needs the new expression, e.g. 'anc >= 1.5 10*9/L'")
        item.update(parse_edit(edit))
    item["state"] = decision
    _write(store, nct, g, items, agent=agent, note=f"review of {item_id}: {decision}" + (f" ({edit})" if edit else ""))
    return item


# ----------------------------------------------------------------- the curator's edit language
_WORD = pp.Regex(r"[a-z_]+")
_CMP = pp.one_of(">= > <= < == in present absent")
_VALUE = pp.Regex(r"-?\d+(?:\.\d+)?|(?!if\b)[A-Za-z][\w.-]*")
_UNIT = pp.Regex(r"(?!if\b)\S+")
_EDIT = (_WORD("variable") + _CMP("comparator") + pp.Optional(_VALUE("value") + pp.Optional(_UNIT("unit")))
         + pp.Optional(pp.Suppress(pp.Keyword("if")) + pp.Regex(r".+")("condition")))


def parse_edit(text: str) -> dict[str, Any]:
    """``VARIABLE COMPARATOR [VALUE [UNIT]] [if CONDITION]`` -> the item fields it sets ("anc >= 1.5 10*9/L")."""
    try:
        r = _EDIT.parse_string(text.strip(), parse_all=True)
    except pp.ParseException as exc:
        raise ReviewError(f"cannot read the edit {text!r}: expected VARIABLE COMPARATOR [VALUE [UNIT]] [if CONDITION], "
                          f"e.g. 'anc >= 1.5 10*9/L' ({exc.msg} at column {exc.col})") from None
    value: Any = r.get("value")
    if isinstance(value, str) and re.fullmatch(r"-?\d+(?:\.\d+)?", value):
        value = float(value) if "." in value else int(value)
    if r["comparator"] in ("present", "absent") and value is not None and r["variable"] not in ("biomarker", "prior_therapy"):
        raise ReviewError(f"{r['comparator']} takes no value (got {value!r})")
    out = {"variable": r["variable"], "comparator": r["comparator"], "value": value, "unit": r.get("unit"),
           "condition": r.get("condition")}
    if r["variable"] == "biomarker":  # biomarker present GENE [ALTERATION]
        out.update(value=None, unit=None, gene=value, alteration=r.get("unit"))
    elif r["variable"] == "prior_therapy":  # prior_therapy absent DRUG
        out.update(value=None, unit=None, drug=value)
    return out


# ----------------------------------------------------------------- writing
def _write(store: GraphStore, nct: str, g: rdflib.Graph, items: list[dict[str, Any]], *, agent: str, note: str,
           redrafted: bool = False) -> str | None:
    """Replace the study's drafted nodes with ``items`` as one new version (a review keeps the drafting's time)."""
    from ..history import edit_study

    activity = URIRef(_draft_prefix(nct) + "activity")
    ended = g.value(activity, PROV.endedAtTime)
    if redrafted or ended is None:
        ended = Literal(datetime.now(UTC).isoformat(timespec="seconds"), datatype=XSD.dateTime)
    out = _drafted(store, nct, g, items, ended)
    return edit_study(store, nct, out.serialize(format="nt", encoding="utf-8"), "ntriples", agent=agent, note=note)


def _drafted(store: GraphStore, nct: str, g: rdflib.Graph, items: list[dict[str, Any]], ended: Node) -> rdflib.Graph:
    """``g`` with its drafted nodes replaced by ``items``, the drafted cohort and the drafting activity."""
    activity = URIRef(_draft_prefix(nct) + "activity")
    out = _without_drafts(g, nct)
    vocab = _Vocabulary(store)
    study = URIRef(study_iri(nct))
    out.add((activity, RDF.type, ACSE.DraftingActivity))
    out.add((activity, RDFS.label, Literal(f"drafting of the eligibility criteria of {nct}", lang="en")))
    out.add((activity, PROV.used, study))
    out.add((activity, PROV.endedAtTime, ended))
    for n, item in enumerate(items, start=1):
        node = URIRef(_draft_prefix(nct) + item["id"])
        out.add((study, ACSE.hasCriterion, node))
        out.add((node, RDF.type, ACSE.InclusionCriterion if item["kind"] == "inclusion" else ACSE.ExclusionCriterion))
        out.add((node, ACSE.criterionText, Literal(item["quote"] or "")))
        out.add((node, ACSE.position, Literal(1000 + n)))
        out.add((node, ACSE.reviewState, Literal(item["state"])))
        out.add((node, ACSE.draftRule, Literal(item["rule"])))
        out.add((node, ACSE.draftItem, Literal(json.dumps({k: item.get(k) for k in FIELDS}, ensure_ascii=False))))
        out.add((node, PROV.wasGeneratedBy, activity))
        if item.get("span"):
            out.add((node, ACSE.sourceStart, Literal(item["span"][0])))
            out.add((node, ACSE.sourceEnd, Literal(item["span"][1])))
        expr = None if item["state"] == "rejected" else vocab.expression(out, node, item)
        out.add((node, ACSE.computable, Literal(expr is not None)))
        if expr is None:
            continue
        if item["kind"] == "inclusion":
            out.add((node, ACSE.requires, expr))
        else:
            neg = URIRef(str(node) + "/requires")
            out.add((neg, RDF.type, ACSE.Negation))
            out.add((neg, ACSE.operand, expr))
            out.add((node, ACSE.excludesWhen, expr))
            out.add((node, ACSE.requires, neg))
    _cohort(store, out, nct, items, vocab, activity)
    return out


def _cohort(store: GraphStore, g: rdflib.Graph, nct: str, items: list[dict[str, Any]], vocab: _Vocabulary,
            activity: URIRef) -> None:
    """Drafted cohorts, so that the matcher can take the study: one per arm, or one for the whole study.

    Decision: where arms (or groups) name a tumour type and an alteration (a basket or umbrella
    trial: "Cohort A: NSCLC with ALK rearrangement"), each such arm is a cohort of that OncoTree
    class × gene × alteration type (:func:`.structured.arm_cohorts`). Otherwise the draft is one
    cohort (none when no condition maps) whose candidacy rule is "a tumour under one of the
    OncoTree classes the conditions, keywords and condition MeSH terms name" (see
    :mod:`.structured`), whose target genes are those of the inclusion biomarker items that
    require an alteration (a profile must carry an alteration of one of them to be a candidate),
    and whose drugs are the interventions mapped to the registry's drugs. The criteria (drafted
    items) then decide eligibility as for any study. The cohort is generated by the drafting
    activity, which marks it as a draft for the matcher and the pages.
    """
    from .structured import (
        OncoTreeIndex,
        arm_cohorts,
        conditions_to_oncotree,
        drug_index,
        interventions_to_drugs,
    )

    study = URIRef(study_iri(nct))
    index = OncoTreeIndex.of(store)
    drugs = interventions_to_drugs(g, study, drug_index(store))
    arms = arm_cohorts(g, study, index)
    if arms:
        _arm_cohorts(g, nct, arms, vocab, activity, drugs)
        return
    pathologies = conditions_to_oncotree(g, study, index)
    if not pathologies:
        return
    cohort = URIRef(_cohort_prefix(nct) + "1")
    g.add((study, ACSE.hasCohort, cohort))
    g.add((cohort, RDF.type, ACSE.Cohort))
    g.add((cohort, ACSE.cohortNumber, Literal(1)))
    names = ", ".join(f"{m.label} ({m.code})" for m in pathologies)
    g.add((cohort, RDFS.label, Literal(f"whole study, drafted: {names}", lang="en")))
    g.add((cohort, PROV.wasGeneratedBy, activity))
    why = [f"{m.term!r} ({m.source}) -> OncoTree {m.code} by {m.how}" for m in pathologies]
    rule = URIRef(str(cohort) + "/rule")
    tests = []
    for n, m in enumerate(pathologies, start=1):
        g.add((cohort, ACSE.pathology, URIRef(m.iri)))
        test = URIRef(f"{rule}/{n}") if len(pathologies) > 1 else rule
        g.add((test, RDF.type, ACSE.TumourTypeTest))
        g.add((test, ACSE.tumourType, URIRef(m.iri)))
        tests.append(test)
    if len(tests) > 1:
        g.add((rule, RDF.type, ACSE.Disjunction))
        for t in tests:
            g.add((rule, ACSE.operand, t))
    g.add((cohort, ACSE.cohortRule, rule))
    for item in items:
        if (item["variable"] == "biomarker" and item["kind"] == "inclusion" and item["comparator"] == "present"
                and item["state"] != "rejected" and vocab.genes.get(item.get("gene") or "")):
            g.add((cohort, ACSE.targetGene, URIRef(vocab.genes[item["gene"]])))
    for m in drugs:
        g.add((cohort, ACSE.studyDrug, URIRef(m.iri)))
        why.append(f"{m.term!r} ({m.source}) -> drug {m.label} by {m.how}")
    g.add((cohort, RDFS.comment, Literal("Drafted from the record's structured fields: " + "; ".join(why) + ".", lang="en")))


class _Vocabulary:
    """The ontology's variables, genes and drugs a drafted item can be written with, read once per write."""

    def __init__(self, store: GraphStore) -> None:
        from ..model import read_variables

        self.variables = {v.field: v for v in read_variables(store).values()}
        self.genes = {str(r["sym"]): str(r["g"]) for r in store.select(
            "SELECT ?g ?sym WHERE { ?g a acse:Gene ; acse:geneSymbol ?sym }")}
        self.drugs = {str(r["l"]).lower(): str(r["d"]) for r in store.select(
            "SELECT ?d ?l WHERE { ?d a acse:Drug ; rdfs:label ?l }")}

    def variable(self, name: str) -> Any:
        for p in _FIELD_PREFIXES:
            v = self.variables.get(p + name)
            if v is not None:
                return v
        return None

    def expression(self, g: rdflib.Graph, node: URIRef, item: dict[str, Any]) -> URIRef | None:
        """The item as an expression node in ``g`` (None when it cannot be said with the ontology, or has a condition)."""
        if item.get("condition"):
            return None  # an unparsed condition: applying the rule to everyone would be wrong
        e = URIRef(str(node) + "/expr")
        var, cmp, value, unit = item["variable"], item["comparator"], item.get("value"), item.get("unit")
        if var == "biomarker":
            gene = self.genes.get(item.get("gene") or "")
            alt = item.get("alteration")
            if gene is None or cmp not in ("present", "absent"):
                return None
            test = URIRef(str(e) + "-test") if cmp == "absent" else e
            g.add((test, RDF.type, ACSE.AlterationTest))
            g.add((test, ACSE.gene, URIRef(gene)))
            if alt in _ALTERATION_IRI:
                g.add((test, ACSE.alterationType, _ALTERATION_IRI[alt]))
            elif alt:
                g.add((test, ACSE.proteinChange, Literal("p." + alt)))
            return self._negated(g, e, test) if cmp == "absent" else e
        if var == "prior_therapy":
            drug = self.drugs.get((item.get("drug") or "").lower())
            if drug is None or cmp not in ("present", "absent"):
                return None
            test = URIRef(str(e) + "-test") if cmp == "absent" else e
            g.add((test, RDF.type, ACSE.PriorTherapyTest))
            g.add((test, ACSE.drug, URIRef(drug)))
            return self._negated(g, e, test) if cmp == "absent" else e
        v = self.variable(var)
        if v is None:
            return None
        if v.kind == "boolean":
            if cmp not in ("present", "absent"):
                return None
            threshold: Any = cmp == "present"
            comparator = ACSE.eq
        elif v.kind == "code":
            if cmp != "==" or not isinstance(value, str):
                return None
            threshold, comparator = value, ACSE.eq
        else:
            if cmp not in _CMP_IRI or not isinstance(value, (int, float)):
                return None
            unit = "{ULN}" if unit == "xULN" else unit
            if not _convertible(unit, v.unit):
                return None
            threshold, comparator = float(value), _CMP_IRI[cmp]
        g.add((e, RDF.type, ACSE.Comparison))
        g.add((e, ACSE.variable, URIRef(v.iri)))
        g.add((e, ACSE.comparator, comparator))
        g.add((e, ACSE.threshold, Literal(threshold)))
        if unit and v.kind == "number":
            g.add((e, ACSE.unit, Literal(unit)))
        return e

    @staticmethod
    def _negated(g: rdflib.Graph, e: URIRef, test: URIRef) -> URIRef:
        g.add((e, RDF.type, ACSE.Negation))
        g.add((e, ACSE.operand, test))
        return e


def _convertible(unit: str | None, target: str | None) -> bool:
    """Whether a threshold in ``unit`` can be compared with the variable's canonical unit (the matcher converts)."""
    if unit == target:
        return True
    if unit is None or target is None:
        return target in (None, "{score}") and unit is None
    from ..matching.profile import conversion

    try:
        conversion(unit, target)
    except ValueError:
        return False
    return True



def _arm_cohorts(g: rdflib.Graph, nct: str, arms: list[Any], vocab: _Vocabulary, activity: URIRef,
                 drugs: list[Any]) -> None:
    """One drafted cohort per arm that names a tumour type and an alteration: pathology × gene × alteration type.

    Numbered by the arm's place among the arms, so a re-draft gives each the same IRI.
    """
    study = URIRef(study_iri(nct))
    for arm in arms:
        genes = [(vocab.genes[s], a) for s, a in arm.alterations if s in vocab.genes]
        if not genes:
            continue
        cohort = URIRef(_cohort_prefix(nct) + str(arm.number))
        g.add((study, ACSE.hasCohort, cohort))
        g.add((cohort, RDF.type, ACSE.Cohort))
        g.add((cohort, ACSE.cohortNumber, Literal(arm.number)))
        g.add((cohort, RDFS.label, Literal(f"{arm.label} (drafted)", lang="en")))
        g.add((cohort, PROV.wasGeneratedBy, activity))
        for m in arm.pathologies:
            g.add((cohort, ACSE.pathology, URIRef(m.iri)))
        for gene, alteration in genes:
            g.add((cohort, ACSE.targetGene, URIRef(gene)))
            # a protein change (G12C) is a mutation
            g.add((cohort, ACSE.acceptsAlterationType, _ALTERATION_IRI.get(alteration or "", ACSE.Mutation)))
        for m in drugs:
            g.add((cohort, ACSE.studyDrug, URIRef(m.iri)))
        why = [f"{m.term!r} -> OncoTree {m.code} by {m.how}" for m in arm.pathologies]
        why += [f"{s} {a or 'alteration'}" for s, a in arm.alterations]
        g.add((cohort, RDFS.comment, Literal(f"Drafted from the arm {arm.label!r}: " + "; ".join(why) + ".", lang="en")))
