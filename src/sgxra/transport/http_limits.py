"""Limits in front of every HTTP route, as raw ASGI: the body is counted as it streams in, however it is
framed (Content-Length or chunked), and refused with 413 as soon as it passes the limit; it must arrive
within a deadline; requests in flight are capped in all and per client address. And a deadline for the
headers of a new connection's first request, in uvicorn's protocol."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from sgxra.transport.metrics import SpMetrics
from sgxra.transport.per_address import PerAddress

log = logging.getLogger("sgxra.sp")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class HttpLimits:
    max_body: int
    max_in_flight: int = 1024
    max_per_client: int = 64
    body_timeout: float = 5.0  # seconds from the request's headers to the end of its body


class LimitedApp:
    def __init__(self, app: Asgi, limits: HttpLimits, metrics: SpMetrics) -> None:
        self.app = app
        self.limits = limits
        self.metrics = metrics
        self.in_flight = 0
        self.per_client = PerAddress(limits.max_per_client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = str((scope.get("client") or ("unknown",))[0])
        if self.in_flight >= self.limits.max_in_flight:
            await self._refuse(send, 429, "busy", "Busy", "too many requests in flight")
            return
        if not self.per_client.take(client):
            await self._refuse(send, 429, "per_client", "Busy", "too many requests in flight from this address")
            return
        self.in_flight += 1
        self.metrics.in_flight.labels("http").inc()
        try:
            body = await self._read_body(scope, receive, send)
            if body is not None:
                await self.app(scope, replay(body, receive), send)
        finally:
            self.in_flight -= 1
            self.per_client.release(client)
            self.metrics.in_flight.labels("http").dec()

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a refusal has been sent (or the client left)."""
        limit = self.limits.max_body
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await self._refuse(send, 413, "body_size", "TooLarge", f"body over {limit} bytes")
                return None
        body = await read_body(receive, limit, self.limits.body_timeout)
        if isinstance(body, BodyRefusal):
            await self._refuse(send, body.status, body.limit, body.error, body.detail)
            return None
        return body

    async def _refuse(self, send: Send, status: int, limit: str, error: str, detail: str) -> None:
        self.metrics.refused(limit)
        log.info("HTTP request refused (%s): %s", limit, detail)
        payload = json.dumps({"error": error, "detail": detail}).encode()
        # Connection: close, so the server stops reading whatever body is still coming.
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


@dataclass(frozen=True)
class BodyRefusal:
    """Why a body was not read to its end: its status, the limit's name (a metrics label) and what to say."""

    status: int
    limit: str
    error: str
    detail: str


async def read_body(receive: Receive, limit: int, timeout: float) -> bytes | BodyRefusal | None:
    """A request's whole body, counted as it streams in however it is framed: a :class:`BodyRefusal`
    as soon as it passes ``limit`` bytes or ``timeout`` seconds, None if the client left."""
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return None  # the client disconnected
                body += message.get("body", b"")
                if len(body) > limit:
                    return BodyRefusal(413, "body_size", "TooLarge", f"body over {limit} bytes")
                if not message.get("more_body", False):
                    return bytes(body)
    except TimeoutError:
        return BodyRefusal(408, "body_timeout", "Timeout", f"body not received within {timeout:g} s")


def replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever else the server has to say (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def first_request_deadline(seconds: float, refused: Callable[[str], None]) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with a deadline for a new connection's first request line and headers:
    uvicorn times out only idle keep-alive connections, so one that never sends (or sends its headers a
    byte at a time) would otherwise hold its socket for good. ``refused`` is told the limit's name."""

    class FirstRequestDeadline(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._first_request = self.loop.call_later(seconds, self._too_late)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None:  # the headers are in: uvicorn takes over from here
                self._first_request.cancel()

        def connection_lost(self, exc: Exception | None) -> None:
            self._first_request.cancel()
            super().connection_lost(exc)

        def _too_late(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                refused("first_request_timeout")
                self.transport.close()

    return FirstRequestDeadline
