"""The client's side of the three transports: TCP hex lines, HTTP/JSON and stdio (``-z``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import BinaryIO

import httpx

from sgxra.errors import ServiceError
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.transport.lines import DEFAULT_MAX_MESSAGE, close_writer, decode_line, encode_line

Trace = Callable[[str, bytes], None]


def _quiet(name: str, message: bytes) -> None:
    """No tracing."""


async def attest_tcp(client: ClientSession, host: str, port: int, *, timeout: float = 30.0,
                     max_message: int = DEFAULT_MAX_MESSAGE, trace: Trace = _quiet) -> ClientVerdict:
    """One attestation over the sample's TCP protocol; ``trace(name, bytes)`` sees every message."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port, limit=2 * max_message + 2)
        try:
            msg01 = client.start()
            trace("msg0||msg1", msg01)
            writer.write(encode_line(msg01))
            await writer.drain()
            msg2 = decode_line(await reader.readline(), "msg2")
            trace("msg2", msg2)
            msg3 = client.receive_msg2(msg2)
            trace("msg3", msg3)
            writer.write(encode_line(msg3))
            await writer.drain()
            msg4 = decode_line(await reader.readline(), "msg4")
            trace("msg4", msg4)
            return client.receive_msg4(msg4)
        finally:
            await close_writer(writer)


def _json_or_raise(response: httpx.Response, what: str) -> dict[str, str]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code not in (200, 201) or not isinstance(body, dict):
        detail = body.get("detail") if isinstance(body, dict) else None
        raise ServiceError(f"service provider refused {what}: {detail or response.text[:200]}",
                           status_code=response.status_code)
    return body


def attest_http(client: ClientSession, base_url: str, *, timeout: float = 30.0) -> ClientVerdict:
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout) as http:
        started = _json_or_raise(http.post("/v1/attestations", json={"msg0_msg1": client.start().hex()}), "msg1")
        msg3 = client.receive_msg2(bytes.fromhex(started["msg2"]))
        finished = _json_or_raise(
            http.post(f"/v1/attestations/{started['session_id']}/msg3", json={"msg3": msg3.hex()}), "msg3"
        )
        return client.receive_msg4(bytes.fromhex(finished["msg4"]))


def attest_stdio(client: ClientSession, stdin: BinaryIO, stdout: BinaryIO,
                 *, max_message: int = DEFAULT_MAX_MESSAGE) -> ClientVerdict:
    """The sample's copy/paste mode: our lines on stdout, the service provider's read from stdin."""
    limit = 2 * max_message + 2
    stdout.write(encode_line(client.start()))
    stdout.flush()
    msg3 = client.receive_msg2(decode_line(stdin.readline(limit), "msg2"))
    stdout.write(encode_line(msg3))
    stdout.flush()
    return client.receive_msg4(decode_line(stdin.readline(limit), "msg4"))
