"""The match result of the contract, as a JSON Schema callers can check answers against.

The matcher builds results as plain dicts (a batch writes thousands a second,
and a pydantic round trip per result would cost more than the matching);
these models exist to publish the output half of the contract — served at
``GET /match/result-schema`` and in the OpenAPI document — and a test checks
real results against that schema, so the two cannot drift apart. Fields may
be added to a result (the contract allows it), so objects stay open.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CriterionResult(_Open):
    """One criterion of a candidate cohort, with its status and the value observed."""

    id: str
    iri: str = Field(description="the criterion (or the cohort's status) in the knowledge graph")
    text: str
    kind: Literal["inclusion", "exclusion"]
    status: Literal["met", "not_met", "unknown"]
    observed: Any = Field(description="the profile's value, or its values by field when the criterion reads several")
    curation: Literal["draft"] | None = Field(
        None, description="\"draft\" when the criterion was drafted from the record's words and no curator has reviewed it "
                          "(absent for curated and reviewed criteria)")
    applies: bool | None = Field(
        None, description="whether the criterion's condition holds (null: unknown); a page greys out a rule that "
                          "does not apply", examples=[True, False, None])
    finding: Literal["met", "not met", "unknown", "not applicable", "excluded", "not excluded"] | None = Field(
        None, description="the status in a clinician's words: an inclusion is met / not met, an exclusion "
                          "excludes or not; not applicable where the condition does not hold",
        examples=["not excluded", "not met"])
    missing: list[str] = Field(
        default_factory=list, description="the profile fields whose values would settle an unknown status",
        examples=[["history.liver_metastasis"]])


class CohortResult(_Open):
    """A candidate cohort: its verdict and a reason for every criterion."""

    cohort: int
    iri: str
    label: str
    verdict: Literal["eligible", "ineligible", "unknown"]
    criteria: list[CriterionResult]
    to_confirm: list[str] = Field(description="criteria no field of the profile can decide")
    recruiting: bool | None = Field(
        None, description="whether the cohort takes patients now: open by the protocol and in a study that recruits")
    reasons: list[str] = Field(
        default_factory=list, description="ids of the criteria that decided a verdict other than eligible (the unmet "
                                          "ones for ineligible, the unknown ones for unknown)", examples=[["inc-06-anc"]])
    missing: list[str] = Field(
        default_factory=list, description="every profile field that would settle an unknown criterion of the cohort: "
                                          "what to ask the clinician for", examples=[["labs.anc", "history.cns_disease"]])


class Dosing(_Open):
    """The arm's regimen for this patient; dose_mg from the body surface area where it is per m²."""

    regimen: str
    dose_mg: float | None


class MatchResult(_Open):
    """The answer to one tumor profile (contract v1)."""

    model_config = ConfigDict(
        extra="allow",
        title="MatchResult",
        json_schema_extra={"$id": "https://w3id.org/acse-kg/schema/match-result.json"},
    )

    profile_id: str
    trial: str
    cohorts: list[CohortResult] = Field(description="candidate cohorts, best first")
    dosing: Dosing | None
    notes: list[str]
    curation: Literal["draft"] | None = Field(
        None, description="\"draft\" when the verdicts rest on drafts: the study's cohort or some of its criteria were "
                          "drafted from its ClinicalTrials.gov record and not reviewed (absent for a curated study)")


class TrialsResult(BaseModel):
    """The answer to one tumor profile matched against every trial of the registry (POST /match/trials)."""

    model_config = ConfigDict(
        extra="allow",
        title="TrialsResult",
        json_schema_extra={"$id": "https://w3id.org/acse-kg/schema/trials-result.json"},
    )

    profile_id: str
    results: list[MatchResult] = Field(
        description="one v1 result per trial with a candidate cohort: eligible before unknown before ineligible, "
                    "then fewest criteria left to confirm")
    notes: list[str]


class FieldError(BaseModel):
    field: str | None = Field(description="dotted path of the offending field, null when the whole body is at fault")
    message: str


class BatchLineError(BaseModel):
    """What `acse-kg match --batch` writes in place of a line that breaks the contract."""

    model_config = ConfigDict(title="BatchLineError")

    id: Any = Field(description="the line's id when it could be read")
    line: int
    error: FieldError


def result_schema() -> dict[str, Any]:
    """The published JSON Schema of a match result."""
    schema = MatchResult.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def trials_result_schema() -> dict[str, Any]:
    """The published JSON Schema of a cross-trial match result."""
    schema = TrialsResult.model_json_schema()
    for d in schema.get("$defs", {}).values():
        d.pop("$id", None)  # a nested $id would make the $refs inside it resolve against it
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def batch_line_error_schema() -> dict[str, Any]:
    schema = BatchLineError.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
