"""One error base class for the server and the one handler that answers it.

A route or middleware raises :class:`ApiError` (or a subclass) with a status
and a one-line message; the handler writes it the way the caller reads errors:

- plain text on ``/sparql`` (what SPARQL clients show their users), unless a browser asks for HTML;
- an HTML page for a browser (``Accept`` prefers ``text/html``);
- JSON problem details (RFC 9457, ``application/problem+json``) for programs (``Accept`` of
  JSON, ``*/*`` or none), with the message also under ``error`` as the API has always answered;
- plain text for a client that accepts none of these (a linked-data client asking for Turtle).

Anything else that escapes a route is logged with its traceback for the
operator and answered as a 500 in the same three shapes, without the stack.
"""

from __future__ import annotations

import html
import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("acse_kg.api")


class ApiError(StarletteHTTPException):
    """A request the server answers with an error status; ``str(exc)`` is the one-line reason.

    A Starlette HTTPException underneath, so that a router mounted in an app without
    :func:`install` (a test's bare app) still answers with the right status.
    """

    status: int = 500

    def __init__(self, message: str, *, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        if status is not None:
            self.status = status
        super().__init__(status_code=self.status, detail=message, headers=dict(headers or {}))
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(ApiError):
    status = 400


class BodyTooLarge(ApiError):
    """The request body is larger than its route accepts (see ServerSettings.body_limit)."""

    status = 413


class TooManyRequests(ApiError):
    """The client already has as many requests running as it may; it should retry later."""

    status = 429


class ServiceUnavailable(ApiError):
    status = 503


_SHAPES = {
    "application/problem+json": "json",
    "application/json": "json",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
}


def error_shape(request: Request) -> str:
    """json, html or text: how this caller reads an error (see the module docstring)."""
    from .negotiation import choose

    accept = request.headers.get("accept", "")
    shape = choose(accept, _SHAPES)
    if request.url.path.rstrip("/") == "/sparql" and shape != "html":
        return "text"  # SPARQL clients show the body of an error as it is
    if shape == "html" and "html" not in accept:
        return "json"  # */*: a program (curl, a library), not a browser
    return shape or "text"  # an Accept of RDF only (linked data clients): one line they can show


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error in the shape the caller reads (see the module docstring)."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    shape = error_shape(request)
    if shape == "html":
        page = ERROR_PAGE.format(status=status, title=html.escape(title), message=html.escape(message))
        return HTMLResponse(page, status_code=status, headers=headers)
    if shape == "text":
        return PlainTextResponse(message + "\n", status_code=status, headers=headers)
    body = {"type": "about:blank", "title": title, "status": status, "detail": message, "error": message}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


#: An error page never dead-ends: the site's header, a search box, and the ways on (issue 11).
ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{status} {title} — acse-kg</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/style.css"></head>
<body>
<header class="site"><nav class="site-nav" aria-label="Site"><a class="brand" href="/">acse-kg registry</a>\
<ul class="site-links"><li><a class="nav-service" href="/search">Search</a></li>\
<li><a class="nav-service" href="/match">Match a patient</a></li>\
<li><a class="nav-service" href="/sparql">SPARQL</a></li>\
<li><a class="nav-service" href="/docs">API docs</a></li></ul></nav></header>
<main id="main"><h1>{status} {title}</h1><p class="error">{message}</p>
<form method="get" action="/search" role="search" class="search-box" aria-labelledby="error-search">
<h2 id="error-search">Search the registry's studies</h2>
<div class="field"><label for="error-q">Condition, gene, drug or any term</label>
<input type="search" id="error-q" name="q"></div>
<p class="actions"><button type="submit">Search</button></p></form>
<p>Or go on: <a href="/">the registry's home page</a> (its studies), <a href="/match">match a patient</a>,
<a href="/sparql">query the graph</a>.</p></main></body></html>
"""


def install(app: FastAPI) -> None:
    """Register the one handler for ApiError, Starlette's HTTP errors and anything unexpected."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, str(exc), dict(exc.headers or {}))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(request, exc.status_code, detail, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """A browser gets the error page (each bad parameter named); a program FastAPI's usual 422 detail."""
        if error_shape(request) != "html":
            return await request_validation_exception_handler(request, exc)
        parts = []
        for err in exc.errors():
            where = " ".join(str(x) for x in err.get("loc", ()))
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return error_response(request, 422, "; ".join(parts) or "the request is invalid")

    @app.exception_handler(Exception)
    async def _no_traceback(request: Request, exc: Exception) -> Response:
        """Log the traceback for the operator; the caller gets one line, never the stack."""
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = error_response(request, 500, "internal server error")
        if isinstance(response, JSONResponse):
            import json

            body = json.loads(bytes(response.body))
            body["kind"] = type(exc).__name__
            response = JSONResponse(body, status_code=500, media_type="application/problem+json")
        return response
