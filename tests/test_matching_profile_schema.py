"""The profile is generated from the graph's clinical variables: a variable added to the graph is a field."""

from __future__ import annotations

import operator

import jsonschema
import pytest
from fastapi.testclient import TestClient
from matching_fixtures import profile

from acse_kg.loader import ONTOLOGY_GRAPH
from acse_kg.matching.profile import ProfileError, ProfileModel
from acse_kg.matching.profile_schema import ProfileSchemaError, build_schema, profile_schema
from acse_kg.store import GraphStore

PREFIXES = """@prefix acse: <https://w3id.org/acse-kg/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
"""
LDH = PREFIXES + """
acse:var_ldh a acse:ClinicalVariable ; rdfs:label "lactate dehydrogenase"@en ; acse:profileField "labs.ldh" ;
    acse:unit "U/L" ; acse:valueKind "number" ; acse:minInclusive 0 ; acse:maxInclusive 100000 ;
    skos:definition "Serum LDH."@en .
acse:var_pdl1 a acse:ClinicalVariable ; rdfs:label "PD-L1 status"@en ; acse:profileField "biomarkers.pdl1" ;
    acse:valueKind "code" ; acse:allowedCode "positive", "negative" .
"""


def add(store: GraphStore, turtle: str) -> None:
    store.add_to_graph(ONTOLOGY_GRAPH, turtle.encode(), "turtle")


# ------------------------------------------------------------------ from the graph
def test_every_clinical_variable_of_the_graph_is_a_field_at_its_dotted_path(store) -> None:
    schema = profile_schema(store)
    fields = {str(r["f"]) for r in store.select("SELECT ?f WHERE { ?v a acse:ClinicalVariable ; acse:profileField ?f }")}
    assert {v.field for v in schema.fields} == fields
    p = schema.parse(profile())
    for f in fields:
        operator.attrgetter(f)(p)  # what the matcher reads: no AttributeError


def test_the_fields_follow_the_graphs_positions(store) -> None:
    top = list(profile_schema(store).model.model_fields)
    assert top[:8] == ["id", "age_years", "sex", "height_cm", "weight_kg", "diagnosis", "alterations",
                       "measurable_disease"]


def test_units_bounds_and_codes_come_from_the_graph(store) -> None:
    schema = profile_schema(store)
    tmb = schema.by_field["tmb"]
    assert (tmb.unit, tmb.min_inclusive, tmb.kind) == ("{mut/Mb}", 0, "number")
    assert schema.by_field["msi"].codes == ("MSI-H", "MSI-L", "MSS")
    assert schema.json_schema()["properties"]["mmr"]["anyOf"][0]["enum"] == ["dMMR", "pMMR"]
    assert schema.canonical_units["labs.hemoglobin"] == "g/dL"


def test_the_schema_is_made_once_per_store_version(fresh_store) -> None:
    first = profile_schema(fresh_store)
    assert profile_schema(fresh_store) is first
    add(fresh_store, LDH)
    assert profile_schema(fresh_store) is not first


def test_a_profile_of_any_store_is_a_profile_model(fresh_store) -> None:
    add(fresh_store, LDH)
    assert isinstance(profile_schema(fresh_store).parse(profile()), ProfileModel)


# ------------------------------------------------------------------ a new variable
def test_a_variable_added_to_the_graph_is_validated_converted_and_published(fresh_store) -> None:
    before = profile_schema(fresh_store)
    with pytest.raises(ProfileError) as info:
        before.parse(profile(labs={"ldh": 250}))
    assert info.value.field == "labs.ldh"
    add(fresh_store, LDH)
    schema = profile_schema(fresh_store)
    p = schema.parse(profile(labs={"ldh": {"value": 250, "unit": "U/L"}}, biomarkers={"pdl1": "positive"}))
    assert p.labs.ldh == 250 and p.labs.anc == 1.8 and p.biomarkers.pdl1 == "positive"
    for bad, field in [(profile(labs={"ldh": -1}), "labs.ldh"), (profile(biomarkers={"pdl1": "high"}), "biomarkers.pdl1")]:
        with pytest.raises(ProfileError) as info:
            schema.parse(bad)
        assert info.value.field == field
    published = schema.json_schema()
    jsonschema.Draft202012Validator.check_schema(published)
    ldh = published["$defs"]["Labs"]["properties"]["ldh"]
    assert ldh["description"] == "Serum LDH." and ldh["anyOf"][0]["anyOf"][0] == {
        "type": "number", "minimum": 0, "maximum": 100000}
    assert published["$defs"]["Biomarkers"]["properties"]["pdl1"]["anyOf"][0]["enum"] == ["negative", "positive"]


def test_a_variable_added_to_the_graph_is_in_the_served_schema(fresh_store) -> None:
    from acse_kg.api.app import create_app

    client = TestClient(create_app(fresh_store))
    assert "ldh" not in client.get("/match/schema").json()["$defs"]["Labs"]["properties"]
    add(fresh_store, LDH)
    served = client.get("/match/schema")
    assert served.status_code == 200 and served.headers["content-type"] == "application/schema+json"
    assert served.json()["$defs"]["Labs"]["properties"]["ldh"]["description"] == "Serum LDH."
    assert "biomarkers" in served.json()["properties"]


def test_an_alteration_type_added_to_the_graph_is_a_word_of_the_profile_and_its_context(fresh_store) -> None:
    from acse_kg.api.app import create_app

    add(fresh_store, PREFIXES + 'acse:Inversion a acse:AlterationType ; rdfs:label "inversion"@en ; '
                                'acse:profileTerm "inversion" ; skos:altLabel "inverted"@en .')
    p = profile_schema(fresh_store).parse(profile(alterations=[{"gene": "ALK", "type": "inverted"}]))
    assert p.alterations[0].type == "inversion"
    ctx = TestClient(create_app(fresh_store)).get("/match/context").json()["@context"]
    assert ctx["type"]["@context"]["inverted"] == ctx["type"]["@context"]["inversion"] == "acse:Inversion"


@pytest.mark.parametrize(("turtle", "says"), [
    ('acse:var_x a acse:ClinicalVariable ; acse:profileField "labs.x" ; acse:valueKind "colour" .', "value kind"),
    ('acse:var_x a acse:ClinicalVariable ; acse:profileField "Labs.X" ; acse:valueKind "number" .', "dotted path"),
    ('acse:var_x a acse:ClinicalVariable ; acse:profileField "labs" ; acse:valueKind "number" .', "both a value"),
    ('acse:var_x a acse:ClinicalVariable ; acse:profileField "labs.anc" ; acse:valueKind "number" .', "claimed by"),
    ('acse:var_x a acse:ClinicalVariable ; acse:profileField "x" ; acse:valueKind "number" ; '
     'acse:allowedCode "a" .', "allowed codes"),
    ('acse:var_x a acse:ClinicalVariable ; acse:profileField "x" ; acse:valueKind "code" ; '
     'acse:itemStructure "patient" .', "item structure"),
])
def test_a_variable_that_cannot_make_a_field_is_a_clear_error(fresh_store, turtle, says) -> None:
    add(fresh_store, PREFIXES + turtle)
    with pytest.raises(ProfileSchemaError, match=says):
        build_schema(fresh_store)


def test_the_server_answers_503_when_the_graphs_variables_make_no_profile(fresh_store) -> None:
    from acse_kg.api.app import create_app

    add(fresh_store, PREFIXES + 'acse:var_x a acse:ClinicalVariable ; acse:profileField "x" ; acse:valueKind "colour" .')
    r = TestClient(create_app(fresh_store)).get("/match/schema")
    assert r.status_code == 503 and "value kind 'colour'" in r.json()["detail"]


def test_a_variable_many_study_graphs_declare_alike_is_one_field_read_once_a_graph(fresh_store) -> None:
    """CTML trials declare the variables they need in their own graphs (CAPTUR: ER status), and copies
    of one protocol declare them alike: over the union of the graphs the declaration's optional parts
    multiplied (n graphs gave n^4 rows; the first match at 1,000 trials never came back)."""
    from acse_kg.matching.profile_schema import _VARIABLES, read_variables

    before = len(read_variables(fresh_store))
    for i in range(12):
        fresh_store.add_to_graph(f"https://w3id.org/acse-kg/id/graph/study/NCT9500{i:04d}", LDH.encode(), "turtle")
    assert len(read_variables(fresh_store)) == before + 2
    assert len(fresh_store.select(_VARIABLES)) == before + 2  # not 12^4 rows for each of the two
    assert profile_schema(fresh_store).parse(profile(labs={"ldh": {"value": 250, "unit": "U/L"}})).labs.ldh == 250
