"""The tumor profile of the matching contract, validated at the boundary.

Why a pydantic model: one declaration gives the validation (unknown field,
wrong type, impossible value: an error naming the field), the JSON Schema we
publish, and a fast path — ``model_validate_json`` parses and validates bytes
in Rust, which keeps the per-profile cost of a nightly batch small.

A number may come with an explicit unit (``{"value": 112, "unit": "g/L"}``);
it is converted to the contract's unit with UCUM codes through ``ucumvert``
(a UCUM grammar on top of pint), never a hand table. Units written as UCUM
annotations (``{ULN}``, ``{score}``) are dimensionless labels: only the same
annotation is accepted, since nothing converts one annotation into another.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

#: The contract's canonical UCUM unit for each numeric field.
CANONICAL_UNITS: dict[str, str] = {
    "age_years": "a",
    "height_cm": "cm",
    "weight_kg": "kg",
    "labs.anc": "10*9/L",
    "labs.platelets": "10*9/L",
    "labs.hemoglobin": "g/dL",
    "labs.creatinine_clearance": "mL/min",
    "labs.bilirubin_uln": "{ULN}",
    "labs.ast_uln": "{ULN}",
    "labs.alt_uln": "{ULN}",
    "qtcf_ms": "ms",
    "heart_rate_bpm": "/min",
    "life_expectancy_months": "mo",
}

#: What the contract's synonyms of alteration words mean.
ALTERATION_SYNONYMS = {"fusion": "translocation", "rearrangement": "translocation"}


class ProfileError(ValueError):
    """A profile that breaks the contract; ``field`` is the dotted path of the culprit."""

    def __init__(self, field: str | None, message: str, profile_id: Any = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.profile_id = profile_id

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


# ------------------------------------------------------------ unit conversion
def _cache_dir() -> Path | None:
    """Where pint may cache its parsed unit definitions: beside the default store, if writable."""
    from ..paths import DEFAULT_STORE

    folder = DEFAULT_STORE.parent / "cache" / "ucum"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


@lru_cache(maxsize=1)
def _registry() -> Any:
    """The UCUM-aware pint registry, built once and only when a unit is given.

    Building it parses pint's and ucumvert's definition files (about 0.7 s, more
    than matching 5 000 profiles); with pint's own on-disk cache of the parsed
    definitions it is about 0.2 s, which matters to a nightly batch started as a
    command. Without a writable cache folder it is simply built from scratch.
    """
    from ucumvert import PintUcumRegistry

    folder = _cache_dir()
    if folder is not None:
        try:
            return PintUcumRegistry(cache_folder=folder)
        except Exception:  # a stale or unreadable cache must not stop matching
            pass
    return PintUcumRegistry()


@lru_cache(maxsize=256)
def conversion(unit: str, target: str) -> tuple[float, float]:
    """(factor, offset) turning a value in ``unit`` into ``target``; ValueError when impossible.

    A UCUM code is a quantity, not only a unit: ``10.9/L`` is 90 per litre and
    ``2.g/L`` two grams per litre, so the factor is the ratio of the two
    quantities, numeric factors included. No contract field is a temperature,
    so the offset is always 0 (kept in the signature for such a field).
    """
    if unit == target:
        return 1.0, 0.0
    if unit.startswith("{") or target.startswith("{"):
        raise ValueError(f"unit {unit!r} cannot be converted to {target!r}")
    cached = _disk_cache().get(f"{unit}\t{target}")
    if cached is not None:
        return float(cached), 0.0
    ureg = _registry()
    try:
        src, dst = ureg.from_ucum(unit), ureg.from_ucum(target)
        # ucumvert answers a quantity (magnitude and unit); a bare unit is taken as 1 of it.
        src = src if hasattr(src, "magnitude") else ureg.Quantity(1, src)
        dst = dst if hasattr(dst, "magnitude") else ureg.Quantity(1, dst)
        factor = float((src / dst).to("dimensionless").magnitude)
    except Exception as exc:  # ucumvert raises parser errors, pint DimensionalityError...
        raise ValueError(f"unknown or incompatible unit {unit!r} (expected a UCUM code convertible to {target!r})") from exc
    _remember(f"{unit}\t{target}", factor)
    return factor, 0.0


# A nightly batch is one command: building the UCUM registry (0.2-0.7 s) can cost more than
# matching thousands of profiles. So the factors ucumvert computes are kept on disk, keyed by
# ucumvert's version, and a later command that meets the same units needs no registry at all.
# This is a cache of UCUM computations (delete it at will), not a table of units.
_CACHE_FORMAT = 2  # bump when the way a factor is computed changes: old files are then ignored


@lru_cache(maxsize=1)
def _disk_cache() -> dict[str, float]:
    path = _cache_file()
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, (int, float))}


def _cache_file() -> Path | None:
    folder = _cache_dir()
    if folder is None:
        return None
    try:
        from importlib.metadata import version

        tag = version("ucumvert")
    except Exception:
        tag = "unknown"
    return folder / f"conversions-v{_CACHE_FORMAT}-ucumvert-{tag}.json"


def _remember(key: str, factor: float) -> None:
    cache = _disk_cache()
    cache[key] = factor
    path = _cache_file()
    if path is None:
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(cache, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
    except OSError:
        tmp.unlink(missing_ok=True)


def convert(value: float, unit: str, target: str) -> float:
    """``value`` in ``unit`` expressed in ``target`` (UCUM codes), rounded off float noise."""
    factor, offset = conversion(unit, target)
    out = value * factor + offset
    return float(f"{out:.12g}")


class Quantity(BaseModel):
    """A number with its UCUM unit, converted to the contract's unit on input."""

    model_config = ConfigDict(extra="forbid", title="Quantity")
    value: float
    unit: Annotated[str, Field(min_length=1, description="UCUM unit code, e.g. g/L, /uL, 10*3/uL")]


def _measured(target: str) -> BeforeValidator:
    """Accept a plain number, or {"value": n, "unit": "UCUM"} converted to ``target``."""

    def before(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        if isinstance(v, bool) or not isinstance(v, (int, float, dict)):
            raise ValueError(f"expected a number (in UCUM unit '{target}') or a quantity "
                             '{"value": number, "unit": "UCUM code"}')
        if isinstance(v, dict):
            extra = set(v) - {"value", "unit"}
            if extra:
                raise ValueError(f"unexpected key(s) {sorted(extra)} in a quantity (use value and unit)")
            value, unit = v.get("value"), v.get("unit")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("a quantity needs a numeric 'value'")
            if not isinstance(unit, str) or not unit:
                raise ValueError("a quantity needs a 'unit' (UCUM code)")
            if not math.isfinite(value):
                raise ValueError("a quantity needs a finite 'value'")
            return convert(float(value), unit, target)
        return v

    return BeforeValidator(before, json_schema_input_type=float | Quantity)


def Num(target: str, ge: float | None = 0, le: float | None = None, gt: float | None = None) -> Any:
    """A finite number in the contract's unit ``target`` (or a quantity converted to it)."""
    return Annotated[float, _measured(target), Field(ge=ge, le=le, gt=gt, allow_inf_nan=False)]


def _whole(v: Any) -> Any:
    """A score written as a whole float (1.0) is that integer, as JSON Schema's "integer" says; 1.5 stays an error."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def Score(le: int) -> Any:
    """An integer score from 0 to ``le`` (ECOG, Karnofsky, Lansky)."""
    return Annotated[int, BeforeValidator(_whole), Field(ge=0, le=le)]


# --------------------------------------------------------------- the model
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Alteration(_Strict):
    """One molecular alteration: gene, type, and optionally how it was found."""

    gene: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-\.]*$")]
    type: Literal["amplification", "mutation", "translocation", "overexpression", "fusion", "rearrangement"]
    partner: str | None = None
    method: str | None = None

    @field_validator("type")
    @classmethod
    def _synonym(cls, v: str) -> str:
        return ALTERATION_SYNONYMS.get(v, v)

    @field_validator("gene")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()


class Performance(_Strict):
    ecog: Score(5) | None = None  # type: ignore[valid-type]
    karnofsky: Score(100) | None = None  # type: ignore[valid-type]
    lansky: Score(100) | None = None  # type: ignore[valid-type]


Level = Literal["normal", "abnormal"]


class Labs(_Strict):
    anc: Num("10*9/L") | None = None  # type: ignore[valid-type]
    platelets: Num("10*9/L") | None = None  # type: ignore[valid-type]
    hemoglobin: Num("g/dL", ge=None, gt=0, le=30) | None = None  # type: ignore[valid-type]
    creatinine_clearance: Num("mL/min", le=1000) | None = None  # type: ignore[valid-type]
    bilirubin_uln: Num("{ULN}") | None = None  # type: ignore[valid-type]
    ast_uln: Num("{ULN}") | None = None  # type: ignore[valid-type]
    alt_uln: Num("{ULN}") | None = None  # type: ignore[valid-type]
    calcium: Level | None = None
    magnesium: Level | None = None
    potassium: Level | None = None


class History(_Strict):
    """Medical history flags; an absent key is unknown (None), never false."""

    prior_crizotinib: bool | None = None
    cns_disease: bool | None = None
    liver_metastasis: bool | None = None
    advanced_fibrosis: bool | None = None
    gilbert_syndrome: bool | None = None
    bone_marrow_involvement: bool | None = None
    congenital_long_qt: bool | None = None
    congestive_heart_failure: bool | None = None
    recent_cardiovascular_event: bool | None = None
    hiv_or_hepatitis: bool | None = None


class TumorProfile(_Strict):
    """One patient, as a matching service sends it (contract v1)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="TumorProfile",
        json_schema_extra={
            "$id": "https://w3id.org/acse-kg/schema/tumor-profile.json",
            "description": "A patient's tumor profile as the acse-kg matching contract (v1) defines it.",
        },
    )

    id: Annotated[str, Field(min_length=1, max_length=200)]
    age_years: Num("a", le=130)  # type: ignore[valid-type]
    sex: Literal["female", "male"] | None = None
    height_cm: Num("cm", ge=None, gt=0, le=300) | None = None  # type: ignore[valid-type]
    weight_kg: Num("kg", ge=None, gt=0, le=700) | None = None  # type: ignore[valid-type]
    diagnosis: Annotated[str, Field(min_length=1, max_length=60)]
    alterations: list[Alteration] = Field(default_factory=list)
    measurable_disease: bool | None = None
    performance: Performance = Field(default_factory=Performance)
    labs: Labs = Field(default_factory=Labs)
    qtcf_ms: Num("ms", ge=None, gt=0, le=2000) | None = None  # type: ignore[valid-type]
    heart_rate_bpm: Num("/min", ge=None, gt=0, le=400) | None = None  # type: ignore[valid-type]
    life_expectancy_months: Num("mo", le=2000) | None = None  # type: ignore[valid-type]
    history: History = Field(default_factory=History)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the tumor profile (input of /match and `acse-kg match`)."""
    schema = _bounds_to_number(TumorProfile.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _bounds_to_number(node: Any) -> Any:
    """Move pydantic's bounds on a number-or-quantity field onto the number branch, as JSON Schema words."""
    if isinstance(node, list):
        return [_bounds_to_number(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _bounds_to_number(v) for k, v in node.items()}
    bounds = {_BOUNDS[k]: node.pop(k) for k in list(node) if k in _BOUNDS}
    if bounds and "anyOf" in node:
        for branch in node["anyOf"]:
            if branch.get("type") == "number":
                branch.update(bounds)
    elif bounds:
        node.update(bounds)
    return node


# ------------------------------------------------------------ parsing
def _error_from(exc: ValidationError, raw_id: Any = None) -> ProfileError:
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err.get("loc", ()) if not str(p).startswith(("function-", "constrained-"))]
    # pydantic puts the union member or the validator into loc; keep the field path only.
    loc = [p for p in loc if p not in {"float", "int", "str", "bool", "dict[str,any]", "none"}]
    field = ".".join(loc) or None
    kind = err.get("type", "")
    msg = err.get("msg", "invalid value")
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")  # our own messages are already sentences
    if kind == "extra_forbidden":
        msg = "unknown field (not in the tumor-profile contract)"
    elif kind == "json_invalid":
        field, msg = None, f"not valid JSON: {err.get('ctx', {}).get('error', msg)}"
    elif kind == "model_type" and not loc:
        msg = "a profile must be a JSON object"
    elif kind == "missing":
        msg = "required field is missing"
    return ProfileError(field, msg, raw_id)


def _raw_id(data: bytes | str | dict[str, Any]) -> Any:
    if isinstance(data, dict):
        return data.get("id")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # JSON that orjson refuses (a number beyond a double, a 70-digit integer)
            obj = json.loads(data)
        except (ValueError, RecursionError):
            return None
    return obj.get("id") if isinstance(obj, dict) else None


def parse_profile(data: bytes | str | dict[str, Any]) -> TumorProfile:
    """Validate one profile (JSON bytes/str, or an already-decoded object); raise ProfileError."""
    try:
        if isinstance(data, dict):
            return _from_obj(data)
        return TumorProfile.model_validate_json(data)
    except ValidationError as exc:
        raise _error_from(exc, _raw_id(data)) from None


def _from_obj(obj: dict[str, Any]) -> TumorProfile:
    # Round-trip through JSON so a decoded object meets the same (JSON-mode) rules as bytes.
    try:
        data = orjson.dumps(obj)
    except TypeError:  # what orjson cannot write (an integer beyond 64 bits) the standard library can
        data = json.dumps(obj).encode()
    return TumorProfile.model_validate_json(data)

