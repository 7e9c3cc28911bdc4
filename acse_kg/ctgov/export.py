"""Graph -> ClinicalTrials.gov API v2 study JSON (protocolSection + derivedSection).

The JSON is derived, never stored: the study's named graph is read with one
SPARQL SELECT through the :class:`~acse_kg.store.GraphStore`, the API codes of
the enumerated individuals with another, and the record is rebuilt from them.
Fields the core ontology models are rebuilt by hand below; every other field is
rebuilt generically from its extension property (see :mod:`.spec`).

The pages render ClinicalTrials.gov sections from :func:`export_study`; keep its
name and signature stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import rdflib
import rdflib.collection
from rdflib import RDF, RDFS, URIRef
from rdflib.term import Identifier, Literal, Node

from ..errors import AcseError
from ..loader import study_graph_name
from ..model import Cohort, Regimen, Study, read_study, study_from_graph
from ..namespaces import ACSE, study_iri
from ..store import GraphStore
from .spec import Field, generic_fields, protocol_modules


class StudyNotFound(AcseError, LookupError):
    """No study with that NCT number is in the store."""


def _codes(store: GraphStore) -> dict[Node, str]:
    rows = store.select("SELECT ?i ?code WHERE { ?i acse:code ?code }")
    return {i: str(r["code"]) for r in rows if (i := r["i"]) is not None}


def _terms(nodes: Iterable[Node]) -> list[Identifier]:
    """The terms of a graph as what they are: rdflib types them as Node, which has no order and no
    value, but every term a graph holds is an Identifier (URIRef, BNode, Literal: a str)."""
    return [n for n in nodes if isinstance(n, Identifier)]


class _Reader:
    """Navigation over one study's triples, with API codes of the enumerated individuals."""

    def __init__(self, g: rdflib.Graph, codes: dict[Node, str], full_text: bool = True,
                 read: set[tuple[Node, Node]] | None = None, study: Study | None = None) -> None:
        self.g = g
        self.codes = codes
        self.full_text = full_text
        self.read = read if read is not None else set()  # (subject, predicate) pairs the JSON is made of
        self.study = study  # the study model, for the text the curated record structures (full_text)
        # One pass over the triples into subject -> predicate -> objects: an export asks a few
        # hundred questions of one study's graph, and rdflib's pattern matching costs more than the
        # walk (every caller sorts what it gets, so the order of the walk does not show).
        self.index: dict[Node, dict[Node, list[Node]]] = {}
        for t_s, t_p, t_o in g:
            self.index.setdefault(t_s, {}).setdefault(t_p, []).append(t_o)

    def objects(self, s: Node, p: URIRef) -> list[Node]:
        return self.index.get(s, {}).get(p, [])

    def one(self, s: Node, p: URIRef) -> Identifier | None:
        self.read.add((s, p))
        return next(iter(sorted(_terms(self.objects(s, p)))), None)

    def text(self, s: Node, p: URIRef) -> str | None:
        v = self.one(s, p)
        return None if v is None else str(v)

    def code(self, s: Node, p: URIRef) -> str | None:
        v = self.one(s, p)
        return None if v is None else self.codes.get(v)

    def all(self, s: Node, p: URIRef) -> list[Identifier]:
        self.read.add((s, p))
        return _terms(self.objects(s, p))

    def ordered(self, s: Node, p: URIRef) -> list[Node]:
        """Objects sorted by acse:position (then IRI), for arrays whose order matters."""
        def key(n: Node) -> tuple[float, str]:
            pos = next(iter(self.objects(n, ACSE.position)), None)
            return (float(pos) if isinstance(pos, Identifier) else 1e9, str(n))

        return sorted(self.all(s, p), key=key)

    def label(self, n: Node | None) -> str | None:
        if n is None:
            return None
        return self.text(n, RDFS.label)


def _scalar(value: Identifier, f: Field) -> Any:
    if f.json_type == "boolean":
        return bool(value.toPython()) if isinstance(value, Literal) else str(value) == "true"
    if f.json_type == "integer":
        return int(value)
    if f.json_type == "number":
        num = float(value)
        return num
    return str(value)


def generic_object(r: _Reader, node: Node, schema: str) -> dict[str, Any]:
    """The generic (extension-property) fields of one node, as the spec's JSON object."""
    out: dict[str, Any] = {}
    for f in generic_fields(schema):
        p = ACSE[f.prop]
        if f.kind == "scalar":
            v = r.one(node, p)
            if v is not None:
                out[f.key] = _scalar(v, f)
        elif f.kind == "scalars":
            vals = r.all(node, p)
            if vals:
                out[f.key] = sorted(_scalar(v, f) for v in vals)
        elif f.kind == "object":
            child = r.one(node, p)
            if child is not None:
                out[f.key] = generic_object(r, child, f.object_schema)
        else:
            kids = r.ordered(node, p)
            if kids:
                out[f.key] = [generic_object(r, k, f.object_schema) for k in kids]
    return out


def _date_struct(r: _Reader, study: Node, p: URIRef) -> dict[str, str | None] | None:
    node = r.one(study, p)
    if node is None:
        return None
    out = {"date": r.text(node, ACSE.dateValue)}
    typ = r.code(node, ACSE.dateType)
    if typ:
        out["type"] = typ
    return out


def _date_text(r: _Reader, study: Node, p: URIRef) -> str | None:
    node = r.one(study, p)
    return None if node is None else r.text(node, ACSE.dateValue)


def _put(d: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != [] and value != {}:
        d[key] = value


def _identification(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    _put(m, "nctId", r.text(s, ACSE.nctId))
    org_id: dict[str, Any] | None = None
    secondary = []
    for ident in r.ordered(s, ACSE.identifier):
        scheme = r.one(ident, ACSE.scheme)
        value = r.text(ident, ACSE.identifierValue)
        if scheme == ACSE.NCT:
            continue
        if scheme == ACSE.SponsorStudyId and org_id is None:
            org_id = {"id": value, **generic_object(r, ident, "OrgStudyIdInfo")}
        else:
            item = {"id": value}
            _put(item, "type", r.codes.get(scheme) if scheme is not None else None)
            secondary.append({**item, **generic_object(r, ident, "SecondaryIdInfo")})
    _put(m, "orgStudyIdInfo", org_id)
    _put(m, "secondaryIdInfos", secondary)
    for key in ("briefTitle", "officialTitle", "acronym"):
        _put(m, key, r.text(s, ACSE[key]))
    return m


def _status(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    _put(m, "statusVerifiedDate", r.text(s, ACSE.lastVerified))
    _put(m, "overallStatus", r.code(s, ACSE.overallStatus))
    _put(m, "startDateStruct", _date_struct(r, s, ACSE.startDate))
    _put(m, "primaryCompletionDateStruct", _date_struct(r, s, ACSE.primaryCompletionDate))
    _put(m, "completionDateStruct", _date_struct(r, s, ACSE.completionDate))
    _put(m, "studyFirstSubmitDate", _date_text(r, s, ACSE.firstSubmitted))
    _put(m, "studyFirstPostDateStruct", _date_struct(r, s, ACSE.firstPosted))
    _put(m, "lastUpdateSubmitDate", _date_text(r, s, ACSE.lastUpdateSubmitted))
    _put(m, "lastUpdatePostDateStruct", _date_struct(r, s, ACSE.lastUpdatePosted))
    return m


def _sponsor(r: _Reader, org: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "name", r.label(org))
    _put(out, "class", r.text(org, ACSE.agencyClass))
    return out


def _part(s: Node, key: str) -> URIRef:
    return URIRef(f"{s}/ctgov/{key}")


def _sponsors(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    rp: dict[str, Any] = {}
    _put(rp, "type", r.code(s, ACSE.responsiblePartyType))
    rp.update(generic_object(r, _part(s, "responsibleParty"), "ResponsibleParty"))
    _put(m, "responsibleParty", rp)
    lead = r.one(s, ACSE.leadSponsor)
    if lead is not None:
        m["leadSponsor"] = _sponsor(r, lead)
    _put(m, "collaborators", [_sponsor(r, o) for o in in_sequence(r, s, ACSE.collaborator, ACSE.collaboratorSequence)])
    return m


def _oversight(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for key in ("isFdaRegulatedDrug", "isFdaRegulatedDevice"):
        v = r.one(s, ACSE[key])
        if isinstance(v, Literal):
            m[key] = bool(v.toPython())
    return m


def _description(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for key in ("briefSummary", "detailedDescription"):
        _put(m, key, r.text(s, ACSE[key]))
    if r.full_text and r.study is not None:
        cohorts = r.study.cohorts
        r.read.add((s, ACSE.hasCohort))
        r.read.update((URIRef(c.iri), p) for c in cohorts for p in (ACSE.cohortNumber, ACSE.registeredText))
        _put(m, "detailedDescription", with_cohort_list(cohorts, m.get("detailedDescription")))
    return m


def with_cohort_list(cohorts: Sequence[Cohort], text: str | None) -> str | None:
    """The detailed description followed by the numbered list of cohorts, as the registry shows it.

    The curated record keeps each listed cohort as a cohort individual (its
    registered text verbatim), not inside the description; ClinicalTrials.gov
    clients expect the list in the text, so it is rebuilt from the study
    model's cohorts, in cohort-number order. A description that already holds
    the list (a record imported with it) is left as it is.
    """
    listed = sorted((c.number, c.registered_text) for c in cohorts if c.registered_text)
    if not listed:
        return text
    if text and all(t in text for _, t in listed):
        return text
    lines = "\n".join(f"{n}. {t}" for n, t in listed)
    return f"{text}\n\n{lines}" if text else lines


def with_dosing_lines(regimens: Sequence[Regimen], text: str | None) -> str | None:
    """An intervention's description followed by its dosing regimens' registered lines, one bullet each.

    The curated record structures each dosing line as a acse:DosingRegimen
    (registered text kept verbatim); the study model gives an intervention's
    regimens in registered order, and the registry's record carries their
    lines in the intervention description.
    """
    lines = [r.registered_text for r in regimens if r.registered_text]
    if not lines or (text and all(t in text for t in lines)):
        return text
    bullets = "\n".join(f"* {t}" for t in lines)
    return f"{text}\n\n{bullets}" if text else bullets


def _dosing_lines(r: _Reader, iv: Node, text: str | None) -> str | None:
    """``with_dosing_lines`` for the intervention ``iv`` of the export, from the study model."""
    model = next((i for i in r.study.interventions if i.iri == str(iv)), None) if r.study is not None else None
    if model is None:
        return text
    r.read.add((iv, ACSE.hasDosingRegimen))
    r.read.update((URIRef(g.iri), p) for g in model.regimens for p in (ACSE.registeredText, ACSE.position))
    return with_dosing_lines(model.regimens, text)


def _conditions(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    _put(m, "conditions", [r.label(c) for c in r.ordered(s, ACSE.condition)])
    _put(m, "keywords", keywords(r, s))
    return m


def in_sequence(r: _Reader, s: Node, p: URIRef, sequence: URIRef) -> list[Node]:
    """The values of ``p`` in the order of the RDF list ``sequence`` (the registered order), when the
    record keeps one; the rest (or all, without a list) by acse:position, then IRI or text."""
    values = r.ordered(s, p)
    head = r.one(s, sequence)
    listed = [v for v in rdflib.collection.Collection(r.g, head) if v in values] if head is not None else []
    return listed + [v for v in values if v not in listed]


def keywords(r: _Reader, s: Node) -> list[str]:
    """In the registered order when the record keeps it (acse:keywordSequence), else alphabetical."""
    found = sorted({str(k) for k in r.all(s, ACSE.keyword)})
    head = r.one(s, ACSE.keywordSequence)
    ordered = [str(k) for k in rdflib.collection.Collection(r.g, head)] if head is not None else []
    return [k for k in ordered if k in found] + [k for k in found if k not in ordered]


def _design(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    _put(m, "studyType", r.code(s, ACSE.studyType))
    _put(m, "phases", sorted(c for c in (r.codes.get(p) for p in r.all(s, ACSE.phase)) if c))
    info: dict[str, Any] = {}
    _put(info, "allocation", r.code(s, ACSE.allocation))
    _put(info, "interventionModel", r.code(s, ACSE.interventionModel))
    _put(info, "primaryPurpose", r.code(s, ACSE.primaryPurpose))
    info_part = _part(s, "designInfo")
    info.update(generic_object(r, info_part, "DesignInfo"))
    masking: dict[str, Any] = {}
    _put(masking, "masking", r.code(s, ACSE.masking))
    masking.update(generic_object(r, URIRef(f"{info_part}/maskingInfo"), "MaskingBlock"))
    _put(info, "maskingInfo", masking)
    _put(m, "designInfo", info)
    count = r.one(s, ACSE.enrollmentCount)
    if count is not None:
        enrol: dict[str, Any] = {"count": int(count)}
        _put(enrol, "type", r.code(s, ACSE.enrollmentType))
        m["enrollmentInfo"] = enrol
    return m


def type_display(code: str) -> str:
    """DRUG -> Drug, DIETARY_SUPPLEMENT -> Dietary Supplement (the prefix of interventionNames).

    The import uses it too, to match an arm's interventionNames to the interventions it names."""
    return " ".join(w.capitalize() for w in code.split("_"))


def _intervention_type(r: _Reader, node: Node) -> str | None:
    t = r.text(node, ACSE.interventionType)
    if t:
        return t
    return "DRUG" if (node, RDF.type, ACSE.DrugIntervention) in r.g else None


def _arms(r: _Reader, s: Node) -> dict[str, Any]:
    arms = []
    arm_nodes = r.ordered(s, ACSE.hasArm)
    for arm in arm_nodes:
        item: dict[str, Any] = {}
        _put(item, "label", r.label(arm))
        _put(item, "type", r.code(arm, ACSE.armType))
        _put(item, "description", r.text(arm, ACSE.description))
        extra = generic_object(r, arm, "ArmGroup")
        if "interventionNames" not in extra:
            names = []
            for iv in r.ordered(arm, ACSE.hasIntervention):
                t = _intervention_type(r, iv)
                names.append(f"{type_display(t)}: {r.label(iv)}" if t else str(r.label(iv)))
            _put(extra, "interventionNames", names)
        arms.append({**item, **extra})
    interventions = []
    for iv in r.ordered(s, ACSE.hasIntervention):
        item = {}
        _put(item, "type", _intervention_type(r, iv))
        _put(item, "name", r.label(iv))
        description = r.text(iv, ACSE.description)
        _put(item, "description", _dosing_lines(r, iv, description) if r.full_text else description)
        extra = generic_object(r, iv, "Intervention")
        extra.pop("type", None)
        if "armGroupLabels" not in extra:
            _put(extra, "armGroupLabels", [r.label(a) for a in arm_nodes if (a, ACSE.hasIntervention, iv) in r.g])
        _put(extra, "otherNames", sorted(str(o) for o in r.all(iv, ACSE.otherName)))
        interventions.append({**item, **extra})
    m: dict[str, Any] = {}
    _put(m, "armGroups", arms)
    _put(m, "interventions", interventions)
    return m


def _outcomes(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for key, p in (("primaryOutcomes", ACSE.primaryOutcome), ("secondaryOutcomes", ACSE.secondaryOutcome),
                   ("otherOutcomes", ACSE.otherOutcome)):
        items = []
        for o in r.ordered(s, p):
            item: dict[str, Any] = {}
            for k in ("measure", "description", "timeFrame"):
                _put(item, k, r.text(o, ACSE[k]))
            items.append(item)
        _put(m, key, items)
    return m


def eligibility_text(r: _Reader, s: Node) -> str | None:
    """The criteria as ClinicalTrials.gov shows them, rebuilt from the criterion individuals.

    Top-level bullets are criteria that are neither sub-criteria nor components;
    nested bullets are their sub-criteria, each list in acse:position order.
    """
    kept = r.text(s, ACSE.eligibilityCriteriaText)
    if kept is not None:
        return kept
    crits = r.all(s, ACSE.hasCriterion)
    if not crits:
        return None
    children: dict[Node, list[Node]] = {}
    for c in crits:
        parent = r.one(c, ACSE.subCriterionOf)
        if parent is not None:
            children.setdefault(parent, []).append(c)

    def pos(n: Node) -> tuple[float, str]:
        p = r.one(n, ACSE.position)
        return (float(p) if p is not None else 1e9, str(n))

    def bullets(nodes: Sequence[Node], depth: int) -> list[str]:
        lines = []
        for n in sorted(nodes, key=pos):
            lines.append("  " * depth + "* " + (r.text(n, ACSE.criterionText) or ""))
            lines.extend(bullets(children.get(n, []), depth + 1))
        return lines

    blocks = []
    for title, cls in (("Inclusion Criteria", ACSE.InclusionCriterion), ("Exclusion Criteria", ACSE.ExclusionCriterion)):
        top = [c for c in crits if (c, RDF.type, cls) in r.g
               and r.one(c, ACSE.subCriterionOf) is None and r.one(c, ACSE.componentOf) is None]
        if top:
            blocks.append(f"{title}:\n\n" + "\n".join(bullets(top, 0)))
    return "\n\n".join(blocks) if blocks else None


def _eligibility(r: _Reader, s: Node) -> dict[str, Any]:
    m: dict[str, Any] = {}
    _put(m, "eligibilityCriteria", eligibility_text(r, s))
    hv = r.one(s, ACSE.healthyVolunteers)
    if isinstance(hv, Literal):
        m["healthyVolunteers"] = bool(hv.toPython())
    _put(m, "sex", r.text(s, ACSE.sex))
    _put(m, "minimumAge", r.text(s, ACSE.minimumAgeText))
    _put(m, "maximumAge", r.text(s, ACSE.maximumAgeText))
    order = {"CHILD": 0, "ADULT": 1, "OLDER_ADULT": 2}
    _put(m, "stdAges", sorted((str(a) for a in r.all(s, ACSE.stdAge)), key=lambda a: order.get(a, 9)))
    return m


def _contacts(r: _Reader, s: Node) -> dict[str, Any]:
    officials = []
    for inv in r.ordered(s, ACSE.investigator):
        item: dict[str, Any] = {}
        _put(item, "name", r.label(r.one(inv, ACSE.person)))
        _put(item, "affiliation", r.text(inv, ACSE.registeredText) or r.label(r.one(inv, ACSE.affiliation)))
        _put(item, "role", r.code(inv, ACSE.role))
        officials.append({**item, **generic_object(r, inv, "Official")})
    locations = []
    for site in r.ordered(s, ACSE.site):
        item = {}
        _put(item, "facility", r.label(r.one(site, ACSE.facility)) or r.label(site))
        for k in ("city", "state", "zip", "country"):
            _put(item, k, r.text(site, ACSE[k]))
        locations.append({**item, **generic_object(r, site, "Location")})
    m: dict[str, Any] = {}
    _put(m, "overallOfficials", officials)
    _put(m, "locations", locations)
    return m


_CORE_MODULES = {
    "identificationModule": _identification,
    "statusModule": _status,
    "sponsorCollaboratorsModule": _sponsors,
    "oversightModule": _oversight,
    "descriptionModule": _description,
    "conditionsModule": _conditions,
    "designModule": _design,
    "armsInterventionsModule": _arms,
    "outcomesModule": _outcomes,
    "eligibilityModule": _eligibility,
    "contactsLocationsModule": _contacts,
}


def _derived(r: _Reader, s: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for branch, key in (("condition", "conditionBrowseModule"), ("intervention", "interventionBrowseModule")):
        module: dict[str, Any] = {}
        for kind, ancestor in (("meshes", False), ("ancestors", True)):
            _put(module, kind, [
                {"id": r.text(m, ACSE.meshId), "term": r.label(m)}
                for m in r.ordered(s, ACSE.meshTerm)
                if r.text(m, ACSE.meshBranch) == branch and _is_true(r.one(m, ACSE.meshAncestor)) == ancestor
            ])
        _put(out, key, module)
    return out


def _is_true(value: Node | None) -> bool:
    return isinstance(value, Literal) and value.toPython() is True


def export_from_graph(g: rdflib.Graph, codes: dict[Node, str], nct: str, *, full_text: bool = True,
                      read: set[tuple[Node, Node]] | None = None, study: Study | None = None) -> dict[str, Any]:
    """The API v2 Study JSON of the study ``nct`` in the triples ``g`` (``full_text``: see :func:`export_study`).

    ``read`` collects the (subject, predicate) pairs the JSON was built from,
    so that the history can tell which graph changes the JSON cannot show.
    ``study`` is the study model of the same triples (the cohort list and the
    dosing lines come from it); without it, and with ``full_text``, it is read
    from ``g`` (:func:`acse_kg.model.study_from_graph`: a past version, a record
    not stored yet).
    """
    if full_text and study is None and (URIRef(study_iri(nct)), None, None) in g:
        study = study_from_graph(g, nct)
    r = _Reader(g, codes, full_text, read, study)
    s = URIRef(study_iri(nct))
    protocol: dict[str, Any] = {}
    for module in protocol_modules():
        body: dict[str, Any] = {}
        core = _CORE_MODULES.get(module.key)
        if core is not None:
            body.update(core(r, s))
        body.update(generic_object(r, s, module.object_schema))
        _put(protocol, module.key, body)
    out: dict[str, Any] = {"protocolSection": protocol}
    derived = _derived(r, s)
    if derived:
        out["derivedSection"] = derived
    return out  # no hasResults: results are not part of the graph, so the registry does not claim either way


def export_study(store: GraphStore, nct: str, *, full_text: bool = False,
                 codes: dict[Node, str] | None = None, graph: rdflib.Graph | None = None) -> dict[str, Any]:
    """The study ``nct`` as ClinicalTrials.gov API v2 JSON; raises :class:`StudyNotFound`.

    Stable entry point used by the pages and the API. ``full_text`` also
    writes the registered text that the curated record structures as
    individuals of its own (the numbered cohort list at the end of the
    detailed description, the dosing lines in the intervention description),
    so the record is whole for ClinicalTrials.gov clients; the API and the
    CLI ask for it. The pages leave it out because they render cohorts and
    regimens from the graph themselves, with links. ``codes`` (the store's
    API code table, as :func:`_codes` reads it) lets a caller exporting many
    studies read that table once; ``graph`` (the study's live graph, just read
    by the caller) lets a page that reads the graph for other uses read it once.
    """
    g = graph if graph is not None else store.graph(study_graph_name(nct))
    if (URIRef(study_iri(nct)), None, None) not in g:
        raise StudyNotFound(f"no study {nct} in the store")
    return export_from_graph(g, codes if codes is not None else _codes(store), nct, full_text=full_text,
                             study=read_study(store, nct, graph=g) if full_text else None)
