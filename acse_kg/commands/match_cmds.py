"""`acse-kg match`: one profile, or a batch of JSON lines, against the graph's criteria.

Output is exactly the matching contract's result. A profile that breaks the
contract is a one-line message naming the field and exit status 2; in a
batch, a bad line becomes an error object in its place, the batch goes on,
and the exit status is 1. The progress bar is drawn on stderr only when
stderr is a terminal, so pipes and files get clean output.
"""

from __future__ import annotations

import codecs
import gc
import sys
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import orjson
import typer

from .. import patients
from ..matching.engine import Matcher, RegistryMatcher, match_line
from ..matching.profile import ProfileError
from ..matching.rules import GraphModelError
from ..namespaces import NCT_HINT, normalise_nct
from ..reasoning import ReasonerError
from ..store import GraphStore
from .common import StoreOption, fail, get_store, is_tty_stderr

#: A file saved with a UTF-8 byte order mark (some editors do) is still JSON to us (RFC 8259 allows ignoring it).
BOM = codecs.BOM_UTF8
#: How many bytes of result lines a batch gathers before writing them (see :func:`run_batch`).
WRITE_CHUNK = 1 << 20


def _open_in(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return Path(path).open("rb")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


def _matcher(graph: GraphStore, trial: str | None) -> Matcher:
    try:
        return Matcher(graph, trial)
    except GraphModelError as exc:
        fail(f"the graph cannot be matched against: {exc}", 1)


def _registry(graph: GraphStore) -> RegistryMatcher:
    try:
        registry = RegistryMatcher(graph)
    except GraphModelError as exc:
        fail(f"the graph cannot be matched against: {exc}", 1)
    if not registry.matchable:
        fail("no study with cohorts in the graph", 1)
    return registry


def _report_skipped(matcher: Matcher | RegistryMatcher) -> None:
    """Studies left out of matching because their record cannot be read (found as profiles reached them)."""
    for nct, why in sorted(getattr(matcher, "skipped", {}).items()):
        typer.echo(f"acse-kg: {nct} is left out of matching: {why}", err=True)


def as_text(result: dict[str, Any]) -> str:
    """A match result (one trial's, or every trial's) as a readable summary for a person at a terminal."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("acse_kg", "templates"), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)
    env.filters["observed"] = lambda v: ", ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else (
        ", ".join(map(str, v)) if isinstance(v, list) else str(v))
    results = result.get("results", [result])
    head = f"profile {result['profile_id']}\n"
    return head + env.get_template("text/match.txt").render(results=results, notes=result.get("notes", []) if "results" in result else [])


def run_batch(matcher: Matcher | RegistryMatcher, src: BinaryIO, out: BinaryIO, progress: bool) -> tuple[int, int]:
    """Match every line of ``src`` into ``out``, in order; return (profiles, failed)."""
    from tqdm import tqdm

    done = failed = 0
    # Results are written in chunks of about WRITE_CHUNK bytes: at 1,000 trials a result line is ~47 kB,
    # and two writes a line (the line, then its newline) cost the kernel more than the matching
    # of an extra trial (sys time 0.19-0.31 s -> 0.12-0.13 s for 10,000 profiles). Profiles typed at a
    # terminal or sent through a pipe get each result as it is made (see _streamed).
    chunk = bytearray()
    limit = 0 if _streamed(src) else WRITE_CHUNK
    # A result is a tree of fresh dicts that refcounting frees as soon as it is written;
    # nothing in the loop makes reference cycles, so the cyclic collector only costs time
    # (about a quarter of the batch). It is paused for the loop and restored after.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with tqdm(desc="matching", unit=" profiles", file=sys.stderr, disable=not progress) as bar:
            for lineno, line in enumerate(src, start=1):
                if lineno == 1:
                    line = line.removeprefix(BOM)
                if not line.strip():
                    continue
                result, ok = match_line(matcher, line, lineno)
                chunk += result
                chunk += b"\n"
                if len(chunk) >= limit:
                    pending, chunk = chunk, bytearray()  # taken first: a failed write is not written again
                    _write_all(out, pending)
                    if not limit:  # a streamed input's program waits for this answer: it leaves now
                        out.flush()
                done += 1
                failed += not ok
                bar.update(1)
    finally:
        if was_enabled:
            gc.enable()
        if chunk:  # what was matched is written, even when the batch stops on an error
            _write_all(out, chunk)
            out.flush()
    return done, failed


def _write_all(out: BinaryIO, data: bytes | bytearray) -> None:
    """Write all of ``data``: an unbuffered output (``PYTHONUNBUFFERED``: a raw file) may take part of it."""
    view = memoryview(data)
    while view:
        n = out.write(view)
        view = view[len(view) if n is None else n:]


def _streamed(src: BinaryIO) -> bool:
    """Whether ``src`` is a stream whose next line may come later (a terminal, a pipe, a socket): its
    results are written as each is made, so that a program feeding profiles one by one reads each
    answer before it sends the next. A regular file (or a buffer in memory) is read at once."""
    import os
    import stat

    try:
        return not stat.S_ISREG(os.fstat(src.fileno()).st_mode)
    except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation is both OSError and ValueError
        return False


def register(app: typer.Typer) -> None:
    """Add `match` to the app."""

    @app.command("match")
    def match(
        profile: Annotated[str | None, typer.Argument(help="A tumor profile (JSON file), or - for stdin; a GA4GH Phenopacket v2 or an mCODE FHIR Bundle is recognised by its shape and converted (what cannot be mapped is listed in the result's notes).")] = None,
        batch: Annotated[str | None, typer.Option("--batch", help="JSON lines: one profile a line (- for stdin).")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Write results here instead of stdout.")] = None,
        trial: Annotated[str | None, typer.Option("--trial", help="NCT id of the study (default: the graph's first study with cohorts).")] = None,
        format: Annotated[str, typer.Option("--format", help="json (the contract's result, default) or text (a readable summary per cohort: verdict, reasons, what is missing, what to confirm).")] = "json",
        all_trials: Annotated[bool, typer.Option("--all-trials", help="Match against every study with cohorts: one result per profile listing a v1 result per trial, best first.")] = False,
        engine: Annotated[str, typer.Option("--engine", help="fast (default), or owl: HermiT classifies each profile.")] = "fast",
        budget: Annotated[float, typer.Option("--budget", min=0.001, help="With --engine owl: seconds HermiT may take for one profile; beyond, a one-line error.")] = 120.0,
        store: StoreOption = None,
    ) -> None:
        """Match tumor profiles against a trial's cohorts (or every trial's), with a reason for every criterion."""
        if (profile is None) == (batch is None):
            fail("give one PROFILE (or -) or --batch PROFILES.jsonl")
        if all_trials and trial:
            fail("give --trial NCT... or --all-trials, not both")
        if format not in ("json", "text"):
            fail(f"--format {format!r}: expected json or text")
        if format == "text" and batch is not None:
            fail("--format text is for one profile; a batch writes JSON lines")
        if trial and normalise_nct(trial) is None:  # a usage error (2), not a graph that cannot be matched (1)
            fail(f"--trial {trial!r} is not an NCT number ({NCT_HINT})")
        if engine not in ("fast", "owl"):
            fail(f"--engine {engine!r}: expected fast or owl")
        graph = get_store(store)
        matcher: Matcher | RegistryMatcher = _registry(graph) if all_trials else _matcher(graph, trial)
        if engine == "owl":  # the same interface, decided by HermiT over the cohorts' OWL classes
            from ..owl.classify import OwlMatcher, OwlRegistryMatcher
            owl: OwlMatcher | OwlRegistryMatcher = OwlRegistryMatcher(graph) if all_trials else OwlMatcher(graph, trial)
            owl.budget = budget
            matcher = owl  # type: ignore[assignment]
        try:
            sink: BinaryIO = out.open("wb") if out else sys.stdout.buffer
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        try:
            if batch is not None:
                done, failed = run_batch(matcher, _open_in(batch), sink, is_tty_stderr())
                if failed:
                    typer.echo(f"acse-kg: {failed} of {done} profiles failed validation", err=True)
                    raise typer.Exit(1)
                return
            assert profile is not None  # one PROFILE or --batch, checked above
            data = _open_in(profile).read().removeprefix(BOM)
            try:
                data, notes = patients.profile_bytes(graph, data)  # a Phenopacket or an mCODE Bundle
            except patients.PatientRecordError as exc:
                fail(f"cannot read the patient record: {exc}", 2)
            try:
                answer = matcher.match_all_json(data) if isinstance(matcher, RegistryMatcher) else matcher.match_json(data)
                answer = patients.add_notes(answer, notes)
                if format == "text":
                    answer = as_text(orjson.loads(answer)).rstrip("\n").encode("utf-8")
                sink.write(answer + b"\n")
            except ProfileError as exc:
                fail("invalid tumor profile: " + "; ".join(
                    f"{'field ' + repr(e['field']) if e['field'] else 'profile'}: {e['message']}" for e in exc.errors), 2)
        except ReasonerError as exc:  # --engine owl: out of its budget, or HermiT could not run
            fail(str(exc), 1)
        finally:
            _report_skipped(matcher)
            if out:
                sink.close()  # never close the process's stdout
            else:
                sink.flush()
