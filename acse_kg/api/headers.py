"""Security headers on every response, and a Content-Security-Policy on every HTML page.

The pages show text that anyone able to write to the graph (or to craft a
link) controls: the CSP is the second line of defence behind escaping. No page
of ours runs inline script (the SPARQL workbench is YASGUI, vendored and served
from /sparql/yasgui/, started by /sparql/sparql.js), so ``script-src 'self'``
holds everywhere except the Swagger UI, whose start-up script is inline.
``style-src`` allows inline styles on every page (YASGUI and its table set
element styles; style cannot run script), so the workbench needs no policy of
its own; no page may be framed (clickjacking), no response is
content-sniffed, and no full URL (which may hold a shared query) leaks to
another origin in a Referer.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI (/docs) starts with an inline script; ReDoc (/redoc) runs a web worker from a blob.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
_NAMES = frozenset(name for name, _ in ALWAYS)


class SecurityHeaders:
    """Add :data:`ALWAYS` to every HTTP response and a CSP to those whose Content-Type is HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in _NAMES]
                headers += ALWAYS
                ctype = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if ctype.lower().startswith(b"text/html"):
                    headers.append((b"content-security-policy", (DOCS_CSP if docs else CSP).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class SparqlCors:
    """CORS on /sparql: a query page on another origin may call the endpoint (GET, POST, OPTIONS).

    ``origins`` is the allow-list (``["*"]``: any origin; ``[]``: CORS off). A preflight
    (OPTIONS with ``Access-Control-Request-Method``) and a plain OPTIONS are answered here
    with 204 and ``Allow``; other requests from an allowed origin get
    ``Access-Control-Allow-Origin`` added. Credentials (cookies) are never allowed: the admin
    token travels in ``Authorization``, which a preflight may allow explicitly.
    """

    METHODS = "GET, HEAD, POST, OPTIONS"
    HEADERS = "Accept, Authorization, Content-Type"

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.any = "*" in origins
        self.origins = frozenset(origins)

    def _allowed(self, origin: str | None) -> str | None:
        if origin is None:
            return None
        if self.any:
            return "*"
        return origin if origin in self.origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/sparql" or path.startswith("/sparql/")):
            await self.app(scope, receive, send)
            return
        # Only the Origin header matters to a GET or POST: no dict of every header per request.
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"origin"), None)
        allowed = self._allowed(origin)
        if scope["method"] == "OPTIONS":
            headers = {k.lower() for k, _ in scope["headers"]}
            out = [(b"allow", self.METHODS.encode()), (b"content-length", b"0")]
            if allowed and b"access-control-request-method" in headers:
                out += [
                    (b"access-control-allow-origin", allowed.encode()),
                    (b"access-control-allow-methods", self.METHODS.encode()),
                    (b"access-control-allow-headers", self.HEADERS.encode()),
                    (b"access-control-max-age", b"600"),
                ]
            if allowed and allowed != "*":
                out.append((b"vary", b"Origin"))
            await send({"type": "http.response.start", "status": 204, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            return
        if allowed is None:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"access-control-allow-origin", allowed.encode())]
                if allowed != "*":
                    extra.append((b"vary", b"Origin"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_cors)


class AccessLog:
    """One line per request on the ``acse_kg.access`` logger: client, method, path, status, bytes, time.

    The query string is cut to 200 characters so that a line stays a line (a /sparql GET
    carries the whole query); request bodies and headers (the admin token) are never logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("acse_kg.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status, size = 500, 0

        async def counted(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            qs = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{qs[:200]}{'…' if len(qs) > 200 else ''}" if qs else "")
            client = scope.get("client")
            self.log.info('%s "%s %s" %d %d %.1fms', client[0] if client else "-", scope["method"], target,
                          status, size, (time.perf_counter() - start) * 1000)
