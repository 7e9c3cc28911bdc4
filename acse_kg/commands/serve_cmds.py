"""``acse-kg serve``: the registry server (pages, /sparql, /match, linked data) in one process."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import StoreOption, fail, get_store


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
        store: StoreOption = None,
        admin_token: Annotated[
            Optional[str],
            typer.Option(
                "--admin-token",
                envvar="ACSE_KG_ADMIN_TOKEN",
                help="Accept SPARQL Update on /sparql from requests carrying 'Authorization: Bearer TOKEN'. "
                "Without it the endpoint is read-only.",
            ),
        ] = None,
        query_timeout: Annotated[
            float, typer.Option("--query-timeout", min=0.1, help="Seconds a /sparql query may run before it is stopped.")
        ] = 10.0,
        max_result_bytes: Annotated[
            int, typer.Option("--max-result-bytes", min=1, help="Largest /sparql answer, in bytes.")
        ] = 50_000_000,
        query_workers: Annotated[
            int, typer.Option("--query-workers", min=1, help="Worker processes answering /sparql queries.")
        ] = 2,
    ) -> None:
        """Serve the registry over HTTP: study pages, /sparql, /match, linked data and dumps."""
        import uvicorn

        from api.app import create_app
        from api.settings import ServerSettings

        graph_store = get_store(store)
        settings = ServerSettings(
            admin_token=admin_token or None,
            query_timeout=query_timeout,
            max_result_bytes=max_result_bytes,
            query_workers=query_workers,
        )
        try:
            application = create_app(graph_store, settings)
        except Exception as exc:  # the app could not be built: say why, no traceback
            fail(f"cannot start the server: {exc}")
        typer.echo(f"acse-kg: serving on http://{host}:{port}/ (SPARQL endpoint: /sparql)", err=True)
        try:
            uvicorn.run(application, host=host, port=port, log_level="warning")
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc}")
        finally:
            graph_store.close()
