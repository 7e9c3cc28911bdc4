"""A registry match on a remote store, run while the store's version is read beside it.

On a remote endpoint the registry's matcher is checked against the store's generation token (one
query: 2–5 ms on ``oxigraph serve`` at 100,000 studies) before every request. The match now runs
while that query is under way (:meth:`acse_kg.derived.InStep.using`): these tests pin that the
answer is the one a check-then-match gives, a write by another client is still seen at the next
request, and a bad profile is still refused.
"""

from __future__ import annotations

import orjson
import pytest
from oxigraph_server_fixtures import OxigraphServer

from acse_kg.derived import InStep
from acse_kg.loader import study_graph_name
from acse_kg.matching.engine import match_all_json, registry_matcher_for
from acse_kg.matching.profile import ProfileError

NCT = "NCT02034981"
MET_LUAD = orjson.dumps({"id": "p1", "age_years": 54, "diagnosis": "LUAD",
                          "alterations": [{"gene": "MET", "type": "amplification"}]})


def _trials(answer: bytes) -> list[str]:
    return [r["trial"] for r in orjson.loads(answer)["results"]]


def test_the_answer_is_the_one_checked_then_matched(empty_oxigraph: OxigraphServer) -> None:
    store = empty_oxigraph.open()
    expected = registry_matcher_for(store).match_all_json(MET_LUAD)  # a matcher kept for the version
    assert _trials(expected) == [NCT]
    assert match_all_json(store, MET_LUAD) == expected


def test_a_write_by_another_client_is_seen_at_the_next_request(empty_oxigraph: OxigraphServer) -> None:
    store, other = empty_oxigraph.open(), empty_oxigraph.open()
    assert _trials(match_all_json(store, MET_LUAD)) == [NCT]
    assert _trials(match_all_json(store, MET_LUAD)) == [NCT]  # matched beside the version read
    other.drop_graph(study_graph_name(NCT))
    assert _trials(match_all_json(store, MET_LUAD)) == []


def test_a_bad_profile_is_refused_as_before(empty_oxigraph: OxigraphServer) -> None:
    store = empty_oxigraph.open()
    match_all_json(store, MET_LUAD)
    with pytest.raises(ProfileError):
        match_all_json(store, b'{"id": "p2", "age_years": -3}')


def test_the_work_runs_again_only_when_the_version_changed(empty_oxigraph: OxigraphServer) -> None:
    store, other = empty_oxigraph.open(), empty_oxigraph.open()
    made: list[int] = []
    values = InStep(lambda s: made.append(len(made)) or len(made), lambda s, old, graphs: old)
    seen: list[int] = []
    assert values.using(store, lambda v: seen.append(v) or v) == 1  # made, then used once
    assert values.using(store, lambda v: seen.append(v) or v) == 1  # the value kept, used once
    other.add_to_graph("urn:x:elsewhere", "<urn:x:a> <urn:x:b> <urn:x:c> .", "ntriples")
    assert values.using(store, lambda v: seen.append(v) or v) == 2  # the kept value used, then the new one
    assert seen == [1, 1, 1, 2]
