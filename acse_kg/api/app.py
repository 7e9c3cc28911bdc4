"""The application factory: one app over one store."""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from acse_kg import __version__
from acse_kg.matching.engine import keep_compiled
from acse_kg.store import GraphStore, OxigraphStore, open_store

from . import browse, bulk, criteria, ctgov, errors, linked_data, match, overlaps, pages, sparql
from .headers import AccessLog, SecurityHeaders, SparqlCors
from .limits import BodyLimit, ClientSlots
from .query_pool import QueryPool
from .settings import ServerSettings
from .warm_up import WarmUp

#: Where the Swagger UI / ReDoc assets shipped by the fastapi-offline package are served (no CDN).
DOCS_ASSETS = "/docs-assets"


class HeadAsGet:
    """Answer HEAD wherever GET is served: the GET response's status and headers, without the body.

    FastAPI routes declare GET only, so ``curl -I`` and link checkers got 405;
    running the GET keeps Content-Length and Content-Type exactly what a GET
    would send.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def _add_offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from assets installed with the app, so they work without the internet."""
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=static), name="docs-assets")
    favicon = f"{DOCS_ASSETS}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{favicon}",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{favicon}",
            with_google_fonts=False,
        )


def _document_body_limits(app: FastAPI, settings: ServerSettings) -> None:
    """Each POST route's OpenAPI lists its 413 with the limit this server enforces (see api.limits)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path, operations in schema.get("paths", {}).items():
                if "post" in operations:
                    operations["post"].setdefault("responses", {})["413"] = {
                        "description": f"The body is larger than {settings.body_limit(path)} bytes"}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


def create_app(store: GraphStore | None = None, settings: ServerSettings | None = None) -> FastAPI:
    """Build the app over ``store`` (default: the configured store, bootstrapped with the bundle).

    Queries on /sparql against the embedded store run on that one store (see
    :mod:`acse_kg.api.query_pool`): first in a forked process that can be
    stopped, then in a thread once the same request proved quick; a remote
    store answers through its own endpoint.
    """
    settings = settings or ServerSettings.from_env()
    store = store if store is not None else open_store()
    pool = (
        QueryPool(store, size=settings.query_workers, timeout=settings.query_timeout,
                  max_bytes=settings.max_result_bytes, memory=settings.worker_memory_bytes,
                  quick_seconds=settings.quick_query_seconds, inline_seconds=settings.inline_query_seconds)
        if isinstance(store, OxigraphStore)
        else None
    )
    if pool is not None:
        atexit.register(pool.close)

    keep_compiled(store, settings.matcher_max_studies)
    warm = WarmUp(store, min(settings.warm_up_max_studies, settings.matcher_max_studies)) if settings.warm_up else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm is not None:
            warm.start()
        yield
        if warm is not None:
            await asyncio.to_thread(warm.stop)  # it waits for the study being compiled: not on the loop
        if pool is not None:
            pool.close()

    app = FastAPI(title="acse-kg registry", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.settings = settings
    app.state.query_pool = pool
    app.state.warm_up = warm
    app.state.client_slots = ClientSlots(settings.per_client_limit, retry_after=min(settings.query_timeout, 5.0))
    errors.install(app)

    for module in (sparql, match, browse, bulk, ctgov, criteria, overlaps, pages, linked_data):
        app.include_router(module.router)
    _add_offline_docs(app)
    _document_body_limits(app, settings)
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:
        app.add_middleware(SparqlCors, origins=settings.cors_origins)
    if settings.access_log:
        app.add_middleware(AccessLog)
    return app
