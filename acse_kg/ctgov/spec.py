"""The ClinicalTrials.gov API v2 spec as data, and the RDF home of each of its fields.

Import and export are driven by the spec's ``components/schemas`` rather than by
a hand-kept field list, so that every ``protocolSection`` field the spec defines
has a home in the graph. Fields the core ontology models (titles, dates,
sponsors, arms ...) are handled by hand in :mod:`.import_` / :mod:`.export`
(listed in :data:`CORE_KEYS`); every other field gets an extension property,
named here from its schema and key, and declared in ``ontology/ctgov.ttl``
(written by :func:`extension_turtle`, checked against it by a test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).with_name("ctg-oas-v2.0.5.yaml")

#: protocolSection module keys -> their schema names, in the spec's order.
#: Each module's fields sit on the study node itself (a module is a grouping, not a thing).

#: Keys the hand-written mappings own, per schema; the generic mapper skips them.
CORE_KEYS: dict[str, set[str]] = {
    "IdentificationModule": {"nctId", "orgStudyIdInfo", "secondaryIdInfos", "briefTitle", "officialTitle", "acronym"},
    "OrgStudyIdInfo": {"id"},
    "SecondaryIdInfo": {"id", "type"},
    "StatusModule": {
        "statusVerifiedDate", "overallStatus", "startDateStruct", "primaryCompletionDateStruct",
        "completionDateStruct", "studyFirstSubmitDate", "studyFirstPostDateStruct",
        "lastUpdateSubmitDate", "lastUpdatePostDateStruct",
    },
    "SponsorCollaboratorsModule": {"leadSponsor", "collaborators", "responsibleParty"},
    "ResponsibleParty": {"type"},
    "OversightModule": {"isFdaRegulatedDrug", "isFdaRegulatedDevice"},
    "DescriptionModule": {"briefSummary", "detailedDescription"},
    "ConditionsModule": {"conditions", "keywords"},
    "DesignModule": {"studyType", "phases", "enrollmentInfo", "designInfo"},
    "DesignInfo": {"allocation", "interventionModel", "primaryPurpose", "maskingInfo"},
    "MaskingBlock": {"masking"},
    "ArmsInterventionsModule": {"armGroups", "interventions"},
    "ArmGroup": {"label", "type", "description"},
    "Intervention": {"name", "description", "otherNames"},
    "OutcomesModule": {"primaryOutcomes", "secondaryOutcomes", "otherOutcomes"},
    "Outcome": {"measure", "description", "timeFrame"},
    "EligibilityModule": {"eligibilityCriteria", "healthyVolunteers", "sex", "minimumAge", "maximumAge", "stdAges"},
    "ContactsLocationsModule": {"overallOfficials", "locations"},
    "Official": {"name", "affiliation", "role"},
    "Location": {"facility", "city", "state", "zip", "country"},
}

#: Spec enumerations whose values are individuals of a core class (carrying acse:code).
ENUM_CLASSES: dict[str, str] = {
    "Status": "RecruitmentStatus",
    "Phase": "StudyPhase",
    "StudyType": "StudyType",
    "DesignAllocation": "DesignAttribute",
    "InterventionalAssignment": "DesignAttribute",
    "DesignMasking": "DesignAttribute",
    "PrimaryPurpose": "DesignAttribute",
    "ArmGroupType": "ArmType",
    "ResponsiblePartyType": "ResponsiblePartyType",
    "OfficialRole": "InvestigatorRole",
    "DateType": "DateType",
    "SecondaryIdType": "IdentifierScheme",
}


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """The parsed OpenAPI document (read once)."""
    with SPEC_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def schemas() -> dict[str, Any]:
    return spec()["components"]["schemas"]


def ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


@dataclass(frozen=True)
class Field:
    """One key of one object schema, as the generic mapper sees it."""

    schema: str  # owning object schema, e.g. "DesignInfo"
    key: str  # JSON key, e.g. "observationalModel"
    kind: str  # "scalar" | "object" | "scalars" (array of scalars) | "objects" (array of objects)
    target: str | None  # schema of the value (object schema, enum or named scalar), if any
    json_type: str  # string | boolean | integer | number (for scalars)
    enum: str | None  # enumeration schema name when the value is an enum

    @property
    def prop(self) -> str:
        """The extension property's local name in the acse namespace."""
        return property_name(self.schema, self.key)

    @property
    def object_schema(self) -> str:
        """The schema of an object-valued field's value (the spec names one for every object)."""
        if self.target is None:
            raise ValueError(f"{self.schema}.{self.key} names no schema for its value")
        return self.target


def _scalar_type(node: dict[str, Any]) -> tuple[str, str | None]:
    name = ref_name(node)
    if name:
        target = schemas()[name]
        return target.get("type", "string"), (name if "enum" in target else None)
    return node.get("type", "string"), None


@cache
def fields_of(schema_name: str) -> tuple[Field, ...]:
    """The keys of an object schema with what kind of value each holds (made once per schema: the
    mapper and the export ask for them at every node of every record)."""
    out = []
    for key, node in schemas()[schema_name].get("properties", {}).items():
        name = ref_name(node)
        if node.get("type") == "array":
            item = node.get("items", {})
            iname = ref_name(item)
            if iname and "properties" in schemas()[iname]:
                out.append(Field(schema_name, key, "objects", iname, "object", None))
            else:
                jt, enum = _scalar_type(item)
                out.append(Field(schema_name, key, "scalars", iname, jt, enum))
        elif name and "properties" in schemas()[name]:
            out.append(Field(schema_name, key, "object", name, "object", None))
        else:
            jt, enum = _scalar_type(node)
            out.append(Field(schema_name, key, "scalar", name, jt, enum))
    return tuple(out)


@cache
def property_name(schema_name: str, key: str) -> str:
    """``DesignInfo`` + ``observationalModel`` -> ``designInfoObservationalModel``.

    A trailing ``Module`` is dropped and a key that already starts with the
    schema's stem is not repeated (``OversightModule.oversightHasDmc`` ->
    ``oversightHasDmc``), so names stay readable and unique per field.
    """
    stem = re.sub(r"Module$", "", schema_name)
    stem = stem[0].lower() + stem[1:]
    if key.lower().startswith(stem.lower()):
        return key
    return stem + key[0].upper() + key[1:]


def protocol_modules() -> tuple[Field, ...]:
    return fields_of("ProtocolSection")


@cache
def generic_fields(schema_name: str) -> tuple[Field, ...]:
    """The fields of a schema that the generic mapper owns."""
    core = CORE_KEYS.get(schema_name, set())
    return tuple(f for f in fields_of(schema_name) if f.key not in core)


def all_generic_fields() -> list[Field]:
    """Every generic field reachable from protocolSection, each once."""
    seen: set[str] = set()
    out: list[Field] = []

    def walk(schema_name: str) -> None:
        if schema_name in seen:
            return
        seen.add(schema_name)
        for f in fields_of(schema_name):
            generic = f.key not in CORE_KEYS.get(schema_name, set())
            if f.kind in ("object", "objects"):
                # a generic object must be wholly generic, or some of its keys would have no home
                assert not (generic and f.target in CORE_KEYS), f"{schema_name}.{f.key} -> {f.target}"
                walk(f.object_schema)
            if generic:
                out.append(f)

    for module in protocol_modules():
        walk(module.object_schema)
    # objects reached only through core keys still own their non-core fields
    return out


def enum_values(enum_name: str) -> list[str]:
    return list(schemas()[enum_name]["enum"])


def camel(code: str) -> str:
    """``NOT_YET_RECRUITING`` -> ``NotYetRecruiting``."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", code) if part)


def enum_individual_name(enum_name: str, code: str) -> str:
    """Local name minted for an enum value the core ontology lacks."""
    value = camel(code)
    return value if value.startswith(enum_name) else enum_name + value
