"""Options and error handling shared by every command."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from ..store import ENV_VAR, GraphStore, StoreError, open_store

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar=ENV_VAR,
        help="Store: a directory (default: ./var/store), 'memory', or a SPARQL endpoint URL.",
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error on stderr and exit; never a traceback."""
    typer.echo(f"acse-kg: error: {message}", err=True)
    raise typer.Exit(code)


def get_store(spec: str | None, *, bootstrap: bool = True) -> GraphStore:
    try:
        return open_store(spec, bootstrap=bootstrap)
    except StoreError as exc:
        fail(str(exc))


def is_tty_stderr() -> bool:
    return sys.stderr.isatty()
