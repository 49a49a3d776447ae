"""The collateral fetcher and cache against the PCS mock over real HTTP on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dcap_env import NOW, PKI, QE, level, quote, spec
from servers import ServerThread
from sgxra.errors import MalformedMessage, ServiceNotFound, ServiceUnavailable
from sgxra.pcs import CollateralCache, CollateralKey, PcsClient, PcsSettings
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import TcbStatus, signed_member

KEY = CollateralKey(DEFAULT_FMSPC, "processor")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def pcs_for(server: ServerThread) -> PcsClient:
    return PcsClient(PcsSettings(base_url=server.url + "/sgx/certification/v4", retries=2, backoff=0.01, timeout=5))


def test_fetched_collateral_verifies_the_quote() -> None:
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec(level(TcbStatus.SWHardeningNeeded, "INTEL-SA-00615"))}, Clock())
    with ServerThread(create_app(mock)) as server, pcs_for(server) as pcs:
        collateral = pcs.fetch_collateral(DEFAULT_FMSPC, "processor")
    verdict = verify_dcap_quote(quote(), collateral, at=NOW, root=PKI.root)
    assert verdict.status is TcbStatus.SWHardeningNeeded and verdict.advisory_ids == ("INTEL-SA-00615",)
    assert mock.requests == {"pckcrl": 1, "tcb": 1, "qe/identity": 1, "rootcacrl": 1}


def test_unknown_fmspc_is_not_found() -> None:
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec()}, Clock())
    with ServerThread(create_app(mock)) as server, pcs_for(server) as pcs:
        with pytest.raises(ServiceNotFound, match="TCB info"):
            pcs.fetch_collateral(bytes(6), "processor")


def test_503_is_retried_then_reported() -> None:
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec()}, Clock())
    with ServerThread(create_app(mock)) as server, pcs_for(server) as pcs:
        mock.faults.unavailable = 1
        pcs.fetch_collateral(DEFAULT_FMSPC, "processor")
        mock.faults.unavailable = 10
        with pytest.raises(ServiceUnavailable, match="PCS failed the PCK CRL request"):
            pcs.fetch_collateral(DEFAULT_FMSPC, "processor")


def test_cache_serves_then_refreshes_after_next_update(tmp_path: Path) -> None:
    clock = Clock()
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec(validity=timedelta(hours=3))}, clock)
    with ServerThread(create_app(mock)) as server, pcs_for(server) as pcs:
        cache = CollateralCache(tmp_path / "collateral.sqlite", pcs.fetch, refresh_margin=timedelta(hours=1))
        first = cache.get(KEY, now=NOW)
        second = cache.get(KEY, now=NOW + timedelta(hours=1))
        assert first == second and (cache.fetches, cache.hits) == (1, 1)
        assert mock.requests["tcb"] == 1
        # A new process with the same file is served from it too.
        reopened = CollateralCache(tmp_path / "collateral.sqlite", pcs.fetch)
        reopened.get(KEY, now=NOW + timedelta(minutes=30))
        assert reopened.fetches == 0 and mock.requests["tcb"] == 1
        # Within the margin before nextUpdate (3 h), the cache fetches fresh collateral.
        clock.now = NOW + timedelta(hours=2, minutes=30)
        refreshed = cache.get(KEY, now=clock.now)
        assert cache.fetches == 2 and mock.requests["tcb"] == 2 and refreshed != first
        verify_dcap_quote(quote(QE), refreshed, at=clock.now + timedelta(hours=1), root=PKI.root)


def test_signed_member_keeps_the_exact_text() -> None:
    body = '{ "tcbInfo" : {"b":1,  "a":[2, 3]} , "signature":"0a0b"}'
    text, signature = signed_member(body, "tcbInfo", "test")
    assert text == '{"b":1,  "a":[2, 3]}' and signature == b"\x0a\x0b"
    with pytest.raises(MalformedMessage, match="signature"):
        signed_member('{"tcbInfo":{}}', "tcbInfo", "test")
    with pytest.raises(MalformedMessage):
        signed_member('{"tcbInfo":{}', "tcbInfo", "test")
