"""The tumor profile of the matching contract: its parts, units and errors.

The profile's fields are the graph's clinical variables: profile_schema.py
reads them and generates the pydantic model (and from it the JSON Schema and
the JSON-LD context), so that a trial needing a new variable adds it to the
graph, not to Python. This module holds what that generation is made of: the
number, score and code types, the items of the two list fields (an
alteration, a prior therapy), the error naming the field, and UCUM unit
conversion. ``parse_profile`` / ``json_schema`` / ``TumorProfile`` are the
profile of the bundled graph, for callers without a store at hand.

Why pydantic: one declaration gives the validation (unknown field, wrong
type, impossible value: an error naming the field), the JSON Schema we
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
import logging
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..errors import AcseError
from .gene_symbols import UnknownGeneSymbol, resolve_symbol
from .hgvs import PATTERN as HGVS_PATTERN
from .hgvs import normalise_protein_change

log = logging.getLogger(__name__)


class ProfileError(AcseError, ValueError):
    """A profile that breaks the contract; ``field`` is the dotted path of the culprit.

    Validation reports every mistake of a profile at once: ``errors`` lists each
    one (``{"field", "message"}``, in the profile's field order), so a clinician
    fixes them in one go. ``field`` and ``message`` are the first of them, as
    before there was a list, for callers that show one.
    """

    def __init__(self, field: str | None, message: str, profile_id: Any = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        self.errors: list[dict[str, Any]] = list(errors) if errors else [{"field": field, "message": message}]
        super().__init__("; ".join(f"{e['field']}: {e['message']}" if e["field"] else str(e["message"])
                                   for e in self.errors))
        self.field = field
        self.message = message
        self.profile_id = profile_id

    def as_dict(self) -> dict[str, Any]:
        """The first error (the v1 shape of an error object)."""
        return {"field": self.field, "message": self.message}


# ------------------------------------------------------------ unit conversion
def _cache_dir() -> Path | None:
    """Where pint may cache its parsed unit definitions, if writable."""
    from ..paths import cache_dir

    return cache_dir("ucum")


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
        except Exception as exc:  # noqa: BLE001 - a stale or unreadable cache (any error) must not stop matching
            log.warning("the unit cache in %s is unusable (%s): building the units without it", folder, exc)
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
        from importlib.metadata import PackageNotFoundError, version

        tag = version("ucumvert")
    except PackageNotFoundError:  # run from a source tree without installed metadata
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


def _measured(target: str | None, conversions: dict[str, float] | None = None) -> BeforeValidator:
    """Accept a plain number, or {"value": n, "unit": "UCUM"} converted to ``target``.

    A variable without a unit takes a plain number only: there is nothing to convert to.
    ``conversions`` are the units UCUM cannot convert because the factor depends
    on the substance (haemoglobin in mmol/L: 1.611 g/dL, by the monomer's molar
    mass), each with the factor the graph gives (acse:convertibleUnit); any other
    unit of another dimension is refused, as before.
    """
    extra_units = dict(conversions or {})
    expected = (f"expected a number (in UCUM unit '{target}') or a quantity "
                '{"value": number, "unit": "UCUM code"}') if target else "expected a number"

    def before(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        if isinstance(v, bool) or not isinstance(v, (int, float, dict)) or (isinstance(v, dict) and not target):
            raise ValueError(expected)
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
            if unit in extra_units:
                return float(f"{float(value) * extra_units[unit]:.12g}")
            assert target is not None  # a quantity without a unit to convert to was refused above
            try:
                return convert(float(value), unit, target)
            except ValueError:
                if not extra_units:
                    raise
                also = " or ".join(sorted(extra_units))
                raise ValueError(f"unknown or incompatible unit {unit!r} (expected a UCUM code convertible to "
                                 f"{target!r}, or {also})") from None
        return v

    return BeforeValidator(before, json_schema_input_type=float | Quantity if target else float)


def Num(target: str | None, ge: float | None = None, le: float | None = None, gt: float | None = None,
        conversions: dict[str, float] | None = None) -> Any:
    """A finite number in the contract's unit ``target`` (or a quantity converted to it, see _measured)."""
    return Annotated[float, _measured(target, conversions), Field(ge=ge, le=le, gt=gt, allow_inf_nan=False)]


def _whole(v: Any) -> Any:
    """A score written as a whole float (1.0) is that integer, as JSON Schema's "integer" says; 1.5 stays an error."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def Score(ge: float | None = None, le: float | None = None, gt: float | None = None) -> Any:
    """An integer score (ECOG 0-5, Karnofsky 0-100): a plain whole number, never a quantity."""
    return Annotated[int, BeforeValidator(_whole), Field(ge=ge, le=le, gt=gt)]


# --------------------------------------------------------------- the parts of a profile
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProfileModel(_Strict):
    """The base of every generated TumorProfile: the contract's settings, shared by every store's model.

    The fields are the graph's clinical variables (see profile_schema.py); a
    check such as ``isinstance(p, ProfileModel)`` holds for a profile of any store.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="TumorProfile",
        json_schema_extra={
            "$id": "https://w3id.org/acse-kg/schema/tumor-profile.json",
            "description": "A patient's tumor profile as the acse-kg matching contract (v1, with its additions) "
                           "defines it; its fields are the registry's clinical variables.",
        },
    )

    if TYPE_CHECKING:
        # For the type checker only (no field is declared here at run time): the fields the matcher
        # reads by name, which every graph's generated model has (the contract's core variables).
        id: str
        diagnosis: str
        alterations: list[Any]
        age_years: float
        height_cm: float | None
        weight_kg: float | None


def profile_field_error(field: str, message: str) -> PydanticCustomError:
    """An error raised by a whole-object check that names one of the object's keys (see _error_from)."""
    return PydanticCustomError("profile_field", "{message}", {"field": field, "message": message})


#: MatchMiner's copy-number calls (the words of acse:cnvCall) and a variant's annotated function.
CNV_CALLS = ("High level amplification", "Gain", "Heterozygous deletion", "Homozygous deletion")
FUNCTIONS = ("activating", "inactivating")
#: The variant-level keys of an alteration: what a gene reported wild type cannot carry.
VARIANT_KEYS = ("partner", "protein_change", "exon", "variant_classification", "cnv_call", "function")


def _protein_change(v: str) -> str:
    return normalise_protein_change(v)


def _alteration_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of the rule the validator applies: ``type`` is required unless ``wildtype`` is true,
    and a gene reported wild type has no type nor variant-level key."""
    props = schema["properties"]
    props["type"] = props["type"]["anyOf"][0] | {"title": "Type", "description": props["type"].get("description", "")}
    schema["required"] = ["gene"]
    schema["if"] = {"properties": {"wildtype": {"const": True}}, "required": ["wildtype"]}
    schema["then"] = {"not": {"required": ["type"]}, "properties": {k: {"type": "null"} for k in VARIANT_KEYS}}
    schema["else"] = {"required": ["type"]}


class _AlterationChecks(_Strict):
    """Checks of one alteration; its fields are declared by :func:`alteration_model` (type words from the graph)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, title="Alteration", json_schema_extra=_alteration_schema)

    @field_validator("gene", check_fields=False)
    @classmethod
    def _approved(cls, v: str) -> str:
        """The approved HGNC symbol: a previous or alias symbol resolves (RON -> MST1R), any other is refused."""
        try:
            return resolve_symbol(v)
        except UnknownGeneSymbol as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _type_or_wildtype(self) -> Any:
        values = self.__dict__
        if values.get("wildtype"):
            given = [k for k in ("type", *VARIANT_KEYS)
                     if values.get(k) is not None or (k == "type" and k in self.model_fields_set)]
            if given:
                raise profile_field_error(
                    "wildtype", f"a gene reported wild type carries no alteration: drop {', '.join(given)}")
        elif values.get("type") is None:
            raise profile_field_error(
                "type", "required field is missing (only a gene reported wild type, wildtype: true, has none)")
        return self


def alteration_model(type_words: dict[str, str]) -> type[BaseModel]:
    """The alteration item of a profile whose graph names these alteration types.

    ``type_words`` maps every word a profile may write (each ``acse:profileTerm``
    and its ``skos:altLabel`` synonyms) to the profile term it means; the model
    keeps the profile term (``fusion`` reads as ``translocation``).
    """
    if not type_words:
        raise ValueError("the graph names no alteration type (acse:profileTerm)")
    words = tuple(sorted(type_words))

    def term(v: str) -> str:
        return type_words[v]

    type_ = Annotated[Literal[words], AfterValidator(term)]  # type: ignore[valid-type]  # words read from the graph at run time
    return _build_alteration(type_)


def _build_alteration(type_: Any) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "gene": (Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-\.]*$",
                                      description="HGNC symbol: approved, previous or alias "
                                                  "(read as the approved one: RON is MST1R)")], ...),
        "type": (type_ | None, Field(None, description="a profile term of an alteration type of the graph, "
                                                        "or one of its synonyms; required unless wildtype is true")),
        "partner": (str | None, Field(None, description="fusion partner")),
        "method": (str | None, Field(None, description="IHC, FISH, NGS, PCR ...")),
        "protein_change": (Annotated[str, Field(pattern=HGVS_PATTERN), AfterValidator(_protein_change)] | None,
                           Field(None, description="HGVS protein change (p.V600E, p.Val600Glu), kept in 1-letter form")),
        "exon": (Annotated[int, BeforeValidator(_whole), Field(ge=1, le=500)] | None, Field(None)),
        "variant_classification": (Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_']+$")]
                                   | None, Field(None, description="as MAF files write it: Missense_Mutation, "
                                                                   "In_Frame_Del, Nonsense_Mutation ...")),
        "cnv_call": (Literal[CNV_CALLS] | None, Field(None, description="copy-number call")),
        "function": (Literal[FUNCTIONS] | None,
                     Field(None, description="the variant's function, as the laboratory annotates it")),
        "wildtype": (bool | None, Field(None, description="true: the gene is reported wild type")),
    }
    model: type[BaseModel] = create_model("Alteration", __base__=_AlterationChecks, **fields)
    model.__doc__ = "One molecular alteration: gene, type, how it was found and, optionally, variant-level detail."
    return model


#: Drug codes a prior therapy may be named by: prefix -> the code's syntax after the colon.
DRUG_CODES = {"NCIT": re.compile(r"C[0-9]+"), "RXNORM": re.compile(r"[0-9]+"), "CHEBI": re.compile(r"[0-9]+")}


def _drug(v: str) -> str:
    """A drug name as given (trimmed), or a code in one spelling (``NCIT:C74061``, ``RXNORM:1148495``, ``CHEBI:64310``)."""
    v = " ".join(v.split())
    if not v:
        raise ValueError("a drug needs a name or a code")
    prefix, colon, code = v.partition(":")
    if not colon:
        return v
    syntax = DRUG_CODES.get(prefix.upper())
    if syntax is None:
        raise ValueError(f"unknown drug code prefix {prefix!r}: use a name, or NCIT:C…, RxNorm:…, CHEBI:…")
    code = code.strip().upper()
    if not syntax.fullmatch(code):
        raise ValueError(f"{v!r} is not a {prefix.upper()} code")
    return f"{prefix.upper()}:{code}"


class PriorTherapy(_Strict):
    """One drug given before, by name or code (NCIt, RxNorm, ChEBI), with its line of therapy if known."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="PriorTherapy")

    drug: Annotated[str, Field(min_length=1, max_length=200,
                               description="a name (crizotinib) or a code: NCIT:C74061, RxNorm:1148495, CHEBI:64310"),
                    AfterValidator(_drug)]
    line: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=50)] | None = None


def json_schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The published JSON Schema of a profile model (bounds of a number-or-quantity on the number branch)."""
    schema = _bounds_to_number(model.model_json_schema())
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
    """Every mistake pydantic found, one per field (a union's members report the same mistake), in order."""
    found: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False):
        field, msg = _field_error(err)
        if all(e["field"] != field for e in found):
            found.append({"field": field, "message": msg})
    return ProfileError(found[0]["field"], found[0]["message"], raw_id, found)


def _field_error(err: Any) -> tuple[str | None, str]:
    """(dotted field, plain message) of one pydantic error."""
    loc = [str(p) for p in err.get("loc", ()) if not str(p).startswith(("function-", "constrained-"))]
    # pydantic puts the union member or the validator into loc; keep the field path only.
    loc = [p for p in loc if p not in {"float", "int", "str", "bool", "dict[str,any]", "none"}
           and not p.startswith("literal[")]
    kind = err.get("type", "")
    msg = err.get("msg", "invalid value")
    if kind == "profile_field":  # a whole-object check naming one key of the object
        loc.append(str(err.get("ctx", {}).get("field")))
    field = ".".join(loc) or None
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
    return field, msg


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


def validate(model: type[ProfileModel], data: bytes | str | dict[str, Any]) -> Any:
    """Validate one profile against ``model`` (JSON bytes/str, or a decoded object); raise ProfileError."""
    try:
        if isinstance(data, dict):
            # Round-trip through JSON so a decoded object meets the same (JSON-mode) rules as bytes.
            try:
                raw = orjson.dumps(data)
            except TypeError:  # what orjson cannot write (an integer beyond 64 bits) the standard library can
                raw = json.dumps(data).encode()
            return model.model_validate_json(raw)
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise _error_from(exc, _raw_id(data)) from None


# ------------------------------------------------ the profile of the bundled graph
def parse_profile(data: bytes | str | dict[str, Any]) -> Any:
    """Validate one profile against the bundled graph's variables; raise ProfileError.

    With a store at hand, ``profile_schema(store).parse`` knows the store's own variables.
    """
    from .profile_schema import bundled_schema

    return bundled_schema().parse(data)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the bundled graph's profile (a store's own: ``profile_schema(store).json_schema()``)."""
    from .profile_schema import bundled_schema

    return bundled_schema().json_schema()


def __getattr__(name: str) -> Any:
    """``TumorProfile`` (the bundled graph's model) and ``CANONICAL_UNITS`` (its numbers' units), made on first use."""
    if name in ("TumorProfile", "CANONICAL_UNITS"):
        from .profile_schema import bundled_schema

        schema = bundled_schema()
        return schema.model if name == "TumorProfile" else schema.canonical_units
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
