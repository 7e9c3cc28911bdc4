"""The matching contract: its copies agree, and v1 stays valid word for word under the generated profile."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from acse_kg.matching.profile import json_schema, parse_profile
from acse_kg.paths import ROOT

CONTRACT = SHARED / "contracts" / "tumor-profile.md"
PUBLISHED = ROOT / "acse_kg" / "matching" / "contract" / "tumor-profile.md"
#: The workplace's contract: ../shared beside a checkout (or beside the folder of worktrees); absent in a bare clone.
WORKPLACE = next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared")
                  if (p / "contracts" / "tumor-profile.md").exists()), ROOT.parent / "shared") / "contracts" / "tumor-profile.md"
V1_SCHEMA = json.loads((Path(__file__).parent / "data" / "v1" / "tumor-profile.schema.json").read_text())


def contract_text() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def v1_example() -> dict[str, Any]:
    return json.loads(re.search(r"```json\n(.*?)```", contract_text(), re.S).group(1))  # type: ignore[union-attr]


# ------------------------------------------------------------------ the copies
def test_the_package_publishes_the_full_contract_byte_for_byte() -> None:
    assert PUBLISHED.read_bytes() == CONTRACT.read_bytes()


def test_the_projects_copy_is_the_workplace_contract_when_that_is_present() -> None:
    if not WORKPLACE.exists():
        pytest.skip("no workplace contract beside this checkout")
    assert CONTRACT.read_bytes() == WORKPLACE.read_bytes()


def test_the_contract_copy_carries_the_additions() -> None:
    assert "## Additions (2026-12): many trials" in contract_text()


# ------------------------------------------------------------------ v1, word for word
def test_the_v1_example_validates_and_means_what_it_meant() -> None:
    example = v1_example()
    p = parse_profile(example)
    assert (p.id, p.age_years, p.sex, p.height_cm, p.weight_kg, p.diagnosis) == ("P-0001", 54, "female", 165, 60, "LUAD")
    assert [(a.gene, a.type, a.partner, a.method) for a in p.alterations] == [
        ("MET", "amplification", None, None), ("ALK", "translocation", "EML4", None),
        ("ALK", "overexpression", None, "IHC")]
    assert p.measurable_disease is True and p.performance.ecog == 1
    assert p.labs.anc == 1.8 and p.labs.platelets == 210 and p.labs.hemoglobin == 11.2
    assert p.labs.creatinine_clearance == 85 and (p.labs.bilirubin_uln, p.labs.ast_uln, p.labs.alt_uln) == (0.8, 1.1, 0.9)
    assert (p.labs.calcium, p.labs.magnesium, p.labs.potassium) == ("normal", "normal", "normal")
    assert (p.qtcf_ms, p.heart_rate_bpm, p.life_expectancy_months) == (420, 72, 6)
    assert p.history.model_dump() == {**dict.fromkeys(p.history.model_dump()), **example["history"]}


def test_the_v1_example_reads_back_as_itself() -> None:
    # Nothing is added to, or taken from, a v1 document: its normalised form is the document.
    example = v1_example()
    assert parse_profile(example).model_dump(exclude_none=True) == example


def test_new_optional_fields_stay_absent_from_a_v1_profile() -> None:
    p = parse_profile(v1_example())
    assert (p.tmb, p.msi, p.mmr, p.prior_therapies) == (None, None, None, None)


@pytest.mark.parametrize(("field", "given", "expected"), [
    ("hemoglobin", {"value": 112, "unit": "g/L"}, 11.2),
    ("anc", {"value": 1800, "unit": "/uL"}, 1.8),
])
def test_the_contracts_unit_examples_are_converted_as_it_says(field, given, expected) -> None:
    example = v1_example()
    example["labs"][field] = given
    assert getattr(parse_profile(example).labs, field) == pytest.approx(expected)


@pytest.mark.parametrize(("word", "means"), [("fusion", "translocation"), ("rearrangement", "translocation"),
                                              ("amplification", "amplification"), ("mutation", "mutation"),
                                              ("overexpression", "overexpression")])
def test_the_contracts_alteration_words_mean_what_they_meant(word, means) -> None:
    p = parse_profile({**v1_example(), "alterations": [{"gene": "ALK", "type": word}]})
    assert p.alterations[0].type == means


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


def _v1_and_now(path: list[str]) -> tuple[Any, Any]:
    old, new = V1_SCHEMA, json_schema()
    for key in path:
        old, new = old[key], new[key]
    return _without_descriptions(old), _without_descriptions(new)


@pytest.mark.parametrize("name", list(V1_SCHEMA["properties"]))
def test_every_v1_top_level_field_keeps_its_published_schema(name) -> None:
    old, new = _v1_and_now(["properties", name])
    assert new == old
    assert json_schema()["required"] == V1_SCHEMA["required"]


@pytest.mark.parametrize(("group", "name"), [(g, n) for g in ("Labs", "History", "Performance", "Quantity")
                                              for n in V1_SCHEMA["$defs"][g]["properties"]])
def test_every_v1_nested_field_keeps_its_published_schema(group, name) -> None:
    old, new = _v1_and_now(["$defs", group, "properties", name])
    if "enum" in str(old):  # the graph has no order for its allowed codes: they are published sorted
        old, new = json.dumps(old).replace('"normal", "abnormal"', '"abnormal", "normal"'), json.dumps(new)
    assert new == old


def test_the_v1_alteration_keys_keep_their_schema_and_every_v1_type_word_is_still_accepted() -> None:
    old = V1_SCHEMA["$defs"]["Alteration"]["properties"]
    new = json_schema()["$defs"]["Alteration"]["properties"]
    for key in ("gene", "partner", "method"):
        assert _without_descriptions(new[key]) == _without_descriptions(old[key])
    assert set(old["type"]["enum"]) <= set(new["type"]["enum"])


# A v1 profile drawn from the contract's own fields and values: it validates against the v1 schema and
# the generated one, and reads back unchanged.
_V1_VALUES = {
    "sex": st.sampled_from(["female", "male"]),
    "height_cm": st.integers(50, 220), "weight_kg": st.integers(3, 200),
    "measurable_disease": st.booleans(),
    "performance": st.fixed_dictionaries({}, optional={"ecog": st.integers(0, 5), "karnofsky": st.integers(0, 100),
                                                       "lansky": st.integers(0, 100)}),
    "labs": st.fixed_dictionaries({}, optional={
        "anc": st.floats(0, 50), "platelets": st.integers(0, 900), "hemoglobin": st.floats(0.5, 25),
        "creatinine_clearance": st.integers(0, 300), "bilirubin_uln": st.floats(0, 20),
        "ast_uln": st.floats(0, 20), "alt_uln": st.floats(0, 20),
        "calcium": st.sampled_from(["normal", "abnormal"]), "magnesium": st.sampled_from(["normal", "abnormal"]),
        "potassium": st.sampled_from(["normal", "abnormal"])}),
    "qtcf_ms": st.integers(300, 600), "heart_rate_bpm": st.integers(30, 200),
    "life_expectancy_months": st.integers(0, 120),
    "history": st.fixed_dictionaries({}, optional={k: st.booleans() for k in V1_SCHEMA["$defs"]["History"]["properties"]}),
    "alterations": st.lists(st.fixed_dictionaries(
        {"gene": st.sampled_from(["ALK", "MET", "ROS1", "RON", "AXL"]),
         "type": st.sampled_from(V1_SCHEMA["$defs"]["Alteration"]["properties"]["type"]["enum"])},
        optional={"partner": st.sampled_from(["EML4", "CD74"]), "method": st.sampled_from(["IHC", "FISH", "NGS"])}),
        max_size=3),
}
_V1_PROFILE = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=20), "age_years": st.floats(0, 100),
     "diagnosis": st.sampled_from(["LUAD", "NSCLC", "ALCL", "NCIT:C3512"])},
    optional=_V1_VALUES)
_V1 = jsonschema.Draft202012Validator(V1_SCHEMA)
_NOW = jsonschema.Draft202012Validator(json_schema())
_SYNONYM = {"fusion": "translocation", "rearrangement": "translocation"}
_APPROVED = {"RON": "MST1R"}  # a gene reads back as its approved HGNC symbol (the contract: RON is MST1R)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(doc=_V1_PROFILE)
def test_any_v1_profile_validates_under_both_schemas_and_reads_back_as_itself(doc) -> None:
    assert _V1.is_valid(doc) and _NOW.is_valid(doc)
    expected = {**doc, "alterations": [{**a, "gene": _APPROVED.get(a["gene"], a["gene"]), "type": _SYNONYM.get(a["type"], a["type"])}
                                       for a in doc.get("alterations", [])]}
    for group in ("performance", "labs", "history"):
        expected.setdefault(group, {})
    assert parse_profile(doc).model_dump(exclude_none=True) == expected
