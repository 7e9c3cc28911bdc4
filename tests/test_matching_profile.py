"""The tumor profile at the boundary: units, validation errors naming the field, schema and context."""

from __future__ import annotations

import jsonschema
import pytest
import rdflib
from matching_fixtures import matcher, profile  # noqa: F401

from acse_kg.matching import jsonld
from acse_kg.matching.profile import ProfileError, convert, json_schema, parse_profile


@pytest.mark.parametrize(
    ("field", "given", "expected"),
    [
        ("hemoglobin", {"value": 112, "unit": "g/L"}, 11.2),
        ("hemoglobin", {"value": 11200, "unit": "mg/dL"}, 11.2),
        ("anc", {"value": 1800, "unit": "/uL"}, 1.8),
        ("platelets", {"value": 210, "unit": "10*3/uL"}, 210),
        ("creatinine_clearance", {"value": 1.5, "unit": "mL/s"}, 90),
        ("anc", 1.8, 1.8),
    ],
)
def test_lab_values_with_ucum_units_are_converted(field, given, expected) -> None:
    p = parse_profile(profile(labs={field: given}))
    assert getattr(p.labs, field) == pytest.approx(expected)


def test_other_numbers_convert_too() -> None:
    p = parse_profile(profile(age_years={"value": 18, "unit": "mo"}, height_cm={"value": 1.65, "unit": "m"},
                              weight_kg={"value": 132.277, "unit": "[lb_av]"}, qtcf_ms={"value": 0.42, "unit": "s"}))
    assert p.age_years == pytest.approx(1.5)
    assert p.height_cm == pytest.approx(165)
    assert p.weight_kg == pytest.approx(60, abs=0.01)
    assert p.qtcf_ms == pytest.approx(420)


def test_conversion_is_ucum_not_a_table() -> None:
    assert convert(1, "[in_i]", "cm") == pytest.approx(2.54)
    assert convert(2, "wk", "mo") == pytest.approx(2 * 7 / 30.4375)


def error(**over) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        parse_profile(profile(**over))
    return info.value


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"age_years": -1}, "age_years"),
        ({"labs": {"platelets": -3}}, "labs.platelets"),
        ({"labs": {"anc": {"value": 1, "unit": "furlong"}}}, "labs.anc"),
        ({"labs": {"anc": {"value": 1, "unit": "g"}}}, "labs.anc"),
        ({"labs": {"ast_uln": {"value": 1, "unit": "mg/dL"}}}, "labs.ast_uln"),
        ({"labs": {"hemoglobin": "high"}}, "labs.hemoglobin"),
        ({"labs": {"calcium": "low"}}, "labs.calcium"),
        ({"labs": {"sodium": 140}}, "labs.sodium"),
        ({"tumour_size": 3}, "tumour_size"),
        ({"age_years": "54"}, "age_years"),
        ({"performance": {"ecog": 6}}, "performance.ecog"),
        ({"performance": {"karnofsky": 110}}, "performance.karnofsky"),
        ({"history": {"cns_disease": "yes"}}, "history.cns_disease"),
        ({"history": {"smoker": True}}, "history.smoker"),
        ({"sex": "x"}, "sex"),
        ({"alterations": [{"gene": "ALK", "type": "deletion"}]}, "alterations.0.type"),
        ({"alterations": [{"type": "mutation"}]}, "alterations.0.gene"),
        ({"height_cm": 0}, "height_cm"),
        ({"measurable_disease": "true"}, "measurable_disease"),
    ],
)
def test_bad_input_names_the_field(over, field) -> None:
    e = error(**over)
    assert e.field == field and e.message


@pytest.mark.parametrize("missing", ["id", "age_years", "diagnosis"])
def test_required_fields(missing) -> None:
    p = profile()
    del p[missing]
    with pytest.raises(ProfileError) as info:
        parse_profile(p)
    assert info.value.field == missing


def test_not_json_is_an_error_without_a_field() -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(b"{not json")
    assert info.value.field is None and "JSON" in info.value.message


def test_an_unknown_diagnosis_code_names_the_diagnosis(matcher) -> None:
    with pytest.raises(ProfileError) as info:
        matcher.match(profile(diagnosis="NOTACODE"))
    assert info.value.field == "diagnosis"


def test_absent_history_keys_are_unknown_not_false() -> None:
    p = parse_profile(profile(history={"__replace__": True}))
    assert p.history.gilbert_syndrome is None


def test_the_published_json_schema_accepts_the_contract_example_and_rejects_extras() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(profile(), schema)
    jsonschema.validate(profile(labs={"hemoglobin": {"value": 112, "unit": "g/L"}}), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**profile(), "extra": 1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(profile(labs={"platelets": -3}), schema)


def test_the_json_ld_context_makes_the_profile_rdf(matcher) -> None:
    g = jsonld.to_graph([matcher.document(parse_profile(profile(alterations=[{"gene": "RON", "type": "fusion"}])))])
    prof = jsonld.PROF
    node = g.value(predicate=prof.profileId, object=rdflib.Literal("P-test"))
    assert g.value(node, prof.diagnosis) == rdflib.URIRef("https://w3id.org/acse-kg/id/oncotree/2025_10_03/LUAD")
    alt = g.value(node, prof.alteration)
    assert g.value(alt, prof.gene) == rdflib.URIRef("https://w3id.org/acse-kg/id/gene/MST1R")
    assert g.value(alt, prof.alterationType) == rdflib.URIRef("https://w3id.org/acse-kg/ontology#Translocation")
    labs = g.value(node, prof.labs)
    assert g.value(labs, prof.anc).toPython() == 1.8


def test_the_context_names_every_alteration_type_of_the_graph(store) -> None:  # noqa: ANN001
    terms = {str(r["term"]) for r in store.select("SELECT ?term WHERE { ?t acse:profileTerm ?term }")}
    assert terms <= set(jsonld.ALTERATION_TERMS)
