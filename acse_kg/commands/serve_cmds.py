"""``acse-kg serve``: the registry server (pages, /sparql, /match, linked data) in one process."""

from __future__ import annotations

import errno
import logging
import socket
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from acse_kg.api.settings import ENV, SETTINGS_FILE_ENV, ServerSettings, SettingsError

from .common import StoreOption, fail, get_store


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a line is logged, not as it was when the server started:
    a command run in-process (a test's ``CliRunner``) swaps stderr for a buffer it closes afterwards, and
    a handler holding that buffer would fail on every later request logged in the process."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # StreamHandler.__init__ sets it: the property answers instead

    def setStream(self, stream: TextIO) -> TextIO | None:
        """Refused: the handler writes to ``sys.stderr`` as it is, so another stream would be ignored."""
        raise ValueError("the access log writes to sys.stderr as it is when a line is logged: "
                         "add a handler of your own for another stream")


def _log_access_to_stderr() -> None:
    """One line per request on stderr, beside uvicorn's warnings; the handler added once per process."""
    access = logging.getLogger("acse_kg.access")
    if not any(isinstance(h, _StderrHandler) for h in access.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
        store: StoreOption = None,
        settings_file: Annotated[
            Path | None,
            typer.Option("--settings", help=f"A TOML file of server settings (or {SETTINGS_FILE_ENV}); "
                         "flags and ACSE_KG_* environment variables override it."),
        ] = None,
        admin_token: Annotated[
            str | None,
            typer.Option(
                "--admin-token",
                help="Accept SPARQL Update, imports and the reasoner from requests carrying "
                "'Authorization: Bearer TOKEN'. Without a token the server is read-only. Visible in ps: "
                f"prefer --admin-token-file or {ENV['admin_token']}.",
            ),
        ] = None,
        admin_token_file: Annotated[
            Path | None,
            typer.Option("--admin-token-file", help=f"Read the admin token from this file ({ENV['admin_token_file']})."),
        ] = None,
        query_timeout: Annotated[
            float | None, typer.Option("--query-timeout", min=0.1,
                                          help="Seconds a /sparql query may run before it is stopped [default: 10].")
        ] = None,
        max_result_bytes: Annotated[
            int | None, typer.Option("--max-result-bytes", min=1, help="Largest /sparql answer, in bytes.")
        ] = None,
        query_workers: Annotated[
            int | None, typer.Option("--query-workers", min=1,
                                        help="Query processes answering /sparql queries at once [default: 2].")
        ] = None,
        queries_per_client: Annotated[
            int | None, typer.Option("--queries-per-client", min=0,
                                        help="/sparql queries one client may run at once (0: no limit) "
                                        "[default: workers - 1].")
        ] = None,
        access_log: Annotated[
            bool | None, typer.Option("--access-log/--no-access-log", help="One log line per request.")
        ] = None,
        warm_up: Annotated[
            bool | None, typer.Option("--warm-up/--no-warm-up",
                                      help="Compile every matchable study in a background thread at start-up "
                                      "(GET /match/status) [default: on].")
        ] = None,
    ) -> None:
        """Serve the registry over HTTP: study pages, /sparql, /match, linked data and dumps.

        Every setting (see acse_kg/api/settings.py) can also come from the environment (ACSE_KG_<NAME>)
        or a TOML file (--settings).
        """
        import uvicorn
        from pydantic import ValidationError

        from acse_kg.api.app import create_app
        from acse_kg.api.limits import server_config

        try:
            settings = ServerSettings.load(
                settings_file, admin_token=admin_token, admin_token_file=admin_token_file,
                query_timeout=query_timeout, max_result_bytes=max_result_bytes, query_workers=query_workers,
                queries_per_client=queries_per_client, access_log=access_log, warm_up=warm_up,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "settings"
            fail(f"invalid setting {where}: {first['msg']}")
        except SettingsError as exc:
            fail(str(exc))
        if settings.access_log:
            _log_access_to_stderr()
        sock = bind_socket(host, port)  # first: a busy port fails before the store is opened (and locked)
        try:
            graph_store = get_store(store)
            try:
                application = create_app(graph_store, settings)
            except Exception as exc:  # noqa: BLE001 - the app could not be built, for any reason: say why, no traceback
                graph_store.close()
                fail(f"cannot start the server: {exc}")
            shown = f"[{host}]" if ":" in host else host
            typer.echo(f"acse-kg: serving on http://{shown}:{port}/ (SPARQL endpoint: /sparql)", err=True)
            try:
                config = server_config(application, settings, host=host, port=port, log_level="warning",
                                       access_log=False)
                server = uvicorn.Server(config)
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
