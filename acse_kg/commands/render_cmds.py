"""``acse-kg render``: write a study's pages as a static site a publisher can host anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..pages import PageNotFound, write_site
from ..pages.render import registry_base
from ..store import StoreError
from .common import StoreOption, fail, get_store


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command("render")
    def render(
        nct: Annotated[list[str], typer.Argument(help="NCT number(s) of the studies to render, e.g. NCT02034981.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the site into (created if missing).")],
        registry: Annotated[str, typer.Option(
            "--registry",
            help="Base URL of a running acse-kg registry (e.g. https://registry.example.org/): the pages then "
                 "link its SPARQL endpoint, ontology, dumps and API docs, and IRIs open on its /id/... pages.",
        )] = "",
        store: StoreOption = None,
    ) -> None:
        """Write the study page, one page per cohort, an index and the stylesheet, all with relative links.

        Layout: index.html, study/NCT.../index.html, study/NCT.../cohort/N/index.html,
        static/style.css. Without --registry, a study's and a cohort's IRI link to their own pages
        and the registry's other IRIs are shown, not linked (w3id.org does not resolve them yet; the
        footer says a registry serves them at /id/...), and the site header links only the pages
        themselves, so the folder has no dead link.
        """
        if out.exists() and not out.is_dir():
            fail(f"--out {out} exists and is not a folder")
        if registry:
            try:
                registry_base(registry)
            except ValueError as exc:
                fail(f"--registry: {exc}")
        gs = get_store(store)
        try:
            written = write_site(gs, list(nct), out, registry=registry)
        except PageNotFound as exc:
            fail(str(exc))
        except StoreError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write the site into {out}: {exc}")
        finally:
            gs.close()
        typer.echo(f"wrote {len(written)} files to {out}")
