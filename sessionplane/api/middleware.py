"""Pure-ASGI middleware of the edge, outermost first in ``create_app``.

- ``RequestIdMiddleware``: a request id on every request and response, and one access-log line
  (method, path, status, duration, request id: never headers, query strings or bodies, where
  tokens and signatures travel).
- ``SecurityHeaders``: ``nosniff`` everywhere, and a deny-all Content-Security-Policy on every
  response that does not bring its own (the docs page does).
- ``BodyGuard``: bounds what a handler may read of a body (size and time) without reading anything
  itself, and closes the connection when an answer leaves a body unread.
- ``QueryGuard``: a query parameter repeated with different values is refused on every route.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionplane.api.errors import envelope
from sessionplane.errors import InvalidParameter, PayloadTooLarge, RequestTimeout

access_log = logging.getLogger("sessionplane.access")

API_CSP = "default-src 'none'; frame-ancestors 'none'"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = os.urandom(16).hex()  # as random as uuid4, without building a UUID
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "%s %s %s %.1fms request_id=%s",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", API_CSP.encode()))
                message["headers"] = [*headers, (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BoundedBody:
    """The ``receive`` a handler reads the body through: at most ``limit`` bytes, before a deadline.

    Built by ``BodyGuard`` only for a request whose framing announces a body: none of it is read yet.
    """

    def __init__(self, receive: Receive, *, limit: int, timeout: float, headers: Headers) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout = timeout
        self._declared = _content_length(headers)
        self._received = 0
        self._deadline: float | None = None
        self.complete = False

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()  # after the body only a disconnect can come: no deadline
        if self._declared is not None and self._declared > self._limit:
            raise self._too_large()  # said up front: refuse before reading a byte
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self._timeout
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise RequestTimeout(
                f"Request timeout: the request body did not arrive within {self._timeout:g} seconds."
            ) from None
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                raise self._too_large()
            self.complete = not message.get("more_body", False)
        return message

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"Request entity too large: the body may be at most {self._limit} bytes.")


class BodyGuard:
    """Bounds request bodies; the handler reads the body when it needs it, after authentication.

    Starlette's RequestBodyLimitMiddleware answers a plain-text 413 that cannot carry Huawei's
    envelope, and has no read deadline: hence this one.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, path_limits: Mapping[str, int], read_timeout: float) -> None:
        self.app = app
        self._max_bytes = max_bytes
        self._path_limits = dict(path_limits)
        self._read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not declares_body(headers):  # nothing to bound, nothing left unread: most calls, passed on as they are
            await self.app(scope, receive, send)
            return
        limit = self._path_limits.get(scope["path"], self._max_bytes)
        body = _BoundedBody(receive, limit=limit, timeout=self._read_timeout, headers=headers)

        async def send_closing(message: Message) -> None:
            # An answer that leaves the body unread ends the connection, or the server would read the rest.
            if message["type"] == "http.response.start" and not body.complete:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, body.receive, send_closing)


class QueryGuard:
    """``?dry_run=true&dry_run=false`` reached the handler as ``false`` (the last value wins) and closed:
    a parameter given twice with different values is ambiguous, so it is refused before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        name = _conflicting_parameter(query) if b"&" in query else None  # one parameter cannot conflict
        if name is None:
            await self.app(scope, receive, send)
            return
        error = InvalidParameter(f"Invalid parameter: {name[:64]} is given more than once with different values.")
        await envelope(Request(scope), error)(scope, receive, send)


def _conflicting_parameter(query_string: bytes) -> str | None:
    seen: dict[str, str] = {}
    # Decoded as Starlette decodes it for the handlers.
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if seen.setdefault(name, value) != value:
            return name
    return None


def declares_body(headers: Mapping[str, str]) -> bool:
    """Whether the request's framing announces a body: without a Content-Length above 0 or a
    Transfer-Encoding, it has none to read."""
    return bool(_content_length(headers)) or "transfer-encoding" in headers


def _content_length(headers: Mapping[str, str]) -> int | None:
    try:
        return int(headers.get("content-length", ""))
    except ValueError:
        return None
