"""Run public SPARQL queries in worker processes that can be stopped.

A pyoxigraph query cannot be interrupted from another thread: a runaway
cross join or an aggregate over one runs to the end inside a single call.
So queries from the public endpoint run in a small pool of worker processes,
each holding a snapshot of the store (the data is small: loading it takes a
fraction of a second). A query that exceeds its time limit has its worker
killed and replaced; the other workers keep answering meanwhile. Each worker
streams its serialised answer into a capped buffer, so an answer larger than
the result-size limit is stopped as soon as it crosses the limit. Each worker
also has a ceiling on its address space (``RLIMIT_AS``): a query that asks for
more memory ends its worker (the caller gets a 5xx, the pool a fresh worker),
never the server. A query whose client goes away is stopped the same way.

The snapshot is refreshed when the store changes (an update through the
endpoint calls :meth:`QueryPool.invalidate`; other writers through the same
embedded store are noticed on the next query by its write counter, and writers
to a remote store by a fingerprint checked at most every few seconds).

This module is imported by the worker processes too, so its top level imports
only the standard library and pyoxigraph.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import queue
import resource
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, NoReturn

import pyoxigraph as ox

if TYPE_CHECKING:
    from acse_kg.store import GraphStore

_RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
_RDF_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}


class QueryTimeout(Exception):
    """The query ran past the time limit and was stopped."""


class ResultTooLarge(Exception):
    """The serialised answer grew past the result-size limit."""


class QueryFailed(Exception):
    """The engine rejected the query; ``syntax`` tells a parse error from an evaluation error."""

    def __init__(self, message: str, *, syntax: bool) -> None:
        super().__init__(message)
        self.syntax = syntax


class NotAcceptable(Exception):
    """The query's form has no format among those the client accepts."""


class WorkerDied(Exception):
    """The worker ended while answering (out of memory, most likely): the server's failure, not the query's."""


class Cancelled(Exception):
    """The caller stopped waiting (its client went away); the worker was stopped."""


@dataclass(frozen=True)
class QueryRequest:
    """One query as the endpoint hands it to a worker."""

    query: str
    result_format: str | None  # for SELECT / ASK; None when the client accepts none
    rdf_format: str | None  # for CONSTRUCT / DESCRIBE
    default_graph_uris: tuple[str, ...] = ()
    named_graph_uris: tuple[str, ...] = ()
    use_query_dataset: bool = False  # the query has FROM / FROM NAMED and no protocol dataset
    base_iri: str | None = None  # relative IRIs in the query resolve against the endpoint's IRI


# ---------------------------------------------------------------- worker side
class _CappedBuffer(io.BytesIO):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, b: Any) -> int:
        if self.tell() + len(b) > self.limit:
            raise ResultTooLarge(f"the answer is larger than the limit of {self.limit} bytes; add a LIMIT")
        return super().write(b)


class _WorkerState:
    def __init__(self, history_prefix: str, prefixes: dict[str, str]) -> None:
        self.history_prefix = history_prefix
        self.prefixes = prefixes
        self.store = ox.Store()
        self.live: list[ox.NamedNode] = []

    def load(self, path: str) -> None:
        store = ox.Store()
        if os.path.getsize(path):
            store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS)
        self.store = store
        self.live = [
            g
            for g in store.named_graphs()
            if isinstance(g, ox.NamedNode) and not g.value.startswith(self.history_prefix)
        ]

    def run(self, req: QueryRequest, limit: int) -> tuple[str, bytes]:
        kwargs: dict[str, Any] = {"prefixes": self.prefixes, "base_iri": req.base_iri}
        if req.default_graph_uris:
            kwargs["default_graph"] = [ox.NamedNode(u) for u in req.default_graph_uris]
        elif not req.use_query_dataset:
            kwargs["default_graph"] = self.live if self.live else ox.DefaultGraph()
        if req.named_graph_uris:
            kwargs["named_graphs"] = [ox.NamedNode(u) for u in req.named_graph_uris]
        res = self.store.query(req.query, **kwargs)
        out = _CappedBuffer(limit)
        if isinstance(res, ox.QueryTriples):
            if req.rdf_format is None:
                raise NotAcceptable("graph")
            fmt = _RDF_FORMATS[req.rdf_format]
            prefixes = self.prefixes if fmt in (ox.RdfFormat.TURTLE,) else None
            ox.serialize(res, out, format=fmt, prefixes=prefixes)
            return "graph", out.getvalue()
        if req.result_format is None:
            raise NotAcceptable("boolean" if isinstance(res, ox.QueryBoolean) else "bindings")
        res.serialize(out, format=_RESULT_FORMATS[req.result_format])
        return ("boolean" if isinstance(res, ox.QueryBoolean) else "bindings"), out.getvalue()


def _worker_main(conn: Connection, snapshot: str, history_prefix: str, prefixes: dict[str, str], limit: int,
                 memory: int = 0) -> None:
    """Answer requests from the pipe until told to stop (or killed).

    Ctrl-C in a terminal reaches the whole process group: the worker ignores it
    and leaves shutdown to the server, which stops its workers (and a worker
    whose server is gone sees the pipe close and returns). ``memory`` (bytes,
    0 for none) caps the worker's address space: past it an allocation fails
    and the worker ends, which the pool reports as :class:`WorkerDied`.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    state = _WorkerState(history_prefix, prefixes)
    state.load(snapshot)
    conn.send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "stop":
            return
        if msg[0] == "load":
            state.load(msg[1])
            conn.send(("ready",))
            continue
        try:
            kind, body = state.run(msg[1], limit)
            conn.send(("ok", kind, body))
        except SyntaxError as exc:
            conn.send(("syntax", str(exc)))
        except ResultTooLarge as exc:
            conn.send(("too_large", str(exc)))
        except NotAcceptable as exc:
            conn.send(("not_acceptable", str(exc)))
        except Exception as exc:  # noqa: BLE001 - any evaluation error is reported to the caller, the worker lives on
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


# ---------------------------------------------------------------- parent side
class _Worker:
    def __init__(self, ctx: Any, snapshot: str, generation: int, args: tuple[Any, ...]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, snapshot, *args), daemon=True)
        self.process.start()
        child.close()
        self.generation = generation
        if not self.conn.poll(120) or self.conn.recv()[0] != "ready":
            self.kill()
            raise RuntimeError("a query worker did not start")

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(5)
        finally:
            self.conn.close()


#: Snapshot directories are named ``acse-kg-pool-<server pid>-<random>`` in the temporary directory.
SNAPSHOT_PREFIX = "acse-kg-pool-"


def sweep_stale_snapshots(tmp: str | None = None) -> list[str]:
    """Remove the snapshot directories of servers that are gone (killed before they could clean up).

    A snapshot is a dump of the whole store; a server killed with SIGKILL (or out of memory)
    left it in /tmp for good. The next pool to start removes those whose process no longer
    runs; the directories of running servers are left alone. Returns the paths removed.
    """
    import shutil

    tmp = tmp or tempfile.gettempdir()
    removed: list[str] = []
    try:
        names = os.listdir(tmp)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(SNAPSHOT_PREFIX):
            continue
        pid_text = name[len(SNAPSHOT_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        path = os.path.join(tmp, name)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


class QueryPool:
    """A fixed number of worker processes over a snapshot of one store."""

    def __init__(self, store: GraphStore, *, size: int = 2, timeout: float = 10.0, max_bytes: int = 50_000_000,
                 memory: int = 0) -> None:
        self.store = store
        self.size = max(1, size)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.memory = memory
        self._ctx = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._started = False
        self._epoch = 0  # bumped by close(): a worker spawned for an older epoch is not kept
        self._generation = 0
        self._snapshot: str | None = None
        sweep_stale_snapshots()
        self._tmpdir = tempfile.TemporaryDirectory(prefix=f"{SNAPSHOT_PREFIX}{os.getpid()}-")
        self._version: Hashable = None  # the store's version (acse_kg.derived) the snapshot holds

    # -- lifecycle ---------------------------------------------------------
    def _args(self) -> tuple[Any, ...]:
        from acse_kg.namespaces import PREFIXES
        from acse_kg.store import HISTORY_PREFIX

        return (HISTORY_PREFIX, dict(PREFIXES), self.max_bytes, self.memory)

    def _write_snapshot(self) -> str:
        self._generation += 1
        path = os.path.join(self._tmpdir.name, f"snapshot-{self._generation}.nq")
        from acse_kg.derived import store_version

        self._version = store_version(self.store)  # before the dump: a write during it is seen next time
        data = self.store.dump("nquads", include_history=True)
        with open(path, "wb") as f:
            f.write(data)
        old, self._snapshot = self._snapshot, path
        if old and os.path.exists(old):
            os.unlink(old)  # workers that still read it hold it open; POSIX keeps the data
        return path

    def start(self) -> None:
        """Take the snapshot and start the workers (done on first use if not before)."""
        with self._lock:
            if self._started:
                return
            snapshot = self._write_snapshot()
            workers = [_Worker(self._ctx, snapshot, self._generation, self._args()) for _ in range(self.size)]
            for w in workers:
                self._idle.put(w)
            self._started = True

    def close(self) -> None:
        """Stop the workers (at app shutdown). The pool starts again if it is used again."""
        with self._lock:
            self._started = False
            self._epoch += 1
            while True:
                try:
                    w = self._idle.get_nowait()
                except queue.Empty:
                    break
                w.kill()

    def invalidate(self) -> None:
        """The store changed: workers reload before their next query."""
        with self._lock:
            if self._started:
                self._write_snapshot()

    def _current(self) -> bool:
        """Whether the snapshot holds what the store holds now (the embedded store's write
        counter makes this free to ask before every query)."""
        from acse_kg.derived import store_version  # not at the top: worker processes import this module

        return store_version(self.store) == self._version

    def _maybe_refresh(self) -> None:
        if self._current():
            return
        with self._lock:
            if self._started and not self._current():
                self._write_snapshot()

    def _replace(self) -> None:
        """Start a fresh worker in the background after one was killed."""

        epoch = self._epoch

        def spawn() -> None:
            try:
                w = _Worker(self._ctx, self._snapshot or "", self._generation, self._args())
            except Exception:  # noqa: BLE001 - whatever stopped the start, try again in a second
                time.sleep(1)
                if epoch == self._epoch:
                    threading.Thread(target=spawn, daemon=True).start()
                return
            with self._lock:
                if epoch == self._epoch:
                    self._idle.put(w)
                    return
            w.kill()

        threading.Thread(target=spawn, daemon=True).start()

    # -- running -----------------------------------------------------------
    def run(self, req: QueryRequest, cancel: threading.Event | None = None) -> tuple[str, bytes]:
        """Run one query; blocking (call it from a thread, not the event loop).

        Raises QueryTimeout, ResultTooLarge, QueryFailed, NotAcceptable or WorkerDied; Cancelled
        (and the worker is stopped) when ``cancel`` is set before the answer comes.
        """
        self.start()
        self._maybe_refresh()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                worker = self._idle.get(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
                break
            except queue.Empty:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("the client went away") from None
                if time.monotonic() >= deadline:
                    raise QueryTimeout(
                        f"no query worker became free within {self.timeout:g} s; try again later") from None
        try:
            if worker.generation != self._generation:
                worker.conn.send(("load", self._snapshot))
                worker.generation = self._generation
                if not worker.conn.poll(max(60.0, self.timeout)):
                    raise QueryTimeout("the query worker did not reload the data in time")
                worker.conn.recv()
            worker.conn.send(("query", req))
            while not worker.conn.poll(min(0.1, max(0.0, deadline - time.monotonic()))):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("the client went away")
                if time.monotonic() >= deadline:
                    raise QueryTimeout(
                        f"the query ran longer than the time limit of {self.timeout:g} s and was stopped")
            reply = worker.conn.recv()
        except BaseException as exc:  # noqa: BLE001 - _discard re-raises it
            self._discard(worker, exc)
        self._idle.put(worker)
        return _unpack(reply)

    async def run_async(self, req: QueryRequest, cancel: threading.Event | None = None) -> tuple[str, bytes]:
        """:meth:`run` without a hop to a thread: in the common case (a worker idle, its data
        current) the event loop itself waits on the worker's pipe. That hop was about a tenth of
        a small query's time; anything else (start-up, a reload, every worker busy) goes through
        :meth:`run` in a thread, as before.
        """
        import asyncio

        from starlette.concurrency import run_in_threadpool

        if not self._started or not self._current():
            return await run_in_threadpool(self.run, req, cancel)  # first use, or new data to load first
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            return await run_in_threadpool(self.run, req, cancel)
        if worker.generation != self._generation:
            self._idle.put(worker)
            return await run_in_threadpool(self.run, req, cancel)
        loop = asyncio.get_running_loop()
        try:
            worker.conn.send(("query", req))
            readable = loop.create_future()
            fd = worker.conn.fileno()

            def wake() -> None:
                if not readable.done():
                    readable.set_result(None)

            loop.add_reader(fd, wake)
            try:
                await asyncio.wait_for(readable, self.timeout)
            except TimeoutError:
                raise QueryTimeout(
                    f"the query ran longer than the time limit of {self.timeout:g} s and was stopped"
                ) from None
            finally:
                loop.remove_reader(fd)
                os.set_blocking(fd, True)  # uvloop makes a watched fd non-blocking; recv reads a whole message
            reply = worker.conn.recv()
        except BaseException as exc:  # noqa: BLE001 - re-raised by _discard; a cancelled request too leaves the pipe unknown
            self._discard(worker, exc)
        self._idle.put(worker)
        return _unpack(reply)

    def _discard(self, worker: _Worker, exc: BaseException) -> NoReturn:
        """Kill a worker whose query did not come back (timeout, death, cancellation: its pipe is
        in an unknown state), start a fresh one, and raise what the caller should see."""
        worker.kill()
        self._replace()
        if isinstance(exc, (EOFError, OSError)):  # the worker died (out of memory?)
            raise WorkerDied(
                "the query worker ended while answering (the query needed more memory than a worker may have?)"
            ) from exc
        raise exc


def pool_search(pool: QueryPool) -> Callable[[str, str], list[str]]:
    """A search function for :func:`acse_kg.ctgov.query.list_studies`: the SELECT runs in the pool,
    under its time limit and result-size limit, and one column comes back as strings."""
    import json

    def search(query: str, var: str) -> list[str]:
        _, body = pool.run(QueryRequest(query=query, result_format="json", rdf_format=None))
        return [row[var]["value"] for row in json.loads(body)["results"]["bindings"] if var in row]

    return search


def _unpack(reply: tuple[Any, ...]) -> tuple[str, bytes]:
    """A worker's reply as the result, or the exception it stands for."""
    status = reply[0]
    if status == "ok":
        return reply[1], reply[2]
    if status == "syntax":
        raise QueryFailed(reply[1], syntax=True)
    if status == "too_large":
        raise ResultTooLarge(reply[1])
    if status == "not_acceptable":
        raise NotAcceptable(reply[1])
    raise QueryFailed(reply[1], syntax=False)


def run_in_thread(store: GraphStore, req: QueryRequest, form: str | None, max_bytes: int) -> tuple[str, bytes]:
    """Fallback for stores that are not embedded (a remote endpoint enforces its own time limits)."""
    from acse_kg.store import QuerySyntaxError

    fmt = req.rdf_format if form in ("CONSTRUCT", "DESCRIBE") else req.result_format
    if fmt is None:
        raise NotAcceptable(form or "query")
    try:
        kind, body = store.query_serialized(
            req.query,
            fmt,
            default_graph_uris=req.default_graph_uris,
            named_graph_uris=req.named_graph_uris,
        )
    except QuerySyntaxError as exc:
        raise QueryFailed(str(exc), syntax=True) from exc
    if len(body) > max_bytes:
        raise ResultTooLarge(f"the answer is larger than the limit of {max_bytes} bytes; add a LIMIT")
    return kind, body


