"""The ``acse-kg`` command line: one Typer app, one module of commands per concern."""

from __future__ import annotations

import typer

from .commands import ctgov_cmds, draft_cmds, graph_cmds, match_cmds, render_cmds, serve_cmds

app = typer.Typer(
    name="acse-kg",
    help="A knowledge-graph registry for precision-oncology basket trials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (graph_cmds, match_cmds, render_cmds, serve_cmds, ctgov_cmds, draft_cmds):
    module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
