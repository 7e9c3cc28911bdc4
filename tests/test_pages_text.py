"""Formatting rules of the ClinicalTrials.gov sections: nested bullet lists, dates, codes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from acse_kg.model import Population
from acse_kg.pages.ctgov_view import blocks, date_text, eligibility_sections, humanise
from acse_kg.pages.expressions import ages_text, unit_text

words = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="≥≤<>%()/.,;:'-"),
                 min_size=1, max_size=12)
bullet_text = st.lists(words, min_size=1, max_size=6).map(" ".join).filter(lambda s: s[0] not in "-*+•")


def tree(depth: int):
    leaf = st.tuples(bullet_text, st.just(()))
    if depth == 0:
        return st.lists(leaf, min_size=1, max_size=4)
    return st.lists(st.one_of(leaf, st.tuples(bullet_text, tree(depth - 1).map(tuple))), min_size=1, max_size=4)


def to_markdown(items, depth=0):
    """The eligibility text as export_study writes it: '* ' bullets, two spaces per nesting level."""
    lines = []
    for text, children in items:
        lines.append("  " * depth + "* " + text)
        lines.extend(to_markdown(children, depth + 1))
    return lines


def as_tuples(items):
    return [(it.text, tuple(as_tuples(it.children))) for it in items]


def normalised(items):
    return [(" ".join(t.split()), tuple(normalised(c))) for t, c in items]


@given(tree(2))
def test_nested_bullets_round_trip_through_the_eligibility_text(items):
    parsed = blocks("\n".join(to_markdown(items)))
    assert len(parsed) == 1 and parsed[0].kind == "ul"
    assert as_tuples(parsed[0].items) == normalised(items)


@given(tree(1), tree(1))
def test_inclusion_and_exclusion_headings_split_the_lists(inc, exc):
    text = "Inclusion Criteria:\n\n" + "\n".join(to_markdown(inc)) + "\n\nExclusion Criteria:\n\n" + "\n".join(to_markdown(exc))
    sections = eligibility_sections(text)
    assert [(s.heading, s.kind) for s in sections] == [("Inclusion Criteria", "inclusion"), ("Exclusion Criteria", "exclusion")]
    assert as_tuples(sections[0].blocks[0].items) == normalised(inc)
    assert as_tuples(sections[1].blocks[0].items) == normalised(exc)


def test_numbered_lists_keep_their_numbers_and_prose_stays_paragraphs():
    parsed = blocks("Intro line\ncontinued.\n\n1. first\n2. second\n\nAfter.")
    assert [b.kind for b in parsed] == ["p", "ol", "p"]
    assert parsed[0].text == "Intro line continued."
    assert [(i.number, i.text) for i in parsed[1].items] == [(1, "first"), (2, "second")]


@given(st.dates())
def test_dates_read_as_the_registry_writes_them(d):
    assert date_text(d.isoformat()) == f"{d:%B} {d.day}, {d.year}"
    assert date_text(d.isoformat()[:7]) == f"{d:%B} {d.year}"


def test_malformed_dates_are_shown_as_given():
    assert date_text("2013-13") == "2013-13"
    assert date_text("2014-02-30") == "2014-02-30"
    assert date_text("") == ""


def test_codes_read_as_words():
    assert humanise("OLDER_ADULT") == "Older Adult"
    assert humanise("PHASE2") == "Phase 2"
    assert humanise("EARLY_PHASE1") == "Early Phase 1"


@given(st.sampled_from(["a", "mo", "wk", "d"]), st.floats(min_value=0, max_value=150, allow_nan=False).filter(lambda v: v != 1))
def test_time_units_are_singular_after_one_and_plural_otherwise(code, value):
    assert unit_text(code, 1) + "s" == unit_text(code, value) == unit_text(code)


def test_ucum_units_read_with_superscripts_and_a_spaced_multiplier():
    assert unit_text("mg/m2") == "mg/m²"
    assert unit_text("10*9/L", 1) == "× 10⁹/L"
    assert unit_text("{ULN}", 1.5) == "× ULN"
    assert unit_text("g/dL", 8) == "g/dL"


def test_age_bounds_read_in_years_with_the_singular_for_one():
    assert ages_text(Population("p", "", 1, None)) == "≥ 1 year"
    assert ages_text(Population("p", "", 1, 18)) == "≥ 1 and < 18 years"
    assert ages_text(Population("p", "", 18, None)) == "≥ 18 years"
