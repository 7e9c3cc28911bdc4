"""Compiled expressions share their code: one code object per shape, each function with its own constants.

Why it matters: CPython 3.11 specialises a code object only after it has run a few times. A
function compiled per cohort ran once per profile, so at 1,000 trials a request ran hundreds of
code objects that had never warmed up (a server's first requests cost twice the later ones).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acse_kg.matching import rules
from acse_kg.matching.rules import compile_expr
from acse_kg.model.expressions import And, Comparison, Variable

ANC = Variable("urn:x:anc", "labs.anc", "10*9/L", "number")
PLT = Variable("urn:x:plt", "labs.platelets", "10*9/L", "number")


def _both(anc: float, plt: float) -> And:
    return And((Comparison(ANC, "ge", anc), Comparison(PLT, "ge", plt)))


def test_expressions_of_one_shape_share_one_code_object() -> None:
    first, second = compile_expr(_both(1.0, 100.0)), compile_expr(_both(1.5, 75.0))
    assert first.__code__ is second.__code__


def test_expressions_of_another_shape_have_their_own_code() -> None:
    either = compile_expr(Comparison(ANC, "ge", 1.0))
    assert either.__code__ is not compile_expr(_both(1.0, 100.0)).__code__


@given(anc=st.floats(0, 5), plt=st.floats(0, 500), t_anc=st.floats(0, 5), t_plt=st.floats(0, 500))
def test_each_function_answers_with_its_own_constants(anc: float, plt: float, t_anc: float, t_plt: float) -> None:
    shared = compile_expr(_both(t_anc, t_plt))
    compile_expr(_both(t_anc + 1, t_plt + 1))  # another function of the same code, made after it
    assert shared({"labs.anc": anc, "labs.platelets": plt}) is (anc >= t_anc and plt >= t_plt)
    assert shared({"labs.anc": anc}) is (None if anc >= t_anc else False)  # Kleene: unknown only where it can matter


def test_the_table_of_code_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "FACTORIES_KEPT", 2)
    monkeypatch.setattr(rules, "_FACTORIES", {})
    for n in range(5):  # five shapes: And of 1..5 comparisons
        compile_expr(And(tuple(Comparison(ANC, "ge", float(k)) for k in range(n + 1))))
    assert len(rules._FACTORIES) <= 2
    assert compile_expr(_both(1.0, 100.0))({"labs.anc": 2.0, "labs.platelets": 150.0}) is True
