"""A remote engine's request budget: set by ACSE_KG_REMOTE_TIMEOUT, named when it is exceeded.

Why: a bulk import into ``oxigraph serve`` on a loaded machine failed with "cannot reach the SPARQL
endpoint ...: timed out" after the fixed 60 s, which sent the operator to the network when the engine
was only slow, and gave no way to allow it more time.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from acse_kg.remote import DEFAULT_TIMEOUT, TIMEOUT_ENV, SparqlEndpointStore
from acse_kg.store import StoreError


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that takes the connection and never answers (a hung engine): the kernel completes
    the handshake for the listening socket's backlog; nothing ever reads or writes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/query"


def test_without_the_variable_the_budget_is_sixty_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert SparqlEndpointStore("http://127.0.0.1:9/query").timeout == DEFAULT_TIMEOUT == 60.0


def test_the_variable_sets_the_budget_of_each_request(monkeypatch: pytest.MonkeyPatch, silent_endpoint: str) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "0.5")
    store = SparqlEndpointStore(silent_endpoint)
    started = time.monotonic()
    with pytest.raises(StoreError) as refused:
        store.ask("ASK { ?s ?p ?o }")
    took = time.monotonic() - started
    assert 0.4 < took < 10
    message = str(refused.value)
    assert "did not answer within 0.5 s" in message and TIMEOUT_ENV in message
    assert "cannot reach" not in message  # it was reached: the engine is slow, not the network down


def test_a_budget_given_in_code_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "5")
    assert SparqlEndpointStore("http://127.0.0.1:9/query", timeout=120).timeout == 120


def test_opening_a_store_with_a_history_endpoint_is_bounded_too(monkeypatch: pytest.MonkeyPatch,
                                                                silent_endpoint: str) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "0.3")
    # Opening a store with a history endpoint asks the live one whether it serves the union (the two
    # share one HTTP client, so one budget): that first request times out on the silent endpoint.
    with pytest.raises(StoreError, match=r"did not answer within 0\.3 s"):
        SparqlEndpointStore(silent_endpoint, history_url=silent_endpoint)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_a_value_that_is_not_a_positive_number_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(StoreError, match=TIMEOUT_ENV):
        SparqlEndpointStore("http://127.0.0.1:9/query")



def test_a_client_given_keeps_its_own_budget_and_the_error_names_it(monkeypatch: pytest.MonkeyPatch,
                                                                    silent_endpoint: str) -> None:
    import httpx

    monkeypatch.setenv(TIMEOUT_ENV, "30")
    store = SparqlEndpointStore(silent_endpoint, client=httpx.Client(timeout=0.4))
    assert store.timeout == 0.4
    with pytest.raises(StoreError, match=r"did not answer within 0\.4 s"):
        store.ask("ASK { ?s ?p ?o }")
