"""CLI commands for ClinicalTrials.gov interoperability: import, history, check.

``acse-kg export NCT… --format ctgov`` lives in graph_cmds' ``export`` and
calls :func:`export_ctgov` here. Exit status: 0 done (a clean record for
``check``); 1 the record has problems (an import refused with the JSON path of
each, or check findings); 2 the command could not run (bad NCT number,
unknown study or version, unreadable file, store error), so a script can tell
"the record is not publishable" from "the check did not happen". Messages go
to stderr in one line each, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from ..ctgov.bulk import BATCH
from ..namespaces import NCT_HINT, normalise_nct
from ..store import GraphStore, StoreError, compact_store, compactable_spec
from .common import StoreOption, fail, get_store


def _nct(value: str) -> str:
    """The NCT number in its canonical form (ClinicalTrials.gov's pattern: any case, leading zeros optional)."""
    nct = normalise_nct(value)
    if nct is None:
        fail(f"not an NCT number: {value!r} (expected {NCT_HINT})")
    return nct


@contextmanager
def _opened(spec: str | None) -> Iterator[GraphStore]:
    """The store for one command, closed however the command ends (an on-disk store keeps a lock)."""
    st = get_store(spec)
    try:
        yield st
    finally:
        st.close()


def export_ctgov(store: GraphStore, nct: str) -> dict[str, Any]:
    """The study as ClinicalTrials.gov API v2 JSON, for ``acse-kg export NCT… --format ctgov``."""
    from ..ctgov.export import StudyNotFound, export_study  # imported when used: every command starts faster

    try:
        return export_study(store, _nct(nct), full_text=True)
    except StudyNotFound as exc:
        fail(str(exc))


def export_ctml(store: GraphStore, nct: str, *, yaml_out: bool = False) -> bytes:
    """The study as MatchMiner CTML (JSON, or YAML), for ``acse-kg export NCT… --format ctml``; what CTML
    cannot say is listed on stderr."""
    from ..ctml.export import CtmlExportError, study_to_ctml
    from ..ctml.vocabulary import read_vocabulary
    from ..model import ModelError, StudyNotFound, read_study

    try:
        exported = study_to_ctml(read_study(store, _nct(nct)), read_vocabulary(store))
    except (StudyNotFound, ModelError, CtmlExportError) as exc:
        fail(str(exc))
    for note in exported.notes:
        typer.echo(f"acse-kg: warning: {note}", err=True)
    if yaml_out:
        import yaml

        return yaml.safe_dump(exported.document, allow_unicode=True, sort_keys=False).encode("utf-8")
    return (json.dumps(exported.document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _import_ctml(file: Path, doc: Any, nct: str | None, store: str | None, replace: bool) -> None:
    """Import a CTML trial: findings as warnings, a refusal as one line naming the JSON path (exit 1)."""
    from ..ctml.importer import CtmlRefused, import_ctml

    with _opened(store) as st:
        try:
            result = import_ctml(st, doc, nct=nct, agent="acse-kg import (CLI)", note=f"import of {file.name}",
                                 replace_other_source=replace)
        except CtmlRefused as exc:
            typer.echo(f"acse-kg: error: {file} refused, nothing was stored: {exc.findings[0]}", err=True)
            for f in exc.findings[1:]:
                typer.echo(f"  {f}", err=True)
            raise typer.Exit(1) from None
        except StoreError as exc:
            fail(f"store error, nothing was stored: {exc}")
    for f in result.findings:
        typer.echo(f"acse-kg: warning: {f}", err=True)
    if result.unchanged:
        typer.echo(f"{result.nct_id} unchanged: the registry holds this CTML trial already (no new version)")
        return
    typer.echo(f"imported {result.nct_id} from CTML: {result.cohorts} cohorts, {result.triples} triples into "
               f"<{result.graph}>" + (f"; previous version kept in <{result.previous_version}>"
                                      if result.previous_version else ""))


def _import_bulk(source: Path, store: str | None, jobs: int | None, batch: int, replace_curated: bool,
                 compact: bool = False) -> None:
    """``import --bulk``: each refused record on stderr with its place and JSON path; exit 1 if any was.
    ``compact``: the store's files compacted afterwards when anything was written (asked before the
    import starts of a store that cannot be, rather than after it)."""
    from ..ctgov.bulk import BulkInputError, ProgressLine, bulk_import, count_items, fewer_collections_while

    def refused(where: str, path: str, message: str) -> None:
        typer.echo(f"acse-kg: error: {where}: {path}: {message}", err=True)

    if not source.exists():
        fail(f"no such file or directory: {source}")
    if compact:
        try:  # asked before the store is opened (and the input counted): opening writes to it
            compactable_spec(store, existing=False)
        except StoreError as exc:
            fail(f"--compact: {exc}")
    progress = ProgressLine(count_items(source))
    with _opened(store) as st, fewer_collections_while():  # see few_collections
        try:
            report = bulk_import(st, [source], jobs=jobs, batch=batch, replace_curated=replace_curated,
                                 agent="acse-kg import --bulk (CLI)", on_failure=refused, progress=progress)
        except BulkInputError as exc:
            fail(str(exc))
        except StoreError as exc:
            fail(f"store error (batches written before it are kept; run the same command again to resume): {exc}")
        finally:
            progress.close()
        refused_records = len({w for w, _, _ in report.failed})
        typer.echo(f"bulk import of {source}: {report.read} records in {report.seconds:.1f} s "
                   f"({report.rate():.1f} studies/s): {report.new} new, {report.changed} changed (previous versions "
                   f"kept), {report.unchanged} unchanged, {refused_records} refused")
        if compact and report.written:
            typer.echo("compacting the store (minutes for a large store)...", err=True)
            try:
                typer.echo(f"store compacted in {compact_store(st):.1f} s")
            except StoreError as exc:
                fail(f"the import is complete and whole, but compacting the store failed: {exc}; "
                     "run acse-kg compact to try again")
    if refused_records:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add import, history and check to the app."""

    @app.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="A ClinicalTrials.gov API v2 study record (JSON), or a MatchMiner CTML trial (.json, .yml, .yaml).")],
        replace_curated: Annotated[bool, typer.Option("--replace-curated", help="Replace a study curated beyond API v2 (cohorts, structured criteria), or, for CTML, one held from another source; the old version stays in the history.")] = False,
        nct: Annotated[str | None, typer.Option("--nct", help="CTML only: the study's NCT number, when the file's nct_id is not one.")] = None,
        no_draft: Annotated[bool, typer.Option("--no-draft", help="API v2 only: store the record without drafting its eligibility criteria.")] = False,
        bulk: Annotated[bool, typer.Option("--bulk", help="FILE is many API v2 records: a directory of .json files, a .jsonl file or a .zip of them; mapped in parallel, written in batches, resumable (records already imported unchanged are skipped).")] = False,
        jobs: Annotated[int | None, typer.Option("--jobs", min=0, help="--bulk: worker processes that map records (default: one per CPU; 0 maps in this process).")] = None,
        batch: Annotated[int, typer.Option("--batch", min=1, help="--bulk: new studies per write transaction (a killed import keeps whole batches).")] = BATCH,
        compact: Annotated[bool, typer.Option("--compact", help="--bulk, on an on-disk store: compact its files afterwards when anything was written (after a large import, point reads are several times faster; minutes at 100,000 studies).")] = False,
        store: StoreOption = None,
    ) -> None:
        """Import an API v2 study record or a CTML trial into the graph (validated first; all or nothing; the old version is kept).

        An API v2 record's eligibility is drafted in the same version (docs/criteria-json.md), keeping every
        curator's decision on the study's earlier drafts; --no-draft stores the record alone.
        """
        from ..ctgov.import_ import ImportRefused, import_study
        from ..ctml.importer import NotCtml, is_ctml, read_document

        if bulk:
            if nct is not None:
                fail("--nct is for one CTML trial, not for --bulk")
            _import_bulk(file, store, jobs, batch, replace_curated, compact)
            return
        if compact:
            fail("--compact is for --bulk (compact a store at any time with acse-kg compact)")

        if file.suffix.lower() in (".yml", ".yaml"):  # YAML is CTML's (API v2 records are JSON)
            try:
                doc = read_document(file)
            except NotCtml as exc:
                fail(str(exc))
            if not is_ctml(doc):
                fail(f"{file} is not a CTML trial: a CTML file has nct_id and treatment_list at its top")
            _import_ctml(file, doc, nct, store, replace_curated)
            return
        try:
            record = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"cannot read {file}: {exc}")
        except (ValueError, UnicodeDecodeError) as exc:
            fail(f"{file} is not JSON: {exc}")
        except RecursionError:
            fail(f"{file} is not a study record: JSON nested too deeply")
        if is_ctml(record):
            _import_ctml(file, record, nct, store, replace_curated)
            return
        if nct is not None:
            fail("--nct is for CTML trials; an API v2 record carries its NCT number")
        with _opened(store) as st:
            try:
                result = import_study(st, record, agent="acse-kg import (CLI)", note=f"import of {file.name}",
                                      replace_curated=replace_curated, draft=not no_draft)
            except ImportRefused as exc:
                typer.echo(f"acse-kg: error: {file} refused, nothing was stored:", err=True)
                for p in exc.problems:
                    typer.echo(f"  {p.path}: {p.message}", err=True)
                raise typer.Exit(1) from None
            except StoreError as exc:
                fail(f"store error, nothing was stored: {exc}")
        for w in result.warnings:
            typer.echo(f"acse-kg: warning: {w.path}: {w.message}", err=True)
        if result.unchanged:
            typer.echo(f"{result.nct_id} unchanged: the registry holds this record already (no new version)")
            return
        typer.echo(f"imported {result.nct_id}: {result.triples} triples into <{result.graph}>"
                   + (f"; previous version kept in <{result.previous_version}>" if result.previous_version else ""))

    @app.command()
    def history(
        nct: Annotated[str, typer.Argument(help="NCT number")],
        diff: Annotated[tuple[int, int] | None, typer.Option("--diff", help="Compare two versions: --diff A B")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
        store: StoreOption = None,
    ) -> None:
        """List the versions of a study record, or diff two of them field by field."""
        from ..history import HistoryError, diff_versions, list_versions

        nct = _nct(nct)
        with _opened(store) as st:
            try:
                if diff:
                    changes = diff_versions(st, nct, diff[0], diff[1])
                else:
                    versions = list_versions(st, nct)
            except HistoryError as exc:
                fail(str(exc))
        if diff:
            if as_json:
                typer.echo(json.dumps(changes, ensure_ascii=False, indent=2))
                return
            for c in changes:
                typer.echo(f"{c['field']}: {json.dumps(c['from'], ensure_ascii=False)} -> "
                           f"{json.dumps(c['to'], ensure_ascii=False)}")
            typer.echo(f"({len(changes)} field{'s' if len(changes) != 1 else ''} changed)")
            return
        if as_json:
            typer.echo(json.dumps([v.as_dict() for v in versions], ensure_ascii=False, indent=2))
            return
        for v in versions:
            typer.echo(f"v{v.number}{' (current)' if v.current else ''}  {v.time or '-'}  {v.agent or '-'}  {v.note or ''}".rstrip())

    @app.command()
    def check(
        nct: Annotated[str, typer.Argument(help="NCT number")],
        as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
        reason: Annotated[bool, typer.Option("--reason/--no-reason", help="Also run the OWL reasoner (HermiT, a few seconds).")] = True,
        store: StoreOption = None,
    ) -> None:
        """Report what a registry reviewer would flag before publishing; exit 0 clean, 1 findings, 2 error."""
        from ..record_check import CheckError, ReasonerFailed, check_study

        nct = _nct(nct)
        with _opened(store) as st:
            try:
                findings = check_study(st, nct, reason=reason)
            except (CheckError, ReasonerFailed) as exc:
                fail(str(exc))
        if as_json:
            typer.echo(json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2))
        else:
            for f in findings:
                typer.echo(f"[{f.rule}] {f.focus}\n    value: {f.value}\n    {f.message}")
            typer.echo(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}")
        if findings:
            raise typer.Exit(1)
