"""`acse-kg draft` and `acse-kg curate`: a study's computable criteria (the criteria-JSON format) and their review.

``draft`` answers a study's criteria whatever their origin (curated, stored
drafts, or drafted now from the record as ClinicalTrials.gov has it: the API v2
export, text only), or drafts a record file (``--record``), so the same parser
runs on an imported study and on a record not yet imported; ``--save`` stores
the drafts in the study's graph. ``--json`` prints the list documented in
docs/criteria-json.md; without it, one line per item and the bullets left to
confirm. ``curate`` lists, accepts, rejects and edits stored drafts. Exit
status 2 when a command cannot run (bad NCT number, unknown study or item,
unreadable or malformed record), with a one-line message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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


def _nct(value: str) -> str:
    from ..namespaces import NCT_HINT, normalise_nct

    canonical = normalise_nct(value)
    if canonical is None:
        fail(f"not an NCT number: {value!r} (expected {NCT_HINT})")
    return canonical


def _agent(by: str, command: str) -> str:
    import getpass

    try:
        who = by or getpass.getuser()
    except (KeyError, OSError, ImportError):  # no login name (a container): say so rather than guess
        who = by or "unknown user"
    return f"{who} via acse-kg {command}"


def _save(nct: str, by: str, as_json: bool, store: str | None) -> None:
    from ..drafting.review import ReviewError, save_drafts

    nct = _nct(nct)
    st = get_store(store)
    try:
        saved = save_drafts(st, nct, agent=_agent(by, "draft"))
    except ReviewError as exc:
        fail(str(exc))
    finally:
        st.close()
    if as_json:
        typer.echo(json.dumps(saved.items, ensure_ascii=False, indent=2))
        return
    typer.echo(f"stored {len(saved.items)} drafted items for {nct} ({saved.kept_decisions} keep a curator's decision)"
               + (f"; previous version kept in <{saved.previous_version}>" if saved.previous_version else ""))


def register(app: typer.Typer) -> None:
    """Add `draft` and `curate` to the app."""

    @app.command()
    def curate(
        nct: Annotated[str, typer.Argument(help="NCT number of a study with stored drafts")],
        list_: Annotated[bool, typer.Option("--list", help="List the stored drafts with their ids and review states.")] = False,
        accept: Annotated[str | None, typer.Option("--accept", metavar="ID", help="Accept a drafted item.")] = None,
        reject: Annotated[str | None, typer.Option("--reject", metavar="ID", help="Reject a drafted item.")] = None,
        edit: Annotated[tuple[str, str] | None, typer.Option("--edit", metavar="ID EXPR",
                                                                  help="Replace an item's rule: 'anc >= 1.5 10*9/L [if CONDITION]'.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
        by: Annotated[str, typer.Option("--by", help="Who reviews (recorded in the history).")] = "",
        store: StoreOption = None,
    ) -> None:
        """Review a study's drafted criteria: each accept, reject or edit is a new version in the history, with who and when."""
        from ..drafting.review import ReviewError, review, stored_items

        chosen = [x for x in (list_, accept, reject, edit) if x]
        if len(chosen) != 1:
            fail("give exactly one of --list, --accept ID, --reject ID, --edit ID EXPR")
        nct = _nct(nct)
        st = get_store(store)
        try:
            if list_:
                items = stored_items(st, nct)
                if as_json:
                    typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
                elif not items:
                    typer.echo(f"{nct} has no stored drafts (acse-kg draft {nct} --save)")
                for item in ([] if as_json else items):
                    typer.echo(f"{item['id']}  {_line(item)}")
                return
            if accept:
                item = review(st, nct, accept, "accepted", agent=_agent(by, "curate"))
            elif reject:
                item = review(st, nct, reject, "rejected", agent=_agent(by, "curate"))
            else:
                assert edit is not None
                item = review(st, nct, edit[0], "edited", agent=_agent(by, "curate"), edit=edit[1])
        except ReviewError as exc:
            fail(str(exc))
        finally:
            st.close()
        typer.echo(json.dumps(item, ensure_ascii=False, indent=2) if as_json else f"{item['id']}  {_line(item)}")

    @app.command()
    def draft(
        nct: Annotated[str | None, typer.Argument(help="NCT number of a study in the store")] = None,
        record: Annotated[Path | None, typer.Option("--record", help="Draft this API v2 record file instead of a stored study.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the criteria JSON list (docs/criteria-json.md).")] = False,
        fresh: Annotated[bool, typer.Option("--fresh", help="Draft the record's text now even when the study has curated criteria or stored drafts.")] = False,
        save: Annotated[bool, typer.Option("--save", help="Store the drafts in the study's graph (a new version), keeping every curator's decision.")] = False,
        by: Annotated[str, typer.Option("--by", help="Who drafts (recorded in the history).")] = "",
        store: StoreOption = None,
    ) -> None:
        """A study's computable criteria, each with its source words, rule and review state.

        A study curated by hand gives its curated criteria; one with stored drafts gives them as reviewed;
        any other (or --fresh, or --record FILE) is drafted from its record's text now.
        """
        if save:
            if record is not None or nct is None:
                fail("--save drafts a stored study: give its NCT number, not --record")
            _save(nct, by, as_json, store)
            return
        from ..drafting import DraftingError
        from ..drafting import draft as draft_study
        from ..drafting.criteria import study_criteria

        if (nct is None) == (record is None):
            fail("give either an NCT number or --record FILE (one of them)")
        try:
            if record is not None:
                try:
                    data = json.loads(record.read_text(encoding="utf-8"))
                except OSError as exc:
                    fail(f"cannot read {record}: {exc.strerror or exc}")
                except (ValueError, UnicodeDecodeError) as exc:
                    fail(f"{record} is not JSON: {exc}")
                result = draft_study(data)
                items, to_confirm = result.items, result.to_confirm
            else:
                st = get_store(store)
                try:
                    items, to_confirm = study_criteria(st, _nct(nct or ""), fresh=fresh)
                finally:
                    st.close()
        except DraftingError as exc:
            fail(str(exc))
        if as_json:
            typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
            return
        for item in items:
            typer.echo(_line(item))
        if to_confirm:
            typer.echo(f"to confirm ({len(to_confirm)} bullets with nothing drafted):")
            for t in to_confirm:
                typer.echo(f"  [{t['kind'][:3]}] {t['quote']}")
