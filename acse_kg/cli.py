"""The ``acse-kg`` command line: one Typer app, one module of commands per concern."""

from __future__ import annotations

from typing import Annotated

import typer

from . import __version__
from .commands import (
    ctgov_cmds,
    draft_cmds,
    graph_cmds,
    index_cmds,
    match_cmds,
    owl_cmds,
    render_cmds,
    serve_cmds,
)

app = typer.Typer(
    name="acse-kg",
    help="A knowledge-graph registry for precision-oncology basket trials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



def _version(value: bool) -> None:
    if value:
        typer.echo(f"acse-kg {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """A knowledge-graph registry for precision-oncology basket trials."""


for module in (graph_cmds, match_cmds, render_cmds, serve_cmds, ctgov_cmds, draft_cmds, index_cmds, owl_cmds):
    module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
