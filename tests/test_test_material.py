"""The repository's copies of the shared test material are the shared files, byte for byte."""

from __future__ import annotations

import pytest
from conftest import SHARED

from acse_kg.paths import ROOT

WORKPLACE = ROOT.parent / "shared"  # beside a checkout in the workplace; absent in a bare clone
COPIES = sorted(p for p in SHARED.rglob("*") if p.is_file() and p.name != "ORIGIN.md")


def test_every_copy_is_listed_in_its_origin_note() -> None:
    note = (SHARED / "ORIGIN.md").read_text(encoding="utf-8")
    assert COPIES and all(p.name in note for p in COPIES)


@pytest.mark.parametrize("copy", COPIES, ids=lambda p: str(p.relative_to(SHARED)))
def test_a_copy_matches_the_workplace_file_when_that_is_present(copy) -> None:
    original = WORKPLACE / copy.relative_to(SHARED)
    if not original.exists():
        pytest.skip(f"no {original} beside this checkout to compare with")
    assert copy.read_bytes() == original.read_bytes()
