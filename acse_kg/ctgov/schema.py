"""Validate a study record against the spec's ``Study`` schema, with a real OpenAPI validator.

The schema is the spec's own (``components/schemas``), validated by
openapi-schema-validator's OAS 3.0 validator (enums, ``format: date``,
``nullable``, lengths), so that what we export and what we accept is what
ClinicalTrials.gov clients expect. Each problem names its JSON path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker

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


@lru_cache(maxsize=None)
def _validator(schema_name: str) -> OAS30Validator:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec()["components"]}
    return OAS30Validator(schema, format_checker=oas30_format_checker)


def validate_study(study: Any, schema_name: str = "Study") -> list[Problem]:
    """Every problem of ``study`` against the spec's schema, sorted by path; [] when valid."""
    if not isinstance(study, dict):
        return [Problem("$", "a study record must be a JSON object")]
    problems = {
        Problem(json_path(e.absolute_path), e.message)
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
            out.append(Problem(json_path([*where, key]), f"'{key}' is not a field of {schema_name} in the API v2 spec"))
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
