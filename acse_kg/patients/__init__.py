"""Patients in: a GA4GH Phenopacket v2 or an mCODE FHIR Bundle, turned into the tumor profile.

The matcher only knows the tumor-profile contract; this package sits at the
edge and turns the two standards hospitals and genomics labs send into it,
with a list of what the record holds that the profile does not carry (the
match result's ``notes``, so nothing is dropped without a word).

A body is recognised by its media type (``application/fhir+json`` is FHIR,
``application/phenopacket+json`` a Phenopacket) or, for plain
``application/json`` and files, by its shape: ``resourceType: Bundle`` is
FHIR; ``subject``, ``phenotypicFeatures``, ``interpretations``, ``diseases``,
``biosamples``, ``measurements`` or ``metaData`` (names no tumor profile field
has) without the profile's required ``age_years`` / ``diagnosis`` make a
Phenopacket. Anything else is left to the profile's validation.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..store import GraphStore
from .builder import Converted, PatientRecordError
from .mcode import from_mcode
from .phenopacket import from_phenopacket
from .vocabulary import vocabulary

__all__ = ["Converted", "PatientRecordError", "add_notes", "convert", "detect", "profile_bytes"]

FHIR_JSON = "application/fhir+json"
PHENOPACKET_JSON = "application/phenopacket+json"
PHENOPACKET_KEYS = frozenset({"subject", "phenotypicFeatures", "interpretations", "diseases", "biosamples",
                              "measurements", "metaData", "medicalActions"})
#: Required fields of every tumor profile: a body with one of them is a profile, whatever else it holds.
PROFILE_KEYS = frozenset({"age_years", "diagnosis"})
SOURCE_NAMES = {"phenopacket": "Phenopacket", "mcode": "mCODE Bundle"}


def detect(data: Any, content_type: str | None = None) -> str | None:
    """``phenopacket``, ``mcode`` or None (a tumor profile, or something its validation will refuse)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not isinstance(data, dict):
        return None
    if media == FHIR_JSON or "resourceType" in data:
        kind = data.get("resourceType")
        if kind != "Bundle":
            raise PatientRecordError(f"a FHIR {kind or 'resource without resourceType'} is not a patient record: "
                                     "send an mCODE Bundle (resourceType Bundle)")
        return "mcode"
    if media == PHENOPACKET_JSON or (PHENOPACKET_KEYS & data.keys() and not PROFILE_KEYS & data.keys()):
        return "phenopacket"
    return None


def convert(store: GraphStore, data: dict[str, Any], kind: str) -> Converted:
    """The tumor profile of a record already recognised as ``kind``."""
    vocab = vocabulary(store)
    return from_mcode(data, vocab) if kind == "mcode" else from_phenopacket(data, vocab)


def profile_bytes(store: GraphStore, body: bytes, content_type: str | None = None) -> tuple[bytes, list[str]]:
    """The body as tumor-profile JSON, and the notes of what was not mapped (prefixed with the format's name).

    A body that is a tumor profile already (or not JSON at all) comes back as it was, with no notes,
    so the profile's own validation answers it as before.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body, []
    kind = detect(data, content_type)
    if kind is None:
        return body, []
    got = convert(store, data, kind)
    name = SOURCE_NAMES[kind]
    return orjson.dumps(got.profile), [f"{name}, not mapped: {n}" for n in got.notes]


def add_notes(result: bytes, notes: list[str]) -> bytes:
    """A match result (JSON) with the conversion's notes after its own."""
    if not notes:
        return result
    doc = orjson.loads(result)
    doc["notes"] = [*doc.get("notes", []), *notes]
    return orjson.dumps(doc)
