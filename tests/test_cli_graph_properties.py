"""Properties of the graph commands' helpers over many generated inputs (hypothesis)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef

from acse_kg.commands.graph_cmds import _cell, format_table, query_form

FORMS = ["SELECT", "CONSTRUCT", "DESCRIBE", "ASK"]
pname = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
iri = st.from_regex(r"http://ex\.org/[a-z#/]{0,10}", fullmatch=True)
comment = st.from_regex(r"#[^\n\r]{0,30}", fullmatch=True).map(lambda c: c + "\n")  # SPARQL ends a comment at CR or LF
declaration = st.one_of(
    st.builds(lambda p, i: f"PREFIX {p}: <{i}>", pname, iri),
    st.builds(lambda p, i: f"prefix {p}:<{i}>", pname, iri),
    st.builds(lambda i: f"BASE <{i}>", iri),
    comment,
)
space = st.sampled_from([" ", "\n", "\t", "  \n"])


@settings(max_examples=200, deadline=None)
@given(prologue=st.lists(st.tuples(declaration, space), max_size=6), form=st.sampled_from(FORMS),
       lower=st.booleans())
def test_query_form_finds_the_form_after_any_prologue(prologue, form, lower) -> None:
    text = "".join(d + s for d, s in prologue) + (form.lower() if lower else form) + " * WHERE { ?s ?p ?o }"
    assert query_form(text) == form


cell = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12).map(Literal),
    st.from_regex(r"https://w3id\.org/acse-kg/id/gene/[A-Z0-9]{1,5}", fullmatch=True).map(URIRef),
)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(cell, cell), max_size=8))
@example(rows=[(Literal("\xa0"), None)])  # a no-break space is a cell's text, not padding to strip
def test_table_columns_start_at_the_same_offset_on_every_line(rows) -> None:
    table = format_table(["a", "bb"], [{"a": x, "bb": y} for x, y in rows]).splitlines()
    assert table[-1].startswith(f"({len(rows)} row")
    body = table[:-1]
    assert len(body) == 2 + len(rows)
    width = len(body[1].split("  ")[0])  # the dashes under column one
    second = width + 2  # where column two starts
    for line, (x, y) in zip(body[2:], rows, strict=True):
        assert line.ljust(second)[:second] == _cell(x).ljust(width) + "  "
        assert line[second:] == _cell(y).rstrip(" ")
