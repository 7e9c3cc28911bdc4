"""Fixtures that run OpenLink Virtuoso (Debian's ``virtuoso-opensource``), reached over the SPARQL 1.1 Protocol.

Each server is a ``virtuoso-t`` child process with its database, its
``virtuoso.ini`` and its log in a temporary directory, its SQL and HTTP ports
free loopback ports, stopped (and its files left to pytest) at the end. The
set-up is the one docs/engines.md documents: queries at ``/sparql``
(anonymous, read-only), updates at ``/sparql-auth`` with HTTP Digest as a user
that holds the ``SPARQL_UPDATE`` role, created with ``isql-vt`` at start.
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

START_TIMEOUT_S = 60.0
USER, PASSWORD = "acse", "acse-test-secret"

#: The settings docs/engines.md asks for; the ports and paths are filled in per server.
INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
CheckpointInterval = 60
DirsAllowed = ., {dir}
NumberOfBuffers = 20000
MaxDirtyBuffers = 15000
MaxQueryMem = 512M
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
ServerThreads = 10
MaxClientConnections = 10
Charset = UTF-8
[SPARQL]
ResultSetMaxRows = 10000000
MaxQueryExecutionTime = 300
MaxQueryCostEstimationTime = 0
"""

#: Run once with isql-vt as ``dba`` (whose password is then changed): the update user and its rights.
SETUP_SQL = """\
DB.DBA.USER_CREATE ('{user}', '{password}');
GRANT SPARQL_UPDATE TO "{user}";
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('{user}', 15);
DB.DBA.USER_SET_OPTION ('dba', 'DISABLED', 1);
"""


def virtuoso_binaries() -> tuple[str, str]:
    """``virtuoso-t`` and ``isql-vt`` (Debian's names). Missing: a failure in CI, a skip elsewhere."""
    server, isql = tool("virtuoso-t"), tool("isql-vt")
    require(server is not None and isql is not None,
            "Virtuoso (apt-get install virtuoso-opensource: virtuoso-t, isql-vt)")
    return server, isql  # type: ignore[return-value]


@dataclass
class VirtuosoServer:
    """One ``virtuoso-t`` process and the URLs of its SPARQL services."""

    base: str
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def query(self) -> str:
        return self.base + "/sparql"

    @property
    def update(self) -> str:
        return self.base + "/sparql-auth"

    def open(self, *, bootstrap: bool = True) -> SparqlEndpointStore:
        """The registry's store over this server, with the update user's credentials."""
        store = SparqlEndpointStore(self.query, update_url=self.update, auth=httpx.DigestAuth(USER, PASSWORD))
        if bootstrap:
            from acse_kg.loader import bundle_graph_names, load_bundle
            from acse_kg.store import has_graph

            if any(not has_graph(store, g) for g in bundle_graph_names()):
                load_bundle(store)
        return store

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/sparql", params={"query": "ASK {}"}, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_virtuoso(directory: Path, attempts: int = 3) -> VirtuosoServer:
    """Start Virtuoso on free loopback ports with a new database in ``directory``; create the update user."""
    exe, isql = virtuoso_binaries()
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        sql_port, http_port = free_port(), free_port()
        ini = directory / "virtuoso.ini"
        ini.write_text(INI.format(dir=directory, sql_port=sql_port, http_port=http_port), encoding="utf-8")
        with (directory / "stdout.log").open("wb") as sink:
            process = subprocess.Popen([exe, "+configfile", str(ini), "+foreground"], cwd=directory,
                                       stdout=sink, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            if _ready(base):
                sql = directory / "setup.sql"
                sql.write_text(SETUP_SQL.format(user=USER, password=PASSWORD), encoding="utf-8")
                done = subprocess.run([isql, f"127.0.0.1:{sql_port}", "dba", "dba", str(sql)],
                                      capture_output=True, text=True, timeout=60, check=False)
                if done.returncode != 0 or "Error" in done.stdout + done.stderr:
                    process.kill()
                    raise RuntimeError(f"Virtuoso set-up failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")
                return VirtuosoServer(base, process, directory)
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
            process.wait(10)
            break
        for stale in directory.glob("virtuoso*"):  # a server that lost the race for its port: start afresh
            stale.unlink()
    log = directory / "virtuoso.log"
    raise RuntimeError(f"Virtuoso did not start: {log.read_text(errors='replace')[-2000:] if log.exists() else ''}")


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtuosoServer]:
    """A Virtuoso server holding the bundle, shared by the session: read-only by convention."""
    server = start_virtuoso(tmp_path_factory.mktemp("virtuoso"))
    try:
        server.open().close()
        yield server
    finally:
        server.stop()

