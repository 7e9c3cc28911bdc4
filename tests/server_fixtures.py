"""Fixtures for the server tests: real uvicorn servers on loopback, over real stores."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from acse_kg.api.app import create_app
from acse_kg.api.limits import server_config
from acse_kg.api.settings import ServerSettings
from acse_kg.store import GraphStore, OxigraphStore, open_store

W3C_DIR = Path(__file__).parent / "data" / "w3c-protocol"
KASEI = "http://kasei.us/2009/09/sparql/data/"
ADMIN_TOKEN = "s3cret-admin-token"


def w3c_store() -> OxigraphStore:
    """The W3C protocol test data: dataN.nt as the named graph <http://kasei.us/.../dataN.rdf>.

    The suite's servers fetch the graphs its requests name; this endpoint
    never fetches, so every graph whose content a case reads must be in the
    store beforehand. The manifest also names ``data0.rdf`` (as
    default-graph-uri of ``ASK {}``), for which the suite has no file: it is
    not in the store, and the endpoint answers over it as an empty graph.
    """
    store = OxigraphStore(None)
    for n in (1, 2, 3):
        store.replace_graph(f"{KASEI}data{n}.rdf", (W3C_DIR / f"data{n}.nt").read_bytes(), "ntriples")
    return store


def runaway_query(width: int = 200) -> str:
    """A cross join of four VALUES blocks counted: 1.6e9 rows, minutes of work for any engine."""
    values = " ".join(str(i) for i in range(width))
    blocks = " ".join(f"VALUES ?{v} {{ {values} }}" for v in "abcd")
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ {blocks} }}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A uvicorn server in a thread of the test process."""

    url: str
    store: GraphStore
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_server(store: GraphStore, settings: ServerSettings) -> LiveServer:
    app = create_app(store, settings)
    port = free_port()
    server = uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=port, log_level="warning",
                                          lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    if app.state.query_pool is not None:  # a remote store has none: the engine answers queries
        app.state.query_pool.start()  # workers up before the first timed request
    return LiveServer(f"http://127.0.0.1:{port}", store, server, thread)


@pytest.fixture(scope="session")
def w3c_server() -> Iterator[LiveServer]:
    """Read-only server over the W3C protocol data, with tight limits for the safety tests."""
    live = start_server(w3c_store(), ServerSettings(query_timeout=2.0, max_result_bytes=20_000, query_workers=2,
                                                    queries_per_client=0))  # every test client is 127.0.0.1
    yield live
    live.stop()


@pytest.fixture(scope="session")
def bundle_server() -> Iterator[LiveServer]:
    """Read-only server over the real bundle (ontology, vocabularies, the AcSé record)."""
    live = start_server(open_store("memory"), ServerSettings(query_workers=2, queries_per_client=0))
    yield live
    live.stop()


@pytest.fixture(scope="session")
def admin_server() -> Iterator[LiveServer]:
    """A server that accepts SPARQL Update with the admin token, over a store of its own."""
    live = start_server(w3c_store(), ServerSettings(admin_token=ADMIN_TOKEN, query_workers=1))
    yield live
    live.stop()
