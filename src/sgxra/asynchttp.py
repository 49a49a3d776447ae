"""A keep-alive HTTP/1.1 client on asyncio streams, built on h11: the per-attestation IAS path.

httpx costs ~1.1-1.5 ms of CPU per request in the service provider (its pools,
anyio, threads); this costs a fraction, on the event loop itself. It keeps a few
connections per origin, gives each exchange one deadline, bounds the response
headers and body, checks the certificate and host name over TLS, and reconnects
at once when a pooled connection turns out to have been closed by the server.
Retries, backoff and subscription keys follow :class:`sgxra.httpfetch.RetryPolicy`.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import ssl
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import h11

from sgxra.errors import ServiceError
from sgxra.httpfetch import HttpResponse, InvalidUrl, RetryPolicy, RetryRun, split_url

MAX_HEADER_BYTES = 64 * 1024  # IAS's certificate header is ~4 KiB
READ_SIZE = 64 * 1024
MAX_CONNECTIONS = 8  # per client: more requests wait for a connection, not the service


class ResponseTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"answer exceeds {limit} bytes")
        self.limit = limit


class StaleConnection(ConnectionError):
    """A pooled connection the server had closed: nothing came back on it."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def split(cls, url: str) -> tuple[Origin, str]:
        """The origin of an http(s) URL and the request target (path and query)."""
        scheme, host, port, target = split_url(url)
        return cls(scheme, host, port), target

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.reused = False
        self.loop = asyncio.get_running_loop()

    def idle_and_open(self) -> bool:
        return (self.h11.our_state is h11.IDLE and not self.reader.at_eof() and not self.writer.is_closing()
                and self.loop is asyncio.get_running_loop())  # a client may outlive an asyncio.run()

    def close(self) -> None:
        if not self.loop.is_closed():  # else nothing can close it: it goes with the garbage
            self.writer.close()

    async def exchange(self, request: h11.Request, body: bytes, limit: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        answered = False  # any byte back: from then on a failure is the server's, not a stale connection
        try:
            self.writer.write(b"".join(self.h11.send(e) or b"" for e in _events(request, body)))
            await self.writer.drain()
            response: h11.Response | None = None
            data = bytearray()
            while True:
                event = self.h11.next_event()
                if event is h11.NEED_DATA:
                    chunk = await self.reader.read(READ_SIZE)
                    if not chunk and not answered:
                        raise ConnectionError("the server closed the connection without answering")
                    answered = True
                    self.h11.receive_data(chunk)
                elif isinstance(event, h11.Response):
                    response = event
                    if int(dict(event.headers).get(b"content-length", b"0")) > limit:
                        raise ResponseTooLarge(limit)
                elif isinstance(event, h11.Data):
                    data += event.data
                    if len(data) > limit:
                        raise ResponseTooLarge(limit)
                elif isinstance(event, h11.EndOfMessage) and response is not None:
                    return response.status_code, list(response.headers), bytes(data)
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("the server closed the connection mid-answer")
        except ConnectionError as e:
            if self.reused and not answered:
                raise StaleConnection(str(e)) from e
            raise

    def keep(self) -> bool:
        """Ready the connection for the next request; False when it must be closed instead."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            self.reused = True
            return True
        return False


def _events(request: h11.Request, body: bytes) -> list[h11.Event]:
    return [request, h11.Data(data=body), h11.EndOfMessage()] if body else [request, h11.EndOfMessage()]


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names (h11 gives them so); a repeated header's values joined by commas, as httpx does."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key, text = name.decode("ascii"), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


class H11Pool:
    """Keep-alive connections per origin; each request bounded by ``timeout`` seconds, connecting included."""

    def __init__(self, *, timeout: float, ssl_context: ssl.SSLContext | None = None,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.timeout = timeout
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self.max_connections = max_connections
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.opened = 0  # connections made so far: keep-alive shows here

    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes,
                      limit: int) -> HttpResponse:
        origin, target = Origin.split(url)
        fields = [("Host", origin.host_header), ("Accept", "*/*"), ("User-Agent", "sgxra"), *headers.items()]
        if body or method == "POST":
            fields.append(("Content-Length", str(len(body))))
        request = h11.Request(method=method, target=target, headers=fields)
        try:
            async with asyncio.timeout(self.timeout), self._slots_here():
                return await self._exchange(origin, request, body, limit)
        except TimeoutError:
            raise TimeoutError(f"no complete answer within {self.timeout} s") from None

    def _slots_here(self) -> asyncio.Semaphore:
        """The connection slots of the running loop: a semaphore that made a task wait is bound to its loop."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.max_connections))
        return self._slots[1]

    async def _exchange(self, origin: Origin, request: h11.Request, body: bytes, limit: int) -> HttpResponse:
        while True:
            connection = self._pooled(origin) or await self._connect(origin)
            try:
                status, raw, data = await connection.exchange(request, body, limit)
            except StaleConnection:
                connection.close()
                continue  # closed while idle: at once on another (only fresh connections are never stale)
            except BaseException:
                connection.close()
                raise
            if connection.keep():
                self._idle.setdefault(origin, []).append(connection)
            else:
                connection.close()
            return HttpResponse(status, _headers(raw), data)

    def _pooled(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin, [])
        while idle:
            connection = idle.pop()
            if connection.idle_and_open():
                return connection
            connection.close()  # the server hung up while it was idle, or its event loop is gone
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        context = None
        if origin.scheme == "https":
            context = self._ssl = self._ssl or ssl.create_default_context()  # certificate and host name checked
        reader, writer = await asyncio.open_connection(
            origin.host, origin.port, ssl=context, server_hostname=origin.host if context else None, limit=READ_SIZE)
        self.opened += 1
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        connections = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        for connection in connections:
            connection.close()
        for connection in connections:
            if connection.loop is not asyncio.get_running_loop():
                continue
            with suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(connection.writer.wait_closed(), 1.0)


class H11Fetcher:
    """Asynchronous requests under a :class:`RetryPolicy`, on the event loop, behaving as ``httpfetch.Fetcher``."""

    def __init__(self, policy: RetryPolicy, *, timeout: float, ssl_context: ssl.SSLContext | None = None,
                 max_connections: int = MAX_CONNECTIONS,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.policy = policy
        self.pool = H11Pool(timeout=timeout, ssl_context=ssl_context, max_connections=max_connections)
        self._sleep = sleep

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def request(self, method: str, url: str, *, limit: int, json: Any = None) -> HttpResponse:
        body = b"" if json is None else jsonlib.dumps(json, separators=(",", ":")).encode()
        content = {"Content-Type": "application/json"} if json is not None else {}
        run = RetryRun(self.policy)
        while (wait := run.next_wait()) is not None:
            if wait:
                await self._sleep(wait)
            try:
                response = await self.pool.request(method, url, headers={**content, **run.headers}, body=body, limit=limit)
            except (OSError, h11.ProtocolError) as e:  # timeouts, refused or cut connections, TLS, bad HTTP
                run.failed(e)
                continue
            except ResponseTooLarge as e:
                raise self.policy.too_large(e.limit) from None
            except InvalidUrl as e:
                raise ServiceError(f"{self.policy.service}: {e}") from None
            if run.answered(response):
                return response
        return run.outcome()
