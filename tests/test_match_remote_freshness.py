"""The registry's matcher on a remote store is checked against the store's version before each use:
a write by another client (another process writing to the same engine) is matched against at the next
request, and a bad profile is refused with the matcher kept."""

from __future__ import annotations

import orjson
import pytest
from oxigraph_server_fixtures import OxigraphServer

from acse_kg.loader import study_graph_name
from acse_kg.matching.engine import registry_matcher_for
from acse_kg.matching.profile import ProfileError

NCT = "NCT02034981"
MET_LUAD = orjson.dumps({"id": "p1", "age_years": 54, "diagnosis": "LUAD",
                         "alterations": [{"gene": "MET", "type": "amplification"}]})


def _trials(answer: bytes) -> list[str]:
    return [r["trial"] for r in orjson.loads(answer)["results"]]


def test_a_write_by_another_client_is_seen_at_the_next_request(empty_oxigraph: OxigraphServer) -> None:
    store, other = empty_oxigraph.open(), empty_oxigraph.open()
    assert _trials(registry_matcher_for(store).match_all_json(MET_LUAD)) == [NCT]
    other.drop_graph(study_graph_name(NCT))
    assert _trials(registry_matcher_for(store).match_all_json(MET_LUAD)) == []


def test_a_bad_profile_is_refused_and_the_matcher_kept(empty_oxigraph: OxigraphServer) -> None:
    store = empty_oxigraph.open()
    kept = registry_matcher_for(store)
    with pytest.raises(ProfileError):
        kept.match_all_json(b'{"id": "p2", "age_years": -3}')
    assert registry_matcher_for(store) is kept
