"""Budgets enforced below the routes: header size, body size, queries per client.

Every public request has a budget. The routes bound the work they do (query
time, result size, nesting depth); this module bounds what a request may make
the server *hold* before a route sees it:

- the request line and headers, in the HTTP parser itself (431 beyond
  ``max_header_bytes``): httptools, uvicorn's fast parser, has no limit of its
  own, and a 100 MB header stalled the server for seconds;
- the body, per route (413 beyond ``ServerSettings.body_limit``), refused from
  ``Content-Length`` before a byte is read, or as soon as a chunked body
  crosses the limit;
- the /sparql queries one client address has running at once (429 with
  ``Retry-After``), so that a few slow queries from one client cannot hold
  every query worker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BodyTooLarge, TooManyRequests
from .settings import ServerSettings

_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def limited_http_protocol(max_head_bytes: int) -> type:
    """uvicorn's httptools protocol, closing a connection whose request head exceeds ``max_head_bytes``.

    The bytes received while a request's head (request line and headers) is
    incomplete are counted (each read is at most a few hundred kB); past the
    limit the connection gets a 431 and is closed, before more is buffered.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True
            self._head_bytes = 0

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():  # the head is still incomplete
                self._head_bytes += len(data)
                if self._head_bytes > max_head_bytes:
                    msg = f"the request line and headers exceed {max_head_bytes} bytes\n".encode()
                    self.transport.write(_431 % (len(msg), msg))
                    self.transport.close()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            super().on_headers_complete()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_bytes = 0

    return LimitedHttpToolsProtocol


def server_config(app: ASGIApp, settings: ServerSettings, **kwargs: Any) -> uvicorn.Config:
    """The uvicorn configuration that enforces the settings' header limit (and the rest of ``kwargs``)."""
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover - h11 enforces the limit itself
        return uvicorn.Config(app, http="h11", h11_max_incomplete_event_size=settings.max_header_bytes, **kwargs)
    return uvicorn.Config(app, http=limited_http_protocol(settings.max_header_bytes), **kwargs)


class BodyLimit:
    """Refuse a request body larger than its route accepts (413), without reading more than the limit."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.settings.body_limit(scope["path"])
        message = f"the request body is larger than {limit} bytes, the limit for {scope['path']}"
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _refuse(scope, receive, send, message)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(message)
            return msg

        await self.app(scope, counted, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    """Answer 413 through the app's error handler shapes (plain text on /sparql, JSON or HTML elsewhere)."""
    from starlette.requests import Request

    from .errors import error_response

    response = error_response(Request(scope, receive), BodyTooLarge.status, message, {"Connection": "close"})
    await response(scope, receive, send)


class ClientSlots:
    """How many /sparql queries each client address has running, refused beyond ``limit`` (0: no limit)."""

    def __init__(self, limit: int, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = max(1, round(retry_after))
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, client: str) -> Iterator[None]:
        """One slot for ``client`` while the block runs; TooManyRequests when it has none free."""
        if self.limit <= 0:
            yield
            return
        with self._lock:
            running = self._running.get(client, 0)
            if running >= self.limit:
                raise TooManyRequests(
                    f"this client already has {running} queries running (the limit is {self.limit}); "
                    "retry when one has finished",
                    headers={"Retry-After": str(self.retry_after)},
                )
            self._running[client] = running + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._running[client] - 1
                if left:
                    self._running[client] = left
                else:
                    del self._running[client]
