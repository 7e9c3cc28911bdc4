"""Matching one profile against every trial of the registry (POST /match/trials, acse-kg match --all-trials).

The registry here is the bundle plus varied copies of its study (acse_kg.synthetic), plus one
copy made by hand where a test needs to know exactly what differs.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import orjson
import pytest
from fastapi.testclient import TestClient
from rdflib import Literal, URIRef

from acse_kg.loader import study_graph_name
from acse_kg.matching.engine import RegistryMatcher
from acse_kg.matching.result import trials_result_schema
from acse_kg.namespaces import ACSE
from acse_kg.store import GraphStore, open_store
from acse_kg.synthetic import add_copies, pathology_pool, vary

NCT = "NCT02034981"
COPY = "NCT90000001"


def lung_met(**kw: object) -> dict[str, object]:
    p: dict[str, object] = {"id": "P1", "age_years": 54, "diagnosis": "LUAD",
                            "alterations": [{"gene": "MET", "type": "amplification"}]}
    p.update(kw)
    return p


@pytest.fixture(scope="module")
def two_trials() -> GraphStore:
    """AcSé and a recruiting copy whose cohorts and genes are AcSé's (only the status differs)."""
    store = open_store("memory")
    g = vary(store.graph(study_graph_name(NCT)), NCT, COPY, random.Random(1), pathology_pool(store))
    # Undo the variation of cohorts and genes: the copy is AcSé under another number, recruiting.
    src = store.graph(study_graph_name(NCT))
    base, new = f"https://w3id.org/acse-kg/id/study/{NCT}", f"https://w3id.org/acse-kg/id/study/{COPY}"
    for p in (ACSE.pathology, ACSE.targetGene, ACSE.gene, ACSE.targetsGene):
        for s, o in list(g.subject_objects(p)):
            g.remove((s, p, o))
        for s, o in src.subject_objects(p):
            s2 = URIRef(str(s).replace(base, new)) if isinstance(s, URIRef) else s
            g.add((s2, p, o))
    study = URIRef(f"https://w3id.org/acse-kg/id/study/{COPY}")
    g.set((study, ACSE.overallStatus, ACSE.Recruiting))
    g.set((study, ACSE.nctId, Literal(COPY)))
    # Blank nodes of the copy's expressions are its own: re-parse keeps them apart from AcSé's.
    store.replace_graph(study_graph_name(COPY), g.serialize(format="nt"), "ntriples")
    return store


def test_a_profile_is_matched_against_every_trial_that_can_take_it(two_trials: GraphStore) -> None:
    result = RegistryMatcher(two_trials).match_all(lung_met())
    assert sorted(r["trial"] for r in result["results"]) == [NCT, COPY]
    for r in result["results"]:
        assert [c["cohort"] for c in r["cohorts"]] == [5]


def test_each_trial_result_is_exactly_a_v1_result(two_trials: GraphStore) -> None:
    from acse_kg.matching.engine import Matcher

    result = RegistryMatcher(two_trials).match_all(lung_met())
    one = Matcher(two_trials, COPY).match(lung_met())
    (copy_result,) = [r for r in result["results"] if r["trial"] == COPY]
    assert copy_result == one
    assert set(copy_result) == {"profile_id", "trial", "cohorts", "dosing", "notes"}


def test_a_recruiting_study_is_open_and_a_study_that_is_not_says_so(two_trials: GraphStore) -> None:
    by_trial = {r["trial"]: r for r in RegistryMatcher(two_trials).match_all(lung_met())["results"]}
    assert by_trial[COPY]["cohorts"][0]["recruiting"] is True
    assert not any("not recruiting" in n for n in by_trial[COPY]["notes"])
    assert by_trial[NCT]["cohorts"][0]["recruiting"] is False
    assert any(n.startswith(f"{NCT} is not recruiting") for n in by_trial[NCT]["notes"])


def test_trials_are_ranked_by_their_best_verdict(two_trials: GraphStore) -> None:
    # ANC below threshold in both: equal verdicts, then by NCT number (stable).
    results = RegistryMatcher(two_trials).match_all(lung_met())["results"]
    ranks = [min({"eligible": 0, "unknown": 1, "ineligible": 2}[c["verdict"]] for c in r["cohorts"])
             for r in results]
    assert ranks == sorted(ranks)


def test_a_trial_with_no_candidate_cohort_is_left_out_and_the_notes_say_why(two_trials: GraphStore) -> None:
    result = RegistryMatcher(two_trials).match_all(lung_met(alterations=[{"gene": "KRAS", "type": "mutation"}]))
    assert result["results"] == []
    assert result["notes"] == ["no cohort of the registry's 2 matchable trials takes this profile"]


def test_the_protocol_exclusion_of_a_left_out_trial_is_kept_in_the_notes(two_trials: GraphStore) -> None:
    result = RegistryMatcher(two_trials).match_all(
        lung_met(alterations=[{"gene": "ALK", "type": "translocation"}]))
    assert result["results"] == []
    assert any(n.startswith(f"{NCT}: ALK translocation with this diagnosis is excluded") for n in result["notes"])


def test_the_gene_index_asks_only_the_trials_a_profile_can_enter() -> None:
    """30 varied copies: the trials asked are exactly those with a cohort on the gene, type, pathology, age."""
    store = open_store("memory")
    add_copies(store, 30, [NCT])
    reg = RegistryMatcher(store)
    assert reg._compiled == {}  # indexed from one query: no study read or compiled yet
    reg.match_all(lung_met())
    assert 0 < len(reg._compiled) < 10  # only the studies the profile could enter
    assert len(reg.studies) == 31
    p = reg.parse(lung_met())
    facts, alts = reg.vocab.facts(p)
    asked = {m.trial for m in reg.candidates(facts, p.age_years, alts)}
    by_brute_force = {m.trial for m in reg.studies.values() if m.finder.find(facts, p.age_years, alts)[0]}
    assert by_brute_force <= asked
    assert len(asked) < 10  # selective: a handful of the 31 trials
    result = reg.match_all(lung_met())
    assert {r["trial"] for r in result["results"]} == by_brute_force


def test_post_match_trials_answers_the_published_schema(two_trials: GraphStore) -> None:
    import jsonschema

    from acse_kg.api.app import create_app

    client = TestClient(create_app(two_trials))
    r = client.post("/match/trials", content=orjson.dumps(lung_met()))
    assert r.status_code == 200
    jsonschema.validate(r.json(), trials_result_schema())
    assert [x["trial"] for x in r.json()["results"]] == [NCT, COPY]  # the same verdicts: by NCT number


def test_post_match_takes_the_trial_asked_for(two_trials: GraphStore) -> None:
    from acse_kg.api.app import create_app

    client = TestClient(create_app(two_trials))
    assert client.post(f"/match?trial={COPY}", content=orjson.dumps(lung_met())).json()["trial"] == COPY
    assert client.post("/match?trial=nct2034981", content=orjson.dumps(lung_met())).json()["trial"] == NCT
    missing = client.post("/match?trial=NCT00000001", content=orjson.dumps(lung_met()))
    assert missing.status_code == 404 and "NCT00000001" in missing.json()["detail"]
    bad = client.post("/match?trial=ALK-basket", content=orjson.dumps(lung_met()))
    assert bad.status_code == 400 and "not an NCT number" in bad.json()["detail"]


def test_post_match_trials_batch_answers_in_order(two_trials: GraphStore) -> None:
    from acse_kg.api.app import create_app

    client = TestClient(create_app(two_trials))
    body = orjson.dumps([lung_met(id="a"), lung_met(id="b", alterations=[])])
    r = client.post("/match/trials/batch", content=body)
    assert r.status_code == 200
    assert [x["profile_id"] for x in r.json()] == ["a", "b"]
    assert r.json()[1]["results"] == []


def test_the_command_matches_every_trial(tmp_path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(lung_met()))
    out = subprocess.run([sys.executable, "-m", "acse_kg.cli", "match", str(profile), "--all-trials",
                          "--store", "memory"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [r["trial"] for r in result["results"]] == [NCT]


def test_all_trials_and_one_trial_are_exclusive(tmp_path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(lung_met()))
    out = subprocess.run([sys.executable, "-m", "acse_kg.cli", "match", str(profile), "--all-trials",
                          "--trial", NCT, "--store", "memory"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "not both" in out.stderr


def test_the_text_format_is_a_summary_a_person_reads(tmp_path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(lung_met(labs={"anc": 0.5})))
    out = subprocess.run([sys.executable, "-m", "acse_kg.cli", "match", str(profile), "--format", "text",
                          "--store", "memory"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "cohort 5: NSCLC, adults, MET amplified" in out.stdout
    assert "verdict: INELIGIBLE" in out.stdout
    assert "- not met: ANC ≥ 1.0×10⁹/L (observed: 0.5)" in out.stdout
    assert "to confirm:" in out.stdout and "missing: " in out.stdout


def test_a_batch_stays_json_lines(tmp_path) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(lung_met()) + "\n")
    out = subprocess.run([sys.executable, "-m", "acse_kg.cli", "match", "--batch", str(batch), "--format", "text",
                          "--store", "memory"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--format text is for one profile" in out.stderr
