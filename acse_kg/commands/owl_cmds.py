"""`acse-kg overlaps`: which cohorts compete for the same patients, decided by HermiT on their OWL classes.

Text by default (one pair a line: relation, the two cohorts, the shared
population); ``--json`` prints the list of ``{"a", "b", "relation", "shared"}``
objects. The relations are written back into their own named graph
(``…/graph/inferred/cohort-overlaps``, replaced whole) unless ``--no-write``.

Incremental by default: a pair that graph holds with the digests its two
cohorts have now keeps its answer, so a run after one study was added or
changed asks HermiT only about that study's pairs (``--full`` asks every pair).
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from ..model import ModelError
from ..namespaces import NCT_HINT, normalise_nct
from ..reasoning import ReasonerError
from ..store import StoreError
from .common import StoreOption, fail, get_store


def register(app: typer.Typer) -> None:
    """Add `overlaps` to the app."""

    @app.command("overlaps")
    def overlaps(
        ncts: Annotated[list[str] | None, typer.Argument(help="NCT ids (default: every study with cohorts).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of {a, b, relation, shared}.")] = False,
        write: Annotated[bool, typer.Option("--write/--no-write", help="Replace the inferred overlaps graph with the result.")] = True,
        budget: Annotated[float, typer.Option("--budget", help="Seconds HermiT may take in all.")] = 600.0,
        full: Annotated[bool, typer.Option("--full", help="Ask HermiT every pair again, keeping nothing from the inferred graph.")] = False,
        workers: Annotated[int, typer.Option("--workers", min=1, max=8, help="HermiT processes side by side (one JVM each).")] = 2,
        store: StoreOption = None,
    ) -> None:
        """For every pair of cohorts: subsumes, subsumed_by, overlaps or disjoint (HermiT), with the shared population."""
        from ..owl.overlaps import compute_overlaps, write_overlaps

        wanted = []
        for n in ncts or []:
            nct = normalise_nct(n)
            if nct is None:
                fail(f"{n!r} is not an NCT number ({NCT_HINT})")
            wanted.append(nct)
        s = get_store(store)
        if wanted:
            from ..model import structured_studies

            known = set(structured_studies(s))
            missing = [n for n in wanted if n not in known]
            if missing:
                fail(f"no study with cohorts in the graph for {', '.join(missing)}", 1)
        try:
            report = compute_overlaps(s, wanted or None, budget=budget, incremental=not full, workers=workers)
        except (ReasonerError, ModelError) as exc:
            fail(str(exc), 1)
        if as_json:
            typer.echo(orjson.dumps([p.as_json() for p in report.pairs], option=orjson.OPT_INDENT_2).decode())
        else:
            for p in report.pairs:
                typer.echo(f"{p.relation:12} {p.a_label} | {p.b_label}" + (f" | {p.shared}" if p.shared else ""))
        typer.echo(f"acse-kg: {len(report.decided):,} pairs decided of {report.total:,} ({report.reused:,} kept from "
                   f"the inferred graph, {len(report.fresh):,} by HermiT) in {report.seconds:.1f} s", err=True)
        if write:
            try:
                written = write_overlaps(s, report)
            except StoreError as exc:
                fail(str(exc))
            typer.echo(f"acse-kg: {written} triples written to the inferred overlaps graph", err=True)
