"""The matcher warmed up at start-up (setting ``warm_up``): every matchable study compiled in a thread
beside the first requests, so the first POST /match/trials compiles nothing; GET /match/status says how far."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


def counting_compiles(monkeypatch: pytest.MonkeyPatch, before: Callable[[str], None] | None = None) -> list[str]:
    """The NCT numbers of the studies compiled from here on, in order (``before`` runs ahead of each)."""
    seen: list[str] = []
    real = engine._compile

    def counting(store: GraphStore, nct: str, vocab: Any) -> Any:
        seen.append(nct)
        if before is not None:
            before(nct)
        return real(store, nct, vocab)

    monkeypatch.setattr(engine, "_compile", counting)
    return seen


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return counting_compiles(monkeypatch)


def settled(client: TestClient, budget: float = 60.0) -> dict[str, Any]:
    """The status once the warm-up is no longer running."""
    deadline = time.monotonic() + budget
    while True:
        r = client.get("/match/status")
        status = r.json()
        assert r.status_code == (503 if status["warm_up"] in ("pending", "running") else 200), status
        if r.status_code == 200 or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_the_warm_up_compiles_every_matchable_study_and_the_first_match_compiles_none(compiled: list[str]) -> None:
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=True))) as client:
        status = settled(client)
        assert status["warm_up"] == "ready", status
        assert status["studies"] == status["matchable"] == 2 and status["failures"] == 0 and status["error"] is None
        assert sorted(compiled) == sorted([NCT, CAPTUR])
        compiled.clear()
        result = client.post("/match/trials", content=CHOLANGIOCARCINOMA_BRAF_V600E).json()
        assert [r["trial"] for r in result["results"]] == [CAPTUR]
        assert compiled == []


def test_without_the_warm_up_the_first_match_compiles_what_it_needs(compiled: list[str]) -> None:
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=False))) as client:
        r = client.get("/match/status")
        assert r.status_code == 200 and r.json() == {"warm_up": "off", "studies": 0, "matchable": None, "failures": 0,
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


def test_requests_are_answered_while_the_warm_up_runs_and_the_status_is_503_until_it_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    counting_compiles(monkeypatch, before=lambda nct: gate.wait(30))  # every compile waits for the test
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=True))) as client:
        r = client.get("/match/status")
        assert r.status_code == 503 and r.json()["warm_up"] in ("pending", "running")
        assert client.get("/match/schema").status_code == 200  # answered beside the warm-up
        gate.set()
        assert settled(client)["warm_up"] == "ready"


def test_a_write_during_the_warm_up_is_warmed_up_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new vocabulary (a write to a graph no study owns) makes a new matcher: the warm-up compiles its studies."""
    store = two_trials()
    first = threading.Event()
    gate = threading.Event()

    def hold_the_first(nct: str) -> None:
        first.set()
        gate.wait(30)

    seen = counting_compiles(monkeypatch, before=hold_the_first)
    with TestClient(create_app(store, ServerSettings(warm_up=True))) as client:
        assert first.wait(30)  # the warm-up is compiling its first study, under the old vocabulary
        vocabulary = engine.vocabulary_for(store)
        store.replace_graph("urn:x:vocabulary", b'<urn:x:a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .\n',
                            "ntriples")
        assert engine.vocabulary_for(store) is not vocabulary
        gate.set()
        assert settled(client)["warm_up"] == "ready"
        seen.clear()
        result = client.post("/match/trials", content=CHOLANGIOCARCINOMA_BRAF_V600E).json()
        assert [r["trial"] for r in result["results"]] == [CAPTUR]
        assert seen == []  # compiled under the new vocabulary by the warm-up, not by this request


def test_a_study_that_fails_to_compile_is_counted_and_named_and_the_others_are_compiled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_on_acse(nct: str) -> None:  # the first by NCT number: the one after it must still be compiled
        if nct == NCT:
            raise TimeoutError("the engine did not answer")

    seen = counting_compiles(monkeypatch, before=fail_on_acse)
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=True))) as client:
        status = settled(client)
    assert status["warm_up"] == "ready" and status["studies"] == 2 and status["failures"] == 1
    assert NCT in status["error"] and "did not answer" in status["error"]
    assert seen == [NCT, CAPTUR]


def test_studies_failing_one_after_the_other_fail_the_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine gone: not hours of time-outs ending "ready", but "failed" after a few."""
    from acse_kg.api import warm_up

    def engine_gone(nct: str) -> None:
        raise ConnectionError("cannot reach the SPARQL endpoint")

    monkeypatch.setattr(warm_up, "MAX_FAILURES_IN_A_ROW", 2)
    counting_compiles(monkeypatch, before=engine_gone)
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=True))) as client:
        status = settled(client)
    assert status["warm_up"] == "failed" and status["failures"] == 2
    assert "2 studies in a row" in status["error"] and "cannot reach" in status["error"]


def test_a_registry_over_the_warm_ups_budget_is_compiled_up_to_it_and_the_status_says_so(compiled: list[str]) -> None:
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=True, warm_up_max_studies=1))) as client:
        status = settled(client)
        assert status["warm_up"] == "stopped" and status["studies"] == 1 and status["matchable"] == 2, status
        assert "warm_up_max_studies" in status["error"] and len(compiled) == 1
        # The studies past the budget compile on request, as without the warm-up.
        result = client.post("/match/trials", content=CHOLANGIOCARCINOMA_BRAF_V600E).json()
        assert [r["trial"] for r in result["results"]] == [CAPTUR]


def test_the_warm_up_compiles_no_more_than_matching_keeps(compiled: list[str]) -> None:
    with TestClient(create_app(two_trials(), ServerSettings(warm_up=True, matcher_max_studies=1))) as client:
        status = settled(client)
    assert status["warm_up"] == "stopped" and status["studies"] == 1 and len(compiled) == 1, status
    assert "matcher_max_studies" in status["error"]


def test_a_negative_warm_up_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="warm_up_max_studies"):
        ServerSettings(warm_up_max_studies=-1)
