"""Matching keeps at most a budget of compiled studies, the most recently used; the others are compiled
again when a profile next reaches them, and the answers are those of a matcher that keeps everything.

The reference is the unshared registry matcher (``share=False``), which compiles every study for itself
and keeps it: the bounded one must answer every profile exactly as it does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching_fixtures import registry_profiles

from acse_kg.api.app import create_app
from acse_kg.api.settings import ServerSettings
from acse_kg.matching import engine
from acse_kg.matching.engine import RegistryMatcher, compiled_budget, keep_compiled
from acse_kg.store import GraphStore, open_store
from acse_kg.synthetic import add_copies

NCT = "NCT02034981"


def copies(n: int) -> GraphStore:
    """AcSé and ``n`` varied copies, in a store of its own (budgets are per store)."""
    store = open_store("memory")
    add_copies(store, n, [NCT])
    return store


@pytest.fixture(scope="module")
def nine() -> GraphStore:
    store = copies(8)
    keep_compiled(store, 3)
    return store


def counting_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real: Callable[..., Any] = engine._compile

    def counting(store: GraphStore, nct: str, vocab: Any) -> Any:
        seen.append(nct)
        return real(store, nct, vocab)

    monkeypatch.setattr(engine, "_compile", counting)
    return seen


def test_a_registry_matcher_keeps_no_more_compiled_studies_than_its_budget(nine: GraphStore) -> None:
    reg = RegistryMatcher(nine)
    for nct in reg.ncts:
        reg.study(nct)
        assert len(reg._compiled) <= 3
        assert len(engine._compiled.keys(nine)) <= 3  # the plans kept across matchers are bounded too
    assert len(reg.ncts) == 9


def test_the_least_recently_used_study_is_the_one_evicted(monkeypatch: pytest.MonkeyPatch) -> None:
    store = copies(3)
    keep_compiled(store, 2)
    reg = RegistryMatcher(store)
    a, b, c, _ = reg.ncts
    reg.study(a), reg.study(b), reg.study(a)  # a used after b
    compiles = counting_compiles(monkeypatch)
    reg.study(c)  # over the budget: b goes
    assert sorted(reg._compiled) == sorted([a, c])
    reg.study(a)
    reg.study(b)
    assert compiles == [c, b]  # a was kept; b is compiled again when asked again


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profiles=st.lists(registry_profiles(), min_size=1, max_size=6))
def test_a_bounded_matcher_answers_as_one_that_keeps_every_study(nine: GraphStore,
                                                                   profiles: list[dict[str, Any]]) -> None:
    bounded, reference = RegistryMatcher(nine), RegistryMatcher(nine, share=False)
    reference.kept = 10**9  # keeps every study it compiles: no eviction on this side
    for p in profiles:
        assert bounded.match_all(p) == reference.match_all(p)
        assert len(bounded._compiled) <= 3


def test_a_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        keep_compiled(open_store("memory"), 0)
    with pytest.raises(ValueError, match="matcher_max_studies"):
        ServerSettings(matcher_max_studies=0)


def test_the_server_setting_is_the_store_budget() -> None:
    store = copies(2)
    create_app(store, ServerSettings(warm_up=False, matcher_max_studies=2))
    assert compiled_budget(store) == 2
    assert RegistryMatcher(store).kept == 2
