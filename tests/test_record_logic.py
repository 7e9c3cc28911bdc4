"""The record's two statements of each exclusion agree: acse:requires is the negation of acse:excludesWhen.

An exclusion criterion carries both forms (the pages read "excludes when",
the matcher decides from "requires"); they are written by hand in the record,
so this checks, in the same three-valued logic the matcher uses, that they
never disagree on any combination of data around their thresholds.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acse_kg.matching.rules import ALTS, DX, Facts, compile_expr, iter_exprs, threshold
from acse_kg.model import AlterationTest, Comparison, Expr, TumourTypeTest, read_study, structured_studies
from acse_kg.store import GraphStore


def _pairs(store: GraphStore) -> list[tuple[str, Expr, Expr]]:
    return [(c.iri, c.requires, c.excludes_when)
            for nct in structured_studies(store) for c in read_study(store, nct).criteria
            if c.excludes_when is not None and c.requires is not None]


@pytest.fixture(scope="module")
def pairs(store: GraphStore) -> list[tuple[str, Expr, Expr]]:
    return _pairs(store)


def _candidates(e: Expr) -> Any:
    """Values of each datum on and around the thresholds the expressions test, or absent."""
    values: dict[str, set[Any]] = {}
    types: set[str] = set()
    alts: set[tuple[str | None, str | None]] = set()
    for x in iter_exprs(e):
        if isinstance(x, Comparison):
            thr = threshold(x)
            near = {True, False} if isinstance(thr, bool) else (
                {thr - 1, thr, thr + 1, thr - 0.01, thr + 0.01} if isinstance(thr, (int, float)) else {thr, "other"})
            values.setdefault(x.variable.field, set()).update(near)
        elif isinstance(x, TumourTypeTest):
            types.add(x.tumour_type.iri)
        elif isinstance(x, AlterationTest):
            alts.add((x.gene.iri if x.gene else None, x.alteration_type.iri if x.alteration_type else None))
    return values, sorted(types), sorted(alts, key=str)


@st.composite
def facts_for(draw: st.DrawFn, requires: Expr, excludes: Expr) -> Facts:
    v1, t1, a1 = _candidates(requires)
    v2, t2, a2 = _candidates(excludes)
    for k, vs in v2.items():
        v1.setdefault(k, set()).update(vs)
    f: Facts = {k: draw(st.sampled_from([None, *sorted(vs, key=repr)])) for k, vs in sorted(v1.items())}
    f[DX] = frozenset(draw(st.sets(st.sampled_from(sorted(set(t1) | set(t2)) or ["none"]))))
    f[ALTS] = frozenset(draw(st.sets(st.sampled_from(sorted(set(a1) | set(a2), key=str) or [(None, None)]))))
    return f


def _not(v: bool | None) -> bool | None:
    return None if v is None else not v


def test_every_exclusion_with_a_structured_form_states_both(pairs: list[tuple[str, Expr, Expr]]) -> None:
    assert len(pairs) >= 10


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_requires_is_the_negation_of_excludes_when_on_any_data(
    pairs: list[tuple[str, Expr, Expr]], data: st.DataObject
) -> None:
    for owner, requires, excludes in pairs:
        f = data.draw(facts_for(requires, excludes), label=owner)
        assert compile_expr(requires)(f) == _not(compile_expr(excludes)(f)), owner
