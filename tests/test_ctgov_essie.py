"""The Essie subset of query.* parameters: terms ANDed, phrases, OR/AND/NOT, parentheses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acse_kg.ctgov.essie import And, EssieError, Not, Or, Term, parse

_word = st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=8).filter(
    lambda w: w not in ("AND", "OR", "NOT"))


@given(st.lists(_word, min_size=2, max_size=5))
def test_juxtaposed_words_are_all_required(words):
    assert parse(" ".join(words)) == And(tuple(Term(w) for w in words))


@given(_word, _word)
def test_a_quoted_phrase_is_one_term(a, b):
    assert parse(f'"{a}  {b}"') == Term(f"{a} {b}")


def test_or_binds_looser_than_and_and_parentheses_group():
    assert parse("a b OR c") == Or((And((Term("a"), Term("b"))), Term("c")))
    assert parse("a (b OR c)") == And((Term("a"), Or((Term("b"), Term("c")))))
    assert parse("NOT a AND b") == And((Not(Term("a")), Term("b")))


@pytest.mark.parametrize("bad", ["", "   ", '"open', "(a", "a)", "a OR", "AND", '""'])
def test_malformed_queries_are_refused(bad):
    with pytest.raises(EssieError):
        parse(bad)
