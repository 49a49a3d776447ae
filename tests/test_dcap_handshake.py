"""msg3 carrying an ECDSA quote: the SP verifies it locally with the same policy, no IAS involved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import IDENTITY, SPID
from dcap_env import NOW, PKI, QE, level, quote, spec
from sgxra import crypto
from sgxra.errors import MalformedMessage
from sgxra.pcs.verifier import DcapQuoteVerifier
from sgxra.protocol import AttestationOutcome, ClientSession, ServiceProviderSession, SpConfig, SpState, complete_with
from sgxra.sim import SAMPLE_SP_PRIVATE_KEY_LE, SimEnclave
from sgxra.validate import Policy
from sgxra.verify.dcap import DcapVerifier
from sgxra.wire import AttestationStatus, Msg0Msg1, Msg3
from sgxra.wire.collateral import Collateral, TcbStatus


def run(collateral: Collateral, policy: Policy) -> tuple[ClientSession, ServiceProviderSession, AttestationOutcome]:
    config = SpConfig(signing_key=crypto.private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE), spid=SPID, policy=policy)
    client, sp = ClientSession(SimEnclave(QE, IDENTITY)), ServiceProviderSession(config)
    verifier = DcapQuoteVerifier(lambda key: collateral, clock=lambda: NOW, verifier=DcapVerifier(PKI.root))
    need = sp.receive_msg0_msg1(client.start())
    assert need.gid == 0
    outcome = complete_with(sp, client.receive_msg2(sp.send_msg2()), verifier)
    return client, sp, outcome


POLICY = Policy(mr_signers=frozenset({IDENTITY.mr_signer}), allow_simulated=True)


def test_ecdsa_handshake_is_trusted() -> None:
    client, sp, outcome = run(PKI.collateral(spec()), POLICY)
    assert outcome.msg4.status is AttestationStatus.Trusted, outcome.reason
    assert outcome.evidence is not None and outcome.evidence.kind == "ecdsa" and outcome.evidence.simulated
    assert sp.keys == client.keys


def test_tcb_status_and_advisories_map_onto_the_policy() -> None:
    collateral = PKI.collateral(spec(level(TcbStatus.SWHardeningNeeded, "INTEL-SA-00615")))
    _, _, refused = run(collateral, POLICY)
    assert refused.msg4.status is AttestationStatus.NotTrusted_ItsComplicated
    assert "SWHardeningNeeded is not accepted" in refused.reason
    lenient = Policy(mr_signers=POLICY.mr_signers, allow_simulated=True,
                     accepted_statuses=frozenset({"UpToDate", "SWHardeningNeeded"}))
    _, _, still = run(collateral, lenient)
    assert "INTEL-SA-00615" in still.reason
    accepting = Policy(mr_signers=POLICY.mr_signers, allow_simulated=True,
                       accepted_statuses=frozenset({"UpToDate", "SWHardeningNeeded"}),
                       accepted_advisories=frozenset({"INTEL-SA-00615"}))
    _, _, accepted = run(collateral, accepting)
    assert accepted.msg4.status is AttestationStatus.Trusted_ItsComplicated


def test_expired_collateral_gets_not_trusted() -> None:
    _, _, outcome = run(PKI.collateral(spec(issued=NOW - timedelta(days=60))), POLICY)
    assert outcome.msg4.status is AttestationStatus.NotTrusted
    assert "expired" in outcome.reason


def test_msg1_gid_is_zero_for_ecdsa() -> None:
    msg01 = Msg0Msg1.parse(ClientSession(SimEnclave(QE, IDENTITY)).start())
    assert msg01.msg1.gid == bytes(4)


def test_unknown_quote_version_in_msg3_is_refused() -> None:
    config = SpConfig(signing_key=crypto.private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE), spid=SPID, policy=POLICY)
    client, sp = ClientSession(SimEnclave(QE, IDENTITY)), ServiceProviderSession(config)
    sp.receive_msg0_msg1(client.start())
    msg3 = Msg3.parse(client.receive_msg2(sp.send_msg2()))
    forged_quote = b"\x09\x00" + msg3.quote[2:]
    smk = sp._pending.smk if sp._pending else b""  # the peer knows SMK; only the quote parser can refuse
    unsigned = Msg3(bytes(16), msg3.g_a, msg3.ps_sec_prop, forged_quote)
    forged = Msg3(crypto.aes_cmac(smk, unsigned.mac_covered_bytes()), msg3.g_a, msg3.ps_sec_prop, forged_quote)
    with pytest.raises(MalformedMessage, match="unknown quote version 9"):
        sp.receive_msg3(forged.to_bytes())
    assert sp.state is SpState.ERROR


def test_a_policy_s_platform_rules_judge_the_sp_s_evidence() -> None:
    """Collateral age, TCB evaluation data number and the OutOfDate grace period read the verifier's facts in
    the SP too (its evidence once carried none of them, so each such rule refused every quote)."""
    collateral = PKI.collateral(spec(level(TcbStatus.OutOfDate), issued=NOW - timedelta(days=2)))

    def policy(**rules: object) -> Policy:
        lenient: dict[str, object] = {
            "accepted_statuses": frozenset({"UpToDate", "OutOfDate"}), "accepted_advisories": frozenset({"*"}),
            "max_collateral_age": timedelta(days=3), "min_tcb_evaluation_data_number": 1,
            "platform_grace_period": timedelta(days=365 * 100)}
        return Policy(mr_signers=POLICY.mr_signers, allow_simulated=True, **(lenient | rules))  # type: ignore[arg-type]

    _, _, accepted = run(collateral, policy())
    assert accepted.msg4.status is AttestationStatus.Trusted_ItsComplicated, accepted.reason
    _, _, old = run(collateral, policy(max_collateral_age=timedelta(days=1)))
    assert old.msg4.status is not AttestationStatus.Trusted_ItsComplicated and "is older than 1 day" in old.reason
    _, _, low = run(collateral, policy(min_tcb_evaluation_data_number=10**6))
    assert "is below the minimum 1000000" in low.reason
    _, _, late = run(collateral, policy(platform_grace_period=timedelta(0)))
    assert "grace period ended" in late.reason


def test_the_sp_judges_collateral_at_a_time_after_fetching_it() -> None:
    """A source answering with collateral issued as it answers (the PCS mock, a lazy PCCS in front of it) must
    not have it judged at a moment before the fetch, when it was not yet valid."""
    clock = [NOW + timedelta(milliseconds=900)]

    def fetch_taking_1_5_s(_: object) -> Collateral:
        clock[0] += timedelta(milliseconds=1500)
        return PKI.collateral(spec(issued=clock[0].replace(microsecond=0)))

    verifier = DcapQuoteVerifier(fetch_taking_1_5_s, clock=lambda: clock[0], verifier=DcapVerifier(PKI.root, cache=False))
    assert verifier.verify_quote(quote()).status == "UpToDate"
