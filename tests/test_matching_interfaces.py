"""`acse-kg match` and the HTTP endpoints speak the contract, errors included."""

from __future__ import annotations

import json

import orjson
import pytest
from fastapi.testclient import TestClient
from matching_fixtures import DROP, profile
from typer.testing import CliRunner

from acse_kg.cli import app as cli_app

runner = CliRunner()


def cli(*args: str, input: str | None = None):
    return runner.invoke(cli_app, ["match", *args, "--store", "memory"], input=input)


# ------------------------------------------------------------------ CLI
def test_cli_matches_one_profile_from_a_file(tmp_path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(profile()))
    r = cli(str(f))
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["profile_id"] == "P-test" and out["trial"] == "NCT02034981"
    assert [(c["cohort"], c["verdict"]) for c in out["cohorts"]] == [(5, "eligible")]


def test_cli_reads_stdin_with_a_dash() -> None:
    r = cli("-", input=json.dumps(profile()))
    assert r.exit_code == 0 and json.loads(r.stdout)["profile_id"] == "P-test"


def test_cli_bad_profile_exits_2_naming_the_field() -> None:
    r = cli("-", input=json.dumps(profile(labs={"platelets": -3})))
    assert r.exit_code == 2
    assert "labs.platelets" in r.stderr and "Traceback" not in r.output


def test_cli_batch_writes_one_result_per_line_in_order_and_marks_bad_lines(tmp_path) -> None:
    lines = [json.dumps(profile(id="A")), "{broken", json.dumps(profile(id="C", sex="other")),
             json.dumps(profile(id="D", diagnosis="COAD"))]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    r = cli("--batch", str(src), "--out", str(out))
    assert r.exit_code == 1
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert got[0]["profile_id"] == "A" and got[3]["profile_id"] == "D"
    first = {"field": None, "message": got[1]["error"]["message"]}
    assert got[1] == {"id": None, "line": 2, "error": first, "errors": [first]}
    assert got[2]["id"] == "C" and got[2]["line"] == 3 and got[2]["error"]["field"] == "sex"


def test_cli_batch_of_good_lines_exits_0_with_no_progress_bar_off_a_terminal(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(profile(id=f"P{i}")) for i in range(5)))
    r = cli("--batch", str(src))
    assert r.exit_code == 0
    assert len(r.stdout.splitlines()) == 5 and r.stderr == ""


def test_cli_unknown_diagnosis_exits_2_naming_the_field() -> None:
    r = cli("-", input=json.dumps(profile(diagnosis="NOTACODE")))
    assert r.exit_code == 2 and "diagnosis" in r.stderr and r.stdout == ""


def test_cli_profile_that_is_not_json_exits_2() -> None:
    r = cli("-", input="{not json")
    assert r.exit_code == 2 and "not valid JSON" in r.stderr and "Traceback" not in r.output


def test_cli_missing_profile_file_exits_2_with_a_message(tmp_path) -> None:
    r = cli(str(tmp_path / "nope.json"))
    assert r.exit_code == 2 and "cannot read" in r.stderr and "Traceback" not in r.output


def test_cli_writes_a_single_result_to_out(tmp_path) -> None:
    out = tmp_path / "r.json"
    r = cli("-", "--out", str(out), input=json.dumps(profile(id="to-file")))
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(out.read_text())["profile_id"] == "to-file"


def test_cli_batch_reads_stdin_with_a_dash() -> None:
    lines = "\n".join(json.dumps(profile(id=f"S{i}")) for i in range(3))
    r = cli("--batch", "-", input=lines)
    assert r.exit_code == 0 and [json.loads(x)["profile_id"] for x in r.stdout.splitlines()] == ["S0", "S1", "S2"]


def test_cli_batch_skips_blank_lines_but_numbers_lines_as_in_the_file() -> None:
    lines = [json.dumps(profile(id="A")), "", "   ", json.dumps(profile(id="D", diagnosis="NOPE"))]
    r = cli("--batch", "-", input="\n".join(lines))
    assert r.exit_code == 1
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == 2 and out[0]["profile_id"] == "A"
    first = {"field": "diagnosis", "message": out[1]["error"]["message"]}
    assert out[1] == {"id": "D", "line": 4, "error": first, "errors": [first]}


def test_cli_rejects_a_profile_and_a_batch_together(tmp_path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(profile()))
    assert cli(str(f), "--batch", str(f)).exit_code == 2


def test_cli_needs_a_profile_or_a_batch() -> None:
    assert cli().exit_code == 2


# ------------------------------------------------------------------ HTTP
@pytest.fixture(scope="module")
def client(store) -> TestClient:
    from acse_kg.api.app import create_app

    return TestClient(create_app(store))


def test_post_match_returns_the_contract_result(client) -> None:
    r = client.post("/match", json=profile())
    assert r.status_code == 200
    assert r.json()["cohorts"][0]["cohort"] == 5


def test_post_match_422_names_the_field(client) -> None:
    r = client.post("/match", json=profile(labs={"hemoglobin": {"value": 1, "unit": "parsec"}}))
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "labs.hemoglobin"


def test_post_match_unknown_diagnosis_is_422(client) -> None:
    r = client.post("/match", json=profile(diagnosis="NOPE"))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "diagnosis"


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe"])
def test_post_match_non_json_is_400(client, body) -> None:
    r = client.post("/match", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "Traceback" not in r.text


def test_post_match_a_json_array_is_422(client) -> None:
    assert client.post("/match", json=[1, 2]).status_code == 422


def test_batch_accepts_a_json_array_and_keeps_order(client) -> None:
    r = client.post("/match/batch", json=[profile(id="B1"), profile(id="B2", diagnosis="COAD")])
    assert r.status_code == 200
    assert [x["profile_id"] for x in r.json()] == ["B1", "B2"]


def test_batch_accepts_json_lines(client) -> None:
    body = b"\n".join(orjson.dumps(profile(id=f"L{i}")) for i in range(3))
    r = client.post("/match/batch", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and [x["profile_id"] for x in r.json()] == ["L0", "L1", "L2"]


def test_batch_with_a_bad_profile_answers_item_by_item_with_an_error_object_in_its_place(client) -> None:
    r = client.post("/match/batch", json=[profile(id="ok"), profile(id="bad", age_years=-1), profile(id="ok2")])
    assert r.status_code == 200
    ok, bad, ok2 = r.json()
    assert (ok["profile_id"], ok2["profile_id"]) == ("ok", "ok2")
    first = {"field": "age_years", "message": bad["error"]["message"]}
    assert bad == {"id": "bad", "index": 1, "error": first, "errors": [first]}


def test_a_good_profile_in_a_batch_with_bad_ones_gets_the_result_it_gets_alone(client) -> None:
    alone = client.post("/match", json=profile(id="ok")).json()
    assert client.post("/match/batch", json=[profile(id="bad", sex="x"), profile(id="ok")]).json()[1] == alone


def test_a_batch_item_that_is_not_an_object_is_an_error_object_in_its_place(client) -> None:
    r = client.post("/match/batch", json=[3, profile(id="ok")])
    assert r.status_code == 200
    assert r.json()[0] == {"id": None, "index": 0, "error": {"field": None, "message": "a profile must be a JSON object"},
                           "errors": [{"field": None, "message": "a profile must be a JSON object"}]}


def test_every_error_of_a_batch_item_is_listed_with_its_field(client) -> None:
    bad = profile(id="bad", age_years=-1, labs={"platelets": -3})
    assert [e["field"] for e in client.post("/match/batch", json=[bad]).json()[0]["errors"]] == [
        "age_years", "labs.platelets"]


def test_post_match_422_lists_every_error_of_the_profile(client) -> None:
    r = client.post("/match", json=profile(id="bad", age_years=-1, sex="x", labs={"platelets": -3}))
    assert r.status_code == 422
    assert [(d["id"], d["field"]) for d in r.json()["detail"]] == [
        ("bad", "age_years"), ("bad", "sex"), ("bad", "labs.platelets")]


def test_cli_names_every_bad_field_of_a_profile() -> None:
    r = cli("-", input=json.dumps(profile(age_years=-1, labs={"platelets": -3})))
    assert r.exit_code == 2 and "'age_years'" in r.stderr and "'labs.platelets'" in r.stderr


def test_batch_non_json_is_400(client) -> None:
    assert client.post("/match/batch", content=b"[{oops").status_code == 400


def test_batch_body_that_is_one_json_profile_laid_out_on_several_lines_is_a_batch_of_one(client) -> None:
    r = client.post("/match/batch", content=json.dumps(profile(id="pretty"), indent=2).encode())
    assert r.status_code == 200 and [x["profile_id"] for x in r.json()] == ["pretty"]


@pytest.mark.parametrize("body", [b"", b"  \n\n "])
def test_batch_empty_body_is_400(client, body) -> None:
    r = client.post("/match/batch", content=body)
    assert r.status_code == 400 and "empty" in r.json()["detail"]


def test_batch_json_lines_with_a_line_that_is_not_json_is_400_naming_the_line(client) -> None:
    body = orjson.dumps(profile(id="a")) + b"\n{oops\n" + orjson.dumps(profile(id="c"))
    r = client.post("/match/batch", content=body)
    assert r.status_code == 400 and "line 2" in r.json()["detail"]


@pytest.mark.parametrize("body", [b"42", b"null", b'"P-1"'])
def test_batch_json_that_is_not_a_profile_is_answered_with_an_error_object(client, body) -> None:
    r = client.post("/match/batch", content=body)
    assert r.status_code == 200 and r.json()[0]["index"] == 0 and r.json()[0]["error"]["message"]


def test_post_match_json_that_orjson_refuses_is_still_json_and_gets_422_naming_the_field(client) -> None:
    body = b'{"id": "P-big", "diagnosis": "LUAD", "age_years": 1e400}'
    r = client.post("/match", content=body)
    assert r.status_code == 422
    assert r.json()["detail"] == [{"id": "P-big", "field": "age_years", "message": "must be a finite number"}]


@pytest.mark.parametrize("body", [b"42", b"null", b'"LUAD"', b"true"])
def test_post_match_json_that_is_not_an_object_is_422(client, body) -> None:
    r = client.post("/match", content=body)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] is None


def test_matching_over_http_stores_nothing(client, store) -> None:
    before = (len(store), sorted(store.named_graphs()))
    client.post("/match", json=profile())
    client.post("/match", json=profile(age_years=-1))
    client.post("/match/batch", json=[profile(id="x"), profile(id="y", diagnosis="COAD")])
    assert (len(store), sorted(store.named_graphs())) == before


def test_the_result_schema_is_published_and_documents_the_answers(client) -> None:
    schema = client.get("/match/result-schema")
    assert schema.status_code == 200 and schema.json()["title"] == "MatchResult"
    ops = client.get("/openapi.json").json()["paths"]
    assert {"200", "400", "422"} <= set(ops["/match"]["post"]["responses"])
    assert set(ops["/match/batch"]["post"]["responses"]) >= {"200", "400"}  # a bad item is answered in its place
    item = ops["/match/batch"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert item["oneOf"][0]["title"] == "MatchResult" and "errors" in item["oneOf"][1]["properties"]


def test_the_json_schema_and_the_json_ld_context_are_published(client) -> None:
    schema = client.get("/match/schema")
    assert schema.status_code == 200 and schema.json()["title"] == "TumorProfile"
    ctx = client.get("/match/context")
    assert ctx.headers["content-type"].startswith("application/ld+json")
    assert ctx.json()["@context"]["@vocab"] == "https://w3id.org/acse-kg/profile#"


def test_the_shapes_are_published(client) -> None:
    r = client.get("/match/shapes")
    assert r.status_code == 200 and "sh:NodeShape" in r.text


# ------------------------------------------------------- the contract's own example
def contract_example() -> bytes:
    import re

    from conftest import SHARED

    text = (SHARED / "contracts" / "tumor-profile.md").read_text(encoding="utf-8")
    return re.search(r"```json\n(.*?)```", text, re.S).group(1).encode()  # type: ignore[union-attr]


def test_the_contract_example_profile_is_valid_and_answered_in_the_contract_shape(client) -> None:
    r = client.post("/match", content=contract_example())
    assert r.status_code == 200
    result = r.json()
    assert set(result) == {"profile_id", "trial", "cohorts", "dosing", "notes"}
    assert result["profile_id"] == "P-0001" and result["trial"] == "NCT02034981"
    (c5,) = result["cohorts"]
    assert set(c5) >= {"cohort", "iri", "label", "verdict", "criteria", "to_confirm"}  # fields may be added
    assert set(c5) - {"cohort", "iri", "label", "verdict", "criteria", "to_confirm"} <= {"recruiting", "reasons", "missing"}
    assert c5["label"] == "NSCLC, adults, MET amplified"
    # The example carries an ALK translocation in NSCLC, which the protocol excludes.
    assert c5["verdict"] == "ineligible"
    assert [c["id"] for c in c5["criteria"] if c["status"] == "not_met"] == ["exc-01"]
    assert result["dosing"]["regimen"] == "250 mg twice daily" and result["dosing"]["dose_mg"] == 250


# ------------------------------------------------------- the result's published schema
def test_results_conform_to_the_published_result_schema(matcher) -> None:
    import itertools

    import jsonschema

    from acse_kg.matching.result import result_schema

    validator = jsonschema.Draft202012Validator(result_schema())
    alterations = [[], [{"gene": "MET", "type": "amplification"}], [{"gene": "ALK", "type": "fusion"}],
                   [{"gene": "ALK", "type": "overexpression"}], [{"gene": "ROS1", "type": "translocation"}]]
    checked = 0
    for dx, alts, age in itertools.product(["LUAD", "ALCL", "GB", "COAD", "BLCA"], alterations, [0.5, 8, 54]):
        result = matcher.match(profile(diagnosis=dx, alterations=alts, age_years=age, height_cm=DROP))
        validator.validate(result)
        checked += bool(result["cohorts"])
    assert checked > 10


def test_a_bad_batch_line_conforms_to_the_published_error_schema(tmp_path) -> None:
    import jsonschema

    from acse_kg.matching.result import batch_line_error_schema

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(profile(id="bad", age_years=-1)) + "\n")
    r = cli("--batch", str(src))
    assert r.exit_code == 1
    jsonschema.validate(json.loads(r.stdout), batch_line_error_schema())


def test_batch_with_an_integer_beyond_64_bits_names_the_field_in_its_error_object(client) -> None:
    body = b'[{"id": "P-big", "diagnosis": "LUAD", "age_years": 123456789012345678901234567890}]'
    r = client.post("/match/batch", content=body)
    assert r.status_code == 200 and r.json()[0]["error"]["field"] == "age_years"


def test_any_json_body_is_answered_200_400_or_422_never_500(client) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from test_matching_properties import JSON_VALUES

    bodies = st.one_of(JSON_VALUES.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40),
                       JSON_VALUES.map(lambda v: json.dumps({**profile(), "labs": v}).encode()))

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(body=bodies, path=st.sampled_from(["/match", "/match/batch"]))
    def check(body: bytes, path: str) -> None:
        r = client.post(path, content=body)
        assert r.status_code in (200, 400, 422), (r.status_code, r.text)
        assert "detail" in r.json() if r.status_code != 200 else True

    check()


def test_cli_accepts_files_that_start_with_a_utf8_byte_order_mark(tmp_path) -> None:
    one, many = tmp_path / "p.json", tmp_path / "p.jsonl"
    one.write_bytes(b"\xef\xbb\xbf" + json.dumps(profile(id="bom")).encode())
    many.write_bytes(b"\xef\xbb\xbf" + b"\n".join(json.dumps(profile(id=f"b{i}")).encode() for i in range(2)))
    r = cli(str(one))
    assert r.exit_code == 0 and json.loads(r.stdout)["profile_id"] == "bom"
    r = cli("--batch", str(many))
    assert r.exit_code == 0 and [json.loads(x)["profile_id"] for x in r.stdout.splitlines()] == ["b0", "b1"]


def test_cli_trial_in_another_spelling_of_the_nct_number_is_the_same_trial() -> None:
    r = cli("-", "--trial", "nct2034981", input=json.dumps(profile()))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["trial"] == "NCT02034981"


def test_cli_trial_that_is_not_an_nct_number_exits_2_saying_what_one_looks_like() -> None:
    r = cli("-", "--trial", "ALK-basket", input=json.dumps(profile()))
    assert r.exit_code == 2
    assert "'ALK-basket' is not an NCT number" in r.stderr and "e.g. NCT02034981" in r.stderr
    assert "Traceback" not in r.output


def test_post_match_is_400_exactly_when_the_body_is_not_json(client) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from test_matching_properties import JSON_VALUES

    def is_json(body: bytes) -> bool:
        def reject(name: str) -> None:
            raise ValueError(name)
        try:
            json.loads(body, parse_constant=reject)
        except (ValueError, RecursionError):
            return False
        return True

    # A valid profile with one value replaced by a token: NaN and Infinity are not JSON, though some parsers take them.
    tokens = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "12345678901234567890123", '"\\ud800"', "1", "{"])
    fields = st.sampled_from(["age_years", "height_cm", "qtcf_ms", "id", "diagnosis", "measurable_disease", "labs"])
    spliced = st.builds(lambda f, t: json.dumps({**profile(), f: "@@"}).replace('"@@"', t).encode(), fields, tokens)
    bodies = st.one_of(spliced, st.binary(max_size=40), JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                       JSON_VALUES.map(lambda v: json.dumps({**profile(), "labs": v}).encode()))

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(body=bodies)
    def check(body: bytes) -> None:
        r = client.post("/match", content=body)
        assert (r.status_code == 400) == (not is_json(body)), (body, r.status_code, r.text)
        if r.status_code == 400:
            assert r.json()["detail"].startswith("body is not JSON: ")

    check()


def test_a_lone_surrogate_echoed_in_an_error_is_422_not_a_server_error(client: TestClient) -> None:
    """JSON may escape a lone surrogate (\\ud800); the error that echoes the caller's id must still be written."""
    r = client.post("/match", content=b'{"id": "\\ud800", "age_years": 5, "diagnosis": "LUAD"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["id"] == "\ud800"
