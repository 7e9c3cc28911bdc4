"""`acse-kg draft`: a study's eligibility drafted into computable criteria (the criteria-JSON format).

The study is read from the store as ClinicalTrials.gov has it (the API v2
export, text only), or from a record file (``--record``), so the same parser
runs on an imported study and on a record not yet imported. ``--json`` prints
the list documented in docs/criteria-json.md; without it, one line per item
and the bullets left to confirm. Exit status 2 when the command cannot run
(bad NCT number, unknown study, unreadable or malformed record).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .common import StoreOption, fail, get_store


def _line(item: dict[str, Any]) -> str:
    what = item["variable"] + (f"[{item['name']}]" if item.get("name") else "")
    detail = " ".join(str(item[k]) for k in ("gene", "alteration", "drug") if item.get(k))
    value = "" if item.get("value") is None else f" {item['value']}"
    unit = f" {item['unit']}" if item.get("unit") else ""
    cond = f"  (condition: {item['condition']})" if item.get("condition") else ""
    return (f"[{item['kind'][:3]}] {what} {item['comparator']}{value}{unit}{' ' + detail if detail else ''}{cond}"
            f"  « {item['quote']} »  {item['rule']}  {item['state']}")


def register(app: typer.Typer) -> None:
    """Add `draft` to the app."""

    @app.command()
    def draft(
        nct: Annotated[Optional[str], typer.Argument(help="NCT number of a study in the store")] = None,
        record: Annotated[Optional[Path], typer.Option("--record", help="Draft this API v2 record file instead of a stored study.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the criteria JSON list (docs/criteria-json.md).")] = False,
        store: StoreOption = None,
    ) -> None:
        """Draft a study's eligibility criteria into computable items, each with its source words, rule and review state."""
        from ..drafting import DraftingError
        from ..drafting import draft as draft_study

        if (nct is None) == (record is None):
            fail("give either an NCT number or --record FILE (one of them)")
        if record is not None:
            try:
                data = json.loads(record.read_text(encoding="utf-8"))
            except OSError as exc:
                fail(f"cannot read {record}: {exc.strerror or exc}")
            except (ValueError, UnicodeDecodeError) as exc:
                fail(f"{record} is not JSON: {exc}")
        else:
            from ..ctgov.export import StudyNotFound, export_study
            from ..namespaces import NCT_HINT, normalise_nct

            canonical = normalise_nct(nct or "")
            if canonical is None:
                fail(f"not an NCT number: {nct!r} (expected {NCT_HINT})")
            st = get_store(store)
            try:
                data = export_study(st, canonical, full_text=True)
            except StudyNotFound as exc:
                fail(str(exc))
            finally:
                st.close()
        try:
            result = draft_study(data)
        except DraftingError as exc:
            fail(str(exc))
        if as_json:
            typer.echo(json.dumps(result.items, ensure_ascii=False, indent=2))
            return
        for item in result.items:
            typer.echo(_line(item))
        if result.to_confirm:
            typer.echo(f"to confirm ({len(result.to_confirm)} bullets with nothing drafted):")
            for t in result.to_confirm:
                typer.echo(f"  [{t['kind'][:3]}] {t['quote']}")
