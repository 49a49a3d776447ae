"""API v3 advisories travel as HTTP headers; v4 and v5 carry them in the signed body. Real HTTP on loopback."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from conftest import IDENTITY, World
from ias_env import KEY, PKI, client_for, now, quote_from, running_mock
from servers import ServerThread
from sgxra.errors import ServiceError, VerificationError
from sgxra.ias import IasVerifier
from sgxra.ias.mock import MockIas, create_app
from sgxra.ias.mock_config import MockIasConfig, MockPlatform
from sgxra.protocol import complete_with
from sgxra.validate import Policy
from sgxra.wire import AttestationStatus
from sgxra.wire.ias_report import QuoteStatus

SA_334, SA_615 = "INTEL-SA-00334", "INTEL-SA-00615"
HARDENING = MockPlatform("p", status=QuoteStatus.SW_HARDENING_NEEDED, advisories=(SA_334, SA_615))


def config(platform: MockPlatform) -> MockIasConfig:
    return MockIasConfig(subscription_keys=(KEY,), platforms=(platform,))


def accepting(*advisories: str) -> Policy:
    return Policy(mr_signers=frozenset({IDENTITY.mr_signer}), allow_simulated=True,
                  accepted_statuses=frozenset({"OK", "SW_HARDENING_NEEDED"}), accepted_advisories=frozenset(advisories))


def test_v3_sends_advisories_as_headers_and_the_client_reads_them() -> None:
    with running_mock(config(HARDENING)) as (_, server), client_for(server, api_version=3) as client:
        response = client.get_report(quote_from("p"))
        evidence = IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))
    assert b"advisoryIDs" not in response.body and b'"version":3' in response.body
    assert response.header_advisory_ids == (SA_334, SA_615)
    assert response.header_advisory_url == "https://security-center.intel.com"
    assert evidence.status == "SW_HARDENING_NEEDED" and evidence.advisory_ids == (SA_334, SA_615)
    assert evidence.details["advisories_from_headers"] == f"{SA_334},{SA_615}"


def test_policy_accepting_sw_hardening_refuses_a_v3_advisory_it_does_not_accept() -> None:
    with running_mock(config(HARDENING)) as (_, server), client_for(server, api_version=3) as client:
        evidence = IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))
    refused = accepting(SA_334).violations(evidence)
    assert [str(v) for v in refused] == [f"advisories: not accepted: {SA_615}"]
    assert accepting(SA_334, SA_615).violations(evidence) == []


def test_v3_handshake_is_refused_for_a_header_advisory_the_policy_does_not_accept() -> None:
    world = World(accepting(SA_334))
    platform = MockPlatform("test platform", status=QuoteStatus.SW_HARDENING_NEEDED, advisories=(SA_334, SA_615))
    client, sp = world.pair()
    with ServerThread(create_app(MockIas(config(platform), PKI, now))) as server:
        with client_for(server, api_version=3) as ias:
            sp.receive_msg0_msg1(client.start())
            msg3 = client.receive_msg2(sp.send_msg2())
            outcome = complete_with(sp, msg3, IasVerifier(ias, clock=now, root=PKI.root))
    assert outcome.msg4.status is not AttestationStatus.Trusted
    assert SA_615 in outcome.reason and outcome.evidence is not None
    assert outcome.evidence.advisory_ids == (SA_334, SA_615)


@pytest.mark.parametrize("version", [4, 5])
def test_v4_and_v5_merge_header_advisories_after_the_signed_ones(version: int) -> None:
    platform = MockPlatform("p", status=QuoteStatus.SW_HARDENING_NEEDED, advisories=(SA_334,))
    with running_mock(config(platform)) as (mock, server), client_for(server, api_version=version) as client:
        mock.report_faults.header_advisories = (SA_615, SA_334)
        response = client.get_report(quote_from("p"))
        evidence = IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))
    assert f'"advisoryIDs":["{SA_334}"]'.encode() in response.body
    assert response.header_advisory_ids == (SA_615, SA_334)
    assert evidence.advisory_ids == (SA_334, SA_615)  # the signed one stays first; a header only adds
    assert evidence.details["advisories_from_headers"] == SA_615
    assert [str(v) for v in accepting(SA_334).violations(evidence)] == [f"advisories: not accepted: {SA_615}"]


@pytest.mark.parametrize("version", [3, 5])
def test_hardening_report_naming_no_advisory_is_refused(version: int) -> None:
    platform = MockPlatform("p", status=QuoteStatus.SW_HARDENING_NEEDED)  # v3: as if the headers were stripped
    with running_mock(config(platform)) as (_, server), client_for(server, api_version=version) as client:
        with pytest.raises(VerificationError, match="names no advisory .*stripped"):
            IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))


def test_unreadable_advisory_header_fails_closed() -> None:
    with running_mock(config(HARDENING)) as (mock, server), client_for(server, api_version=3) as client:
        mock.report_faults.header_advisories = ("INTEL SA;00615",)
        with pytest.raises(ServiceError, match="unreadable Advisory-IDs"):
            client.get_report(quote_from("p"))


def test_the_sp_judges_an_ias_report_s_age_by_the_policy_s_collateral_age() -> None:
    """The report is Intel's statement at its timestamp: an SP policy's max_collateral_age bounds it, as it bounds
    IasResult's in the one call (the SP's evidence once carried no date, so the rule refused every report)."""
    ok = MockPlatform("p", status=QuoteStatus.OK)
    with running_mock(config(ok)) as (_, server), client_for(server) as client:
        evidence = IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p"))
    assert evidence.collateral_issued is not None and evidence.verified_at is not None
    fresh = Policy(mr_signers=frozenset({IDENTITY.mr_signer}), allow_simulated=True,
                   max_collateral_age=timedelta(minutes=10))
    assert fresh.violations(evidence) == []
    later = dataclasses.replace(evidence, verified_at=evidence.collateral_issued + timedelta(hours=1))
    assert [v.rule for v in fresh.violations(later)] == ["collateral_age"]
