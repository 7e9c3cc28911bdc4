"""The tumor profile at the boundary: units, validation errors naming the field, schema and context."""

from __future__ import annotations

import jsonschema
import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st
from matching_fixtures import profile

from acse_kg.matching import jsonld
from acse_kg.matching.profile import ProfileError, convert, json_schema, parse_profile
from acse_kg.namespaces import ACSE


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
        ({"alterations": [{"gene": "ALK", "type": "inversion"}]}, "alterations.0.type"),
        ({"alterations": [{"type": "mutation"}]}, "alterations.0.gene"),
        ({"height_cm": 0}, "height_cm"),
        ({"measurable_disease": "true"}, "measurable_disease"),
        ({"heart_rate_bpm": 0}, "heart_rate_bpm"),
        ({"qtcf_ms": 0}, "qtcf_ms"),
        ({"labs": {"hemoglobin": 0}}, "labs.hemoglobin"),
        ({"weight_kg": -60}, "weight_kg"),
        ({"performance": {"ecog": 1.5}}, "performance.ecog"),
        ({"performance": {"lansky": -10}}, "performance.lansky"),
        ({"labs": {"bilirubin_uln": -0.1}}, "labs.bilirubin_uln"),
        ({"labs": {"anc": {"value": 1.8}}}, "labs.anc"),
        ({"labs": {"anc": {"value": "1.8", "unit": "10*9/L"}}}, "labs.anc"),
        ({"labs": {"anc": {"value": 1.8, "unit": "10*9/L", "method": "auto"}}}, "labs.anc"),
        ({"labs": {"platelets": {"value": -3, "unit": "10*3/uL"}}}, "labs.platelets"),
        ({"alterations": [{"gene": "MET", "type": "amplification", "vaf": 0.3}]}, "alterations.0.vaf"),
        ({"alterations": {"gene": "MET", "type": "amplification"}}, "alterations"),
        ({"labs": None}, "labs"),
        ({"id": 17}, "id"),
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


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_a_number_that_is_not_finite_is_an_error_naming_the_field(number) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(b'{"id": "P", "diagnosis": "LUAD", "age_years": ' + number + b"}")
    assert info.value.field == "age_years" and "finite" in info.value.message


def test_a_quantity_that_is_not_finite_is_an_error_naming_the_field() -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(b'{"id": "P", "diagnosis": "LUAD", "age_years": 54, "labs": {"anc": {"value": 1e400, "unit": "/uL"}}}')
    assert info.value.field == "labs.anc" and "finite" in info.value.message


def test_error_messages_are_plain_sentences_without_pydantic_prefixes() -> None:
    e = error(labs={"anc": {"value": 1, "unit": "furlong"}})
    assert e.message.startswith("unknown or incompatible unit 'furlong'")


def test_the_id_of_a_profile_is_echoed_in_its_error_even_when_orjson_refuses_the_document() -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(b'{"id": "P-big", "diagnosis": "LUAD", "age_years": 1e400}')
    assert info.value.profile_id == "P-big"


@pytest.mark.parametrize(("given", "expected"), [(1.0, 1), (0.0, 0), (2, 2)])
def test_a_score_written_as_a_whole_number_is_that_score(given, expected) -> None:
    # JSON Schema's "integer" (which we publish) accepts 1.0; the validator must agree.
    assert parse_profile(profile(performance={"ecog": given})).performance.ecog == expected


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


def test_the_context_names_every_alteration_type_of_the_graph_with_its_synonyms(store) -> None:
    words = {str(r["w"]): str(r["t"]).replace(str(ACSE), "acse:") for r in store.select(
        "SELECT ?t ?w WHERE { ?t acse:profileTerm ?term { ?t acse:profileTerm ?w } UNION { ?t skos:altLabel ?w } }")}
    assert jsonld.context()["@context"]["type"]["@context"] == words


# ------------------------------------------------- schema and validator agree
NUMBER_FIELDS = [
    "age_years", "height_cm", "weight_kg", "qtcf_ms", "heart_rate_bpm", "life_expectancy_months",
    "labs.anc", "labs.platelets", "labs.hemoglobin", "labs.creatinine_clearance", "labs.bilirubin_uln",
    "labs.ast_uln", "labs.alt_uln", "performance.ecog", "performance.karnofsky", "performance.lansky",
]
_VALIDATOR = jsonschema.Draft202012Validator(json_schema())


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    field=st.sampled_from(NUMBER_FIELDS),
    value=st.one_of(st.integers(-5, 2500), st.floats(-5, 2500, allow_nan=False), st.sampled_from([0, 0.0, 1.0, 5, 130])),
)
def test_the_published_schema_and_the_validator_agree_on_every_number(field, value) -> None:
    head, _, tail = field.partition(".")
    doc = profile(**({head: {tail: value}} if tail else {head: value}))
    try:
        parse_profile(doc)
        accepted = True
    except ProfileError as exc:
        assert exc.field == field
        accepted = False
    assert _VALIDATOR.is_valid(doc) == accepted


# ------------------------------------------------------- the same document is RDF
def test_the_contract_example_with_the_published_context_is_rdf(store) -> None:
    import json
    import re

    from conftest import SHARED

    text = (SHARED / "contracts" / "tumor-profile.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    g = rdflib.Graph().parse(data=json.dumps({**jsonld.context(), **example}), format="json-ld")
    prof = jsonld.PROF
    node = g.value(predicate=prof.profileId, object=rdflib.Literal("P-0001"))
    assert g.value(node, prof.diagnosis) == rdflib.URIRef("https://w3id.org/acse-kg/id/oncotree/2025_10_03/LUAD")
    assert len(list(g.objects(node, prof.alteration))) == 3
    assert g.value(g.value(node, prof.history), prof.gilbert_syndrome).toPython() is False


def test_an_ncit_diagnosis_becomes_the_ncit_class_the_graph_maps_to_oncotree(store) -> None:
    import json

    g = rdflib.Graph().parse(data=json.dumps({**jsonld.context(), **profile(diagnosis="NCIT:C3512")}),
                             format="json-ld")
    (dx,) = g.objects(None, jsonld.PROF.diagnosis)
    assert str(dx) == "http://purl.obolibrary.org/obo/NCIT_C3512"
    assert store.ask(f"ASK {{ onco:LUAD skos:exactMatch <{dx}> }}")


# ------------------------------------------------------- UCUM: factors and the disk cache
@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Conversion caches emptied and pointed at a temporary folder (restored after the test)."""
    from acse_kg.matching import profile as prof

    monkeypatch.setattr(prof, "_cache_dir", lambda: tmp_path)
    for f in (prof.conversion, prof._disk_cache):
        f.cache_clear()
    yield prof
    for f in (prof.conversion, prof._disk_cache):
        f.cache_clear()


def test_a_ucum_code_keeps_its_numeric_factor(private_cache) -> None:
    # UCUM "10.9/L" is 10 x 9 = 90 per litre; "2.g/L" is two grams per litre.
    assert convert(210, "10.9/L", "10*9/L") == pytest.approx(210 * 90 / 1e9)
    assert convert(1, "2.g/L", "g/dL") == pytest.approx(0.2)


def test_a_factor_in_the_unit_scales_the_value(private_cache) -> None:
    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(k=st.integers(2, 1000), value=st.floats(0.01, 1000))
    def check(k: int, value: float) -> None:
        assert convert(value, f"{k}.g/L", "g/dL") == pytest.approx(value * k / 10, rel=1e-9)

    check()


def test_a_conversion_once_computed_needs_no_ucum_registry_in_a_later_command(private_cache, monkeypatch) -> None:
    assert convert(112, "g/L", "g/dL") == pytest.approx(11.2)
    private_cache.conversion.cache_clear()
    private_cache._disk_cache.cache_clear()  # as in a new process

    def no_registry() -> None:
        raise AssertionError("the UCUM registry was built")

    monkeypatch.setattr(private_cache, "_registry", no_registry)
    assert convert(75, "g/L", "g/dL") == pytest.approx(7.5)


def test_conversion_works_without_a_writable_cache(private_cache, monkeypatch) -> None:
    monkeypatch.setattr(private_cache, "_cache_dir", lambda: None)
    assert convert(1800, "/uL", "10*9/L") == pytest.approx(1.8)


def test_a_corrupt_cache_file_is_ignored(private_cache, tmp_path) -> None:
    private_cache._cache_file().write_text("{not json")  # type: ignore[union-attr]
    assert convert(1.5, "mL/s", "mL/min") == pytest.approx(90)


@pytest.mark.parametrize("value", ["high", True, [1.8], None])
def test_a_measurement_that_is_not_a_number_says_what_is_expected(value) -> None:
    e = error(age_years=value)
    assert e.field == "age_years" and "expected a number (in UCUM unit 'a') or a quantity" in e.message


def test_every_mistake_of_a_profile_is_reported_at_once_each_with_its_field() -> None:
    e = error(age_years=-1, sex="other", labs={"platelets": -3, "hemoglobin": {"value": 1, "unit": "parsec"}},
              alterations=[{"gene": "NOTAGENE1", "type": "mutation"}])
    assert [x["field"] for x in e.errors] == [
        "age_years", "sex", "alterations.0.gene", "labs.platelets", "labs.hemoglobin"]
    assert all(x["message"] for x in e.errors)


def test_the_first_error_is_still_the_errors_field_and_message() -> None:
    e = error(age_years=-1, labs={"platelets": -3})
    assert (e.field, e.message) == (e.errors[0]["field"], e.errors[0]["message"]) == ("age_years", e.message)
    assert e.as_dict() == e.errors[0]


def test_a_profile_with_one_mistake_has_one_error() -> None:
    assert error(labs={"platelets": -3}).errors == [
        {"field": "labs.platelets", "message": "Input should be greater than or equal to 0"}]
