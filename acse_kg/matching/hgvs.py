"""HGVS protein changes (``p.V600E``): syntax, one spelling, and a trial's wildcard.

Laboratories write the same change as ``p.V600E``, ``p.Val600Glu`` or the
predicted ``p.(Val600Glu)``; a trial writes ``p.V600`` for every change at
that position (MatchMiner's CTML wildcard). So a profile's change is checked
against the HGVS protein grammar (substitution, deletion, duplication,
insertion, deletion-insertion, frameshift, extension, and MAF's
``p.X963_splice``) and kept in one spelling, 1-letter residues without the
prediction parentheses, which makes equality a string comparison.

The grammar is one regular expression written in the subset that Python and
ECMAScript share, so the published JSON Schema checks exactly what the
validator checks.
"""

from __future__ import annotations

import re

#: HGVS 3-letter amino-acid codes and their 1-letter codes (Ter is the stop, written *).
THREE_TO_ONE: dict[str, str] = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
    "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
    "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Sec": "U", "Pyl": "O", "Ter": "*", "Xaa": "X",
}
_AA = "(?:" + "|".join(THREE_TO_ONE) + r"|[ACDEFGHIKLMNPQRSTVWYUOX*])"
_N = "[1-9][0-9]*"
_POS = _AA + _N
_RANGE = f"{_POS}(?:_{_POS})?"
_STOP = rf"(?:Ter|\*)(?:{_N}|\?)"
_CHANGE = "|".join([
    f"{_POS}(?:{_AA}|=)",  # substitution, nonsense (p.R213*), silent (p.V600=)
    f"{_RANGE}del",
    f"{_RANGE}dup",
    f"{_POS}_{_POS}ins{_AA}+",
    f"{_RANGE}delins{_AA}+",
    f"{_POS}{_AA}?fs(?:{_STOP})?",  # frameshift: p.R97fs, p.R97Pfs*23, p.Arg97ProfsTer23
    f"{_POS}{_AA}?ext(?:{_STOP}|-{_N})?",  # extension: p.*110Glnext*17, p.Met1ext-5
    f"X{_N}_splice",  # MAF's splice-site notation
])
#: The whole of an HGVS protein change (the published JSON Schema's pattern).
PATTERN = rf"^p\.(?:{_CHANGE}|\((?:{_CHANGE})\))$"
_WHOLE = re.compile(PATTERN)
_WILDCARD = re.compile(rf"^p\.\(?({_AA})({_N})\)?$")
_THREE = re.compile("|".join(THREE_TO_ONE))


def _one_letter(body: str) -> str:
    return _THREE.sub(lambda m: THREE_TO_ONE[m.group(0)], body)


def normalise_protein_change(text: str) -> str:
    """The change in one spelling (``p.Val600Glu`` and ``p.(V600E)`` are ``p.V600E``); ValueError if not HGVS."""
    if not _WHOLE.match(text):
        raise ValueError(
            f"{text!r} is not an HGVS protein change (e.g. p.V600E, p.Val600Glu, p.E746_A750del, "
            "p.R97Pfs*23, p.X963_splice)")
    body = text[2:]
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    return "p." + _one_letter(body)


def normalise_wildcard(text: str) -> str | None:
    """A trial's position wildcard (``p.V600``, ``p.Val600``) in 1-letter spelling, else None."""
    m = _WILDCARD.match(text)
    return f"p.{_one_letter(m.group(1))}{m.group(2)}" if m else None


def protein_change_matches(wanted: str, observed: str) -> bool:
    """Whether a trial's change (exact, or a position wildcard) covers a profile's normalised change."""
    wildcard = normalise_wildcard(wanted)
    if wildcard is not None:
        rest = observed[len(wildcard):]
        return observed.startswith(wildcard) and not rest[:1].isdigit()
    return normalise_protein_change(wanted) == observed
