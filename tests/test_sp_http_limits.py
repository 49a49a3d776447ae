"""HTTP limits over real loopback sockets: bodies bounded however they are framed, a body deadline, and requests
in flight capped per client address (issue 11, point 1)."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from sgxra.transport.background import UvicornThread
from sgxra.transport.client import attest_http
from sp_env import client, http_sp, mock_ias

MAX_MESSAGE = 4096  # so bodies over 2 * 4096 + 256 bytes are refused
CHUNK = 16 * 1024
TOTAL = 32 * 1024 * 1024  # what each abusive client would send if the server let it


@pytest.fixture(scope="module")
def ias() -> Iterator[UvicornThread]:
    with mock_ias() as server:
        yield server


def connect(url: str, source: str = "127.0.0.1") -> socket.socket:
    parts = urlsplit(url)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    s.bind((source, 0))
    s.settimeout(10)
    s.connect((parts.hostname, parts.port))
    return s


def status_of(s: socket.socket) -> int:
    head = s.recv(4096)
    return int(head.split(b" ", 2)[1])


def chunked_flood(url: str, path: str) -> tuple[int, int]:
    """Stream a chunked body of TOTAL bytes, watching for an answer between chunks; returns (status, bytes sent)."""
    s = connect(url)
    sent = 0
    chunk = f"{CHUNK:x}\r\n".encode() + b"a" * CHUNK + b"\r\n"
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: sp\r\nContent-Type: application/json\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n".encode())
        while sent < TOTAL:
            if select.select([s], [], [], 0.002)[0]:
                return status_of(s), sent
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        return status_of(s), sent
    finally:
        s.close()


@pytest.mark.parametrize("path", ["/v1/attestations", "/v1/attestations/no-such-session/msg3", "/healthz", "/nowhere"])
def test_chunked_bodies_are_refused_as_they_pass_the_limit(ias: UvicornThread, path: str) -> None:
    with http_sp(ias.url, max_message=MAX_MESSAGE) as sp:
        with ThreadPoolExecutor(4) as pool:  # four at once, as in the attack
            results = list(pool.map(lambda _: chunked_flood(sp.url, path), range(4)))
        for status, sent in results:
            # Answered long before the client finished: the server stopped reading near the limit.
            assert status == 413 and sent < TOTAL // 4, (status, sent)
        assert attest_http(client(), sp.url).trusted


def test_a_body_must_arrive_within_its_deadline(ias: UvicornThread) -> None:
    with http_sp(ias.url, body_timeout=0.5) as sp, connect(sp.url) as s:
        s.sendall(b"POST /v1/attestations HTTP/1.1\r\nHost: sp\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"msg0")
        started = time.monotonic()
        assert status_of(s) == 408 and time.monotonic() - started < 5


def test_requests_in_flight_are_capped_per_client_address(ias: UvicornThread) -> None:
    with http_sp(ias.url, max_per_client=2, body_timeout=10) as sp:
        held = [connect(sp.url, "127.0.0.2") for _ in range(2)]
        for s in held:  # headers, then the body never comes
            s.sendall(b"POST /v1/attestations HTTP/1.1\r\nHost: sp\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.3)
        with connect(sp.url, "127.0.0.2") as third:
            third.sendall(b"GET /healthz HTTP/1.1\r\nHost: sp\r\n\r\n")
            assert status_of(third) == 429
        assert attest_http(client(), sp.url).trusted  # another address is served meanwhile
        for s in held:
            s.close()


def test_a_new_connection_must_send_its_request_within_a_deadline(ias: UvicornThread) -> None:
    with http_sp(ias.url, first_request_timeout=0.5) as sp, connect(sp.url) as quiet, connect(sp.url) as slow:
        slow.sendall(b"POST /v1/attestations HTTP/1.1\r\nHo")  # headers, a few bytes at a time
        started = time.monotonic()
        assert quiet.recv(10) == b"" and slow.recv(10) == b"" and time.monotonic() - started < 5
        metrics = httpx.get(sp.url + "/metrics").text
        assert 'sgxra_refusals_total{limit="first_request_timeout"} 2.0' in metrics
        assert attest_http(client(), sp.url).trusted
