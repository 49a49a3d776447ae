"""The IAS client against the mock IAS over real HTTP on loopback."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ias_env import GID, KEY, PKI, client_for, now, quote_from, running_mock
from sgxra.errors import (
    ServiceAuthError,
    ServiceBadRequest,
    ServiceNotFound,
    ServiceUnavailable,
    VerificationError,
)
from sgxra.ias import (
    AsyncIasClient,
    AsyncIasVerifier,
    IasClient,
    IasSettings,
    IasVerifier,
)
from sgxra.ias.mock_config import MockGroup, MockIasConfig, MockPlatform
from sgxra.verify import verify_report
from sgxra.wire import QuoteSignType
from sgxra.wire.ias_report import QuoteStatus


def config(*platforms: MockPlatform, groups: tuple[MockGroup, ...] = (), keys: tuple[str, ...] = (KEY,)) -> MockIasConfig:
    return MockIasConfig(subscription_keys=keys, platforms=platforms, groups=groups)


def test_sigrl_empty_configured_and_unknown() -> None:
    sigrl = b"\x00\x02" + b"R" * 126
    mock_config = config(MockPlatform("p", gid=0x1234), groups=(MockGroup(GID, sigrl=sigrl),))
    with running_mock(mock_config) as (_, server), client_for(server) as client:
        assert client.get_sigrl(GID) == sigrl
        assert client.get_sigrl(0x1234) == b""  # a platform's group without a SigRL
        with pytest.raises(ServiceNotFound, match="EPID group 00001235 is not known"):
            client.get_sigrl(0x1235)


def test_report_is_signed_and_verifiable() -> None:
    quote = quote_from("alpha")
    with running_mock(config(MockPlatform("alpha"))) as (_, server), client_for(server, api_version=5) as client:
        response = client.get_report(quote, nonce="n" * 32)
    assert response.request_id and len(response.chain) == 2
    report = verify_report(response.body, response.signature, chain=response.chain, at=now(), root=PKI.root,
                           api_version=5, quote=quote, nonce="n" * 32, max_age=timedelta(minutes=1))
    assert report.status == "OK" and report.tcb_evaluation_data_number == 16
    assert report.quote.report_body.report_data == b"\x42" * 64


def test_401_then_secondary_key() -> None:
    with running_mock(config(MockPlatform("alpha"))) as (mock, server):
        with client_for(server, primary_key="wrong", secondary_key=KEY) as client:
            assert client.get_sigrl(GID) == b""
        assert mock.requests == 2
        with client_for(server, primary_key="wrong", secondary_key="also-wrong") as client:
            with pytest.raises(ServiceAuthError, match="HTTP 401") as info:
                client.get_sigrl(GID)
            assert info.value.request_id


def test_400_on_a_malformed_quote() -> None:
    with running_mock(config(MockPlatform("alpha"))) as (_, server), client_for(server) as client:
        with pytest.raises(ServiceBadRequest, match="HTTP 400"):
            client.get_report(b"\x02\x00" + bytes(500))


def test_404_on_an_unknown_path() -> None:
    with running_mock(config()) as (_, server):
        with IasClient(IasSettings(base_url=server.url + "/nowhere", primary_key=KEY, retries=0)) as client:
            with pytest.raises(ServiceNotFound, match="HTTP 404"):
                client.get_sigrl(GID)


def test_503_then_success_after_retry() -> None:
    with running_mock(config(MockPlatform("alpha"))) as (mock, server), client_for(server, retries=2) as client:
        mock.faults.unavailable = 2
        assert client.get_sigrl(GID) == b""
        assert mock.requests == 3
        mock.faults.unavailable = 5
        with pytest.raises(ServiceUnavailable, match="HTTP 503"):
            client.get_sigrl(GID)


def test_timeout_is_a_typed_error() -> None:
    with running_mock(config(MockPlatform("alpha"))) as (mock, server):
        mock.faults.delay = 1.0
        with client_for(server, timeout=0.2, retries=1) as client, pytest.raises(ServiceUnavailable, match="timed out"):
            client.get_sigrl(GID)


def test_connection_refused_is_a_typed_error() -> None:
    with running_mock(config()) as (_, server):
        url = server.url
    with IasClient(IasSettings(base_url=url, primary_key=KEY, retries=1, backoff=0.01)) as client:
        with pytest.raises(ServiceUnavailable, match="unreachable"):
            client.get_sigrl(GID)


OUTCOMES = [
    (MockPlatform("p", status=QuoteStatus.OK), "OK", False, ()),
    (MockPlatform("p", status=QuoteStatus.GROUP_OUT_OF_DATE), "GROUP_OUT_OF_DATE", True, ()),
    (MockPlatform("p", status=QuoteStatus.CONFIGURATION_NEEDED), "CONFIGURATION_NEEDED", True, ()),
    (MockPlatform("p", status=QuoteStatus.SW_HARDENING_NEEDED, advisories=("INTEL-SA-00334", "INTEL-SA-00615")),
     "SW_HARDENING_NEEDED", True, ("INTEL-SA-00334", "INTEL-SA-00615")),
    (MockPlatform("p", status=QuoteStatus.KEY_REVOKED, revocation_reason=2), "KEY_REVOKED", False, ()),
]


@pytest.mark.parametrize(("platform", "status", "has_pib", "advisories"), OUTCOMES)
def test_each_configured_outcome_gives_the_matching_typed_report(
    platform: MockPlatform, status: str, has_pib: bool, advisories: tuple[str, ...]
) -> None:
    with running_mock(config(platform)) as (_, server), client_for(server) as client:
        evidence = IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))
    assert evidence.status == status and evidence.kind == "epid" and evidence.simulated
    assert (evidence.platform_info_blob is not None) == has_pib
    assert evidence.advisory_ids == advisories
    if status == "KEY_REVOKED":
        assert evidence.details["revocation_reason"] == "2"
    if status == "GROUP_OUT_OF_DATE":
        assert evidence.platform_info_blob is not None
        assert evidence.platform_info_blob.gid == GID
        assert "QE_EPID_GROUP_OUT_OF_DATE" in evidence.platform_info_blob.flag_names["sgx_epid_group_flags"]


def test_group_revoked() -> None:
    groups = (MockGroup(GID, revoked=True),)
    with running_mock(config(MockPlatform("p"), groups=groups)) as (_, server), client_for(server) as client:
        evidence = IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))
    assert evidence.status == "GROUP_REVOKED" and evidence.platform_info_blob is not None


def test_signature_invalid_is_not_evidence() -> None:
    with running_mock(config(MockPlatform("registered"))) as (_, server), client_for(server) as client:
        verifier = IasVerifier(client, clock=now, root=PKI.root)
        with pytest.raises(VerificationError, match="EPID signature is invalid"):
            verifier.verify_quote(quote_from("stranger"))
        response = client.get_report(quote_from("stranger"))
    assert b'"isvEnclaveQuoteStatus":"SIGNATURE_INVALID"' in response.body


def test_linkable_quotes_carry_a_stable_pseudonym() -> None:
    with running_mock(config(MockPlatform("p"))) as (_, server), client_for(server) as client:
        verifier = IasVerifier(client, clock=now, root=PKI.root)
        first = verifier.verify_quote(quote_from("p", quote_type=QuoteSignType.LINKABLE))
        second = verifier.verify_quote(quote_from("p", quote_type=QuoteSignType.LINKABLE))
        unlinkable = verifier.verify_quote(quote_from("p"))
    assert first.epid_pseudonym is not None and first.epid_pseudonym == second.epid_pseudonym
    assert unlinkable.epid_pseudonym is None


def test_verifier_pointed_at_intel_root_refuses_the_mock() -> None:
    with running_mock(config(MockPlatform("p"))) as (_, server), client_for(server) as client:
        with pytest.raises(VerificationError, match="not validly signed|pinned root"):
            IasVerifier(client, clock=now).verify_quote(quote_from("p"))


def test_async_client_and_verifier() -> None:
    async def scenario(url: str) -> tuple[bytes, str]:
        settings = IasSettings(base_url=url, primary_key="bad", secondary_key=KEY, backoff=0.01)
        async with AsyncIasClient(settings) as client:
            sigrl = await client.get_sigrl(GID)
            evidence = await AsyncIasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))
        return sigrl, evidence.status

    groups = (MockGroup(GID, sigrl=b"sigrl"),)
    with running_mock(config(MockPlatform("p"), groups=groups)) as (mock, server):
        mock.faults.unavailable = 1
        sigrl, status = asyncio.run(scenario(server.url))
    assert sigrl == b"sigrl" and status == "OK"


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="version"):
        IasSettings(api_version=2, primary_key=KEY)
    with pytest.raises(ValueError, match="subscription key"):
        IasSettings()
    assert KEY not in repr(IasSettings(primary_key=KEY, secondary_key=KEY))
