"""A study as a FHIR R4B ``ResearchStudy``, built and validated with ``fhir.resources``.

Built from the same ClinicalTrials.gov API v2 JSON the registry exports
(:func:`.export.export_study`), so FHIR, JSON and CSV never disagree: the
NCT number and the other ids (``identifier``), the brief title, the
status, phase, start and completion dates (``period``), conditions (their
text, and the MeSH terms of the derived section as codings), keywords,
interventions (``focus``), the arms, the sites (contained ``Location``
resources with their address and geo position), the enrollment (a contained
``Group`` with the count, ``actual`` for an ACTUAL count), the lead sponsor
and the principal investigator (contained ``Organization`` /
``Practitioner``), the primary purpose and the outcome measures
(``objective``). Every element is a ``fhir.resources`` model, so the result
is validated as it is built; nothing is written as a JSON shape by hand.

:func:`search_bundle` wraps a page of a search (the ClinicalTrials.gov
parameters of ``/api/v2/studies``) as a ``searchset`` Bundle.

R4B rather than R5: R4 is what hospital systems and the CodeX trial-matching
guide exchange, and R4B is R4's ResearchStudy unchanged. Given the store, a
basket study's cohorts come as well: one contained eligibility ``Group`` per
cohort, with coded characteristics, read from the study model
(:mod:`.fhir_groups`), each listed in ``enrollment`` after the count.

Choices where the two vocabularies do not line up: ClinicalTrials.gov's
status maps onto R4B's ``research-study-status`` as written in
:data:`STATUS`; ``UNKNOWN`` (not verified for two years) takes its
``lastKnownStatus`` when the record has one, else ``active``; the
ClinicalTrials.gov status is always kept in a ``note`` so nothing is lost.
Several phases combine as R4B's codes do (``PHASE1`` + ``PHASE2`` is
``phase-1-phase-2``).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.address import Address
from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.location import Location, LocationPosition
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.researchstudy import ResearchStudy, ResearchStudyArm, ResearchStudyObjective

from ..store import GraphStore

CTGOV_SYSTEM = "https://clinicaltrials.gov"
STUDY_URL = "https://clinicaltrials.gov/study/"
PHASE_SYSTEM = "http://terminology.hl7.org/CodeSystem/research-study-phase"
PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/research-study-prim-purp-type"
OBJECTIVE_SYSTEM = "http://terminology.hl7.org/CodeSystem/research-study-objective-type"
MESH_SYSTEM = "http://terminology.hl7.org/CodeSystem/MSH"
#: Where the registry's ClinicalTrials.gov codes live as a code system of their own (for arm types and the like).
CTGOV_CODES = "https://clinicaltrials.gov/data-api/api#"

#: ClinicalTrials.gov overall status -> R4B research-study-status.
STATUS = {
    "NOT_YET_RECRUITING": "approved",
    "RECRUITING": "active",
    "ENROLLING_BY_INVITATION": "active",
    "ACTIVE_NOT_RECRUITING": "closed-to-accrual",
    "SUSPENDED": "temporarily-closed-to-accrual",
    "TERMINATED": "administratively-completed",
    "COMPLETED": "completed",
    "WITHDRAWN": "withdrawn",
    "AVAILABLE": "active",
    "NO_LONGER_AVAILABLE": "closed-to-accrual",
    "TEMPORARILY_NOT_AVAILABLE": "temporarily-closed-to-accrual",
    "APPROVED_FOR_MARKETING": "completed",
    "WITHHELD": "in-review",
}

_PHASES = {"EARLY_PHASE1": "early-phase-1", "PHASE1": "phase-1", "PHASE2": "phase-2", "PHASE3": "phase-3",
           "PHASE4": "phase-4", "NA": "n-a"}
_PHASE_PAIRS: dict[tuple[str, ...], str] = {("phase-1", "phase-2"): "phase-1-phase-2", ("phase-2", "phase-3"): "phase-2-phase-3"}
_PHASE_DISPLAY = {"n-a": "N/A", "early-phase-1": "Early Phase 1", "phase-1": "Phase 1", "phase-1-phase-2": "Phase 1/Phase 2",
                  "phase-2": "Phase 2", "phase-2-phase-3": "Phase 2/Phase 3", "phase-3": "Phase 3", "phase-4": "Phase 4"}

#: ClinicalTrials.gov primary purpose -> R4B research-study-prim-purp-type (OTHER and ECT have none).
PURPOSE = {"TREATMENT": "treatment", "PREVENTION": "prevention", "DIAGNOSTIC": "diagnostic",
           "SUPPORTIVE_CARE": "supportive-care", "SCREENING": "screening",
           "HEALTH_SERVICES_RESEARCH": "health-services-research", "BASIC_SCIENCE": "basic-science",
           "DEVICE_FEASIBILITY": "device-feasibility"}


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _text(value: str) -> CodeableConcept:
    return CodeableConcept(text=value)


def _status(status_module: dict[str, Any]) -> str:
    code = status_module.get("overallStatus")
    if code == "UNKNOWN":
        code = status_module.get("lastKnownStatus")
    return STATUS.get(code or "", "active")


def _phase(phases: list[str]) -> CodeableConcept | None:
    codes = sorted({_PHASES[p] for p in phases if p in _PHASES})
    if not codes:
        return None
    code = codes[0] if len(codes) == 1 else _PHASE_PAIRS.get(tuple(codes))
    if code is None:  # a combination R4B has no code for: keep the words
        return _text(" / ".join(_PHASE_DISPLAY[c] for c in codes))
    return CodeableConcept(coding=[Coding(system=PHASE_SYSTEM, code=code, display=_PHASE_DISPLAY[code])],
                           text=_PHASE_DISPLAY[code])


def _identifiers(ident: dict[str, Any]) -> list[Identifier]:
    out = [Identifier(use="official", system=CTGOV_SYSTEM, value=ident["nctId"])]
    org = _get(ident, "orgStudyIdInfo", "id")
    if org:
        out.append(Identifier(use="secondary", value=org, type=_text("Organization's study id")))
    for sec in ident.get("secondaryIdInfos") or []:
        if sec.get("id"):
            out.append(Identifier(use="secondary", value=sec["id"], type=_text(sec.get("type") or "OTHER")))
    return out


def _location(i: int, loc: dict[str, Any]) -> Location:
    address = {k: v for k, v in (("city", loc.get("city")), ("state", loc.get("state")),
                                 ("postalCode", loc.get("zip")), ("country", loc.get("country"))) if v}
    point = loc.get("geoPoint") or {}
    return Location(
        id=f"site-{i}",
        name=loc.get("facility"),
        address=Address(**address) if address else None,
        position=LocationPosition(latitude=point["lat"], longitude=point["lon"])
        if point.get("lat") is not None and point.get("lon") is not None else None,
    )


def research_study(study: dict[str, Any], cohorts: list[Any] | None = None) -> ResearchStudy:
    """The ResearchStudy of one API v2 study record (as :func:`.export.export_study` writes it).

    ``cohorts``: the cohorts' Groups and the value sets they refer to (:func:`.fhir_groups.cohort_groups`),
    contained and listed in ``enrollment``.
    """
    ps = study["protocolSection"]
    ident, status = ps["identificationModule"], ps.get("statusModule") or {}
    design, arms_module = ps.get("designModule") or {}, ps.get("armsInterventionsModule") or {}
    contained: list[Any] = []

    conditions = [_text(c) for c in _get(ps, "conditionsModule", "conditions") or []]
    conditions += [CodeableConcept(coding=[Coding(system=MESH_SYSTEM, code=m["id"], display=m["term"])], text=m["term"])
                   for m in _get(study, "derivedSection", "conditionBrowseModule", "meshes") or [] if m.get("id")]

    sites = []
    for i, loc in enumerate(_get(ps, "contactsLocationsModule", "locations") or [], 1):
        contained.append(_location(i, loc))
        sites.append(Reference(reference=f"#site-{i}", display=loc.get("facility")))

    enrollment = []
    enrol = design.get("enrollmentInfo") or {}
    if enrol.get("count") is not None:
        contained.append(Group(id="enrollment", type="person", actual=enrol.get("type") == "ACTUAL",
                               quantity=int(enrol["count"]), name="Enrollment"))
        enrollment.append(Reference(reference="#enrollment"))
    for resource in cohorts or []:
        contained.append(resource)
        if resource.get_resource_type() == "Group":
            enrollment.append(Reference(reference=f"#{resource.id}", display=resource.name))

    sponsor = None
    lead = _get(ps, "sponsorCollaboratorsModule", "leadSponsor", "name")
    if lead:
        contained.append(Organization(id="sponsor", name=lead))
        sponsor = Reference(reference="#sponsor", display=lead)

    investigator = None
    for official in _get(ps, "contactsLocationsModule", "overallOfficials") or []:
        if official.get("role") == "PRINCIPAL_INVESTIGATOR" and official.get("name"):
            contained.append(Practitioner(id="principal-investigator", name=[HumanName(text=official["name"])]))
            investigator = Reference(reference="#principal-investigator", display=official["name"])
            break

    arms = [ResearchStudyArm(name=a["label"], description=a.get("description"),
                             type=CodeableConcept(coding=[Coding(system=CTGOV_CODES + "ArmGroupType", code=a["type"])],
                                                  text=a["type"]) if a.get("type") else None)
            for a in arms_module.get("armGroups") or [] if a.get("label")]

    objectives = [ResearchStudyObjective(name=o["measure"], type=CodeableConcept(coding=[
        Coding(system=OBJECTIVE_SYSTEM, code=kind, display=kind.capitalize())]))
        for key, kind in (("primaryOutcomes", "primary"), ("secondaryOutcomes", "secondary"),
                          ("otherOutcomes", "exploratory"))
        for o in _get(ps, "outcomesModule", key) or [] if o.get("measure")]

    purpose = PURPOSE.get(_get(design, "designInfo", "primaryPurpose") or "")
    period = {k: v for k, v in (("start", _get(status, "startDateStruct", "date")),
                                ("end", _get(status, "completionDateStruct", "date"))) if v}
    notes = [Annotation(text=f"ClinicalTrials.gov overall status: {status['overallStatus']}")] \
        if status.get("overallStatus") else []
    return ResearchStudy(
        id=ident["nctId"],
        contained=contained or None,
        identifier=_identifiers(ident),
        title=ident.get("briefTitle"),
        status=_status(status),
        phase=_phase(design.get("phases") or []),
        primaryPurposeType=CodeableConcept(coding=[Coding(system=PURPOSE_SYSTEM, code=purpose)]) if purpose else None,
        period=Period(**period) if period else None,
        condition=conditions or None,
        keyword=[_text(k) for k in _get(ps, "conditionsModule", "keywords") or []] or None,
        focus=[_text(i["name"]) for i in arms_module.get("interventions") or [] if i.get("name")] or None,
        description=_get(ps, "descriptionModule", "briefSummary"),
        enrollment=enrollment or None,
        sponsor=sponsor,
        principalInvestigator=investigator,
        site=sites or None,
        arm=arms or None,
        objective=objectives or None,
        note=notes or None,
    )


def study_cohorts(store: GraphStore | None, study: dict[str, Any]) -> list[Any]:
    """The cohort Groups (and their value sets) of the study in the store; none without a store or cohorts."""
    if store is None:
        return []
    from ..model import StudyNotFound, read_study
    from .fhir_groups import cohort_groups

    try:
        model = read_study(store, study["protocolSection"]["identificationModule"]["nctId"])
    except StudyNotFound:
        return []
    return cohort_groups(store, model) if model.cohorts else []


def research_study_json(study: dict[str, Any], store: GraphStore | None = None) -> str:
    """The ResearchStudy as FHIR JSON text (with its cohorts' Groups when the store is given)."""
    return research_study(study, study_cohorts(store, study)).model_dump_json(exclude_none=True)


def operation_outcome(code: str, message: str) -> str:
    """A FHIR error body: one ``error`` issue (``not-found``, ``invalid`` ...) with the message."""
    return OperationOutcome(issue=[OperationOutcomeIssue(severity="error", code=code, diagnostics=message)]) \
        .model_dump_json(exclude_none=True)


def search_bundle(studies: list[dict[str, Any]], *, base: str, self_url: str, next_url: str | None,
                  total: int | None) -> str:
    """A ``searchset`` Bundle of the studies' ResearchStudy resources (one page), as FHIR JSON text.

    ``total`` is given when the caller counted every match (``countTotal=true``
    on the first page); ``next_url`` links the next page. The cohorts' Groups are
    left out (about 0.1 s and 250 kB a basket study): the read of one ResearchStudy has them.
    """
    from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink

    links = [BundleLink(relation="self", url=self_url)]
    if next_url is not None:
        links.append(BundleLink(relation="next", url=next_url))
    entries = [BundleEntry(fullUrl=f"{base}ResearchStudy/{s['protocolSection']['identificationModule']['nctId']}",
                           resource=research_study(s), search=BundleEntrySearch(mode="match")) for s in studies]
    return Bundle(type="searchset", total=total, link=links, entry=entries or None).model_dump_json(exclude_none=True)
