"""The application factory: one app over one store."""

from __future__ import annotations

import atexit
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from acse_kg import __version__
from acse_kg.store import GraphStore, OxigraphStore, open_store

from . import ctgov, linked_data, match, pages, sparql
from .query_pool import QueryPool
from .settings import ServerSettings

log = logging.getLogger("acse_kg.api")


def create_app(store: GraphStore | None = None, settings: ServerSettings | None = None) -> FastAPI:
    """Build the app over ``store`` (default: the configured store, bootstrapped with the bundle).

    Queries on /sparql against the embedded store run in a pool of worker
    processes (see :mod:`api.query_pool`) so that a runaway query can be
    stopped; a remote store answers through its own endpoint.
    """
    settings = settings or ServerSettings.from_env()
    store = store if store is not None else open_store()
    pool = (
        QueryPool(store, size=settings.query_workers, timeout=settings.query_timeout,
                  max_bytes=settings.max_result_bytes)
        if isinstance(store, OxigraphStore)
        else None
    )
    if pool is not None:
        atexit.register(pool.close)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if pool is not None:
            pool.close()

    app = FastAPI(title="acse-kg registry", version=__version__, lifespan=lifespan)
    app.state.store = store
    app.state.settings = settings
    app.state.query_pool = pool

    @app.exception_handler(Exception)
    async def _no_traceback(request: Request, exc: Exception) -> JSONResponse:
        """Log the traceback for the operator; the caller gets one line, never the stack."""
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal server error", "kind": type(exc).__name__}, status_code=500)

    for module in (sparql, match, ctgov, pages, linked_data):
        app.include_router(module.router)
    return app
