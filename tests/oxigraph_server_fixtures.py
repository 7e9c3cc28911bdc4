"""Fixtures that run a real third-party SPARQL engine: the Oxigraph server (``oxigraph serve``, PyPI ``oxigraph``).

The registry's remote store must work against engines that are not our own
server; Oxigraph splits its SPARQL 1.1 Protocol services into ``/query`` and
``/update`` and applies the protocol's dataset rules strictly, so it catches
what our lenient server would let through. Each server is a child process on
loopback with its data in a temporary directory, stopped at the end.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import require, tool
from server_fixtures import free_port

from acse_kg.remote import SparqlEndpointStore
from acse_kg.store import open_store

START_TIMEOUT_S = 20.0


def oxigraph_binary() -> str:
    """The ``oxigraph`` executable beside the interpreter running the tests (CI need not put the venv on PATH).

    Missing: a failure in CI (the test extra installs it), a skip elsewhere.
    """
    exe = tool("oxigraph")
    require(exe is not None, "the Oxigraph server (pip install 'oxigraph>=0.5,<0.6')")
    return exe  # type: ignore[return-value]


@dataclass
class OxigraphServer:
    """One ``oxigraph serve`` process and the URLs of its SPARQL services."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def query(self) -> str:
        return self.base + "/query"

    @property
    def update(self) -> str:
        return self.base + "/update"

    def open(self) -> SparqlEndpointStore:
        """The registry's store over this server, opened as the CLI does (bootstrapped when empty)."""
        store = open_store(self.query)
        assert isinstance(store, SparqlEndpointStore)
        return store

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/query", params={"query": "ASK {}"}, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_oxigraph(location: Path, attempts: int = 3, *, union_default_graph: bool = False,
                   base: str | None = None) -> OxigraphServer:
    """Start ``oxigraph serve`` on a free loopback port (``base``: at that URL, as another engine that
    took a port over); wait until it answers a query (``union_default_graph``: its queries' default
    graph is the union of its graphs).

    A port found free can be taken before the server binds it, so a server that
    exits at once is retried on another port.
    """
    exe = oxigraph_binary()
    log = location.with_name(location.name + ".log")
    given = base
    for _ in range(attempts if given is None else 1):
        base = given or f"http://127.0.0.1:{free_port()}"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [exe, "serve", "--location", str(location), "--bind", base.removeprefix("http://"),
                 *(["--union-default-graph"] if union_default_graph else [])],
                stdout=sink, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            if _ready(base):
                return OxigraphServer(base, process, log)
            time.sleep(0.05)
        if process.poll() is None:  # alive but never ready: give up
            process.kill()
            process.wait(10)
            break
    raise RuntimeError(f"oxigraph serve did not start: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    """An Oxigraph server holding the bundle, shared by the session: read-only by convention."""
    server = start_oxigraph(tmp_path_factory.mktemp("oxigraph") / "bundle")
    try:
        server.open().close()  # bootstraps the empty server with the bundle
        yield server
    finally:
        server.stop()


@pytest.fixture()
def empty_oxigraph(tmp_path: Path) -> Iterator[OxigraphServer]:
    """An empty Oxigraph server of its own, for a test that writes (about half a second to start)."""
    server = start_oxigraph(tmp_path / "oxigraph")
    try:
        yield server
    finally:
        server.stop()
