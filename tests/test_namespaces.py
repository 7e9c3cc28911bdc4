"""NCT numbers and compact IRIs: one spelling everywhere the registry names a study or shows an IRI."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acse_kg.namespaces import compact_iri, is_nct, normalise_nct


@given(st.integers(1, 99_999_999), st.sampled_from(["NCT", "nct", "Nct"]), st.booleans())
def test_any_spelling_clinicaltrials_gov_accepts_normalises_to_nct_and_8_digits(n: int, prefix: str, padded: bool) -> None:
    value = f"{prefix}{n:08d}" if padded else f"{prefix}{n}"
    assert normalise_nct(value) == f"NCT{n:08d}"
    assert is_nct(f"NCT{n:08d}")


@pytest.mark.parametrize("value", ["NCT00000000", "NCT123456789", "NCT", "02034981", "NCT0203498x", "NCT-02034981"])
def test_what_is_not_an_nct_number(value: str) -> None:
    assert normalise_nct(value) is None and not is_nct(value)


def test_only_the_registrys_own_spelling_is_an_nct_id() -> None:
    assert is_nct("NCT02034981") and not is_nct("nct02034981") and not is_nct("NCT2034981")


@pytest.mark.parametrize(("iri", "short"), [
    ("https://w3id.org/acse-kg/id/oncotree/2025_10_03/LUAD", "onco:LUAD"),  # not id:oncotree/...
    ("https://w3id.org/acse-kg/id/gene/ALK", "gene:ALK"),
    ("https://w3id.org/acse-kg/ontology#Cohort", "acse:Cohort"),
    ("http://example.org/x", None),
    ("https://w3id.org/acse-kg/id/", None),  # a namespace alone has no local name
])
def test_compact_iri_takes_the_most_specific_prefix(iri: str, short: str | None) -> None:
    assert compact_iri(iri) == short
