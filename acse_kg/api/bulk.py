"""``POST /api/v2/studies/bulk``: the bulk import over HTTP, streamed in and streamed out (and compaction).

What ``acse-kg import --bulk`` does on the machine that owns the store, a
remote client does here with the admin token, without a file on the server:

- **In, streamed.** The body (JSON Lines, one API v2 record a line, or a zip
  of ``.json`` / ``.jsonl`` files, as ClinicalTrials.gov's downloads come) is
  spooled to a temporary file as it arrives, so the server holds a few
  kilobytes of it at a time; its size is bounded by ``max_bulk_body`` (413
  beyond, counted as the bytes come, not only from ``Content-Length``).
- **Off the event loop.** The import is :func:`acse_kg.ctgov.bulk.bulk_import`
  itself (parallel mapping, batched transactions, resumable by record digest,
  history for changed studies), run in a thread; every other request is served
  meanwhile. One bulk import at a time (409 for a second one): two would race
  for the same new studies.
- **Out, streamed.** The answer is ``application/x-ndjson``: a ``progress``
  line after each batch, a ``refused`` line for each problem of a record (its
  place in the input and its JSON path), and a last ``done`` line with the
  totals — or ``error`` if the import stopped (batches written before it are
  kept; posting the same body again resumes). The status is 200 once the body
  is read: what happened after is in the lines.
- **A client that goes away** stops the import after the batch in hand (what
  was written stays whole; the same request again resumes).
- **``compact=true``** compacts an on-disk store once the import has written
  anything (:func:`acse_kg.store.compact_store`), before the ``done`` line,
  which then gives ``compactSeconds`` (a ``compacting`` line says when it
  starts); asked of a remote engine's store it is refused (400) before the
  body is read.

``POST /admin/compact`` (admin token) compacts the served store on its own, as
``acse-kg compact`` does a store no server holds: the same streamed lines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from acse_kg.ctgov.bulk import BulkInputError, BulkReport, bulk_import
from acse_kg.store import GraphStore, StoreError, compact_store, compaction_refusal

from .deps import get_store, require_admin
from .errors import ApiError

router = APIRouter()

#: What the body may be, by media type, and the suffix the bulk reader knows it by.
BULK_MEDIA_TYPES = {
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/json-lines": ".jsonl",
    "application/zip": ".zip",
}

#: One bulk import or compaction at a time on a server (two imports would race for the same new studies).
_RUNNING = threading.Lock()
#: What a request that finds :data:`_RUNNING` taken is told (409).
BUSY = "a bulk import or a compaction is running on this server"


#: How a worker thread sends a line of the streamed answer.
Emit = Callable[[bytes], None]


class _Stopped(Exception):
    """The client went away: the import stops after the batch in hand."""


def _take_the_slot() -> None:
    """Take :data:`_RUNNING` (the caller releases it when its work ends), or answer 409."""
    if not _RUNNING.acquire(blocking=False):
        raise ApiError(BUSY + "; try again when it is done", status=409)


def _suffix(request: Request) -> str:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in BULK_MEDIA_TYPES:
        raise ApiError(
            f"Content-Type {media or '(none)'} is not a bulk body: send JSON Lines (application/x-ndjson, "
            "one API v2 record a line) or a zip of .json/.jsonl files (application/zip)", status=415)
    return BULK_MEDIA_TYPES[media]


async def _spool(request: Request, suffix: str) -> Path:
    """The body, written to a temporary file as it arrives (its size is bounded below the route, by
    :class:`~acse_kg.api.limits.BodyLimit` with ``max_bulk_body``, as the bytes come)."""
    fd, name = tempfile.mkstemp(prefix="acse-kg-bulk-", suffix=suffix)
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise ApiError("the body is empty: send the records to import", status=400)
    return path


def _line(kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"event": kind, **fields}) + b"\n"


def _totals(report: BulkReport) -> dict[str, Any]:
    return {"read": report.read, "new": report.new, "changed": report.changed, "unchanged": report.unchanged,
            "refusedRecords": len({w for w, _, _ in report.failed}), "seconds": round(report.seconds, 3),
            "studiesPerSecond": round(report.rate(), 1)}


#: The request body as OpenAPI describes it (the route reads the raw stream, so FastAPI cannot infer it).
_BULK_DOC = {"requestBody": {"required": True, "content": {
    "application/x-ndjson": {
        "schema": {"type": "string", "description": "one ClinicalTrials.gov API v2 study record (JSON) a line"},
        "example": '{"protocolSection": {"identificationModule": {"nctId": "NCT02034981"}, '
                   '"statusModule": {"overallStatus": "ACTIVE_NOT_RECRUITING"}}}\n'},
    "application/zip": {"schema": {"type": "string", "format": "binary",
                                   "description": "a zip of .json / .jsonl API v2 records"}},
}}}


@router.post(
    "/api/v2/studies/bulk", tags=["ClinicalTrials.gov API v2"],
    summary="Import many study records, streamed (admin token)",
    response_class=StreamingResponse, openapi_extra=_BULK_DOC,
    responses={200: {"description": "JSON Lines: progress, refused and a last done (or error) line",
                     "content": {"application/x-ndjson": {}}},
               400: {"description": "A bad parameter, or compact=true on a store this server cannot compact"},
               409: {"description": BUSY[0].upper() + BUSY[1:]},
               415: {"description": "The body is neither JSON Lines nor a zip"}},
)
async def post_bulk(request: Request, store: GraphStore = Depends(get_store)) -> StreamingResponse:
    """Import JSON Lines or a zip of API v2 records; progress and refusals come back as JSON Lines."""
    require_admin(request, "bulk import")
    suffix = _suffix(request)
    replace = request.query_params.get("replaceCurated", "false").lower()
    if replace not in ("true", "false"):
        raise ApiError(f"replaceCurated: true or false, not {replace!r}", status=400)
    compact = request.query_params.get("compact", "false").lower()
    if compact not in ("true", "false"):
        raise ApiError(f"compact: true or false, not {compact!r}", status=400)
    if compact == "true" and (why := compaction_refusal(store)) is not None:
        raise ApiError(f"compact: {why}", status=400)
    jobs = request.app.state.settings.bulk_jobs
    _take_the_slot()
    try:
        path = await _spool(request, suffix)
    except BaseException:
        _RUNNING.release()
        raise

    def run(emit: Emit, gone: threading.Event) -> None:
        def progress(report: BulkReport) -> None:
            if gone.is_set():
                raise _Stopped
            emit(_line("progress", **_totals(report)))

        def refused(where: str, json_path: str, message: str) -> None:
            emit(_line("refused", where=where.replace(str(path), "body"), path=json_path, message=message))

        try:
            report = bulk_import(store, [path], jobs=jobs, agent="POST /api/v2/studies/bulk (admin token)",
                                 replace_curated=replace == "true",
                                 on_failure=refused, progress=progress)
            # Compacted before the last line: a client that waits for it may then read a compact store.
            compacted = None
            if compact == "true" and report.written:
                emit(_line("compacting", **_totals(report)))
                try:
                    compacted = compact_store(store)
                except Exception as exc:  # whatever stopped it, the import itself is whole
                    if not isinstance(exc, StoreError):
                        logging.getLogger("acse_kg.api").exception("compaction after a bulk import failed")
                    emit(_line("error", message=f"the import is complete and whole ({report.new} new, "
                               f"{report.changed} changed), but compacting the store failed: {exc}; the store "
                               "is only slower to read: POST /admin/compact to try again"))
                    return
            emit(_line("done", **_totals(report), **({} if compacted is None else
                                                      {"compactSeconds": round(compacted, 3)})))
        except _Stopped:
            pass
        except (BulkInputError, StoreError) as exc:
            emit(_line("error", message=f"{exc}".replace(str(path), "body") + "; batches written before it "
                       "are kept: post the same body again to resume"))
        except Exception as exc:  # the stream must end with a line saying it stopped, whatever stopped it
            logging.getLogger("acse_kg.api").exception("bulk import failed")
            emit(_line("error", message=f"the import stopped on an internal error ({type(exc).__name__}); batches "
                       "written before it are kept: post the same body again to resume"))
        finally:
            path.unlink(missing_ok=True)
            _RUNNING.release()

    def unstarted() -> None:
        path.unlink(missing_ok=True)
        _RUNNING.release()

    return _streamed(run, "bulk-import", unstarted)


@router.post(
    "/admin/compact", tags=["administration"],
    summary="Compact the store's files (admin token)",
    response_class=StreamingResponse,
    responses={200: {"description": "JSON Lines: a compacting line, then done (with compactSeconds) or error",
                     "content": {"application/x-ndjson": {}}},
               400: {"description": "The server's store cannot be compacted by it (a remote engine's, "
                                    "compacted with the engine's tool, or a memory store)"},
               409: {"description": BUSY[0].upper() + BUSY[1:]}},
)
async def post_compact(request: Request, store: GraphStore = Depends(get_store)) -> StreamingResponse:
    """Rewrite the served store's files into their most compact layout (``acse-kg compact`` for a store a
    server holds): after a large import, point reads are several times faster. It takes minutes on a
    large store (2 minutes at 100,000 studies); every other request is served meanwhile. Its first line
    comes at once; a client that goes away does not stop it (the engine's compaction cannot be)."""
    require_admin(request, "compaction")
    if (why := compaction_refusal(store)) is not None:
        raise ApiError(why, status=400)
    _take_the_slot()

    def run(emit: Emit, gone: threading.Event) -> None:
        try:
            emit(_line("compacting"))
            emit(_line("done", compactSeconds=round(compact_store(store), 3)))
        except StoreError as exc:
            emit(_line("error", message=f"compacting the store failed: {exc}; its content is unchanged"))
        except Exception as exc:  # the stream must end with a line saying it stopped, whatever stopped it
            logging.getLogger("acse_kg.api").exception("compaction failed")
            emit(_line("error", message=f"compacting the store stopped on an internal error "
                       f"({type(exc).__name__}); its content is unchanged"))
        finally:
            _RUNNING.release()

    return _streamed(run, "compaction", _RUNNING.release)



def _streamed(work: Callable[[Emit, threading.Event], None], name: str,
              unstarted: Callable[[], None]) -> StreamingResponse:
    """``work(emit, gone)`` run in a thread of its own, each line it emits streamed out as it comes;
    ``gone`` is set once the client has gone away (or the stream has ended). ``unstarted`` is called
    if the thread cannot be started (``work``'s own ``finally`` then never runs: the slot it would
    release, the file it would remove)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()
    gone = threading.Event()

    def emit(line: bytes) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, line)

    def run() -> None:
        try:
            work(emit, gone)
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    try:
        threading.Thread(target=run, name=name, daemon=True).start()
    except BaseException:
        unstarted()
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            while (line := await lines.get()) is not None:
                yield line
        finally:  # the client went away (or the stream ended): a bulk import stops after the batch in hand
            gone.set()

    return StreamingResponse(body(), media_type="application/x-ndjson")

