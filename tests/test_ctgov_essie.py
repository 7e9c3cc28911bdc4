"""The Essie subset of query.* parameters: terms ANDed, phrases, OR/AND/NOT, parentheses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
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


# ------------------------------------------------------------ search operators and limits
def test_area_range_and_missing_operators():
    from acse_kg.ctgov.essie import Area, Missing, Range

    assert parse("AREA[Phase]PHASE2 AND AREA[StartDate]RANGE[2013-01-01,MAX]") == And(
        (Area("Phase", Term("PHASE2")), Area("StartDate", Range("2013-01-01", None))))
    assert parse("AREA[MinimumAge]RANGE[MIN, 16 years]") == Area("MinimumAge", Range(None, "16 years"))
    assert parse('AREA[Phase](PHASE2 OR "PHASE3")') == Area("Phase", Or((Term("PHASE2"), Term("PHASE3"))))
    assert parse("NOT AREA[LocationCity]MISSING") == Not(Area("LocationCity", Missing()))


@pytest.mark.parametrize("bad, says", [
    ("AREA[]x", "a field name"), ("RANGE[1]", "two bounds"), ("AREA[Phase]", "needs a term"),
    ("AREA[Phase] OR x", "needs a term"), ("COVERAGE[FullMatch]x", "COVERAGE[...] operator is not supported"),
])
def test_malformed_operators_are_refused_with_the_reason(bad, says):
    with pytest.raises(EssieError, match=re.escape(says)):
        parse(bad)


@given(st.integers(1, 64))
def test_nesting_up_to_the_limit_parses_to_the_term_itself(depth):
    assert parse("(" * depth + "x" + ")" * depth) == Term("x")


@given(st.integers(65, 20_000), st.sampled_from([("(", ")"), ("NOT ", ""), ("AREA[Phase]", "")]))
@settings(deadline=None)
def test_nesting_past_the_limit_is_an_essie_error_never_a_recursion_error(depth, shape):
    opening, closing = shape
    with pytest.raises(EssieError, match="nests deeper than 64"):
        parse(opening * depth + "x" + closing * depth)


def test_more_terms_than_the_limit_are_refused_before_parsing():
    from acse_kg.ctgov.essie import MAX_TERMS

    assert isinstance(parse(" OR ".join(["x"] * MAX_TERMS)), Or)
    with pytest.raises(EssieError, match=f"at most {MAX_TERMS}"):
        parse(" OR ".join(["x"] * (MAX_TERMS + 1)))
