"""The safety lexer: what a public endpoint refuses, and what it must not mistake for a keyword."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acse_kg.api.negotiation import RDF_MEDIA, RESULT_MEDIA, choose
from acse_kg.sparql_safety import RefusedQuery, analyse, check_dataset

any_case = st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in "SERVICE"]).map("".join)
gap = st.sampled_from([" ", "\n", "\t", "  ", " # a comment\n", "\n# SERVICE in a comment\n"])


@given(keyword=any_case, before=gap, after=gap, silent=st.booleans())
def test_service_in_any_letter_case_and_spacing_is_refused(keyword: str, before: str, after: str, silent: bool) -> None:
    query = f"SELECT * WHERE {{{before}{keyword}{after}{'SILENT ' if silent else ''}<http://example.org/sparql> {{ ?s ?p ?o }} }}"
    with pytest.raises(RefusedQuery, match="SERVICE"):
        analyse(query)


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * WHERE { ?s ?p "SERVICE <http://example.org/> {}" }',
        "SELECT * WHERE { ?s ?p '''a\nSERVICE <http://x/> {}\n''' }",
        "SELECT * WHERE { ?service ?p ?o }",
        "PREFIX ex: <http://example.org/> SELECT * WHERE { ex:service ex:LOAD ex:from }",
        "SELECT * WHERE { <http://example.org/SERVICE> ?p ?o }",
        "# SERVICE <http://example.org/> in a comment\nASK {}",
    ],
)
def test_the_word_inside_a_string_iri_variable_name_or_comment_is_not_a_keyword(query: str) -> None:
    analyse(query)  # no refusal


def test_a_codepoint_escape_outside_strings_is_refused() -> None:
    with pytest.raises(RefusedQuery, match="escape"):
        analyse("SELECT * WHERE { \\u0053ERVICE <http://example.org/> { ?s ?p ?o } }")


def test_load_is_refused() -> None:
    with pytest.raises(RefusedQuery, match="LOAD"):
        analyse("load silent <http://example.org/data.ttl> INTO GRAPH <http://example.org/g>")


@pytest.mark.parametrize(
    ("query", "form"),
    [
        ("PREFIX a: <http://x/> BASE <http://y/> select * {}", "SELECT"),
        ("# SELECT\nconstruct where { ?s ?p ?o }", "CONSTRUCT"),
        ("DESCRIBE <http://x/>", "DESCRIBE"),
        ("ask {}", "ASK"),
        ("INSERT DATA { <http://x/> <http://x/> 1 }", None),
    ],
)
def test_the_query_form_is_found_after_any_prologue(query: str, form: str | None) -> None:
    assert analyse(query).form == form


def test_from_iris_are_resolved_through_prefixes_and_base() -> None:
    info = analyse("BASE <http://example.org/> PREFIX g: <http://example.org/graph/> "
                   "SELECT * FROM g:one FROM NAMED <two> WHERE {}")
    assert info.dataset_iris == ["http://example.org/graph/one", "http://example.org/two"]
    check_dataset(info, ["http://example.org/graph/one", "http://example.org/two"])
    with pytest.raises(RefusedQuery, match=r"<http://example\.org/two>"):
        check_dataset(info, ["http://example.org/graph/one"])


@pytest.mark.parametrize(
    ("accept", "results", "rdf"),
    [
        (None, "json", "turtle"),
        ("*/*", "json", "turtle"),
        ("text/csv", "csv", None),
        ("text/*", "xml", "turtle"),  # a wildcard takes the server's first offer in its range
        ("application/sparql-results+xml;q=0.5, text/tab-separated-values", "tsv", None),
        ("application/json", "json", "jsonld"),
        ("application/rdf+xml, application/sparql-results+xml;q=0.9", "xml", "rdfxml"),
        ("image/png", None, None),
        ("text/csv;q=0, */*;q=0.1", "json", "turtle"),
    ],
)
def test_content_negotiation_honours_q_values_and_wildcards(accept: str | None, results: str | None, rdf: str | None) -> None:
    assert choose(accept, RESULT_MEDIA) == results
    assert choose(accept, RDF_MEDIA) == rdf
