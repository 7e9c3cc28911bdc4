"""CLI commands on the graph itself: load, sparql, export, reason.

Every command opens the store named by ``--store`` / ``ACSE_KG_STORE`` and
reports failures as one line on stderr with a non-zero exit status (2 for bad
input such as a malformed query), never a traceback.
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import AcseError
from ..namespaces import compact_iri
from ..rdf_io import serialize_rdf
from ..sparql_safety import QueryTooDeep, check_nesting, first_keyword, unknown_prefix_message
from ..store import (
    GraphStore,
    QuerySyntaxError,
    StoreError,
    StoreHeld,
    compact_store,
    compactable_spec,
    open_store,
)
from .common import StoreOption, fail, get_store


class ResultFormat(StrEnum):
    json = "json"
    csv = "csv"
    tsv = "tsv"
    table = "table"


class ExportFormat(StrEnum):
    turtle = "turtle"
    jsonld = "jsonld"
    ntriples = "ntriples"
    ctgov = "ctgov"  # one study as ClinicalTrials.gov API v2 JSON (acse_kg.commands.ctgov_cmds)
    ctml = "ctml"  # one study as MatchMiner CTML, JSON (acse_kg.commands.ctgov_cmds.export_ctml)
    ctml_yaml = "ctml-yaml"  # the same as YAML
    fhir = "fhir"  # one study as a FHIR R4B ResearchStudy (acse_kg.ctgov.fhir_study)


#: The formats that export one study (they take its NCT number).
STUDY_FORMATS = frozenset({ExportFormat.ctgov, ExportFormat.ctml, ExportFormat.ctml_yaml, ExportFormat.fhir})


UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
)


def query_form(query: str) -> str:
    """SELECT, CONSTRUCT, DESCRIBE or ASK (or an update's first keyword), read with the endpoint's
    own SPARQL lexer, which knows strings, IRIs and comments."""
    return first_keyword(query)


def read_query(query_or_file: str) -> str:
    """The query text: '-' reads stdin, an existing file is read, anything else is the query."""
    if query_or_file == "-":
        return sys.stdin.read()
    path = Path(query_or_file)
    try:
        if _could_be_a_path(query_or_file) and path.is_file():
            return path.read_text(encoding="utf-8")
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:  # too long for a file name: it is the query itself
            fail(f"cannot read query file {query_or_file}: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        fail(f"cannot read query file {query_or_file}: {exc}")
    if re.fullmatch(r"\S+\.(rq|sparql)", query_or_file):
        fail(f"no such query file: {query_or_file}")
    return query_or_file


def _could_be_a_path(text: str) -> bool:
    """Whether ``text`` can name a file at all: no line break, no name longer than the
    filesystem allows (255 bytes), no path longer than PATH_MAX. Anything else is a query."""
    if "\n" in text or len(text.encode("utf-8", "surrogatepass")) >= 4096:
        return False
    return all(len(part.encode("utf-8", "surrogatepass")) <= 255 for part in Path(text).parts)


def _compact(iri: str) -> str:
    """An IRI as prefix:local when that reads back as the same IRI in a query, else <iri>."""
    short = compact_iri(iri)
    return short if short and re.fullmatch(r"[\w.\-/]*", short.split(":", 1)[1]) else f"<{iri}>"


def _cell(term: object) -> str:
    """A term as a table cell: IRIs compacted with the registry's prefixes, literals by value."""
    if term is None:
        return ""
    text = str(term)
    if type(term).__name__ == "URIRef":
        return _compact(text)
    # One row per line: multi-line literals (summaries) keep their breaks visibly.
    return text.replace("\r", "").replace("\n", "\\n").replace("\t", " ")


def format_table(variables: Sequence[str], rows: Sequence[Mapping[str, object]]) -> str:
    """An aligned plain-text table with a header line and a row count."""
    cells = [[_cell(r.get(v)) for v in variables] for r in rows]
    widths = [max([len(v), *(len(c[i]) for c in cells)]) for i, v in enumerate(variables)]
    line = lambda vals: "  ".join(val.ljust(w) for val, w in zip(vals, widths, strict=True)).rstrip(" ")  # noqa: E731  (padding only: a cell's own no-break space stays)
    out = [line(variables), line(["-" * w for w in widths])]
    out += [line(c) for c in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


class GraphFormatError(AcseError, ValueError):
    """A graph result (CONSTRUCT, DESCRIBE) asked for in a table format."""


def _graph(store: GraphStore, query: str, fmt: ResultFormat) -> bytes:
    """A graph result as Turtle (--format table, for reading) or JSON-LD (--format json)."""
    if fmt in (ResultFormat.csv, ResultFormat.tsv):
        raise GraphFormatError(
            f"a CONSTRUCT or DESCRIBE result is a graph, not a table: use --format table (Turtle) "
            f"or --format json (JSON-LD), not --format {fmt.value}"
        )
    return serialize_rdf(store.construct(query), "jsonld" if fmt is ResultFormat.json else "turtle")


def run_query(store: GraphStore, query: str, fmt: ResultFormat) -> bytes:
    """Evaluate a query and serialise its result in the asked format, ending with a newline
    (a terminal prompt must not be glued to the last line)."""
    form = query_form(query)
    if form in ("CONSTRUCT", "DESCRIBE"):
        body = _graph(store, query, fmt)
    elif fmt is ResultFormat.table:
        if form == "ASK":
            body = b"true\n" if store.ask(query) else b"false\n"
        else:
            res = store.select(query)
            body = format_table(res.variables, res.rows).encode("utf-8")
    else:
        try:
            _kind, body = store.query_serialized(query, fmt.value)
        except KeyError:  # a graph result the prologue scan did not foresee
            body = _graph(store, query, fmt)
    return body if body.endswith(b"\n") else body + b"\n"



def _open(spec: str | None) -> GraphStore:
    return get_store(spec)


def register(app: typer.Typer) -> None:
    """Add load, sparql, export and reason to the app."""

    @app.command()
    def load(store: StoreOption = None) -> None:
        """Load (or reload) the bundled ontology, vocabularies and study records; print triples per graph."""
        from ..loader import load_bundle

        st = get_store(store, bootstrap=False)
        try:
            counts = load_bundle(st)
        except StoreError as exc:
            fail(str(exc))
        width = max(len(g) for g in counts)
        for graph, n in counts.items():
            typer.echo(f"{graph.ljust(width)}  {n:>7}")
        typer.echo(f"{'total (store)'.ljust(width)}  {len(st):>7}")
        st.close()

    @app.command()
    def sparql(
        query_or_file: Annotated[str, typer.Argument(help="A SPARQL query, a file holding one, or '-' for stdin.")],
        format: Annotated[ResultFormat, typer.Option("--format", "-f", help="Result format; a graph (CONSTRUCT, DESCRIBE) is Turtle with table, JSON-LD with json.")] = ResultFormat.table,
        store: StoreOption = None,
    ) -> None:
        """Run a SPARQL query (SELECT, ASK, CONSTRUCT, DESCRIBE) over the live graph."""
        query = read_query(query_or_file)
        if not query.strip():
            fail("empty query")
        if query_form(query) in UPDATE_KEYWORDS:
            fail("this is a SPARQL update; acse-kg sparql runs queries only (SELECT, ASK, CONSTRUCT, DESCRIBE)")
        try:
            check_nesting(query)  # before any parser: thousands of levels overflow the engine's stack
        except QueryTooDeep as exc:
            fail(f"malformed query: {exc}")
        if (unknown := unknown_prefix_message(query)) is not None:
            fail(f"malformed query: {unknown}")
        st = _open(store)
        try:
            out = run_query(st, query, format)
        except QuerySyntaxError as exc:
            message = str(exc)
            fail(message if message.startswith("malformed query") else f"malformed query: {message}")
        except GraphFormatError as exc:
            fail(str(exc))
        except (StoreError, ValueError, OSError, KeyError) as exc:
            fail(f"query failed: {exc}", 1)
        sys.stdout.buffer.write(out)
        sys.stdout.flush()

    @app.command()
    def export(
        nct: Annotated[str | None, typer.Argument(help="With --format ctgov / ctml / ctml-yaml / fhir: the study's NCT number.")] = None,
        format: Annotated[ExportFormat, typer.Option("--format", "-f", help="RDF serialisation, or one study: ctgov (API v2 JSON), ctml (MatchMiner CTML JSON), ctml-yaml, fhir (a FHIR R4B ResearchStudy).")] = ExportFormat.turtle,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
        store: StoreOption = None,
    ) -> None:
        """Export the whole live graph (every live named graph, merged; history excluded), or one study as ctgov JSON, CTML or FHIR."""
        one_study = format in STUDY_FORMATS
        if one_study != (nct is not None):
            fail(f"--format {format.value if one_study else 'ctgov / ctml / fhir'} exports one study: "
                 "give its NCT number (and only with --format ctgov, ctml, ctml-yaml or fhir)")
        st = _open(store)
        try:
            if format in (ExportFormat.ctml, ExportFormat.ctml_yaml):
                from .ctgov_cmds import export_ctml

                assert nct is not None  # checked above: a one-study format comes with its NCT number
                body = export_ctml(st, nct, yaml_out=format is ExportFormat.ctml_yaml)
            elif one_study:
                import json

                from .ctgov_cmds import export_ctgov

                assert nct is not None
                study = export_ctgov(st, nct)
                if format is ExportFormat.fhir:
                    from ..ctgov.fhir_study import research_study_json

                    study = json.loads(research_study_json(study, st))  # with a Group per cohort
                body = (json.dumps(study, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            else:
                body = st.dump(format.value, include_history=False)  # Turtle with the registry's prefixes
        except (StoreError, ValueError, OSError) as exc:
            fail(f"export failed: {exc}", 1)
        if out is None:
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
            return
        try:
            out.write_bytes(body)
        except OSError as exc:
            fail(f"cannot write {out}: {exc}", 1)
        typer.echo(f"wrote {len(body)} bytes to {out}", err=True)

    @app.command()
    def compact(store: StoreOption = None) -> None:
        """Rewrite an on-disk store's files into their most compact layout (after a large import: point reads are faster)."""
        try:
            path = compactable_spec(store)  # refused before opening: an open creates and loads a store
        except StoreError as exc:
            fail(str(exc))
        try:
            st = open_store(path, bootstrap=False)
        except StoreHeld:
            fail(f"the store at {path} is held by another process (a running acse-kg server?): compact it "
                 "through that server, POST /admin/compact with its admin token, or stop the server first")
        except StoreError as exc:
            fail(str(exc))
        try:
            typer.echo(f"compacting the store at {path} (minutes for a large store)...", err=True)
            typer.echo(f"store compacted in {compact_store(st):.1f} s")
        except StoreError as exc:
            fail(str(exc))
        finally:
            st.close()

    @app.command()
    def reason(store: StoreOption = None) -> None:
        """Run the OWL reasoner (HermiT) over ontology, vocabularies and data; exit 1 if inconsistent."""
        from ..reasoning import ReasonerError, reason_store

        st = _open(store)
        try:
            report = reason_store(st)
        except (ReasonerError, StoreError) as exc:
            fail(str(exc), 1)
        typer.echo(report.summary())
        if not report.consistent:
            raise typer.Exit(1)
