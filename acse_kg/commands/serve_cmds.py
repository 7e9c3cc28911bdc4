"""``acse-kg serve``: the registry server (pages, /sparql, /match, linked data) in one process."""

from __future__ import annotations

import errno
import socket
from typing import Annotated, Optional

import typer

from api.settings import ENV, ServerSettings

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
                envvar=ENV["admin_token"],
                help="Accept SPARQL Update on /sparql from requests carrying 'Authorization: Bearer TOKEN'. "
                "Without it the endpoint is read-only.",
            ),
        ] = None,
        query_timeout: Annotated[
            float, typer.Option("--query-timeout", min=0.1, envvar=ENV["query_timeout"],
                                help="Seconds a /sparql query may run before it is stopped.")
        ] = ServerSettings.query_timeout,
        max_result_bytes: Annotated[
            int, typer.Option("--max-result-bytes", min=1, envvar=ENV["max_result_bytes"],
                              help="Largest /sparql answer, in bytes.")
        ] = ServerSettings.max_result_bytes,
        query_workers: Annotated[
            int, typer.Option("--query-workers", min=1, envvar=ENV["query_workers"],
                              help="Worker processes answering /sparql queries.")
        ] = ServerSettings.query_workers,
    ) -> None:
        """Serve the registry over HTTP: study pages, /sparql, /match, linked data and dumps."""
        import uvicorn

        from api.app import create_app

        sock = bind_socket(host, port)  # first: a busy port fails before the store is opened (and locked)
        try:
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
                graph_store.close()
                fail(f"cannot start the server: {exc}")
            shown = f"[{host}]" if ":" in host else host
            typer.echo(f"acse-kg: serving on http://{shown}:{port}/ (SPARQL endpoint: /sparql)", err=True)
            try:
                server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="warning", access_log=False))
                server.run(sockets=[sock])
            finally:
                graph_store.close()
        finally:
            sock.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket for host:port, or one error line naming it (exit 2) when it cannot be had.

    Binding here rather than inside uvicorn means "serving on" is printed only
    for an address that is really ours, and a port in use is one clear line
    instead of uvicorn's log after a premature success message.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use (another server is running there? choose another --port)"
        fail(f"cannot listen on {host}:{port}: {reason}")
    sock.set_inheritable(True)
    return sock
