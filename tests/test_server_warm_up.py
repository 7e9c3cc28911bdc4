"""The matcher warmed up at start-up (setting ``warm_up``): every matchable study compiled in a thread
beside the first requests, so the first POST /match/trials compiles nothing; GET /match/status says how far."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from conftest import NCT
from ctml_fixtures import CAPTUR, captur
from fastapi.testclient import TestClient

from acse_kg.api.app import create_app
from acse_kg.api.settings import ServerSettings
from acse_kg.ctml.importer import import_ctml
from acse_kg.matching import engine
from acse_kg.store import GraphStore, open_store

CHOLANGIOCARCINOMA_BRAF_V600E = orjson.dumps({
    "id": "P", "age_years": 60, "diagnosis": "CHOL",
    "alterations": [{"gene": "BRAF", "type": "mutation", "protein_change": "p.V600E",
                     "variant_classification": "Missense_Mutation"}]})


def two_trials() -> GraphStore:
    """A store of its own (compiled studies are kept per store): the bundle's AcSé and CAPTUR from its CTML."""
    store = open_store("memory")
    import_ctml(store, captur())
    return store


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The NCT numbers of the studies compiled from here on, in order."""
    seen: list[str] = []
    real = engine._compile

    def counting(store: GraphStore, nct: str, vocab: Any) -> Any:
        seen.append(nct)
        return real(store, nct, vocab)

    monkeypatch.setattr(engine, "_compile", counting)
    return seen


def settled(client: TestClient, budget: float = 60.0) -> dict[str, Any]:
    """The status once the warm-up is no longer running."""
    deadline = time.monotonic() + budget
    while True:
        status = client.get("/match/status").json()
        if status["warm_up"] not in ("pending", "running") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_the_warm_up_compiles_every_matchable_study_and_the_first_match_compiles_none(compiled: list[str]) -> None:
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=True))) as client:
        status = settled(client)
        assert status["warm_up"] == "ready", status
        assert status["studies"] == status["matchable"] == 2 and status["error"] is None
        assert sorted(compiled) == sorted([NCT, CAPTUR])
        compiled.clear()
        result = client.post("/match/trials", content=CHOLANGIOCARCINOMA_BRAF_V600E).json()
        assert [r["trial"] for r in result["results"]] == [CAPTUR]
        assert compiled == []


def test_without_the_warm_up_the_first_match_compiles_what_it_needs(compiled: list[str]) -> None:
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=False))) as client:
        assert client.get("/match/status").json() == {"warm_up": "off", "studies": 0, "matchable": None,
                                                      "seconds": None, "error": None}
        result = client.post("/match/trials", content=CHOLANGIOCARCINOMA_BRAF_V600E).json()
        assert [r["trial"] for r in result["results"]] == [CAPTUR]
        assert CAPTUR in compiled


def test_a_warm_up_that_cannot_read_the_store_says_why_and_the_server_goes_on() -> None:
    store = two_trials()
    app = create_app(store, ServerSettings(warm_up=True))
    store.close()  # every read fails from here on
    with TestClient(app, raise_server_exceptions=False) as client:
        status = settled(client)
        assert status["warm_up"] == "failed" and status["error"]
        assert client.get("/match/schema").status_code == 500  # answered, as any request on a store gone
