"""The tumor profile being assembled from a patient record, and the list of what could not be mapped.

Both converters (Phenopacket, mCODE) read their format and hand each fact to
a :class:`ProfileBuilder` in the profile's own terms (a dotted field and a
value, or a number with its UCUM unit). The builder knows the readings the
standards share: a value over the upper limit of its reference range (the
profile's ``*_uln`` fields), normal/abnormal from an interpretation code or a
reference range, a whole score. Whatever a converter meets and cannot
place is a note, so nothing in the record is dropped without a word.

Units are not converted here: a number goes into the profile as
``{"value": …, "unit": "<UCUM>"}`` and the profile's own conversion turns it
into the contract's unit (or refuses it, naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import AcseError
from ..matching.profile import conversion
from .vocabulary import ABNORMAL, Loinc, Vocabulary


class PatientRecordError(AcseError, ValueError):
    """A patient record (Phenopacket, mCODE Bundle) that cannot be read at all; the message says why."""


#: Significant digits kept of a ratio to the upper limit of normal (44 U/L over 40 U/L is 1.1, not 1.1000000000000001).
ULN_DIGITS = 6


@dataclass
class Converted:
    """A tumor profile (the contract's JSON object) and what of the record it does not carry."""

    profile: dict[str, Any]
    notes: list[str]
    source: str  # "phenopacket" | "mcode"


@dataclass
class ProfileBuilder:
    vocab: Vocabulary
    source: str
    profile: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def set(self, path: str, value: Any, where: str) -> None:
        """Put ``value`` at the dotted ``path``; a second value for the same field is noted, the first kept."""
        *parents, leaf = path.split(".")
        node = self.profile
        for p in parents:
            node = node.setdefault(p, {})
        if leaf in node and node[leaf] != value:
            self.note(f"{where}: a second value for {path} ({value!r}) is not used; the profile keeps {node[leaf]!r}")
            return
        node[leaf] = value

    def add_alteration(self, alteration: dict[str, Any]) -> None:
        alts = self.profile.setdefault("alterations", [])
        if alteration not in alts:
            alts.append(alteration)

    # --------------------------------------------------------- readings shared by the formats
    def quantity(self, path: str, value: float | None, unit: str | None, where: str) -> None:
        """A number with its UCUM unit, converted by the profile (a score or a unit-less number as it is)."""
        if value is None:
            self.note(f"{where}: no value, so {path} is not set")
            return
        var = self.vocab.by_field.get(path)
        if var is not None and var.whole_number:
            if value != int(value):
                self.note(f"{where}: {value} is not a whole score, so {path} is not set")
                return
            self.set(path, int(value), where)
        elif unit:
            self.set(path, {"value": value, "unit": unit}, where)
        elif var is not None and var.unit and not var.unit.startswith("{"):
            self.note(f"{where}: {value} has no UCUM unit (expected one convertible to {var.unit}), so {path} is not set")
        else:
            self.set(path, value, where)

    def times_uln(self, path: str, value: float | None, unit: str | None, high: float | None,
                  high_unit: str | None, where: str) -> None:
        """A value as a multiple of the upper limit of normal of its reference range."""
        if value is None:
            self.note(f"{where}: no value, so {path} is not set")
            return
        if high is None or high <= 0:
            self.note(f"{where}: {value} {unit or ''} has no upper limit of normal in its reference range, "
                      f"so {path} (a multiple of the ULN) is not set".replace("  ", " "))
            return
        if unit and high_unit and unit != high_unit:
            try:
                factor, offset = conversion(high_unit, unit)
            except ValueError as exc:
                self.note(f"{where}: {exc}, so {path} is not set")
                return
            high = high * factor + offset
        self.set(path, float(f"{value / high:.{ULN_DIGITS}g}"), where)

    def flag(self, path: str, interpretation: list[str], value: float | None, low: float | None,
             high: float | None, where: str) -> None:
        """``normal`` or ``abnormal``: from the interpretation codes, else the value against its range."""
        codes = {c.upper() for c in interpretation}
        if codes & ABNORMAL:
            self.set(path, "abnormal", where)
        elif "N" in codes:
            self.set(path, "normal", where)
        elif value is not None and (low is not None or high is not None):
            inside = (low is None or value >= low) and (high is None or value <= high)
            self.set(path, "normal" if inside else "abnormal", where)
        else:
            self.note(f"{where}: neither an interpretation nor a reference range says whether it is normal, "
                      f"so {path} is not set")

    def loinc(self, code: str, spec: Loinc, *, value: float | None, unit: str | None, low: float | None,
              high: float | None, high_unit: str | None, interpretation: list[str], method: str,
              where: str) -> None:
        """One observation coded in LOINC, read as :data:`.vocabulary.LOINC_FIELDS` says."""
        if spec.reading == "uln":
            self.times_uln(spec.field, value, unit, high, high_unit, where)
        elif spec.reading == "flag":
            self.flag(spec.field, interpretation, value, low, high, where)
        elif spec.reading == "qtc":
            if "fridericia" not in method.casefold():
                self.note(f"{where}: a QTc (LOINC {code}) whose method does not name the Fridericia correction "
                          "is not taken as qtcf_ms")
                return
            self.quantity(spec.field, value, unit, where)
        else:
            self.quantity(spec.field, value, unit, where)

    def variable(self, code: str, value: Any, where: str) -> bool:
        """A fact coded with a clinical variable of the graph; False when the code names none."""
        var = self.vocab.variable(code)
        if var is None:
            return False
        self.set(var.field, value, where)
        return True

    def done(self) -> Converted:
        return Converted(self.profile, self.notes, self.source)
