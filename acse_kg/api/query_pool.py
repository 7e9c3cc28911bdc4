"""Run public SPARQL queries on the server's one store: known-quick ones in threads, the rest in forked processes that can be stopped.

pyoxigraph releases the GIL while it evaluates a query and while it serialises
the answer, and a query reads a consistent snapshot of the store (Oxigraph's
transactions), so queries can run in threads of the server on the one shared
store: no copy of the data anywhere, nothing to refresh after a write. What a
thread cannot give is a stop: pyoxigraph 0.5 has no cancellation or time
limit for a query (``oxigraph serve`` has one in Rust, not exposed to Python),
so a runaway cross join, or a 600-byte query of nested ``CONCAT`` that asks for
gigabytes, would hold a thread and memory of the server until it ends.

So a query goes one of two ways:

- **A forked process** (the first time a query is seen on the store as it is):
  the server forks; the child shares the store's memory copy-on-write (no
  dump, no private copy, a consistent view of the store at the fork), runs the
  query under a ceiling on its address space (``RLIMIT_AS``: past it the child
  ends, the caller gets :class:`WorkerDied`, never the server), streams its
  answer through a pipe into a capped buffer, and is killed at the time limit
  or when the caller cancels (its client went away). At most ``size`` such
  processes run at once.
- **A thread** when the very same request (same text, formats and dataset)
  finished in a forked process within ``quick_seconds`` on the store at the
  same version: Oxigraph is deterministic, so it will take as long and as
  much memory again; it runs on a thread of a bounded pool with no fork,
  pipe or pickling, serialised by pyoxigraph without the GIL. A write changes
  the store's version, and every query proves itself again in a process.
  A quick request whose least time seen is at most ``inline_seconds`` (a few
  milliseconds) runs on the event loop itself when it is the only query the
  loop waits on: the hop to a thread and back was a tenth of a millisecond
  query's CPU, and with nobody else waiting it buys no concurrency.

The request is remembered by a digest only (a bounded table), never by text.
A fork happens while the store's write lock is held, so a child never starts
in the middle of a write through the store.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import io
import os
import pickle
import resource
import select
import signal
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

import pyoxigraph as ox

from acse_kg.sparql_safety import deterministic

if TYPE_CHECKING:
    from acse_kg.store import GraphStore, OxigraphStore

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

#: How many quick requests are remembered (32-byte digests: the table's size does not depend on the queries).
QUICK_TABLE_SIZE = 4096


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

    @cached_property
    def digest(self) -> bytes:
        """What the pool remembers the request by (never its text); computed once per request.

        The fields but the text as their repr (a tuple's repr ends where it ends: no two field sets
        run into the same bytes), then the text as UTF-8 (its repr was a copy with escapes, a
        visible share of the route's time for a long query).
        """
        rest = (self.result_format, self.rdf_format, self.default_graph_uris, self.named_graph_uris,
                self.use_query_dataset, self.base_iri)
        h = hashlib.blake2b(repr(rest).encode("utf-8", "surrogatepass"), digest_size=32)
        h.update(self.query.encode("utf-8", "surrogatepass"))
        return h.digest()


# ---------------------------------------------------------------- running one query
class _CappedBuffer(io.BytesIO):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, b: Any) -> int:
        if self.tell() + len(b) > self.limit:
            raise ResultTooLarge(f"the answer is larger than the limit of {self.limit} bytes; add a LIMIT")
        return super().write(b)


def execute(engine: ox.Store, default_graph: dict[str, Any], prefixes: dict[str, str], req: QueryRequest,
            limit: int, *, capped: bool = True) -> tuple[str, bytes]:
    """(kind, serialised answer) of ``req`` on ``engine``; ``default_graph`` is how a query without a
    dataset of its own sees the live graphs (:meth:`OxigraphStore.default_graph_kwargs`).

    ``capped`` streams the answer into a buffer that refuses to grow past ``limit`` (a query not
    known yet); without it pyoxigraph serialises into bytes of its own with the GIL released (a
    request whose answer is known to fit), and the size is checked after.
    """
    kwargs: dict[str, Any] = {"prefixes": prefixes, "base_iri": req.base_iri}
    if req.default_graph_uris:
        kwargs["default_graph"] = [ox.NamedNode(u) for u in req.default_graph_uris]
    elif not req.use_query_dataset:
        kwargs.update(default_graph)
    if req.named_graph_uris:
        kwargs["named_graphs"] = [ox.NamedNode(u) for u in req.named_graph_uris]
    res = engine.query(req.query, **kwargs)
    out = _CappedBuffer(limit) if capped else None
    if isinstance(res, ox.QueryTriples):
        if req.rdf_format is None:
            raise NotAcceptable("graph")
        fmt = _RDF_FORMATS[req.rdf_format]
        prefixes_out = prefixes if fmt is ox.RdfFormat.TURTLE else None
        kind, data = "graph", ox.serialize(res, out, format=fmt, prefixes=prefixes_out)
    else:
        if req.result_format is None:
            raise NotAcceptable("boolean" if isinstance(res, ox.QueryBoolean) else "bindings")
        kind = "boolean" if isinstance(res, ox.QueryBoolean) else "bindings"
        data = res.serialize(out, format=_RESULT_FORMATS[req.result_format])
    body = out.getvalue() if out is not None else (data or b"")
    if len(body) > limit:
        raise ResultTooLarge(f"the answer is larger than the limit of {limit} bytes; add a LIMIT")
    return kind, body


def _reply(engine: ox.Store, default_graph: dict[str, Any], prefixes: dict[str, str], req: QueryRequest,
           limit: int) -> tuple[Any, ...]:
    """The answer to ``req`` as a reply tuple (what a child sends; :func:`_unpack` reads it)."""
    try:
        kind, body = execute(engine, default_graph, prefixes, req, limit)
        return ("ok", kind, body)
    except SyntaxError as exc:
        return ("syntax", str(exc))
    except ResultTooLarge as exc:
        return ("too_large", str(exc))
    except NotAcceptable as exc:
        return ("not_acceptable", str(exc))
    except Exception as exc:  # noqa: BLE001 - any evaluation error is the caller's query's, reported to it
        return ("error", f"{type(exc).__name__}: {exc}")


def _child(write_fd: int, engine: ox.Store, default_graph: dict[str, Any], prefixes: dict[str, str],
           req: QueryRequest, limit: int, memory: int) -> NoReturn:
    """The forked process: answer ``req`` into ``write_fd`` and end, never returning into the server's code.

    The child closes the sockets it inherited (client connections, the listening socket: they
    must close when the server closes them, not when this child ends), ignores Ctrl-C (the server
    stops it), writes no core file (nor a fault traceback), and caps its address space at what it has now plus ``memory``.
    """
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        faulthandler.disable()  # a child that runs out of memory aborts, as expected: no traceback on stderr
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                if fd > 2 and stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.close(fd)
            except OSError:
                pass
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory > 0:
            with open("/proc/self/statm") as f:
                size = int(f.read().split()[0]) * resource.getpagesize()
            resource.setrlimit(resource.RLIMIT_AS, (size + memory, size + memory))
        t0 = time.perf_counter()
        reply = _reply(engine, default_graph, prefixes, req, limit)
        data = pickle.dumps((time.perf_counter() - t0, reply), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view):]
        os.close(write_fd)  # the reader's end-of-file now, not after the exit has unmapped the server's memory
    except BaseException:  # noqa: BLE001 - out of memory, a broken pipe: the parent sees no reply and says so
        code = 1
    finally:
        os._exit(code)


# ---------------------------------------------------------------- the pool
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
    """Queries on one embedded store: in threads once known quick, else in forked processes that can be stopped."""

    def __init__(self, store: OxigraphStore, *, size: int = 2, timeout: float = 10.0, max_bytes: int = 50_000_000,
                 memory: int = 0, quick_seconds: float = 0.1, inline_seconds: float = 0.0) -> None:
        self.store = store
        self.size = max(1, size)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.memory = memory
        self.quick_seconds = quick_seconds
        self.inline_seconds = min(inline_seconds, quick_seconds)
        #: queries the event loop is waiting on (touched only from the loop's thread)
        self._waiting = 0
        self._processes = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None
        #: request digest -> (store version, seconds it took in a process)
        self._quick: OrderedDict[bytes, tuple[Hashable, float]] = OrderedDict()
        self._children: set[int] = set()
        sweep_stale_snapshots()  # what a server of the older design left behind
        from acse_kg.namespaces import PREFIXES

        self._prefixes = dict(PREFIXES)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        """Start the thread pool (done on first use if not before)."""
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max_workers=2 * self.size, thread_name_prefix="sparql")

    def close(self) -> None:
        """Stop the query processes still running and the threads (at app shutdown); it starts again if used."""
        with self._lock:
            threads, self._threads = self._threads, None
            children = list(self._children)
        for pid in children:
            _kill(pid)
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)

    def invalidate(self) -> None:
        """The store changed: nothing to reload (every query reads the store itself); the quick table
        is keyed by the store's version, so a request proves itself again after a write."""
        with self._lock:
            self._quick.clear()

    # -- quick requests ------------------------------------------------------
    def _version(self) -> Hashable:
        from acse_kg.derived import store_version

        return store_version(self.store)

    @staticmethod
    def _digest(req: QueryRequest) -> bytes:
        return req.digest

    def is_quick(self, req: QueryRequest) -> bool:
        """Whether ``req`` finished within ``quick_seconds`` in a process on the store as it is now."""
        return self.quick_seconds_of(req) is not None

    def quick_seconds_of(self, req: QueryRequest) -> float | None:
        """The seconds ``req`` took in a process on the store as it is now, if it proved quick there."""
        key, version = self._digest(req), self._version()
        with self._lock:
            hit = self._quick.get(key)
            if hit is None or hit[0] != version:
                return None
            self._quick.move_to_end(key)
            return hit[1]

    def _remember(self, req: QueryRequest, version: Hashable, seconds: float) -> None:
        key = self._digest(req)
        with self._lock:
            self._quick[key] = (version, seconds)
            self._quick.move_to_end(key)
            while len(self._quick) > QUICK_TABLE_SIZE:
                self._quick.popitem(last=False)

    def _faster(self, req: QueryRequest, seconds: float) -> None:
        """``req`` just ran in ``seconds`` without a process: the table keeps the least time seen.

        A forked child's time includes its copy-on-write faults and the machine's load at that
        moment; the engine is deterministic, so the least time seen is the query's own cost, and
        it decides whether the request may run on the event loop (:meth:`_inline`).
        """
        with self._lock:
            hit = self._quick.get(req.digest)
            if hit is not None and seconds < hit[1]:
                self._quick[req.digest] = (hit[0], seconds)

    def _in_thread(self, req: QueryRequest) -> tuple[str, bytes]:
        start = time.perf_counter()
        try:
            answer = execute(self.store.engine, self.store.default_graph_kwargs(), self._prefixes, req,
                             self.max_bytes, capped=False)
            self._faster(req, time.perf_counter() - start)
            return answer
        except SyntaxError as exc:
            raise QueryFailed(str(exc), syntax=True) from None
        except (ResultTooLarge, NotAcceptable):
            raise
        except Exception as exc:  # noqa: BLE001 - an evaluation error, as the process path reports it
            raise QueryFailed(f"{type(exc).__name__}: {exc}", syntax=False) from None

    # -- running -----------------------------------------------------------
    def run(self, req: QueryRequest, cancel: threading.Event | None = None) -> tuple[str, bytes]:
        """Run one query; blocking (call it from a thread, not the event loop).

        Raises QueryTimeout, ResultTooLarge, QueryFailed, NotAcceptable or WorkerDied; Cancelled
        (and its process stopped) when ``cancel`` is set before the answer comes.
        """
        if self.is_quick(req):
            return self._in_thread(req)
        return self._in_process(req, cancel)

    async def run_async(self, req: QueryRequest, cancel: threading.Event | None = None, *,
                        quick: float | None = None) -> tuple[str, bytes]:
        """:meth:`run` from the event loop: a quick request on the pool's threads (or the loop itself,
        see :meth:`_inline`), the rest in a process watched from a thread of the server's pool.

        ``quick`` is what :meth:`quick_seconds_of` said of ``req`` just before (the caller asked
        already: the digest is not computed twice); None asks again.
        """
        import asyncio

        from starlette.concurrency import run_in_threadpool

        seconds = quick if quick is not None else self.quick_seconds_of(req)
        self._waiting += 1
        try:
            if seconds is not None:
                if self._inline(seconds):
                    # Requests read with this one start first and count themselves: a query that
                    # looked alone only because the others had not started yet goes to a thread.
                    await asyncio.sleep(0)
                    if self._inline(seconds):
                        return self._in_thread(req)
                self.start()
                threads = self._threads
                if threads is not None:
                    return await asyncio.get_running_loop().run_in_executor(threads, self._in_thread, req)
            return await run_in_threadpool(self._in_process, req, cancel)
        finally:
            self._waiting -= 1

    def _inline(self, seconds: float) -> bool:
        """Whether a quick request that took ``seconds`` runs on the event loop itself.

        Only when it is the one query the loop waits on (``_waiting`` counts this one) and it took
        at most ``inline_seconds`` (a few milliseconds; Oxigraph is deterministic, so it takes as
        long again): then nobody waits for the loop but a request that arrives meanwhile, for at
        most that long, and the hop to a thread and back (waking it, the GIL handed over twice, the
        loop woken through its self-pipe) is saved: a tenth of a millisecond query's CPU. With
        other queries running, they go to threads, which run the engine beside the loop without
        the GIL (the loop would otherwise run every query in turn, on one core).
        """
        return self._waiting == 1 and seconds <= self.inline_seconds

    def _in_process(self, req: QueryRequest, cancel: threading.Event | None) -> tuple[str, bytes]:
        deadline = time.monotonic() + self.timeout
        while not self._processes.acquire(timeout=min(0.1, max(0.0, deadline - time.monotonic()))):
            if cancel is not None and cancel.is_set():
                raise Cancelled("the client went away")
            if time.monotonic() >= deadline:
                raise QueryTimeout(f"no query process became free within {self.timeout:g} s; try again later")
        try:
            return self._fork_and_wait(req, cancel, deadline)
        finally:
            self._processes.release()

    def _fork_and_wait(self, req: QueryRequest, cancel: threading.Event | None, deadline: float) -> tuple[str, bytes]:
        version = self._version()
        default_graph = self.store.default_graph_kwargs()
        read_fd, write_fd = os.pipe()
        try:
            with self.store.writes_held():  # no write through the store is half-way at the fork
                pid = os.fork()
        except OSError as exc:  # no process to be had (EAGAIN, ENOMEM): the pipe is not left open
            os.close(read_fd)
            os.close(write_fd)
            raise WorkerDied(f"no query process could be started ({exc.strerror}): try again") from exc
        if pid == 0:
            os.close(read_fd)
            _child(write_fd, self.store.engine, default_graph, self._prefixes, req, self.max_bytes, self.memory)
        os.close(write_fd)
        with self._lock:
            self._children.add(pid)
        chunks: list[bytes] = []
        received = 0
        ceiling = self.max_bytes + 65_536  # the answer, pickled
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QueryTimeout(
                        f"the query ran longer than the time limit of {self.timeout:g} s and was stopped")
                if cancel is not None and cancel.is_set():
                    raise Cancelled("the client went away")
                ready, _, _ = select.select([read_fd], [], [], min(0.1, left))
                if not ready:
                    continue
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
                if received > ceiling:  # the child caps its answer; this is the parent's own guard
                    raise ResultTooLarge(f"the answer is larger than the limit of {self.max_bytes} bytes; add a LIMIT")
        except BaseException:
            _kill(pid)
            raise
        finally:
            os.close(read_fd)
            with self._lock:
                self._children.discard(pid)
            # The child's exit (unmapping its copy of the server's address space) takes 10-20 ms:
            # reaped beside, not before, the answer.
            threading.Thread(target=_reap, args=(pid,), daemon=True).start()
        if not chunks:
            raise WorkerDied(
                "the query worker ended while answering (the query needed more memory than a worker may have?)")
        seconds, reply = pickle.loads(b"".join(chunks))
        if reply[0] == "ok" and seconds <= self.quick_seconds and deterministic(req.query):
            # RAND(), NOW() ... : a quick run says nothing of the next one, which could take the server's
            # time or memory in a thread nothing stops; such a query always runs in a process.
            self._remember(req, version, seconds)
        return _unpack(reply)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    """Wait for a child that has closed its pipe (it is ending) or been killed."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


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


