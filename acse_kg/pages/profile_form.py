"""The patient form of the match page, generated from the profile's JSON Schema.

Why generated: the profile grows with the graph's clinical variables (a
variable added to the graph is a field of the contract after the write), so a
hand-written form would fall behind. The form is read off the JSON Schema that
``GET /match/schema`` publishes; the labels and contract units come from the
same variables (:class:`acse_kg.matching.profile_schema.Variable`).

A form field's name is the profile field's dotted path (``labs.anc``,
``alterations.0.gene``); a number with a unit has a companion ``<name>.unit``.
The conversion back to a profile is plain (numbers, yes / no / unknown,
codes); the contract itself (the matcher's parser) judges the result, so the
form never accepts what ``POST /match`` would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..derived import DerivedCache
from ..errors import AcseError
from ..matching.profile_schema import ProfileSchema, profile_schema
from ..store import GraphStore

#: Units a laboratory report commonly writes for a contract unit (UCUM codes), offered beside it.
#: Every one converts to its contract unit (a test checks each through the contract's own converter);
#: a unit missing here can still be sent in a pasted JSON profile.
UNIT_CHOICES: dict[str, tuple[str, ...]] = {
    "10*9/L": ("10*3/uL", "/uL", "/mm3"),
    "g/dL": ("g/L", "mg/dL"),
    "mL/min": ("mL/s", "L/h"),
    "cm": ("m", "[in_i]"),
    "kg": ("g", "[lb_av]"),
    "a": ("mo",),
    "mo": ("a", "wk", "d"),
    "ms": ("s",),
}

#: Rows an array section shows without JavaScript (one more than a submitted profile fills).
DEFAULT_ROWS = {"alterations": 3, "prior_therapies": 2}

#: The fields of an array item shown at once; the item's others are under "more detail" (all shown when absent).
ITEM_MAIN = {"alterations": ("gene", "type", "protein_change")}

#: Fields whose values come from a vocabulary of the graph, by their last name: the datalist they use.
DATALISTS = {"diagnosis": "oncotree-codes", "gene": "gene-symbols"}

#: Labels of the contract's own fields, which no clinical variable of the graph names.
CONTRACT_LABELS = {"id": "Profile identifier"}

#: The default profile id of a form (the contract requires one; it is only echoed back).
FORM_ID = "patient-from-the-form"


class FormError(AcseError, ValueError):
    """A form field cannot become a profile value; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Input:
    """One control of the form."""

    name: str  # the profile field's dotted path (with an item index inside an array)
    label: str
    control: str  # text | number | select | yesno
    description: str = ""
    required: bool = False
    options: tuple[str, ...] = ()  # select: the allowed codes
    datalist: str = ""  # id of the <datalist> offering the vocabulary's values
    units: tuple[str, ...] = ()  # number: the contract unit first, then what may be chosen instead
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    detail: bool = False  # shown under "more detail"

    @property
    def anchor(self) -> str:
        """The element id of the control (dots are valid in ids; '#' links work)."""
        return "f-" + self.name


@dataclass(frozen=True)
class Section:
    """A group of controls: the patient, an object of the profile, or one item of an array."""

    key: str
    title: str
    description: str = ""
    rows: tuple[tuple[Input, ...], ...] = ()
    repeated: bool = False  # an array: each row is one item
    item_title: str = ""  # an array's item, as its legend names it ("Alteration 1")


@dataclass(frozen=True)
class FormSpec:
    sections: tuple[Section, ...]
    labels: dict[str, str] = field(default_factory=dict)  # profile field -> label

    def inputs(self) -> Iterable[Input]:
        for s in self.sections:
            for row in s.rows:
                yield from row

    def label(self, name: str) -> str:
        return self.labels.get(name) or name


# ------------------------------------------------------------------ reading the schema
def _deref(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(defs[ref.rsplit("/", 1)[1]])
    return node


def _unwrap(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The field's own schema without its ``null`` alternative; True when a quantity (value and unit) is allowed."""
    node = _deref(node, defs)
    quantity = False
    while "anyOf" in node:
        alts = [_deref(a, defs) for a in node["anyOf"] if a.get("type") != "null"]
        plain = [a for a in alts if a.get("title") != "Quantity"]
        quantity = quantity or len(plain) < len(alts)
        merged = {k: v for k, v in node.items() if k != "anyOf"}
        node = {**plain[0], **merged} if plain else merged
    return node, quantity


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _leaf(name: str, node: dict[str, Any], quantity: bool, required: bool, ps: ProfileSchema,
          units: dict[str, str]) -> Input:
    leaf = name.rsplit(".", 1)[-1]
    var = next((v for v in ps.fields if v.field == _pattern(name)), None)
    label = (_capital(var.label) if var is not None and var.label
             else CONTRACT_LABELS.get(name) or _capital(node.get("title", leaf).lower()))
    desc = node.get("description", "")
    kind = node.get("type")
    if "enum" in node:
        return Input(name, label, "select", desc, required, tuple(str(v) for v in node["enum"]))
    if kind == "boolean":
        return Input(name, label, "yesno", desc, required)
    if kind in ("number", "integer"):
        unit = units.get(_pattern(name), "")
        choices = (unit, *UNIT_CHOICES.get(unit, ())) if unit and quantity else ((unit,) if unit else ())
        low = node.get("minimum", node.get("exclusiveMinimum"))
        return Input(name, label, "number", desc, required, units=choices, integer=kind == "integer",
                     minimum=low, maximum=node.get("maximum"))
    return Input(name, label, "text", desc, required, datalist=DATALISTS.get(leaf, ""))


def _pattern(name: str) -> str:
    """A control's name without item indexes: the profile field its variable is declared for."""
    return ".".join(p for p in name.split(".") if not p.isdigit())


def build_form(ps: ProfileSchema, rows: Mapping[str, int] | None = None) -> FormSpec:
    """The form of a profile schema; ``rows`` sets how many items each array section shows."""
    schema = ps.json_schema()
    defs = schema.get("$defs", {})
    units = {v.field: v.unit for v in ps.fields if v.unit and not v.unit.startswith("{")}
    required = set(schema.get("required", ()))
    patient: list[Input] = []
    sections: list[Section] = []
    labels: dict[str, str] = {}
    for key, raw in schema["properties"].items():
        node, quantity = _unwrap(raw, defs)
        var = next((v for v in ps.fields if v.field == key), None)
        title = _capital(var.label) if var is not None and var.label else node.get("title", key)
        if node.get("type") == "object" and "properties" in node:
            inner = [_leaf(f"{key}.{k}", *_unwrap(v, defs), k in node.get("required", ()), ps, units)
                     for k, v in node["properties"].items()]
            sections.append(Section(key, title, node.get("description", ""), (tuple(inner),)))
        elif node.get("type") == "array":
            item, _ = _unwrap(node.get("items", {}), defs)
            n = max(1, (rows or {}).get(key, DEFAULT_ROWS.get(key, 1)))
            main = ITEM_MAIN.get(key)
            made = tuple(tuple(replace(_leaf(f"{key}.{i}.{k}", *_unwrap(v, defs), k in item.get("required", ()), ps,
                                             units), detail=main is not None and k not in main)
                               for k, v in item.get("properties", {}).items()) for i in range(n))
            words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", item.get("title", key)).lower()
            sections.append(Section(key, title, raw.get("description", node.get("description", "")), made, True,
                                    _capital(words)))
        else:
            patient.append(_leaf(key, node, quantity, key in required, ps, units))
    form = FormSpec((Section("patient", "Patient and tumour", "", (tuple(patient),)), *sections), labels)
    for inp in form.inputs():
        labels.setdefault(_pattern(inp.name), inp.label)
    for v in ps.fields:
        if v.label:
            labels.setdefault(v.field, _capital(v.label))
    return form


_cache = DerivedCache()


def profile_form(store: GraphStore, rows: Mapping[str, int] | None = None) -> FormSpec:
    """The form of the store's profile (kept per vocabulary version for the default row counts)."""
    ps = profile_schema(store)
    if rows:
        return build_form(ps, rows)
    form: FormSpec = _cache.get(store, "profile-form", lambda: build_form(ps), vocabulary=True)
    return form


def rows_for(profile: Mapping[str, Any]) -> dict[str, int]:
    """Rows each array section needs to show a profile's items, with one empty row to add another."""
    return {k: max(DEFAULT_ROWS.get(k, 1), len(v) + 1) for k, v in profile.items() if isinstance(v, list)}


def rows_typed(values: Mapping[str, str]) -> dict[str, int]:
    """Rows each array section needs to show submitted fields (``alterations.4.gene`` needs five)."""
    rows: dict[str, int] = {}
    for name in values:
        parts = name.split(".")
        if len(parts) > 2 and parts[1].isdigit() and int(parts[1]) < 100:
            rows[parts[0]] = max(rows.get(parts[0], DEFAULT_ROWS.get(parts[0], 1)), int(parts[1]) + 1)
    return rows


# ------------------------------------------------------------------ form <-> profile
def _number(inp: Input, text: str) -> float | int:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise FormError(inp.name, f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FormError(inp.name, f"{text!r} is not a number")
    return int(value) if inp.integer and value.is_integer() else value


def _value(inp: Input, form: Mapping[str, str]) -> Any:
    text = (form.get(inp.name) or "").strip()
    if not text:
        return None
    if inp.control == "yesno":
        if text not in ("yes", "no"):
            raise FormError(inp.name, f"answer yes, no or leave unknown, not {text!r}")
        return text == "yes"
    if inp.control == "number":
        value = _number(inp, text)
        unit = (form.get(inp.name + ".unit") or "").strip()
        if unit and inp.units and unit != inp.units[0]:
            return {"value": value, "unit": unit}
        return value
    return text


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def profile_from_form(form: Mapping[str, str], spec: FormSpec) -> dict[str, Any]:
    """The profile a submitted form describes: only what was filled in (blank means unknown)."""
    profile: dict[str, Any] = {}
    for section in spec.sections:
        if section.repeated:
            items = []
            for row in section.rows:
                item = {}
                for inp in row:
                    value = _value(inp, form)
                    if value is not None:
                        item[inp.name.rsplit(".", 1)[-1]] = value
                if item:
                    items.append(item)
            if items:
                profile[section.key] = items
            continue
        for row in section.rows:
            for inp in row:
                value = _value(inp, form)
                if value is not None:
                    _put(profile, inp.name.split("."), value)
    return profile


def form_values(profile: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The form fields that show a profile (the inverse of :func:`profile_from_form`)."""
    out: dict[str, str] = {}
    for key, value in profile.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and set(value) == {"value", "unit"}:
            out[name], out[name + ".unit"] = _text(value["value"]), str(value["unit"])
        elif isinstance(value, Mapping):
            out.update(form_values(value, name + "."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    out.update(form_values(item, f"{name}.{i}."))
        elif value is not None:
            out[name] = _text(value)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flat_fields(profile: Mapping[str, Any]) -> set[str]:
    """The profile fields given a value (dotted paths without item indexes)."""
    return {_pattern(k.removesuffix(".unit")) for k in form_values(profile)}
