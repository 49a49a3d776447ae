"""The asyncio IAS client (h11 on asyncio streams) over real loopback sockets, against the mock IAS."""

from __future__ import annotations

import asyncio
import base64
import gc
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ias_env import GID, KEY, PKI, now, quote_from, running_mock, settings_for
from loopback import self_signed
from servers import ServerThread
from sgxra.asynchttp import H11Fetcher
from sgxra.errors import ServiceAuthError, ServiceError, ServiceUnavailable
from sgxra.httpfetch import Fetcher, RateLimited, RetryPolicy
from sgxra.ias import AsyncIasClient
from sgxra.ias.mock import MockIas, create_app
from sgxra.ias.mock_config import MockIasConfig, MockPlatform
from sgxra.verify import verify_report

CONFIG = MockIasConfig(subscription_keys=(KEY,), platforms=(MockPlatform("p"),))
BACKOFF = 0.01  # what settings_for gives


def run_client(url: str, scenario: Callable[[AsyncIasClient], Awaitable[Any]], **options: Any) -> Any:
    """Run ``scenario`` with a client for ``url``; ``options`` go to the settings, or to the client (``ssl_context``,
    ``sleep``)."""
    client_options = {k: options.pop(k) for k in ("ssl_context", "sleep") if k in options}

    async def main() -> Any:
        async with AsyncIasClient(settings_for(url, **options), **client_options) as client:
            return await scenario(client)

    return asyncio.run(main())


async def sigrl(client: AsyncIasClient) -> bytes:
    return await client.get_sigrl(GID)


class Waits(list[float]):
    """A sleep that only records how long it was asked to wait."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --- keep-alive ---------------------------------------------------------------------------------------------------


def test_requests_reuse_one_kept_alive_connection() -> None:
    quote = quote_from("p")

    async def scenario(client: AsyncIasClient) -> Any:
        sigrls = [await client.get_sigrl(GID) for _ in range(3)]
        return sigrls, await client.get_report(quote, nonce="n" * 32), client.connections_opened

    with running_mock(CONFIG) as (mock, server):
        sigrls, response, opened = run_client(server.url, scenario)
        assert mock.requests == 4
    assert sigrls == [b""] * 3 and opened == 1
    report = verify_report(response.body, response.signature, chain=response.chain, at=now(), root=PKI.root,
                           api_version=5, quote=quote, nonce="n" * 32, max_age=timedelta(minutes=1))
    assert report.status == "OK"


def test_concurrent_requests_stay_within_the_connection_limit() -> None:
    async def scenario(url: str) -> int:
        fetch = H11Fetcher(RetryPolicy("IAS", keys=[KEY]), timeout=5, max_connections=2)
        answers = await asyncio.gather(*(fetch.request("GET", f"{url}/attestation/v5/sigrl/{GID:08x}", limit=1000)
                                         for _ in range(8)))
        await fetch.aclose()
        assert [a.status for a in answers] == [200] * 8
        return fetch.pool.opened

    with running_mock(CONFIG) as (mock, server):
        mock.faults.delay = 0.05  # so that requests overlap
        assert asyncio.run(scenario(server.url)) == 2


def test_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def scenario(client: AsyncIasClient) -> tuple[bytes, int]:
        await client.get_sigrl(GID)
        pooled = [c for idle in client._fetch.pool._idle.values() for c in idle]
        for _ in range(100):  # until the server's keep-alive timeout (1 s) has it hang up, however busy the machine
            await asyncio.sleep(0.1)
            if all(c.reader.at_eof() for c in pooled):
                break
        return await client.get_sigrl(GID), client.connections_opened

    with ServerThread(create_app(MockIas(CONFIG, PKI, now)), timeout_keep_alive=1) as server:
        assert run_client(server.url, scenario, retries=0) == (b"", 2)


# What the closed loops leave can only be collected, not closed: asyncio warns when it is.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_client_outlives_its_event_loop() -> None:
    """Connections pooled under one asyncio.run() are not used under the next one (they belong to a closed loop)."""
    with running_mock(CONFIG) as (_, server):
        client = AsyncIasClient(settings_for(server.url))
        assert asyncio.run(sigrl(client)) == b""
        assert asyncio.run(sigrl(client)) == b""
        asyncio.run(client.aclose())
    assert client.connections_opened == 2
    del client
    gc.collect()  # the connections of the closed loops, now, under this test's warning filter


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # as above: the first loop's connection can only be collected
def test_a_client_outlives_the_loop_its_requests_waited_in() -> None:
    """Requests that queued for a connection under one asyncio.run() do not stop a later run (once a RuntimeError)."""
    async def two(fetch: H11Fetcher, url: str) -> list[int]:
        return [a.status for a in await asyncio.gather(*(fetch.request("GET", url, limit=1000) for _ in range(2)))]

    with running_mock(CONFIG) as (mock, server):
        mock.faults.delay = 0.05  # so that the second request waits for the one connection
        fetch = H11Fetcher(RetryPolicy("IAS", keys=[KEY], retries=0), timeout=5, max_connections=1)
        url = f"{server.url}/attestation/v5/sigrl/{GID:08x}"
        assert asyncio.run(two(fetch, url)) == [200, 200]
        assert asyncio.run(two(fetch, url)) == [200, 200]
        asyncio.run(fetch.aclose())
    del fetch
    gc.collect()


@asynccontextmanager
async def raw_server(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> AsyncIterator[str]:
    """A hand-written HTTP server on loopback, for answers the mock will not give."""
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_pooled_connection_cut_on_the_next_request_is_retried_at_once() -> None:
    """The server hangs up as the second request arrives (an idle timeout racing it): no retry is spent on it."""
    async def answer_once_then_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")

    async def scenario() -> tuple[list[bytes], int]:
        async with raw_server(answer_once_then_hang_up) as url:
            fetch = H11Fetcher(RetryPolicy("IAS", retries=0), timeout=2)
            bodies = [(await fetch.request("GET", f"{url}/x", limit=100)).body for _ in range(3)]
            await fetch.aclose()
            return bodies, fetch.pool.opened

    assert asyncio.run(scenario()) == ([b"ok"] * 3, 3)


def test_fresh_connection_closed_unanswered_is_a_failure_not_a_loop() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    async def scenario() -> int:
        async with raw_server(hang_up) as url:
            fetch = H11Fetcher(RetryPolicy("IAS", retries=1, backoff=BACKOFF), timeout=2)
            with pytest.raises(ServiceUnavailable, match="IAS unreachable: ConnectionError"):
                await fetch.request("GET", f"{url}/x", limit=100)
            return fetch.pool.opened

    assert asyncio.run(scenario()) == 2


def test_a_url_that_is_not_http_is_a_typed_error() -> None:
    async def scenario() -> None:
        fetch = H11Fetcher(RetryPolicy("IAS"), timeout=2)
        for url in ("ftp://127.0.0.1/x", "http:///x", "127.0.0.1:80/x"):
            with pytest.raises(ServiceError, match="IAS: not an http"):
                await fetch.request("GET", url, limit=100)

    asyncio.run(scenario())


def test_a_malformed_url_is_the_same_typed_error_in_both_fetchers() -> None:
    """A port that is no number, or a broken IPv6 literal, once leaked ValueError (h11) or httpx.InvalidURL (httpx)."""
    bad = ("http://127.0.0.1:abc/x", "http://127.0.0.1:99999/x", "http://[::1/x")

    async def scenario() -> None:
        fetch = H11Fetcher(RetryPolicy("IAS"), timeout=2)
        for url in bad:
            with pytest.raises(ServiceError, match="IAS: not an http"):
                await fetch.request("GET", url, limit=100)

    asyncio.run(scenario())
    sync = Fetcher(RetryPolicy("IAS", retries=0), timeout=2)
    with pytest.raises(ServiceError, match="IAS: not an http"):
        sync.request("GET", bad[0], limit=100)
    sync.close()


def test_a_url_neither_fetcher_can_ask_is_refused_before_any_attempt() -> None:
    """The sync fetcher once retried these as 'unreachable' while the async one refused them at once."""
    bad = ("ftp://127.0.0.1/x", "http:///x", "http://127.0.0.1/a b", "http://127.0.0.1\x00/x")
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    async def scenario() -> None:
        fetch = H11Fetcher(RetryPolicy("IAS", retries=2), timeout=2, sleep=no_wait)
        for url in bad:
            with pytest.raises(ServiceError, match="IAS: not an http"):
                await fetch.request("GET", url, limit=100)

    asyncio.run(scenario())
    sync = Fetcher(RetryPolicy("IAS", retries=2), timeout=2, sleep=waits.append)
    for url in bad:
        with pytest.raises(ServiceError, match="IAS: not an http"):
            sync.request("GET", url, limit=100)
    sync.close()
    assert waits == []


# --- keys, retries -------------------------------------------------------------------------------------------------


def test_401_on_the_primary_key_tries_the_secondary() -> None:
    async def sigrl_and_connections(client: AsyncIasClient) -> tuple[bytes, int]:
        return await client.get_sigrl(GID), client.connections_opened

    with running_mock(CONFIG) as (mock, server):
        assert run_client(server.url, sigrl_and_connections, primary_key="wrong", secondary_key=KEY) == (b"", 1)
        assert mock.requests == 2
        with pytest.raises(ServiceAuthError, match="every subscription key"):
            run_client(server.url, sigrl, primary_key="wrong", secondary_key="also-wrong")


def test_429_waits_as_long_as_retry_after_says() -> None:
    waits = Waits()
    with running_mock(CONFIG) as (mock, server):
        mock.faults.too_many, mock.faults.retry_after = 2, "7"
        assert run_client(server.url, sigrl, sleep=waits) == b""
        assert len(waits) == 2 and all(7 <= w <= 7 + BACKOFF for w in waits)
        mock.faults.too_many, mock.faults.retry_after = 1, "120"  # longer than we may wait: no retry
        with pytest.raises(RateLimited, match="Retry-After: 120"):
            run_client(server.url, sigrl, sleep=waits)
        assert len(waits) == 2 and mock.requests == 4


def test_503_retried_with_jittered_backoff_then_given_up() -> None:
    waits = Waits()
    with running_mock(CONFIG) as (mock, server):
        mock.faults.unavailable = 2
        assert run_client(server.url, sigrl, sleep=waits, backoff=1.0) == b""
        assert 0.5 <= waits[0] <= 1.5 and 1.0 <= waits[1] <= 3.0
        mock.faults.unavailable = 3
        with pytest.raises(ServiceUnavailable, match="HTTP 503"):
            run_client(server.url, sigrl, sleep=waits)
        assert mock.requests == 6


def test_503_with_retry_after_waits_that_long() -> None:
    waits = Waits()

    async def busy_then_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()

    async def scenario() -> bytes:
        async with raw_server(busy_then_ok) as url:
            fetch = H11Fetcher(RetryPolicy("IAS", retries=1, backoff=BACKOFF), timeout=2, sleep=waits)
            body = (await fetch.request("GET", f"{url}/x", limit=100)).body
            await fetch.aclose()
            return body

    assert asyncio.run(scenario()) == b"ok"
    assert len(waits) == 1 and 3 <= waits[0] <= 3 + BACKOFF


# --- bounds ----------------------------------------------------------------------------------------------------------


def test_answer_larger_than_the_limit_is_refused() -> None:
    async def scenario(url: str) -> None:
        fetch = H11Fetcher(RetryPolicy("IAS", keys=[KEY]), timeout=2)
        payload = {"isvEnclaveQuote": base64.b64encode(quote_from("p")).decode()}
        with pytest.raises(ServiceError, match="IAS answer exceeds 100 bytes"):
            await fetch.request("POST", f"{url}/attestation/v5/report", json=payload, limit=100)
        assert (await fetch.request("POST", f"{url}/attestation/v5/report", json=payload, limit=10_000)).status == 200
        assert fetch.pool.opened == 2  # the refused answer's connection was not kept
        await fetch.aclose()

    with running_mock(CONFIG) as (_, server):
        asyncio.run(scenario(server.url))


def test_chunked_answer_is_bounded_as_it_streams_in() -> None:
    sent: list[int] = []

    async def endless_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(10_000):  # 10 MiB unless the client hangs up
            writer.write(b"400\r\n" + b"a" * 1024 + b"\r\n")
            await writer.drain()
            sent.append(1)

    async def scenario() -> None:
        async with raw_server(endless_chunks) as url:
            fetch = H11Fetcher(RetryPolicy("IAS", retries=0), timeout=5)
            with pytest.raises(ServiceError, match="exceeds 65536 bytes"):
                await fetch.request("GET", f"{url}/x", limit=65536)
            await asyncio.sleep(0.1)

    asyncio.run(scenario())
    assert len(sent) < 10_000


def test_oversized_header_block_is_refused() -> None:
    async def huge_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 200_000 + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async def scenario() -> None:
        async with raw_server(huge_header) as url:
            fetch = H11Fetcher(RetryPolicy("IAS", retries=0), timeout=5)
            with pytest.raises(ServiceUnavailable, match="RemoteProtocolError"):
                await fetch.request("GET", f"{url}/x", limit=100)

    asyncio.run(scenario())


def test_slow_answer_times_out() -> None:
    with running_mock(CONFIG) as (mock, server):
        mock.faults.delay = 1.5
        start = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="IAS timed out: TimeoutError: no complete answer within 0.2 s"):
            run_client(server.url, sigrl, timeout=0.2, retries=1)
        assert time.monotonic() - start < 2.5  # two attempts of 0.2 s; unbounded, they would take 2 x 1.5 s


# --- TLS -----------------------------------------------------------------------------------------------------------


@contextmanager
def tls_mock(tmp: Path, *names: x509.GeneralName) -> Iterator[tuple[str, ssl.SSLContext]]:
    """The mock IAS over TLS with a self-signed certificate for ``names``, and a context trusting it."""
    cert_file, key_file = self_signed(tmp, *names)
    app = create_app(MockIas(CONFIG, PKI, now))
    with ServerThread(app, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        yield f"https://127.0.0.1:{server.port}", ssl.create_default_context(cafile=str(cert_file))


def test_tls_with_a_trusted_certificate_for_the_host(tmp_path: Path) -> None:
    with tls_mock(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))) as (url, trusting):
        assert run_client(url, sigrl, ssl_context=trusting) == b""


def test_tls_refuses_an_untrusted_certificate(tmp_path: Path) -> None:
    with tls_mock(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))) as (url, _):
        with pytest.raises(ServiceUnavailable, match="SSLCertVerificationError.*self-signed"):
            run_client(url, sigrl, retries=0)  # the default context: system CAs only


def test_tls_refuses_a_trusted_certificate_for_another_host(tmp_path: Path) -> None:
    with tls_mock(tmp_path, x509.DNSName("ias.invalid")) as (url, trusting):
        with pytest.raises(ServiceUnavailable, match="SSLCertVerificationError.*(mismatch|match)"):
            run_client(url, sigrl, ssl_context=trusting, retries=0)
