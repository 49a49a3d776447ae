"""Faulty dependencies: the SP answers every affected session with a clear refusal in time,
retries where the API says to, and keeps serving the others."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dcap_env import NOW, QE
from dcap_env import PKI as DCAP_PKI
from dcap_env import spec as dcap_spec
from sgxra.errors import MalformedMessage
from sgxra.ias.mock import MockIas
from sgxra.mockfaults import TransportFaults
from sgxra.pcs import CollateralCache, PcsClient, PcsSettings
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.pcs.verifier import DcapQuoteVerifier
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.protocol.service_provider import SpConfig
from sgxra.sim import SimEnclave
from sgxra.sim.dcap_pki import SimIntelPki
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from sgxra.transport.background import LoopThread, UvicornThread
from sgxra.transport.client import attest_tcp
from sgxra.transport.lines import TcpLineServer, encode_line
from sgxra.transport.service import AttestationService, ServiceConfig
from sgxra.transport.store import MemoryStore
from sgxra.verify.dcap import DcapVerifier
from sgxra.wire import AttestationStatus
from sgxra.wire.msg4_auth import ReasonCode
from sp_env import (
    DEFAULT_POLICY,
    IDENTITY,
    SECRET,
    SP_KEY,
    SP_PUBLIC,
    SPID,
    attest,
    client,
    mock_ias_and_handle,
    redis_server,
    redis_store,
    tcp_sp,
)


@pytest.fixture(scope="module")
def ias() -> Iterator[tuple[UvicornThread, MockIas]]:
    with mock_ias_and_handle() as pair:
        yield pair


def injected(mock: MockIas, **faults: float) -> TransportFaults:
    mock.faults = TransportFaults(**faults)  # type: ignore[arg-type]
    return mock.faults


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        ({"delay": 2.0}, ReasonCode.SERVICE_UNAVAILABLE),  # slower than the SP's IAS timeout
        ({"server_error": 1}, ReasonCode.SERVICE_UNAVAILABLE),  # 500: not retried
        ({"drop": 10}, ReasonCode.SERVICE_UNAVAILABLE),  # cut every attempt
        ({"unavailable": 10}, ReasonCode.SERVICE_UNAVAILABLE),  # 503 beyond the retries
        ({"unavailable": 1}, ReasonCode.NONE),  # 503 once: retried, then trusted
        ({"drop": 1}, ReasonCode.NONE),  # a cut connection once: retried, then trusted
    ],
    ids=["slow", "500", "dropped", "503-persistent", "503-then-ok", "dropped-then-ok"],
)
def test_ias_faults(ias: tuple[UvicornThread, MockIas], faults: dict[str, float], reason: ReasonCode) -> None:
    server, mock = ias
    with tcp_sp(server.url, ias_timeout=0.6) as sp:
        # The SigRL of the group is fetched (and cached) first, so the fault hits the report request.
        assert attest(sp.port).trusted
        injected(mock, **faults)
        started = time.monotonic()
        try:
            verdict = attest(sp.port)
        finally:
            injected(mock)
        elapsed = time.monotonic() - started
        assert attest(sp.port).trusted  # and the next session is served
    assert verdict.reason is reason and verdict.authenticated
    assert (verdict.secret == SECRET) == (reason is ReasonCode.NONE)
    assert elapsed < 5  # a clear answer in time, not a hang


def test_sessions_during_an_outage_all_get_answers(ias: tuple[UvicornThread, MockIas]) -> None:
    server, mock = ias

    async def many(port: int) -> list[ClientVerdict]:
        return await asyncio.gather(*(attest_tcp(client(), "127.0.0.1", port, timeout=20) for _ in range(12)))

    with tcp_sp(server.url, ias_timeout=0.6) as sp:
        assert attest(sp.port).trusted
        injected(mock, server_error=1000)
        try:
            verdicts = asyncio.run(many(sp.port))
        finally:
            injected(mock)
        assert all(v.reason is ReasonCode.SERVICE_UNAVAILABLE and v.secret is None for v in verdicts)
        assert attest(sp.port).trusted
    assert sp.server.stats.completed == 14 and sp.server.stats.failed == 0


def test_redis_killed_mid_session_then_back(ias: tuple[UvicornThread, MockIas], tmp_path: Path) -> None:
    with redis_server(tmp_path) as (url, proc):
        port_number = int(url.rsplit(":", 1)[1].split("/")[0])
        with tcp_sp(ias[0].url, store=redis_store(url, timeout=0.5)) as sp:
            session = client()
            conn = socket.create_connection(("127.0.0.1", sp.port), timeout=10)
            conn.sendall(encode_line(session.start()))
            msg2 = bytes.fromhex(conn.makefile("rb").readline().decode().strip())
            proc.kill()
            proc.wait()
            conn.sendall(encode_line(session.receive_msg2(msg2)))
            assert conn.makefile("rb").readline() == b""  # the session cannot finish: closed, no msg4
            conn.close()
            with pytest.raises(MalformedMessage, match="connection closed before the message"):
                attest(sp.port)  # the store is down at msg1: closed without msg2
            with redis_server(tmp_path, port=port_number):
                assert attest(sp.port).trusted  # recovered once Redis is back
        assert sp.server.stats.failed == 2


async def dcap_sp(cache: CollateralCache) -> tuple[TcpLineServer, int]:
    """An SP accepting ECDSA quotes, its collateral from ``cache``."""
    verifier = DcapQuoteVerifier(lambda key: cache.get(key, now=NOW), clock=lambda: NOW,
                                 verifier=DcapVerifier(DCAP_PKI.root))
    service = AttestationService(ServiceConfig(SpConfig(SP_KEY, SPID, DEFAULT_POLICY), secret=SECRET),
                                 MemoryStore(), ecdsa=verifier)
    server = TcpLineServer(service)
    (_, port), *_ = await server.start(["127.0.0.1"], 0)
    return server, port


def test_pcs_faults_with_ecdsa_quotes(tmp_path: Path) -> None:
    mock = MockPcs(DCAP_PKI, {DEFAULT_FMSPC: dcap_spec()}, lambda: NOW)
    with UvicornThread(create_app(mock)) as pcs_server, LoopThread() as loop:
        pcs = PcsClient(PcsSettings(base_url=pcs_server.url + "/sgx/certification/v4", retries=1, backoff=0.01,
                                    timeout=0.5))
        cache = CollateralCache(tmp_path / "c.sqlite", pcs.fetch, refresh_margin=timedelta(0))

        server, port = loop.run(dcap_sp(cache))
        ecdsa = lambda: ClientSession(SimEnclave(QE, IDENTITY, SP_PUBLIC))  # noqa: E731
        mock.faults = TransportFaults(server_error=1)
        down = attest(port, ecdsa())
        mock.faults = TransportFaults(unavailable=1, drop=0)
        retried = attest(port, ecdsa())
        served_from_cache = attest(port, ecdsa())
        mock.faults = TransportFaults(server_error=1000)  # PCS down, but collateral is cached
        still = attest(port, ecdsa())
        mock.faults = TransportFaults()
        loop.run(server.shutdown())
    assert down.status is AttestationStatus.NotTrusted and down.reason is ReasonCode.SERVICE_UNAVAILABLE
    assert retried.trusted and retried.secret == SECRET
    assert served_from_cache.trusted and still.trusted and cache.fetches == 1


def test_pcs_serving_collateral_under_another_root(tmp_path: Path) -> None:
    mock = MockPcs(SimIntelPki(NOW), {DEFAULT_FMSPC: dcap_spec()}, lambda: NOW)  # not the PKI the quote's PCK is from
    with UvicornThread(create_app(mock)) as pcs_server, LoopThread() as loop:
        pcs = PcsClient(PcsSettings(base_url=pcs_server.url + "/sgx/certification/v4", retries=0, timeout=2))
        cache = CollateralCache(tmp_path / "c.sqlite", pcs.fetch)

        server, port = loop.run(dcap_sp(cache))
        verdict = attest(port, ClientSession(SimEnclave(QE, IDENTITY, SP_PUBLIC)))
        loop.run(server.shutdown())
    assert verdict.status is AttestationStatus.NotTrusted and verdict.reason is ReasonCode.NOT_GENUINE
    assert verdict.secret is None
