"""Validate a study record against the spec's ``Study`` schema, with a real OpenAPI validator.

The schema is the spec's own (``components/schemas``), validated by
openapi-schema-validator's OAS 3.0 validator (enums, ``format: date``,
``nullable``, lengths), so that what we export and what we accept is what
ClinicalTrials.gov clients expect. Each problem names its JSON path.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from ..errors import AcseError
from .spec import spec


@dataclass(frozen=True)
class Problem:
    """One violation: where (a JSONPath like ``$.protocolSection.statusModule.overallStatus``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


PARTIAL_DATE = "partial-date"


def is_partial_date(value: object) -> bool:
    """``yyyy``, ``yyyy-MM`` or ``yyyy-MM-dd``, and a real month / day (the spec's PartialDate)."""
    if not isinstance(value, str):
        return True  # the type is checked on its own
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if m is None:
        return False
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


DATE_TIME_MINUTES = "date-time-minutes"


def is_date_time_minutes(value: object) -> bool:
    """``yyyy-MM-dd'T'HH:mm`` with a real date and time (the spec's DateTimeMinutes)."""
    if not isinstance(value, str):
        return True
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})", value)
    return m is not None and is_partial_date(m.group(1)) and int(m.group(2)) < 24 and int(m.group(3)) < 60


#: Spec schemas whose format is stated only in prose -> (format name, check, what to say).
PROSE_FORMATS = {
    "PartialDate": (PARTIAL_DATE, is_partial_date, "a partial date (yyyy, yyyy-MM or yyyy-MM-dd)"),
    "DateTimeMinutes": (DATE_TIME_MINUTES, is_date_time_minutes, "a date and time (yyyy-MM-ddTHH:mm)"),
}


def _format_checker() -> FormatChecker:
    checker = copy.deepcopy(oas30_format_checker)
    for name, check, _ in PROSE_FORMATS.values():
        checker.checks(name)(check)
    return checker


@cache
def _validator(schema_name: str) -> OAS30Validator:
    """The spec's schemas, with its PartialDate's stated format made checkable.

    The spec describes PartialDate and DateTimeMinutes only in prose ("yyyy,
    yyyy-MM, or yyyy-MM-dd"); each is given a format of its own here so that
    "2020-99" is refused like any other broken date.
    """
    components = copy.deepcopy(spec()["components"])
    for prose_schema, (fmt, _, _) in PROSE_FORMATS.items():
        components["schemas"][prose_schema]["format"] = fmt
    schema = {**_inlined({"$ref": f"#/components/schemas/{schema_name}"}, components["schemas"], {}),
              "components": components}
    return OAS30Validator(schema, format_checker=_format_checker())


_SCHEMA_REF = "#/components/schemas/"


def _inlined(node: Any, schemas: dict[str, Any], done: dict[str, Any]) -> Any:
    """``node`` with each ``$ref`` to a component schema replaced by that schema (itself inlined, made
    once and shared). Why: the validator resolved the references at every node of every record (~150 a
    record, a tenth of a bulk import worker's time). The same checks: in OpenAPI 3.0 a ``$ref`` stands
    for its target whole (keywords beside it are ignored), and the spec's schemas do not refer to
    themselves (one that would is left as a reference)."""
    if isinstance(node, list):
        return [_inlined(v, schemas, done) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
        name = ref[len(_SCHEMA_REF):]
        if name not in done:
            done[name] = node  # while it is made: a reference back to it stays a reference
            done[name] = _inlined(schemas[name], schemas, done)
        return done[name]
    return {k: _inlined(v, schemas, done) for k, v in node.items()}


def _message(error: Any) -> str:
    if error.validator == "format":
        for fmt, _, what in PROSE_FORMATS.values():
            if error.validator_value == fmt:
                return f"{error.instance!r} is not {what}"
    return error.message


def validate_study(study: Any, schema_name: str = "Study") -> list[Problem]:
    """Every problem of ``study`` against the spec's schema, sorted by path; [] when valid."""
    if not isinstance(study, dict):
        return [Problem("$", "a study record must be a JSON object")]
    problems = {
        Problem(json_path(e.absolute_path), _message(e))
        for e in _validator(schema_name).iter_errors(study)
    }
    return sorted(problems, key=lambda p: (p.path, p.message))


def unknown_fields(study: dict[str, Any]) -> list[Problem]:
    """Keys under ``protocolSection`` that the spec does not define.

    The spec allows extra keys, so they do not make a record invalid; but the
    import has no home for them, so it reports each one (never drops silently).
    """
    return _unknown_keys(study.get("protocolSection"), "ProtocolSection", ["protocolSection"])


def _unknown_keys(value: Any, schema_name: str, where: list[Any]) -> list[Problem]:
    schemas = spec()["components"]["schemas"]
    schema = schemas.get(schema_name, {})
    props = schema.get("properties")
    if props is None or not isinstance(value, dict):
        return []
    out = []
    for key, v in value.items():
        if key not in props:
            out.append(Problem(json_path([*where, key]), f"not stored: '{key}' is not a field of {schema_name} in the API v2 spec"))
            continue
        node = props[key]
        if node.get("type") == "array" and isinstance(v, list):
            ref = node.get("items", {}).get("$ref")
            if ref:
                for i, item in enumerate(v):
                    out += _unknown_keys(item, ref.rsplit("/", 1)[-1], [*where, key, i])
        elif "$ref" in node:
            out += _unknown_keys(v, node["$ref"].rsplit("/", 1)[-1], [*where, key])
    return out


def validate_instance(instance: Any, schema_name: str) -> list[Problem]:
    """Every problem of any JSON value against one of the spec's schemas (an array schema too)."""
    problems = {Problem(json_path(e.absolute_path), _message(e)) for e in _validator(schema_name).iter_errors(instance)}
    return sorted(problems, key=lambda p: (p.path, p.message))


class NotInSpec(AcseError, LookupError):
    """The spec documents no such answer (path, method, status, media type)."""


def response_schema(path: str, status: int, media_type: str, method: str = "get") -> str:
    """The schema the spec gives the answer ``status`` of ``method path`` in ``media_type``.

    ``path`` is the spec's own template (``/studies/{nctId}``, relative to its
    ``/api/v2`` server); raises :class:`NotInSpec` for an answer it does not document.
    """
    try:
        content = spec()["paths"][path][method]["responses"][str(status)]["content"]
        ref = content[media_type.split(";")[0].strip()]["schema"]["$ref"]
    except KeyError as exc:
        raise NotInSpec(f"{method.upper()} {path} -> {status} {media_type}: {exc}") from None
    return str(ref).rsplit("/", 1)[-1]


def validate_response(path: str, status: int, media_type: str, body: Any, method: str = "get") -> list[Problem]:
    """Problems of one answer against what the spec says ``method path`` answers with ``status``."""
    return validate_instance(body, response_schema(path, status, media_type, method))
