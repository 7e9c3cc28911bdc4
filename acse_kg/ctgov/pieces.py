"""ClinicalTrials.gov piece names (``Phase``, ``StartDate``, ``LocationCity`` ...) and where the graph keeps them.

``filter.advanced`` (``AREA[Phase]PHASE2``), ``sort`` (``StartDate:desc``) and
``aggFilters`` name the record's fields by their *piece* names, which the
field metadata (``studies-metadata.json``, the captured ``/studies/metadata``
answer) defines with each field's JSON path and source type. This module
reads that metadata and gives each piece the SPARQL property path, from the
study node, that reaches its values in the graph:

* fields the core ontology models are listed by JSON path in :data:`CORE`,
  mirroring what :mod:`.import_` writes (an enumerated value is an individual
  whose ``acse:code`` is the API code, hence the ``/acse:code`` steps);
* every other field is stored by the generic mapper under an extension
  property named by :func:`.spec.property_name`, on its module's study node or
  on the node of its parent object (:data:`CONTAINERS` for objects the core
  models, the ``acse:<prop>`` chain for generic objects), so its path is
  derived from the spec rather than listed.

A piece whose field the registry does not hold (results, annotations,
documents) has no path: a search on it matches nothing, which is the truth
about this registry, and a sort on it is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import AcseError
from .spec import CORE_KEYS, property_name

METADATA_PATH = Path(__file__).with_name("studies-metadata.json")

_DATE = "acse:dateValue"

#: JSON path (array steps left out) -> SPARQL property path from the study, for fields the core ontology models;
#: where a path cannot say it, a graph pattern over ``{s}`` (the study), ``{v}`` (a value) and ``{t}N`` (helpers).
CORE: dict[str, str] = {
    "protocolSection.identificationModule.nctId": "acse:nctId",
    "protocolSection.identificationModule.orgStudyIdInfo.id":
        "{s} acse:identifier {t}1 . {t}1 acse:scheme acse:SponsorStudyId ; acse:identifierValue {v}",
    "protocolSection.identificationModule.secondaryIdInfos.id":
        "{s} acse:identifier {t}1 . {t}1 acse:scheme {t}2 ; acse:identifierValue {v} "
        "FILTER({t}2 NOT IN (acse:NCT, acse:SponsorStudyId))",
    "protocolSection.identificationModule.secondaryIdInfos.type":
        "{s} acse:identifier {t}1 . {t}1 acse:scheme {t}2 . {t}2 acse:code {v} "
        "FILTER({t}2 NOT IN (acse:NCT, acse:SponsorStudyId))",
    "protocolSection.identificationModule.briefTitle": "acse:briefTitle",
    "protocolSection.identificationModule.officialTitle": "acse:officialTitle",
    "protocolSection.identificationModule.acronym": "acse:acronym",
    "protocolSection.statusModule.statusVerifiedDate": "acse:lastVerified",
    "protocolSection.statusModule.overallStatus": "acse:overallStatus/acse:code",
    "protocolSection.statusModule.startDateStruct.date": f"acse:startDate/{_DATE}",
    "protocolSection.statusModule.startDateStruct.type": "acse:startDate/acse:dateType/acse:code",
    "protocolSection.statusModule.primaryCompletionDateStruct.date": f"acse:primaryCompletionDate/{_DATE}",
    "protocolSection.statusModule.primaryCompletionDateStruct.type": "acse:primaryCompletionDate/acse:dateType/acse:code",
    "protocolSection.statusModule.completionDateStruct.date": f"acse:completionDate/{_DATE}",
    "protocolSection.statusModule.completionDateStruct.type": "acse:completionDate/acse:dateType/acse:code",
    "protocolSection.statusModule.studyFirstSubmitDate": f"acse:firstSubmitted/{_DATE}",
    "protocolSection.statusModule.studyFirstPostDateStruct.date": f"acse:firstPosted/{_DATE}",
    "protocolSection.statusModule.studyFirstPostDateStruct.type": "acse:firstPosted/acse:dateType/acse:code",
    "protocolSection.statusModule.lastUpdateSubmitDate": f"acse:lastUpdateSubmitted/{_DATE}",
    "protocolSection.statusModule.lastUpdatePostDateStruct.date": f"acse:lastUpdatePosted/{_DATE}",
    "protocolSection.statusModule.lastUpdatePostDateStruct.type": "acse:lastUpdatePosted/acse:dateType/acse:code",
    "protocolSection.sponsorCollaboratorsModule.leadSponsor.name": "acse:leadSponsor/rdfs:label",
    "protocolSection.sponsorCollaboratorsModule.leadSponsor.class": "acse:leadSponsor/acse:agencyClass",
    "protocolSection.sponsorCollaboratorsModule.collaborators.name": "acse:collaborator/rdfs:label",
    "protocolSection.sponsorCollaboratorsModule.collaborators.class": "acse:collaborator/acse:agencyClass",
    "protocolSection.sponsorCollaboratorsModule.responsibleParty.type": "acse:responsiblePartyType/acse:code",
    "protocolSection.oversightModule.isFdaRegulatedDrug": "acse:isFdaRegulatedDrug",
    "protocolSection.oversightModule.isFdaRegulatedDevice": "acse:isFdaRegulatedDevice",
    "protocolSection.descriptionModule.briefSummary": "acse:briefSummary",
    "protocolSection.descriptionModule.detailedDescription": "acse:detailedDescription",
    "protocolSection.conditionsModule.conditions": "acse:condition/rdfs:label",
    "protocolSection.conditionsModule.keywords": "acse:keyword",
    "protocolSection.designModule.studyType": "acse:studyType/acse:code",
    "protocolSection.designModule.phases": "acse:phase/acse:code",
    "protocolSection.designModule.enrollmentInfo.count": "acse:enrollmentCount",
    "protocolSection.designModule.enrollmentInfo.type": "acse:enrollmentType/acse:code",
    "protocolSection.designModule.designInfo.allocation": "acse:allocation/acse:code",
    "protocolSection.designModule.designInfo.interventionModel": "acse:interventionModel/acse:code",
    "protocolSection.designModule.designInfo.primaryPurpose": "acse:primaryPurpose/acse:code",
    "protocolSection.designModule.designInfo.maskingInfo.masking": "acse:masking/acse:code",
    "protocolSection.armsInterventionsModule.armGroups.label": "acse:hasArm/rdfs:label",
    "protocolSection.armsInterventionsModule.armGroups.type": "acse:hasArm/acse:armType/acse:code",
    "protocolSection.armsInterventionsModule.armGroups.description": "acse:hasArm/acse:description",
    "protocolSection.armsInterventionsModule.interventions.name": "acse:hasIntervention/rdfs:label",
    "protocolSection.armsInterventionsModule.interventions.type":  # a curated drug is typed by its class
        "{s} acse:hasIntervention {t}1 . {{ {t}1 acse:interventionType {v} }} "
        "UNION {{ {t}1 a acse:DrugIntervention BIND(\"DRUG\" AS {v}) }}",
    "protocolSection.armsInterventionsModule.interventions.description": "acse:hasIntervention/acse:description",
    "protocolSection.armsInterventionsModule.interventions.otherNames": "acse:hasIntervention/acse:otherName",
    "protocolSection.outcomesModule.primaryOutcomes.measure": "acse:primaryOutcome/acse:measure",
    "protocolSection.outcomesModule.primaryOutcomes.description": "acse:primaryOutcome/acse:description",
    "protocolSection.outcomesModule.primaryOutcomes.timeFrame": "acse:primaryOutcome/acse:timeFrame",
    "protocolSection.outcomesModule.secondaryOutcomes.measure": "acse:secondaryOutcome/acse:measure",
    "protocolSection.outcomesModule.secondaryOutcomes.description": "acse:secondaryOutcome/acse:description",
    "protocolSection.outcomesModule.secondaryOutcomes.timeFrame": "acse:secondaryOutcome/acse:timeFrame",
    "protocolSection.outcomesModule.otherOutcomes.measure": "acse:otherOutcome/acse:measure",
    "protocolSection.outcomesModule.otherOutcomes.description": "acse:otherOutcome/acse:description",
    "protocolSection.outcomesModule.otherOutcomes.timeFrame": "acse:otherOutcome/acse:timeFrame",
    "protocolSection.eligibilityModule.eligibilityCriteria": "acse:eligibilityCriteriaText",
    "protocolSection.eligibilityModule.healthyVolunteers": "acse:healthyVolunteers",
    "protocolSection.eligibilityModule.sex": "acse:sex",
    "protocolSection.eligibilityModule.minimumAge": "acse:minimumAgeText",
    "protocolSection.eligibilityModule.maximumAge": "acse:maximumAgeText",
    "protocolSection.eligibilityModule.stdAges": "acse:stdAge",
    "protocolSection.contactsLocationsModule.overallOfficials.name": "acse:investigator/acse:person/rdfs:label",
    "protocolSection.contactsLocationsModule.overallOfficials.affiliation": "acse:investigator/acse:registeredText",
    "protocolSection.contactsLocationsModule.overallOfficials.role": "acse:investigator/acse:role/acse:code",
    "protocolSection.contactsLocationsModule.locations.facility": "acse:site/acse:facility/rdfs:label",
    "protocolSection.contactsLocationsModule.locations.city": "acse:site/acse:city",
    "protocolSection.contactsLocationsModule.locations.state": "acse:site/acse:state",
    "protocolSection.contactsLocationsModule.locations.zip": "acse:site/acse:zip",
    "protocolSection.contactsLocationsModule.locations.country": "acse:site/acse:country",
    "derivedSection.conditionBrowseModule.meshes.term":
        '{s} acse:meshTerm {t}1 . {t}1 acse:meshBranch "condition" ; rdfs:label {v} '
        'FILTER NOT EXISTS {{ {t}1 acse:meshAncestor true }}',
    "derivedSection.conditionBrowseModule.meshes.id":
        '{s} acse:meshTerm {t}1 . {t}1 acse:meshBranch "condition" ; acse:meshId {v} '
        'FILTER NOT EXISTS {{ {t}1 acse:meshAncestor true }}',
    "derivedSection.interventionBrowseModule.meshes.term":
        '{s} acse:meshTerm {t}1 . {t}1 acse:meshBranch "intervention" ; rdfs:label {v} '
        'FILTER NOT EXISTS {{ {t}1 acse:meshAncestor true }}',
    "derivedSection.interventionBrowseModule.meshes.id":
        '{s} acse:meshTerm {t}1 . {t}1 acse:meshBranch "intervention" ; acse:meshId {v} '
        'FILTER NOT EXISTS {{ {t}1 acse:meshAncestor true }}',
}

#: JSON path of an object the core models -> the path to its node(s), which carry its generic fields.
CONTAINERS: dict[str, str] = {
    "protocolSection.identificationModule.orgStudyIdInfo": "acse:identifier",
    "protocolSection.identificationModule.secondaryIdInfos": "acse:identifier",
    "protocolSection.sponsorCollaboratorsModule.responsibleParty": "acse:ctgovPart",
    "protocolSection.designModule.designInfo": "acse:ctgovPart",
    "protocolSection.designModule.designInfo.maskingInfo": "acse:ctgovPart/acse:ctgovPart",
    "protocolSection.armsInterventionsModule.armGroups": "acse:hasArm",
    "protocolSection.armsInterventionsModule.interventions": "acse:hasIntervention",
    "protocolSection.contactsLocationsModule.overallOfficials": "acse:investigator",
    "protocolSection.contactsLocationsModule.locations": "acse:site",
}


@dataclass(frozen=True)
class Piece:
    """One field of the record as the metadata names it."""

    piece: str  # e.g. "StartDate"
    json_path: str  # e.g. "protocolSection.statusModule.startDateStruct.date"
    source_type: str  # TEXT | MARKUP | DATE | NUMERIC | BOOLEAN | TIME | STRUCT | FUNC ...
    type: str  # e.g. "PartialDate", "Phase[]", "text"
    is_enum: bool
    sparql: str | None  # property path (or pattern) from the study node to the values; None: not held here

    @property
    def held(self) -> bool:
        """Whether the graph keeps this field at all."""
        return self.sparql is not None

    def pattern(self, s: str, v: str, tmp: str) -> str:
        """The graph pattern binding ``v`` to this piece's values on study ``s`` (helper variables ``tmp``1...)."""
        if self.sparql is None:
            return "FILTER(false)"
        if "{s}" in self.sparql:
            return self.sparql.format(s=s, v=v, t=tmp)
        return f"{s} {self.sparql} {v} ."

    @property
    def is_date(self) -> bool:
        return self.source_type == "DATE"

    @property
    def is_numeric(self) -> bool:
        return self.source_type == "NUMERIC"

    @property
    def is_time(self) -> bool:
        return self.source_type == "TIME"


@lru_cache(maxsize=1)
def metadata() -> list[dict[str, Any]]:
    """The field metadata (the captured ``/studies/metadata`` answer)."""
    with METADATA_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


def _schema_of(node: dict[str, Any]) -> str:
    return str(node.get("type", "")).removesuffix("[]")


def _path(json_path: str, parents: list[dict[str, Any]], node: dict[str, Any]) -> str | None:
    if json_path in CORE:
        return CORE[json_path]
    if not json_path.startswith("protocolSection.") or node.get("sourceType") == "STRUCT":
        return None
    # a generic field: the nearest container (or the study, for a module), then one acse:<prop> step per object
    steps: list[str] = []
    chain = [*parents, node]
    for depth in range(len(chain) - 1, 1, -1):  # chain[0] is protocolSection, chain[1] the module
        parent, child = chain[depth - 1], chain[depth]
        schema = _schema_of(parent)
        if child["name"] in CORE_KEYS.get(schema, set()):
            return None  # a core key not in CORE: the import keeps it elsewhere, so no generic path
        steps.insert(0, "acse:" + property_name(schema, child["name"]))
        parent_path = ".".join(n["name"] for n in chain[:depth])
        if parent_path in CONTAINERS:
            return "/".join([CONTAINERS[parent_path], *steps])
        if depth == 2:
            return "/".join(steps)  # the module's fields sit on the study node
    return None  # pragma: no cover - a protocolSection field is at least two levels deep


@lru_cache(maxsize=1)
def pieces() -> dict[str, Piece]:
    """Every piece of the metadata by its name in lower case (ClinicalTrials.gov reads them in any case)."""
    out: dict[str, Piece] = {}

    def walk(node: dict[str, Any], parents: list[dict[str, Any]]) -> None:
        json_path = ".".join([*(p["name"] for p in parents), node["name"]])
        piece = Piece(node["piece"], json_path, node.get("sourceType", ""), node.get("type", ""),
                      bool(node.get("isEnum")), _path(json_path, parents, node))
        for name in (node["piece"], *node.get("altPieceNames", [])):
            out.setdefault(name.lower(), piece)
        for child in node.get("children", []):
            walk(child, [*parents, node])

    for top in metadata():
        walk(top, [])
    return out


class UnknownPiece(AcseError, LookupError):
    """A name that is not a piece of the ClinicalTrials.gov record."""


def piece(name: str) -> Piece:
    """The piece called ``name`` (any case, or one of its alternative names); raises :class:`UnknownPiece`."""
    found = pieces().get(name.strip().lower())
    if found is None:
        raise UnknownPiece(name)
    return found
