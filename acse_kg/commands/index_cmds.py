"""CLI command for the search index beside the graph: ``acse-kg index`` (see :mod:`acse_kg.search_index`)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ..errors import AcseError
from .common import StoreOption, fail, get_store


def register(app: typer.Typer) -> None:
    """Add index to the app."""

    @app.command()
    def index(
        store: StoreOption = None,
        rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild the whole index from the graph.")] = False,
    ) -> None:
        """Bring the search index in step with the graph (only the studies that changed), or rebuild it whole
        with --rebuild; print how many studies it holds and where it is kept."""
        from ..search_index import index_for

        st = get_store(store)
        started = time.monotonic()
        try:
            ix = index_for(st, sync=False)
            if rebuild:
                held = ix.rebuild()
                typer.echo(f"rebuilt: {held} studies in {time.monotonic() - started:.1f} s")
            else:
                changed = ix.sync(full=False)
                held = ix.count()
                typer.echo(f"in step: {len(changed)} studies read again or removed, {held} held, "
                           f"{time.monotonic() - started:.1f} s")
        except AcseError as exc:
            fail(str(exc))
        typer.echo(f"index: {ix.path or 'in memory (a memory store, or a remote one without an identity)'}")
