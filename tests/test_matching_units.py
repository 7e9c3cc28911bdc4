"""Haemoglobin given in mmol/L: converted by the monomer factor the graph states (1 mmol/L = 1.611 g/dL).

UCUM cannot turn a molar concentration into a mass concentration (the factor
depends on the substance), so the graph gives the factor on the variable
(``acse:convertibleUnit``); every other molar unit is refused, naming the field.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matching_fixtures import profile

from acse_kg.matching.profile import ProfileError, parse_profile
from acse_kg.store import GraphStore


def hemoglobin(value: object) -> float:
    return parse_profile(profile(labs={"hemoglobin": value})).labs.hemoglobin


def test_haemoglobin_in_mmol_per_litre_is_converted_by_the_monomer_factor() -> None:
    assert hemoglobin({"value": 7.5, "unit": "mmol/L"}) == pytest.approx(12.0825)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.floats(0.1, 18))
def test_mmol_per_litre_and_its_g_per_dl_value_are_the_same_haemoglobin(mmol: float) -> None:
    assert hemoglobin({"value": mmol, "unit": "mmol/L"}) == pytest.approx(hemoglobin(mmol * 1.611))


def test_the_factor_is_data_on_the_variable_with_its_source(store: GraphStore) -> None:
    row = store.select("SELECT ?u ?f ?why WHERE { acse:var_hemoglobin acse:convertibleUnit ?c . "
                       "?c acse:unit ?u ; acse:conversionFactor ?f ; skos:definition ?why }").rows
    assert [(str(r["u"]), float(r["f"].toPython())) for r in row] == [("mmol/L", 1.611)]
    assert "monomer" in str(row[0]["why"])


@pytest.mark.parametrize("unit", ["umol/L", "mol/L", "mmol/dL"])
def test_another_molar_unit_for_haemoglobin_is_refused_naming_the_field(unit: str) -> None:
    with pytest.raises(ProfileError) as e:
        hemoglobin({"value": 7.5, "unit": unit})
    assert e.value.field == "labs.hemoglobin" and unit in e.value.message and "mmol/L" in e.value.message


def test_a_molar_unit_for_another_lab_value_is_refused() -> None:
    with pytest.raises(ProfileError) as e:
        parse_profile(profile(labs={"platelets": {"value": 7.5, "unit": "mmol/L"}}))
    assert e.value.field == "labs.platelets" and "mmol/L" not in e.value.message.split("(")[1]


def test_a_haemoglobin_of_4_mmol_per_litre_fails_the_8_g_per_dl_threshold(matcher) -> None:
    """4 mmol/L is 6.4 g/dL, under the curated threshold of 8 g/dL."""
    result = matcher.match(profile(labs={"hemoglobin": {"value": 4, "unit": "mmol/L"}}))
    items = [i for c in result["cohorts"] for i in c["criteria"] if "hemoglobin" in i["id"]]
    assert items and all(i["status"] == "not_met" for i in items)
