"""Patients in: a Phenopacket v2 and an mCODE Bundle give the match result of the tumor profile they describe,
with what they hold that the profile does not carry listed in the notes."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching_fixtures import profile
from typer.testing import CliRunner

from acse_kg import patients
from acse_kg.cli import app as cli_app
from acse_kg.matching.engine import matcher_for, registry_matcher_for
from acse_kg.patients.mcode import _age, from_mcode
from acse_kg.patients.phenopacket import from_phenopacket, years
from acse_kg.patients.vocabulary import LOINC_FIELDS, vocabulary

DATA = Path(__file__).parent / "data" / "patients"
PHENOPACKET = DATA / "P-0001.phenopacket.json"
MCODE = DATA / "P-0001.mcode-bundle.json"
EXAMPLES = {"phenopacket": PHENOPACKET, "mcode": MCODE}
#: What each example holds on purpose that the profile does not read (see tests/data/patients/ORIGIN.md).
UNMAPPED = {
    "phenopacket": ["HP:0012735 Cough", "biosample P-0001-B1", "primarySite", "extensions"],
    "mcode": ["35917007", "39607008", "82155-3", "21908-9", "38341003"],
}
NAME = {"phenopacket": "Phenopacket", "mcode": "mCODE Bundle"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def without_id(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("profile_id", "notes")}


@pytest.fixture(scope="module")
def vocab(store):
    return vocabulary(store)


def convert(vocab, kind: str, data: dict[str, Any]):
    return from_mcode(data, vocab) if kind == "mcode" else from_phenopacket(data, vocab)


# ------------------------------------------------------------ the same patient, three ways
@pytest.mark.parametrize("kind", EXAMPLES)
def test_the_example_gives_the_match_result_of_the_contract_profile(store, kind) -> None:
    matcher = matcher_for(store)
    expected = orjson.loads(matcher.match_json(orjson.dumps(profile())))
    body, notes = patients.profile_bytes(store, EXAMPLES[kind].read_bytes())
    got = orjson.loads(patients.add_notes(matcher.match_json(body), notes))
    assert without_id(got) == without_id(expected)
    assert [(c["cohort"], c["verdict"]) for c in got["cohorts"]] == [(5, "eligible")]
    assert got["notes"][: len(expected["notes"])] == expected["notes"]  # the matcher's own notes first


@pytest.mark.parametrize("kind", EXAMPLES)
def test_the_example_is_the_contract_profile_once_validated(store, vocab, kind) -> None:
    from acse_kg.matching.profile_schema import profile_schema

    schema = profile_schema(store)
    got = schema.parse(convert(vocab, kind, load(EXAMPLES[kind])).profile)
    want = schema.parse(profile(id=got.id))
    assert got == want  # units converted by the profile: 1800 /uL is 1.8 10*9/L, 1.65 m is 165 cm


@pytest.mark.parametrize("kind", EXAMPLES)
def test_what_the_record_holds_and_the_profile_cannot_carry_is_in_the_notes(store, kind) -> None:
    _, notes = patients.profile_bytes(store, EXAMPLES[kind].read_bytes())
    assert all(n.startswith(f"{NAME[kind]}, not mapped: ") for n in notes)
    for what in UNMAPPED[kind]:
        assert any(what in n for n in notes), what
    assert len(notes) == len(UNMAPPED[kind])  # and nothing that was mapped is reported as lost


# ------------------------------------------------------------ recognising the body
@pytest.mark.parametrize(("data", "media", "kind"), [
    ({"resourceType": "Bundle", "type": "collection"}, None, "mcode"),
    ({"resourceType": "Bundle"}, "application/fhir+json; charset=utf-8", "mcode"),
    ({"id": "x", "subject": {"id": "x"}}, "application/json", "phenopacket"),
    ({"id": "x", "phenotypicFeatures": []}, None, "phenopacket"),
    ({"id": "x", "interpretations": []}, None, "phenopacket"),
    ({"id": "x"}, "application/phenopacket+json", "phenopacket"),
    (profile(), "application/json", None),
    ({**profile(), "diseases": []}, None, None),  # a profile with a stray key is the profile's validation's to refuse
])
def test_a_body_is_recognised_by_media_type_or_shape(data, media, kind) -> None:
    assert patients.detect(data, media) == kind


def test_a_fhir_resource_other_than_a_bundle_is_refused_by_name() -> None:
    with pytest.raises(patients.PatientRecordError, match="FHIR Patient is not a patient record"):
        patients.detect({"resourceType": "Patient"}, None)


def test_a_plain_profile_passes_through_unchanged(store) -> None:
    body = orjson.dumps(profile())
    assert patients.profile_bytes(store, body) == (body, [])
    assert patients.profile_bytes(store, b"{not json") == (b"{not json", [])


# ------------------------------------------------------------ HTTP and CLI
@pytest.fixture(scope="module")
def client(store) -> TestClient:
    from acse_kg.api.app import create_app

    return TestClient(create_app(store))


@pytest.mark.parametrize(("kind", "media"), [("mcode", "application/fhir+json"), ("mcode", "application/json"),
                                             ("phenopacket", "application/phenopacket+json"),
                                             ("phenopacket", "application/json")])
def test_post_match_takes_the_record(client, kind, media) -> None:
    r = client.post("/match", content=EXAMPLES[kind].read_bytes(), headers={"content-type": media})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profile_id"] == "P-0001" and [c["cohort"] for c in body["cohorts"]] == [5]
    assert any(n.startswith(f"{NAME[kind]}, not mapped: ") for n in body["notes"])


@pytest.mark.parametrize("kind", EXAMPLES)
def test_post_match_trials_takes_the_record(client, store, kind) -> None:
    r = client.post("/match/trials", content=EXAMPLES[kind].read_bytes(), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    want = orjson.loads(registry_matcher_for(store).match_all_json(orjson.dumps(profile())))
    got = r.json()
    assert got["results"] == [{**x, "profile_id": "P-0001"} for x in want["results"]]
    assert any(n.startswith(f"{NAME[kind]}, not mapped: ") for n in got["notes"])


def test_post_match_of_an_unreadable_record_is_422_saying_why(client) -> None:
    bad = load(PHENOPACKET)
    bad["subject"]["favouriteColour"] = "blue"
    r = client.post("/match", json=bad)
    assert r.status_code == 422
    assert "not a Phenopacket v2" in r.json()["detail"][0]["message"] and "favouriteColour" in r.text
    r = client.post("/match", json={"resourceType": "Bundle", "type": "collection", "entry": []})
    assert r.status_code == 422 and "no Patient" in r.json()["detail"][0]["message"]
    r = client.post("/match", content=b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
                    b'{"resourceType": "Patient", "birthDate": "the fifth of May"}}]}',
                    headers={"content-type": "application/fhir+json"})
    assert r.status_code == 422
    assert "not a valid FHIR R4B Bundle" in r.json()["detail"][0]["message"] and "birthDate" in r.text


def test_a_record_missing_what_the_profile_requires_is_422_naming_the_field(client) -> None:
    bundle = load(MCODE)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] != "primary-cancer"]
    r = client.post("/match", json=bundle)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "diagnosis"


@pytest.mark.parametrize("kind", EXAMPLES)
def test_the_cli_recognises_the_record_in_a_file(kind) -> None:
    r = CliRunner().invoke(cli_app, ["match", str(EXAMPLES[kind]), "--store", "memory"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [(c["cohort"], c["verdict"]) for c in out["cohorts"]] == [(5, "eligible")]
    assert any(n.startswith(f"{NAME[kind]}, not mapped: ") for n in out["notes"])


def test_the_cli_refuses_an_unreadable_record_with_exit_2(tmp_path) -> None:
    f = tmp_path / "obs.json"
    f.write_text(json.dumps({"resourceType": "Observation", "status": "final"}))
    r = CliRunner().invoke(cli_app, ["match", str(f), "--store", "memory"])
    assert r.exit_code == 2 and "FHIR Observation is not a patient record" in r.stderr


# ------------------------------------------------------------ the mappings, one rule each
def _bundle_with(resource: dict[str, Any]) -> dict[str, Any]:
    bundle = load(MCODE)
    bundle["entry"] = [bundle["entry"][0], {"resource": resource}]
    return bundle


def _obs(code: str, system: str = "http://loinc.org", **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "o", "status": "final",
            "code": {"coding": [{"system": system, "code": code}]}, **value}


def _q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "system": "http://unitsofmeasure.org", "code": unit}


@pytest.mark.parametrize(("system", "code", "oncotree"), [
    ("http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "C3512", "LUAD"),
    ("http://www.nlm.nih.gov/research/umls", "C0152013", "LUAD"),
    ("http://oncotree.info", "nsclc", "NSCLC"),
])
def test_a_diagnosis_coded_in_ncit_umls_or_oncotree_is_its_oncotree_code(vocab, system, code, oncotree) -> None:
    got = from_mcode(_bundle_with({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/P-0001"},
                                   "code": {"coding": [{"system": system, "code": code}]}}), vocab)
    assert got.profile["diagnosis"] == oncotree and got.notes == []


def test_a_diagnosis_coded_only_in_snomed_is_noted_not_guessed(vocab) -> None:
    got = from_mcode(_bundle_with({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/P-0001"},
                                   "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254626006"}]}}), vocab)
    assert "diagnosis" not in got.profile and "SNOMED CT 254626006" in got.notes[0]


def test_a_lab_over_its_upper_limit_is_a_multiple_of_the_uln_in_the_range_unit(vocab) -> None:
    obs = _obs("1920-8", valueQuantity=_q(1.5, "ukat/L"), referenceRange=[{"high": _q(40, "U/L")}])
    got = from_mcode(_bundle_with(obs), vocab)
    assert got.profile["labs"]["ast_uln"] == pytest.approx(1.5 / (40 / 60), rel=1e-5)  # 1 U = 1/60 ukat


def test_a_lab_without_an_upper_limit_is_noted_not_set(vocab) -> None:
    got = from_mcode(_bundle_with(_obs("1742-6", valueQuantity=_q(36, "U/L"))), vocab)
    assert "labs" not in got.profile and "no upper limit of normal" in got.notes[0]


@pytest.mark.parametrize(("extra", "flag"), [
    ({"interpretation": [{"coding": [{"code": "H"}]}]}, "abnormal"),
    ({"interpretation": [{"coding": [{"code": "N"}]}]}, "normal"),
    ({"referenceRange": [{"low": _q(3.5, "mmol/L"), "high": _q(5.1, "mmol/L")}]}, "normal"),
    ({"referenceRange": [{"low": _q(4.5, "mmol/L"), "high": _q(5.1, "mmol/L")}]}, "abnormal"),
])
def test_an_electrolyte_is_normal_or_abnormal_by_interpretation_else_range(vocab, extra, flag) -> None:
    got = from_mcode(_bundle_with(_obs("2823-3", valueQuantity=_q(4.1, "mmol/L"), **extra)), vocab)
    assert got.profile["labs"]["potassium"] == flag


def test_a_qtc_is_qtcf_only_when_its_method_names_fridericia(vocab) -> None:
    got = from_mcode(_bundle_with(_obs("8636-3", valueQuantity=_q(420, "ms"), method={"text": "Bazett"})), vocab)
    assert "qtcf_ms" not in got.profile and "Fridericia" in got.notes[0]


def test_a_number_without_a_ucum_unit_is_noted_not_guessed(vocab) -> None:
    got = from_mcode(_bundle_with(_obs("718-7", valueQuantity={"value": 11.2, "unit": "g/dL"})), vocab)
    assert "labs" not in got.profile and "no UCUM unit" in got.notes[0]


@pytest.mark.parametrize(("so", "term"), [("SO:0001583", "mutation"), ("SO:0001565", "translocation"),
                                          ("SO:0001743", "deletion"), ("SO:0001742", "amplification")])
def test_a_genomic_variant_takes_the_graphs_alteration_type_of_its_so_code(vocab, so, term) -> None:
    bundle = load(MCODE)
    variant = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "met-amplification")
    variant["component"][1]["valueCodeableConcept"]["coding"][0]["code"] = so
    variant["component"].append({"code": {"coding": [{"system": "http://loinc.org", "code": "48005-3"}]},
                                 "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org",
                                                                      "code": "NP_000236.2:p.(Thr1010Ile)"}]}})
    got = from_mcode(bundle, vocab)
    assert got.profile["alterations"] == [{"gene": "MET", "type": term, "protein_change": "p.(Thr1010Ile)"}]


def test_a_copy_number_variation_is_not_guessed_to_be_a_gain(vocab) -> None:
    packet = load(PHENOPACKET)
    vd = packet["interpretations"][0]["diagnosis"]["genomicInterpretations"][0]["variantInterpretation"][
        "variationDescriptor"]
    vd["structuralType"] = {"id": "SO:0001019", "label": "copy_number_variation"}  # the graph's broadMatch only
    got = from_phenopacket(packet, vocab)
    assert "alterations" not in got.profile and any("SO:0001019" in n for n in got.notes)


def test_a_phenopacket_variant_with_an_hgvs_p_expression_is_a_mutation(vocab) -> None:
    packet = load(PHENOPACKET)
    vd = packet["interpretations"][0]["diagnosis"]["genomicInterpretations"][0]["variantInterpretation"][
        "variationDescriptor"]
    del vd["structuralType"]
    vd["geneContext"] = {"valueId": "HGNC:1097", "symbol": "BRAF"}
    vd["expressions"] = [{"syntax": "hgvs.p", "value": "NP_004324.2:p.Val600Glu"},
                         {"syntax": "hgvs.c", "value": "NM_004333.6:c.1799T>A"}]
    got = from_phenopacket(packet, vocab)
    assert got.profile["alterations"] == [{"gene": "BRAF", "type": "mutation", "protein_change": "p.Val600Glu"}]
    assert any("hgvs.c" in n for n in got.notes)


def test_a_drug_not_taken_sets_the_history_flag_it_stands_for_and_a_drug_taken_is_a_prior_therapy(vocab) -> None:
    taken = {"resourceType": "MedicationStatement", "id": "m", "status": "completed", "subject": {"reference": "Patient/P-0001"},
             "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1148495"}]}}
    got = from_mcode(_bundle_with(taken), vocab)
    assert got.profile["prior_therapies"] == [{"drug": "RXNORM:1148495"}]
    got = from_mcode(_bundle_with({**taken, "status": "not-taken"}), vocab)
    assert got.profile["history"] == {"prior_crizotinib": False}


def test_every_loinc_code_read_names_a_clinical_variable_of_the_graph(vocab) -> None:
    assert {s.field for s in LOINC_FIELDS.values()} <= set(vocab.by_field)


def test_an_age_needs_the_bundles_timestamp(vocab) -> None:
    bundle = load(MCODE)
    del bundle["timestamp"]
    got = from_mcode(bundle, vocab)
    assert "age_years" not in got.profile and any("timestamp" in n for n in got.notes)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)), st.integers(0, 40000))
def test_the_age_is_the_number_of_whole_years_lived(birth: date, days: int) -> None:
    on = birth + timedelta(days=days)
    age = _age(birth, on)

    def anniversary(n: int) -> date:
        try:
            return birth.replace(year=birth.year + n)
        except ValueError:  # 29 February: the birthday is kept on 1 March in common years
            return date(birth.year + n, 3, 1)

    assert anniversary(age) <= on < anniversary(age + 1)


@given(st.integers(0, 120), st.integers(0, 11))
def test_an_iso_8601_age_is_years_and_twelfths(y: int, m: int) -> None:
    text = f"P{y}Y{m}M" if m else f"P{y}Y"
    assert years(text) == pytest.approx(y + m / 12, abs=0.005)


@pytest.mark.parametrize("text", ["54", "P", "PT5H", "54Y", ""])
def test_what_is_not_an_iso_8601_age_is_none(text: str) -> None:
    assert years(text) is None


def test_a_phenopacket_prefix_for_the_graphs_variables_is_read_from_its_metadata(vocab) -> None:
    packet = load(PHENOPACKET)
    text = json.dumps(packet).replace('"ACSE:', '"KG:').replace('"namespacePrefix": "ACSE"', '"namespacePrefix": "KG"')
    got = from_phenopacket(json.loads(text), vocab)
    assert got.profile == from_phenopacket(copy.deepcopy(packet), vocab).profile


# ------------------------------------------------------------ whatever arrives, an answer or a reason
_json = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
                     max_leaves=10)
_PACKET_KEYS = ["id", "subject", "phenotypicFeatures", "measurements", "biosamples", "interpretations", "diseases",
                "medicalActions", "metaData"]
_RESOURCES = ["Patient", "Condition", "Observation", "MedicationStatement", "Procedure", "Specimen"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(_PACKET_KEYS), _json, min_size=1))
def test_any_phenopacket_shaped_body_gives_a_profile_or_a_patient_record_error(vocab, body) -> None:
    try:
        got = from_phenopacket(body, vocab)
    except patients.PatientRecordError:
        return
    assert isinstance(got.profile, dict) and all(isinstance(n, str) for n in got.notes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_RESOURCES), st.dictionaries(
    st.sampled_from(["id", "status", "code", "gender", "birthDate", "valueQuantity", "valueInteger", "referenceRange",
                     "verificationStatus", "component", "medicationCodeableConcept"]), _json, max_size=3)), max_size=4))
def test_any_bundle_gives_a_profile_or_a_patient_record_error(vocab, entries) -> None:
    body = {"resourceType": "Bundle", "type": "collection", "timestamp": "2026-11-20T10:00:00Z",
            "entry": [{"resource": {"resourceType": kind, **fields}} for kind, fields in entries]}
    try:
        got = from_mcode(body, vocab)
    except patients.PatientRecordError:
        return
    assert isinstance(got.profile, dict) and all(isinstance(n, str) for n in got.notes)


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key of every object inside ``node`` (as a path), for deleting parts of a real record."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        if isinstance(node, dict):
            out.append((*at, k))
        out += _paths(v, (*at, k))
    return out


def _without(doc: Any, paths: list[tuple[Any, ...]]) -> Any:
    doc = copy.deepcopy(doc)
    for path in sorted(paths, key=len, reverse=True):
        node = doc
        try:
            for k in path[:-1]:
                node = node[k]
            del node[path[-1]]
        except (KeyError, IndexError, TypeError):
            pass  # a part of an already deleted part
    return doc


@pytest.mark.parametrize("kind", EXAMPLES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_real_record_with_parts_missing_gives_a_profile_or_a_patient_record_error(vocab, kind, data) -> None:
    doc = load(EXAMPLES[kind])
    gone = data.draw(st.lists(st.sampled_from(_paths(doc)), max_size=6))
    try:
        got = convert(vocab, kind, _without(doc, gone))
    except patients.PatientRecordError:
        return
    assert isinstance(got.profile, dict) and all(isinstance(n, str) for n in got.notes)


def _marker(value: str, method: str | None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": "alk-ihc", "status": "final",
        "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"]},
        "code": {"coding": [{"system": "http://www.genenames.org/geneId", "code": "HGNC:427", "display": "ALK"}],
                 "text": "ALK protein expression"},
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": value}]}}
    if method:
        obs["method"] = {"text": method}
    return obs


def test_a_positive_ihc_tumor_marker_is_the_genes_overexpression_as_the_contract_writes_it(vocab) -> None:
    got = from_mcode(_bundle_with(_marker("10828004", "IHC (clone D5F3)")), vocab)
    assert got.profile["alterations"] == [{"gene": "ALK", "type": "overexpression", "method": "IHC"}]


@pytest.mark.parametrize(("value", "method", "why"), [("260385009", "IHC", "not an alteration"),
                                                      ("10828004", "FISH break-apart", "does not say which alteration")])
def test_a_negative_marker_or_one_positive_by_fish_is_noted_not_guessed(vocab, value, method, why) -> None:
    got = from_mcode(_bundle_with(_marker(value, method)), vocab)
    assert "alterations" not in got.profile and why in got.notes[0]


def test_a_genomic_variant_reported_absent_is_not_an_alteration(vocab) -> None:
    bundle = load(MCODE)
    variant = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "met-amplification")
    variant["valueCodeableConcept"] = {"coding": [{"system": "http://loinc.org", "code": "LA9634-2", "display": "Absent"}]}
    got = from_mcode(bundle, vocab)
    assert "alterations" not in got.profile and any("reported absent" in n for n in got.notes)


def test_a_rejected_genomic_interpretation_is_not_an_alteration(vocab) -> None:
    packet = load(PHENOPACKET)
    packet["interpretations"][0]["diagnosis"]["genomicInterpretations"][0]["interpretationStatus"] = "REJECTED"
    got = from_phenopacket(packet, vocab)
    assert "alterations" not in got.profile and any("rejected" in n for n in got.notes)
