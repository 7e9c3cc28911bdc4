"""ClinicalTrials.gov API v2 study JSON -> RDF with the registry's ontology.

All or nothing: the record is validated against the spec first (a broken one is
refused with the JSON path of each problem), mapped to a complete graph in
memory, and only then swapped into the study's named graph, with the
version it replaces archived, in one transaction (:func:`acse_kg.versions.save_study`).

Fields the core ontology models use its terms (the same shape as the curated
record of NCT02034981: StudyDate nodes, organisations, arms, outcomes ...);
every other ``protocolSection`` field goes through the generic mapper to its
extension property (``ontology/ctgov.ttl``). Eligibility text cannot be
structured automatically: it is kept verbatim in acse:eligibilityCriteriaText
with ``acse:eligibilityStructured false`` saying so.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import rdflib
import rdflib.collection
from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.term import Node

from ..errors import AcseError
from ..loader import study_graph_name
from ..namespaces import ACSE, DCTERMS, NCT_HINT, SKOS, is_nct, study_iri
from ..store import GraphStore
from .export import type_display
from .schema import Problem, unknown_fields, validate_study
from .spec import ENUM_CLASSES, generic_fields, protocol_modules

MESH_IRI = "http://id.nlm.nih.gov/mesh/"


class ImportRefused(AcseError, ValueError):
    """The record breaks the spec (or cannot be mapped); nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("record refused:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass
class ImportResult:
    nct_id: str
    graph: str
    triples: int
    warnings: list[Problem] = field(default_factory=list)
    previous_version: str | None = None
    unchanged: bool = False  # the record is what the registry holds already: no new version was made


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def date_literal(text: str) -> Literal:
    """A ClinicalTrials.gov partial date as the matching XSD type (yyyy, yyyy-MM, yyyy-MM-dd)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return Literal(text, datatype=XSD.date)
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return Literal(text, datatype=XSD.gYearMonth)
    if re.fullmatch(r"\d{4}", text):
        return Literal(text, datatype=XSD.gYear)
    return Literal(text)


def decimal_literal(value: float | int) -> Literal:
    """An xsd:decimal in its canonical form ("18", "0.5"), as the store keeps it, so that a stored
    version and a freshly mapped one compare equal."""
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return Literal(text if text not in ("-0",) else "0", datatype=XSD.decimal)


_AGE_UNITS = {"year": 1.0, "month": 1 / 12, "week": 7 / 365.25, "day": 1 / 365.25, "hour": 1 / 8766, "minute": 1 / 525960}


def age_years(text: str) -> float | None:
    """'18 Years' -> 18.0, '6 Months' -> 0.5; None when the text is not an age."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+?)s?\s*", text)
    if not m or m.group(2).lower() not in _AGE_UNITS:
        return None
    return round(float(m.group(1)) * _AGE_UNITS[m.group(2).lower()], 4)


class _Builder:
    """Builds one study's graph; enum codes resolve to individuals found in the store."""

    def __init__(self, nct: str, enum_index: dict[tuple[str, str], URIRef]) -> None:
        self.g = rdflib.Graph(store="SimpleMemory")  # no context index: a third faster to fill (bulk import)
        self.s = URIRef(study_iri(nct))
        self.nct = nct
        self.enums = enum_index
        self.problems: list[Problem] = []

    def add(self, s: Node, p: URIRef, o: Node | None) -> None:
        if o is not None:
            self.g.add((s, p, o))

    def node(self, *parts: Any) -> URIRef:
        return URIRef(f"{self.s}/" + "/".join(str(p) for p in parts))

    def enum(self, enum_name: str, code: str | None, where: str) -> URIRef | None:
        if code is None:
            return None
        iri = self.enums.get((ENUM_CLASSES[enum_name], code))
        if iri is None:
            self.problems.append(Problem(where, f"no individual for {enum_name} code {code!r} in the ontology"))
        return iri

    # ------------------------------------------------------------ generic part
    def scalar(self, value: Any, json_type: str) -> Literal:
        if json_type == "boolean":
            return Literal(bool(value))
        if json_type == "integer":
            return Literal(int(value), datatype=XSD.integer)
        if json_type == "number":
            return decimal_literal(value)
        return Literal(str(value))

    def generic(self, node: URIRef, obj: dict[str, Any], schema: str) -> None:
        """Store the generic fields of ``obj`` on ``node`` (children under node's IRI)."""
        for f in generic_fields(schema):
            if f.key not in obj or obj[f.key] is None:
                continue
            value, p = obj[f.key], ACSE[f.prop]
            if f.kind == "scalar":
                self.add(node, p, self.scalar(value, f.json_type))
            elif f.kind == "scalars":
                for v in value:
                    self.add(node, p, self.scalar(v, f.json_type))
            elif f.kind == "object":
                child = URIRef(f"{node}/ctgov/{f.key}")
                self.part(node, p, child)
                self.generic(child, value, f.object_schema)
            else:
                for i, item in enumerate(value, 1):
                    child = URIRef(f"{node}/ctgov/{f.key}/{i}")
                    self.part(node, p, child)
                    self.add(child, ACSE.position, Literal(i))
                    self.generic(child, item, f.object_schema)

    def sequence(self, items: Sequence[Node]) -> rdflib.BNode:
        """An RDF list of ``items`` in this graph (its head)."""
        head = rdflib.BNode()
        rdflib.collection.Collection(self.g, head, list(items))
        return head

    def part(self, parent: URIRef, p: URIRef, child: URIRef) -> None:
        self.add(parent, p, child)
        self.add(child, RDF.type, ACSE.CtgovRecordPart)

    # --------------------------------------------------------------- modules
    def identification(self, m: dict[str, Any]) -> None:
        s = self.s
        self.add(s, ACSE.nctId, Literal(self.nct))
        nct_node = self.node("identifier", "nct")
        self.add(s, ACSE.identifier, nct_node)
        self.add(nct_node, RDF.type, ACSE.StudyIdentifier)
        self.add(nct_node, ACSE.scheme, ACSE.NCT)
        self.add(nct_node, ACSE.identifierValue, Literal(self.nct))
        org = m.get("orgStudyIdInfo")
        if org:
            n = self.node("identifier", "sponsor")
            self.add(s, ACSE.identifier, n)
            self.add(n, RDF.type, ACSE.StudyIdentifier)
            self.add(n, ACSE.scheme, ACSE.SponsorStudyId)
            self.add(n, ACSE.identifierValue, Literal(org["id"]) if "id" in org else None)
            self.generic(n, org, "OrgStudyIdInfo")
        for i, sec in enumerate(m.get("secondaryIdInfos") or [], 1):
            n = self.node("identifier", f"secondary-{i}")
            self.add(s, ACSE.identifier, n)
            self.add(n, RDF.type, ACSE.StudyIdentifier)
            self.add(n, ACSE.position, Literal(i))
            self.add(n, ACSE.identifierValue, Literal(sec["id"]) if "id" in sec else None)
            where = f"$.protocolSection.identificationModule.secondaryIdInfos[{i - 1}].type"
            self.add(n, ACSE.scheme, self.enum("SecondaryIdType", sec.get("type"), where))
            self.generic(n, sec, "SecondaryIdInfo")
        for key in ("briefTitle", "officialTitle", "acronym"):
            if m.get(key) is not None:
                self.add(s, ACSE[key], Literal(m[key]))
        if m.get("briefTitle"):
            self.add(s, RDFS.label, Literal(f"{self.nct}: {m['briefTitle']}"))

    def date(self, prop: URIRef, key: str, struct: dict[str, Any] | str | None) -> None:
        if not struct:
            return
        n = self.node("date", key)
        self.add(self.s, prop, n)
        self.add(n, RDF.type, ACSE.StudyDate)
        if isinstance(struct, str):
            self.add(n, ACSE.dateValue, date_literal(struct))
            return
        if struct.get("date"):
            self.add(n, ACSE.dateValue, date_literal(struct["date"]))
        self.add(n, ACSE.dateType, self.enum("DateType", struct.get("type"), f"$.protocolSection.statusModule.{key}.type"))

    def status(self, m: dict[str, Any]) -> None:
        if m.get("statusVerifiedDate"):
            self.add(self.s, ACSE.lastVerified, date_literal(m["statusVerifiedDate"]))
        self.add(self.s, ACSE.overallStatus,
                 self.enum("Status", m.get("overallStatus"), "$.protocolSection.statusModule.overallStatus"))
        self.date(ACSE.startDate, "startDateStruct", m.get("startDateStruct"))
        self.date(ACSE.primaryCompletionDate, "primaryCompletionDateStruct", m.get("primaryCompletionDateStruct"))
        self.date(ACSE.completionDate, "completionDateStruct", m.get("completionDateStruct"))
        self.date(ACSE.firstSubmitted, "studyFirstSubmitDate", m.get("studyFirstSubmitDate"))
        self.date(ACSE.firstPosted, "studyFirstPostDateStruct", m.get("studyFirstPostDateStruct"))
        self.date(ACSE.lastUpdateSubmitted, "lastUpdateSubmitDate", m.get("lastUpdateSubmitDate"))
        self.date(ACSE.lastUpdatePosted, "lastUpdatePostDateStruct", m.get("lastUpdatePostDateStruct"))

    def org(self, name: str, agency_class: str | None = None) -> URIRef:
        n = self.node("org", slug(name))
        self.add(n, RDF.type, ACSE.Organization)
        self.add(n, RDFS.label, Literal(name))
        if agency_class:
            self.add(n, ACSE.agencyClass, Literal(agency_class))
        return n

    def sponsors(self, m: dict[str, Any]) -> None:
        lead = m.get("leadSponsor")
        lead_node = None
        if lead and lead.get("name"):
            lead_node = self.org(lead["name"], lead.get("class"))
            self.add(self.s, ACSE.leadSponsor, lead_node)
        collaborators = []
        for c in m.get("collaborators") or []:
            if c.get("name"):
                org = self.org(c["name"], c.get("class"))
                self.add(self.s, ACSE.collaborator, org)
                collaborators.append(org)
        if collaborators:  # the registered order, which the acse:collaborator triples cannot keep
            self.add(self.s, ACSE.collaboratorSequence, self.sequence(collaborators))
        rp = m.get("responsibleParty")
        if rp:
            rtype = rp.get("type")
            self.add(self.s, ACSE.responsiblePartyType,
                     self.enum("ResponsiblePartyType", rtype, "$.protocolSection.sponsorCollaboratorsModule.responsibleParty.type"))
            if rtype == "SPONSOR" and lead_node is not None:
                self.add(self.s, ACSE.responsibleParty, lead_node)
            rest = {k: v for k, v in rp.items() if k != "type"}
            if rest:
                part = self.node("ctgov", "responsibleParty")
                self.part(self.s, ACSE.ctgovPart, part)
                self.generic(part, rest, "ResponsibleParty")

    def oversight(self, m: dict[str, Any]) -> None:
        for key in ("isFdaRegulatedDrug", "isFdaRegulatedDevice"):
            if m.get(key) is not None:
                self.add(self.s, ACSE[key], Literal(bool(m[key])))

    def description(self, m: dict[str, Any]) -> None:
        for key in ("briefSummary", "detailedDescription"):
            if m.get(key) is not None:
                self.add(self.s, ACSE[key], Literal(m[key]))

    def conditions(self, m: dict[str, Any]) -> None:
        for i, c in enumerate(m.get("conditions") or [], 1):
            n = self.node("condition", i)
            self.add(self.s, ACSE.condition, n)
            self.add(n, RDF.type, ACSE.Condition)
            self.add(n, RDFS.label, Literal(c))
            self.add(n, ACSE.position, Literal(i))
        keywords = m.get("keywords") or []
        for k in keywords:
            self.add(self.s, ACSE.keyword, Literal(k))
        if keywords:  # the order too, which the acse:keyword triples cannot keep
            self.add(self.s, ACSE.keywordSequence, self.sequence([Literal(k) for k in keywords]))

    def design(self, m: dict[str, Any]) -> None:
        base = "$.protocolSection.designModule"
        self.add(self.s, ACSE.studyType, self.enum("StudyType", m.get("studyType"), f"{base}.studyType"))
        for i, ph in enumerate(m.get("phases") or []):
            self.add(self.s, ACSE.phase, self.enum("Phase", ph, f"{base}.phases[{i}]"))
        enrol = m.get("enrollmentInfo") or {}
        if enrol.get("count") is not None:
            self.add(self.s, ACSE.enrollmentCount, Literal(int(enrol["count"]), datatype=XSD.integer))
        self.add(self.s, ACSE.enrollmentType, self.enum("DateType", enrol.get("type"), f"{base}.enrollmentInfo.type"))
        info = m.get("designInfo")
        if info:
            self.add(self.s, ACSE.allocation, self.enum("DesignAllocation", info.get("allocation"), f"{base}.designInfo.allocation"))
            self.add(self.s, ACSE.interventionModel,
                     self.enum("InterventionalAssignment", info.get("interventionModel"), f"{base}.designInfo.interventionModel"))
            self.add(self.s, ACSE.primaryPurpose,
                     self.enum("PrimaryPurpose", info.get("primaryPurpose"), f"{base}.designInfo.primaryPurpose"))
            masking = info.get("maskingInfo") or {}
            self.add(self.s, ACSE.masking, self.enum("DesignMasking", masking.get("masking"), f"{base}.designInfo.maskingInfo.masking"))
            part = self.node("ctgov", "designInfo")
            rest = {k: v for k, v in info.items() if k not in ("allocation", "interventionModel", "primaryPurpose", "maskingInfo")}
            mrest = {k: v for k, v in masking.items() if k != "masking"}
            if rest or mrest:
                self.part(self.s, ACSE.ctgovPart, part)
                self.generic(part, rest, "DesignInfo")
            if mrest:
                mpart = URIRef(f"{part}/maskingInfo")
                self.part(part, ACSE.ctgovPart, mpart)
                self.generic(mpart, mrest, "MaskingBlock")

    def arms(self, m: dict[str, Any]) -> None:
        ivs: dict[str, URIRef] = {}
        for i, iv in enumerate(m.get("interventions") or [], 1):
            n = self.node("intervention", i)
            self.add(self.s, ACSE.hasIntervention, n)
            self.add(n, RDF.type, ACSE.DrugIntervention if iv.get("type") == "DRUG" else ACSE.Intervention)
            self.add(n, ACSE.position, Literal(i))
            if iv.get("name") is not None:
                self.add(n, RDFS.label, Literal(iv["name"]))
            if iv.get("description") is not None:
                self.add(n, ACSE.description, Literal(iv["description"]))
            for o in iv.get("otherNames") or []:
                self.add(n, ACSE.otherName, Literal(o))
            self.generic(n, iv, "Intervention")
            if iv.get("type") and iv.get("name"):
                ivs[f"{type_display(iv['type'])}: {iv['name']}"] = n
        for i, arm in enumerate(m.get("armGroups") or [], 1):
            n = self.node("arm", i)
            self.add(self.s, ACSE.hasArm, n)
            self.add(n, RDF.type, ACSE.Arm)
            self.add(n, ACSE.position, Literal(i))
            if arm.get("label") is not None:
                self.add(n, RDFS.label, Literal(arm["label"]))
            self.add(n, ACSE.armType, self.enum("ArmGroupType", arm.get("type"),
                                                 f"$.protocolSection.armsInterventionsModule.armGroups[{i - 1}].type"))
            if arm.get("description") is not None:
                self.add(n, ACSE.description, Literal(arm["description"]))
            for name in arm.get("interventionNames") or []:
                if name in ivs:  # the link the core model reads; the names stay as registered too
                    self.add(n, ACSE.hasIntervention, ivs[name])
            self.generic(n, arm, "ArmGroup")

    def outcomes(self, m: dict[str, Any]) -> None:
        for key, prop, cls, slug_ in (("primaryOutcomes", ACSE.primaryOutcome, ACSE.PrimaryOutcome, "primary"),
                                      ("secondaryOutcomes", ACSE.secondaryOutcome, ACSE.SecondaryOutcome, "secondary"),
                                      ("otherOutcomes", ACSE.otherOutcome, ACSE.OutcomeMeasure, "other")):
            for i, o in enumerate(m.get(key) or [], 1):
                n = self.node("outcome", f"{slug_}-{i}")
                self.add(self.s, prop, n)
                self.add(n, RDF.type, cls)
                self.add(n, ACSE.position, Literal(i))
                for k in ("measure", "description", "timeFrame"):
                    if o.get(k) is not None:
                        self.add(n, ACSE[k], Literal(o[k]))

    def eligibility(self, m: dict[str, Any]) -> None:
        s = self.s
        if m.get("eligibilityCriteria") is not None:
            self.add(s, ACSE.eligibilityCriteriaText, Literal(m["eligibilityCriteria"]))
            self.add(s, ACSE.eligibilityStructured, Literal(False))
        if m.get("healthyVolunteers") is not None:
            self.add(s, ACSE.healthyVolunteers, Literal(bool(m["healthyVolunteers"])))
        if m.get("sex"):
            self.add(s, ACSE.sex, Literal(m["sex"]))
        if m.get("minimumAge"):
            self.add(s, ACSE.minimumAgeText, Literal(m["minimumAge"]))
            years = age_years(m["minimumAge"])
            if years is not None:
                self.add(s, ACSE.minimumAge, decimal_literal(years))
        if m.get("maximumAge"):
            self.add(s, ACSE.maximumAgeText, Literal(m["maximumAge"]))
        for a in m.get("stdAges") or []:
            self.add(s, ACSE.stdAge, Literal(a))

    def contacts(self, m: dict[str, Any]) -> None:
        for i, off in enumerate(m.get("overallOfficials") or [], 1):
            n = self.node("investigator", i)
            self.add(self.s, ACSE.investigator, n)
            self.add(n, RDF.type, ACSE.Investigator)
            self.add(n, ACSE.position, Literal(i))
            if off.get("name"):
                person = self.node("person", slug(off["name"]))
                self.add(person, RDF.type, ACSE.Person)
                self.add(person, RDFS.label, Literal(off["name"]))
                self.add(n, ACSE.person, person)
            if off.get("affiliation"):
                self.add(n, ACSE.registeredText, Literal(off["affiliation"]))
            self.add(n, ACSE.role, self.enum("OfficialRole", off.get("role"),
                                             f"$.protocolSection.contactsLocationsModule.overallOfficials[{i - 1}].role"))
            self.generic(n, off, "Official")
        for i, loc in enumerate(m.get("locations") or [], 1):
            n = self.node("site", i)
            self.add(self.s, ACSE.site, n)
            self.add(n, RDF.type, ACSE.Site)
            self.add(n, ACSE.position, Literal(i))
            if loc.get("facility"):
                self.add(n, ACSE.facility, self.org(loc["facility"]))
            for k in ("city", "state", "zip", "country"):
                if loc.get(k) is not None:
                    self.add(n, ACSE[k], Literal(loc[k]))
            self.generic(n, loc, "Location")

    def derived(self, d: dict[str, Any]) -> None:
        """MeSH terms of the condition and intervention browse modules: the study's terms, then their ancestors."""
        for branch, key in (("condition", "conditionBrowseModule"), ("intervention", "interventionBrowseModule")):
            module = d.get(key) or {}
            for kind in ("meshes", "ancestors"):
                self.mesh_terms(module.get(kind) or [], branch, ancestors=kind == "ancestors")

    def mesh_terms(self, terms: list[dict[str, Any]], branch: str, *, ancestors: bool) -> None:
        for i, mesh in enumerate(terms, 1):
            if not mesh.get("id"):
                continue
            n = self.node("mesh-ancestor" if ancestors else "mesh", mesh["id"])
            self.add(self.s, ACSE.meshTerm, n)
            self.add(n, RDF.type, ACSE.MeshTerm)
            self.add(n, ACSE.meshId, Literal(mesh["id"]))
            self.add(n, ACSE.meshBranch, Literal(branch))
            self.add(n, ACSE.position, Literal(i))
            if ancestors:
                self.add(n, ACSE.meshAncestor, Literal(True))
            if mesh.get("term"):
                self.add(n, RDFS.label, Literal(mesh["term"]))
            self.add(n, SKOS.exactMatch, URIRef(MESH_IRI + mesh["id"]))


_MODULES = {
    "identificationModule": _Builder.identification,
    "statusModule": _Builder.status,
    "sponsorCollaboratorsModule": _Builder.sponsors,
    "oversightModule": _Builder.oversight,
    "descriptionModule": _Builder.description,
    "conditionsModule": _Builder.conditions,
    "designModule": _Builder.design,
    "armsInterventionsModule": _Builder.arms,
    "outcomesModule": _Builder.outcomes,
    "eligibilityModule": _Builder.eligibility,
    "contactsLocationsModule": _Builder.contacts,
}


def enum_index(store: GraphStore) -> dict[tuple[str, str], URIRef]:
    """(core class local name, API code) -> individual, from the ontology in the store."""
    rows = store.select(
        "SELECT ?i ?cls ?code WHERE { ?i a ?cls ; acse:code ?code . "
        "FILTER(STRSTARTS(STR(?cls), STR(acse:))) FILTER(?i != acse:SponsorStudyId) }"
    )
    out: dict[tuple[str, str], URIRef] = {}
    for r in sorted(rows, key=lambda r: str(r["i"])):
        out.setdefault((str(r["cls"]).rsplit("#", 1)[-1], str(r["code"])), URIRef(str(r["i"])))
    return out


def study_to_graph(study: dict[str, Any], index: dict[tuple[str, str], URIRef]) -> tuple[rdflib.Graph, list[Problem]]:
    """Map a (valid) study record to its graph; problems are codes the ontology cannot place."""
    ps = study["protocolSection"]
    nct = ps["identificationModule"]["nctId"]
    b = _Builder(nct, index)
    b.add(b.s, RDF.type, ACSE.Study)
    b.add(b.s, DCTERMS.source, URIRef(f"https://clinicaltrials.gov/study/{nct}"))
    for module in protocol_modules():
        body = ps.get(module.key)
        if not body:
            continue
        core = _MODULES.get(module.key)
        if core is not None:
            core(b, body)
        b.generic(b.s, body, module.object_schema)
    b.derived(study.get("derivedSection") or {})
    return b.g, b.problems


#: Parts of a study record outside protocolSection that the graph keeps: derivedSection's MeSH terms.
KEPT_DERIVED = {"conditionBrowseModule": {"meshes", "ancestors"}, "interventionBrowseModule": {"meshes", "ancestors"}}


def not_kept(study: dict[str, Any]) -> list[Problem]:
    """The parts of a record outside protocolSection that the import does not store, each by its path.

    The registry holds the protocol (and the MeSH terms ClinicalTrials.gov derived from it), not
    results, documents or annotations; saying so per part means nothing is dropped silently.
    """
    out = []
    for key in study:
        if key not in ("protocolSection", "derivedSection"):
            out.append(Problem(f"$.{key}", "not stored: the registry keeps the protocol, not this part of the record"))
    derived = study.get("derivedSection") or {}
    for module, body in derived.items():
        if module not in KEPT_DERIVED:
            out.append(Problem(f"$.derivedSection.{module}", "not stored: only the MeSH terms of derivedSection are kept"))
            continue
        for key in body or {}:
            if key not in KEPT_DERIVED[module]:
                out.append(Problem(f"$.derivedSection.{module}.{key}",
                                   "not stored: only the MeSH terms of derivedSection are kept"))
    return out


def record_digest(record: Any) -> str:
    """The digest of a record's content (key order and whitespace do not matter), logged with the
    version an import makes, so that importing the same record again is known to change nothing
    without mapping it (what makes ``import --bulk`` resumable)."""
    canon = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()


def check_record(study: Any) -> list[Problem]:
    """Problems that make a record unimportable (spec violations, missing NCT id)."""
    problems = validate_study(study)
    if problems:
        return problems
    nct = (study.get("protocolSection") or {}).get("identificationModule", {}).get("nctId")
    if not nct or not is_nct(nct):
        return [Problem("$.protocolSection.identificationModule.nctId", f"an NCT number ({NCT_HINT}) is required")]
    return []


#: A cohort or criterion of the live graph that a curator made: not one the drafting generated (those carry
#: acse:reviewState, and the drafted cohort is prov:wasGeneratedBy the drafting activity).
CURATED_QUERY = """ASK { GRAPH ?g { ?s acse:hasCohort|acse:hasCriterion ?x
    FILTER NOT EXISTS { { ?x acse:reviewState ?state } UNION { ?x prov:wasGeneratedBy/a acse:DraftingActivity } } } }"""


def import_study(store: GraphStore, study: Any, *, agent: str = "acse-kg import", note: str | None = None,
                 replace_curated: bool = False, draft: bool = True) -> ImportResult:
    """Validate, map and store one study record; raise :class:`ImportRefused` and store nothing on error.

    The current version of the study (if any) is kept in the history before
    the new one replaces it. A study whose live version is curated beyond what
    API v2 carries (cohorts, structured criteria) is not overwritten unless
    ``replace_curated``: the import would silently drop that structure from the
    live graph. Drafts are not curation: a study whose criteria were drafted
    (``acse:reviewState``) is imported again, and, with ``draft`` (the default),
    the new version carries the drafts of the new record with every curator's
    decision on the old drafts kept (:func:`acse_kg.drafting.review.with_drafts`),
    in the same version.
    """
    from ..versions import save_study

    problems = check_record(study)
    if problems:
        raise ImportRefused(problems)
    g, problems = study_to_graph(study, enum_index(store))
    if problems:
        raise ImportRefused(problems)
    nct = study["protocolSection"]["identificationModule"]["nctId"]
    graph = study_graph_name(nct)
    if not replace_curated and store.ask(CURATED_QUERY, {"g": URIRef(graph)}):
        raise ImportRefused([Problem(
            "$.protocolSection.identificationModule.nctId",
            f"{nct} is curated in this registry (cohorts / structured criteria) that API v2 JSON cannot carry; "
            "importing would replace them (use replace_curated / --replace-curated to do so anyway)",
        )])
    notes = unknown_fields(study) + not_kept(study)
    if draft:
        g = _drafted(store, nct, g, study, notes)
    saved = save_study(store, nct, g.serialize(format="nt", encoding="utf-8"), "ntriples",
                       agent=agent, note=note or "import", digest=record_digest(study))  # a re-import of the same record makes no version
    if saved.unchanged:
        return ImportResult(nct, graph, len(g), notes, None, unchanged=True)
    return ImportResult(nct, graph, len(g), notes, saved.archived)


def _drafted(store: GraphStore, nct: str, g: rdflib.Graph, study: dict[str, Any], notes: list[Problem]) -> rdflib.Graph:
    """The mapped graph with the record's drafted criteria; unchanged (and a note) when the drafter cannot read it."""
    from ..drafting.record import DraftingError
    from ..drafting.review import with_drafts
    from ..versions import has_live

    previous = store.graph(study_graph_name(nct)) if has_live(store, nct) else None
    try:
        return with_drafts(store, nct, g, study, previous)
    except DraftingError as exc:
        notes.append(Problem("$.protocolSection.eligibilityModule", f"not drafted: {exc}"))
        return g
