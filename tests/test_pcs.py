"""The collateral fetcher and cache against the PCS mock over real HTTP on loopback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dcap_env import NOW, PKI, QE, level, quote, spec
from pcs_env import Recording
from servers import ServerThread
from sgxra.errors import MalformedMessage, ServiceError, ServiceNotFound, ServiceUnavailable
from sgxra.pcs import INTEL_PCS_V4, CollateralCache, CollateralKey, PcsClient, PcsSettings
from sgxra.pcs.mock import Evaluations, MockPcs, create_app
from sgxra.pcs.verifier import DcapQuoteVerifier
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from sgxra.verify.dcap import DcapVerifier, verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbInfo, TcbStatus, signed_member

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


def test_pccs_upstream_failure_is_unavailable() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, headers={"Request-ID": "r1"}))
    with PcsClient(PcsSettings(base_url="http://pccs"), transport=transport) as pcs:
        with pytest.raises(ServiceUnavailable, match=r"PCS failed the PCK CRL request \(HTTP 502, Request-ID r1\)"):
            pcs.fetch(KEY)


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


@pytest.mark.parametrize(("base", "sgx", "tdx"), [
    (INTEL_PCS_V4, INTEL_PCS_V4, "https://api.trustedservices.intel.com/tdx/certification/v4"),
    ("https://pccs:8081/sgx/certification/v4/", "https://pccs:8081/sgx/certification/v4",
     "https://pccs:8081/tdx/certification/v4"),
    ("https://pccs:8081", "https://pccs:8081/sgx/certification/v4", "https://pccs:8081/tdx/certification/v4"),
    ("https://pccs:8081/", "https://pccs:8081/sgx/certification/v4", "https://pccs:8081/tdx/certification/v4"),
    ("http://gw/attest/pccs/tdx/certification/v4", "http://gw/attest/pccs/sgx/certification/v4",
     "http://gw/attest/pccs/tdx/certification/v4"),
])
def test_sgx_and_tdx_trees_from_one_base_url(base: str, sgx: str, tdx: str) -> None:
    settings = PcsSettings(base_url=base)
    assert settings.url("tcb?fmspc=00", "SGX") == sgx + "/tcb?fmspc=00"
    assert settings.url("qe/identity", "TDX") == tdx + "/qe/identity"
    assert settings.url("pckcrl?ca=processor") == sgx + "/pckcrl?ca=processor"


def test_base_urls_that_cannot_serve() -> None:
    v3 = PcsSettings(base_url="https://pccs:8081/sgx/certification/v3")
    assert v3.url("tcb", "SGX") == "https://pccs:8081/sgx/certification/v3/tcb"
    with pytest.raises(ValueError, match="TDX collateral needs PCS API v4"):
        v3.url("tcb", "TDX")
    for bad in ("ftp://pccs/sgx/certification/v4", "https://pccs:8081/sgx/certification/v4?x=1", "pccs:8081", ""):
        with pytest.raises(ValueError, match="base URL"):
            PcsSettings(base_url=bad)
    override = PcsSettings(base_url="https://pccs:8081", tdx_base_url="https://other/tdx/v4/")
    assert override.url("tcb", "TDX") == "https://other/tdx/v4/tcb"


def test_root_ca_crl_source() -> None:
    assert PcsSettings().root_crl_url().startswith("https://certificates.trustedservices.intel.com/")
    assert PcsSettings(base_url="https://pccs:8081").root_crl_url() == "https://pccs:8081/sgx/certification/v4/rootcacrl"
    assert PcsSettings(root_ca_crl_url="https://crl/x").root_crl_url() == "https://crl/x"


def test_collateral_keys_check_every_part() -> None:
    for bad in [dict(fmspc=bytes(5)), dict(ca="other"), dict(tee="SEV"), dict(update="late"),
                dict(tcb_evaluation_data_number=-1), dict(tcb_evaluation_data_number=2**32)]:
        with pytest.raises(ValueError):
            CollateralKey(**({"fmspc": DEFAULT_FMSPC, "ca": "processor"} | bad))  # type: ignore[arg-type]
    assert KEY.evaluation_query() == "update=standard"
    numbered = CollateralKey(DEFAULT_FMSPC, "platform", "TDX", "early", 18)
    assert numbered.evaluation_query() == "tcbEvaluationDataNumber=18"
    assert numbered.label() == "TDX FMSPC 00906EA10000 platform CA tcbEvaluationDataNumber=18"
    settings = PcsSettings(update="early", tcb_evaluation_data_number=17)
    assert settings.key(DEFAULT_FMSPC, "processor") == CollateralKey(DEFAULT_FMSPC, "processor", "SGX", "early", 17)
    assert settings.key(DEFAULT_FMSPC, "processor", update="standard").tcb_evaluation_data_number is None
    with pytest.raises(ValueError, match="update type"):
        PcsSettings(update="sometimes")


def test_tcb_evaluation_data_set_is_requested_and_echoed() -> None:
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec()}, Clock())
    mock.evaluations = Evaluations(standard=17, early=18, available={16, 17, 18})
    transport = Recording()
    with ServerThread(create_app(mock)) as server:
        settings = PcsSettings(base_url=server.url, retries=0, timeout=5)
        with PcsClient(settings, transport=transport) as pcs:
            standard = pcs.fetch(KEY)
            early = pcs.fetch_collateral(DEFAULT_FMSPC, "processor", update="early")
            sixteen = pcs.fetch(CollateralKey(DEFAULT_FMSPC, "processor", update="early", tcb_evaluation_data_number=16))
            with pytest.raises(ServiceNotFound, match="SGX TCB info"):
                pcs.fetch(CollateralKey(DEFAULT_FMSPC, "processor", tcb_evaluation_data_number=99))
            # A service answering with another data set than the one asked for is refused before caching.
            mock.specs[DEFAULT_FMSPC] = spec(extra={"tcb_info": {"tcbEvaluationDataNumber": 17}})
            with pytest.raises(ServiceError, match="TCB info of evaluation data number 17 to a request for .*=16"):
                pcs.fetch(CollateralKey(DEFAULT_FMSPC, "processor", tcb_evaluation_data_number=16))
            mock.specs[DEFAULT_FMSPC] = spec(extra={"qe_identity": {"tcbEvaluationDataNumber": 18}})
            with pytest.raises(ServiceError, match="^PCS answered QE identity of evaluation data number 18 to"):
                pcs.fetch(CollateralKey(DEFAULT_FMSPC, "processor", tcb_evaluation_data_number=16))
    numbers = [TcbInfo.parse(c.tcb_info).tcb_evaluation_data_number for c in (standard, early, sixteen)]
    assert numbers == [17, 18, 16]
    assert [json.loads(c.qe_identity)["tcbEvaluationDataNumber"] for c in (standard, early, sixteen)] == [17, 18, 16]
    tcb_paths = [p for p in transport.paths if "/tcb?" in p]
    assert tcb_paths[:3] == ["/sgx/certification/v4/tcb?fmspc=00906EA10000&update=standard",
                             "/sgx/certification/v4/tcb?fmspc=00906EA10000&update=early",
                             "/sgx/certification/v4/tcb?fmspc=00906EA10000&tcbEvaluationDataNumber=16"]
    assert [p.split("?")[1] for p in transport.paths if "/qe/identity" in p][:3] == [
        "update=standard", "update=early", "tcbEvaluationDataNumber=16"]


def test_mock_refuses_unreadable_evaluation_choices() -> None:
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec()}, Clock())
    with ServerThread(create_app(mock)) as server:
        for query, status in (("update=sometimes", 400), ("tcbEvaluationDataNumber=x", 400),
                              ("tcbEvaluationDataNumber=16", 404), ("update=early", 200)):
            answer = httpx.get(f"{server.url}/sgx/certification/v4/qe/identity?{query}")
            assert answer.status_code == status, query


def test_service_provider_verifier_asks_for_its_evaluation_data_set() -> None:
    asked: list[CollateralKey] = []

    def source(key: CollateralKey) -> Collateral:
        asked.append(key)
        PKI.now = NOW
        return PKI.collateral(spec())

    verifier = DcapQuoteVerifier(source, clock=lambda: NOW, verifier=DcapVerifier(PKI.root), update="early")
    assert verifier.verify_quote(quote()).status == "UpToDate"
    assert asked == [CollateralKey(DEFAULT_FMSPC, "processor", "SGX", "early")]
    with pytest.raises(ValueError, match="u32"):
        DcapQuoteVerifier(source, clock=lambda: NOW, tcb_evaluation_data_number=-1)
