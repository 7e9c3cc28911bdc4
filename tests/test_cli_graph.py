"""The graph commands: sparql in every format, export, load; errors without tracebacks."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import rdflib.compare
from typer.testing import CliRunner

from acse_kg.cli import app
from acse_kg.commands.graph_cmds import query_form
from acse_kg.store import GraphStore

GENES = "SELECT ?symbol ?hgnc WHERE { ?g a acse:Gene ; acse:geneSymbol ?symbol ; acse:hgncId ?hgnc } ORDER BY ?symbol"
SYMBOLS = ["ALK", "AXL", "MET", "MST1R", "ROS1"]


def run(*args: str):
    result = CliRunner().invoke(app, [*args, "--store", "memory"])
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.mark.parametrize(
    "query",
    ["SELEC ?x WHERE { ?x ?p ?o }", "SELECT ?x WHERE { ?x ?p ", "PREFIX : <x> SELECT * WHERE { :a undeclared:b ?c }"],
)
def test_a_malformed_query_is_a_message_and_exit_2(query: str) -> None:
    result = run("sparql", query)
    assert result.exit_code == 2
    assert result.stderr.startswith("acse-kg: error: malformed query")
    assert result.stdout == ""


def test_an_update_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    store_dir = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["sparql", "--store", store_dir,
                                      "INSERT DATA { <http://example.org/a> <http://example.org/b> 1 }"])
    assert result.exit_code == 2
    assert "SPARQL update" in result.stderr
    ask = CliRunner().invoke(app, ["sparql", "--store", store_dir, "ASK { <http://example.org/a> ?p ?o }"])
    assert ask.stdout == "false\n"


def test_an_empty_query_is_refused() -> None:
    result = run("sparql", "   ")
    assert result.exit_code == 2
    assert "empty query" in result.stderr


def test_json_is_the_sparql_1_1_results_format() -> None:
    result = run("sparql", GENES, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["head"]["vars"] == ["symbol", "hgnc"]
    bindings = doc["results"]["bindings"]
    assert [b["symbol"]["value"] for b in bindings] == SYMBOLS
    assert bindings[0]["hgnc"] == {"type": "literal", "value": "HGNC:427"}


def test_csv_has_a_header_and_one_line_per_row() -> None:
    result = run("sparql", GENES, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["symbol", "hgnc"]
    assert [r[0] for r in rows[1:]] == SYMBOLS


def test_tsv_writes_terms_in_sparql_syntax() -> None:
    result = run("sparql", GENES, "--format", "tsv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "?symbol\t?hgnc"
    assert lines[1] == '"ALK"\t"HGNC:427"'
    assert len(lines) == 1 + len(SYMBOLS)


def test_table_aligns_columns_and_compacts_iris() -> None:
    result = run("sparql", "SELECT ?gene ?symbol WHERE { ?gene acse:geneSymbol ?symbol } ORDER BY ?symbol",
                 "--format", "table")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["gene", "symbol"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["gene:ALK", "ALK"]
    assert len({line.index(s) for line, s in zip(lines[2:7], SYMBOLS, strict=True)}) == 1  # one column start
    assert lines[-1] == "(5 rows)"


def test_ask_answers_true_or_false() -> None:
    assert run("sparql", "ASK { onco:LUAD rdfs:subClassOf+ onco:NSCLC }").stdout == "true\n"
    assert run("sparql", "ASK { onco:NSCLC rdfs:subClassOf+ onco:LUAD }").stdout == "false\n"
    assert json.loads(run("sparql", "ASK { onco:LUAD ?p ?o }", "--format", "json").stdout)["boolean"] is True


def test_construct_and_describe_print_turtle_as_a_table() -> None:
    result = run("sparql", "# the gene MET\nCONSTRUCT WHERE { id:gene\\/MET ?p ?o }")
    assert result.exit_code == 0, result.stderr
    g = rdflib.Graph().parse(data=result.stdout, format="turtle")
    met = rdflib.URIRef("https://w3id.org/acse-kg/id/gene/MET")
    assert (met, rdflib.URIRef("https://w3id.org/acse-kg/ontology#hgncId"), rdflib.Literal("HGNC:7029")) in g
    described = run("sparql", "DESCRIBE <https://w3id.org/acse-kg/id/gene/MET>")
    assert len(rdflib.Graph().parse(data=described.stdout, format="turtle")) == len(g)


def test_a_graph_result_in_json_is_json_ld_with_the_registrys_prefixes() -> None:
    result = run("sparql", "DESCRIBE gene:MET", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["@context"]["gene"] == "https://w3id.org/acse-kg/id/gene/"
    turtle = run("sparql", "DESCRIBE gene:MET").stdout
    assert rdflib.compare.isomorphic(rdflib.Graph().parse(data=result.stdout, format="json-ld"),
                                     rdflib.Graph().parse(data=turtle, format="turtle"))


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_a_graph_result_in_a_table_format_is_refused_with_the_formats_that_fit(fmt: str) -> None:
    result = run("sparql", "DESCRIBE gene:MET", "--format", fmt)
    assert result.exit_code == 2
    assert "--format table" in result.stderr and "--format json" in result.stderr and not result.stdout


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "table"])
def test_every_result_ends_with_a_newline(fmt: str) -> None:
    assert run("sparql", "ASK { ?s ?p ?o }", "--format", fmt).stdout.endswith("\n")


def test_a_query_can_be_read_from_a_file(tmp_path: Path) -> None:
    q = tmp_path / "genes.rq"
    q.write_text(GENES, encoding="utf-8")
    result = run("sparql", str(q), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("ALK,")


def test_a_missing_query_file_is_named_in_the_error() -> None:
    result = run("sparql", "queries/no_such_query.rq")
    assert result.exit_code == 2
    assert "no such query file: queries/no_such_query.rq" in result.stderr


def test_an_unknown_format_is_refused_by_the_option_parser() -> None:
    result = run("sparql", GENES, "--format", "yaml")
    assert result.exit_code == 2
    assert "yaml" in result.stderr


@pytest.mark.parametrize(
    "query,form",
    [
        ("SELECT * {}", "SELECT"),
        ("# comment with a # and <iri>\nPREFIX a: <http://x/#> BASE <http://y/>\n  construct { } where {}", "CONSTRUCT"),
        ("prefix x:<http://x/>DESCRIBE x:a", "DESCRIBE"),
        ("ASK {}", "ASK"),
        ("", ""),
    ],
)
def test_query_form_skips_comments_and_the_prologue(query: str, form: str) -> None:
    assert query_form(query) == form


def _triples(body: bytes, fmt: ox.RdfFormat) -> set:
    return {(t.subject, t.predicate, t.object) for t in ox.parse(body, format=fmt)
            if not isinstance(t.subject, ox.BlankNode) and not isinstance(t.object, ox.BlankNode)}


def test_export_writes_the_same_graph_in_each_format(store: GraphStore, tmp_path: Path) -> None:
    exported = {}
    for name, fmt in (("ntriples", ox.RdfFormat.N_TRIPLES), ("turtle", ox.RdfFormat.TURTLE),
                      ("jsonld", ox.RdfFormat.JSON_LD)):
        out = tmp_path / f"graph.{name}"
        result = run("export", "--format", name, "--out", str(out))
        assert result.exit_code == 0, result.stderr
        exported[name] = _triples(out.read_bytes(), fmt)
    assert exported["ntriples"] == exported["turtle"] == exported["jsonld"]
    live = _triples(store.dump("ntriples", include_history=False), ox.RdfFormat.N_TRIPLES)
    assert exported["ntriples"] == live
    assert len(live) > 9000


def test_export_to_stdout_is_turtle_by_default() -> None:
    result = run("export")
    assert result.exit_code == 0, result.stderr
    assert "@prefix acse: <https://w3id.org/acse-kg/ontology#>" in result.stdout
    assert len(rdflib.Graph().parse(data=result.stdout, format="turtle")) > 9000


def test_export_to_an_unwritable_path_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = run("export", "--out", str(tmp_path / "no" / "such" / "dir" / "g.ttl"))
    assert result.exit_code == 1
    assert result.stderr.startswith("acse-kg: error: cannot write")


def test_load_prints_the_triple_count_of_each_graph() -> None:
    result = run("load")
    assert result.exit_code == 0, result.stderr
    lines = dict(line.rsplit(None, 1) for line in result.stdout.splitlines())
    assert int(lines["https://w3id.org/acse-kg/id/graph/vocab/hgnc"]) > 0
    assert int(lines["https://w3id.org/acse-kg/id/graph/study/NCT02034981"]) > 0


def test_a_multi_line_literal_stays_on_one_table_row() -> None:
    result = run("sparql", "SELECT ?s WHERE { ?x acse:briefSummary ?s }")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and lines[-1] == "(1 row)"
    assert "crizotinib as a monotherapy" in lines[2] and "\\n\\nFor each cohort" in lines[2]
