"""In-process handshakes between the simulated client and the SP state machine."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import IDENTITY, World, flip
from sgxra import crypto
from sgxra.errors import (
    BadMac,
    BadSignature,
    BindingMismatch,
    GroupMismatch,
    InvalidPoint,
    KeyMismatch,
    LocalProtocolError,
    MalformedMessage,
    RemoteProtocolError,
    SgxRaError,
    UnexpectedMessage,
    VerificationError,
)
from sgxra.protocol import (
    ClientSession,
    ClientState,
    EvidenceNeeded,
    ServiceProviderSession,
    SpPendingState,
    SpState,
    complete_with,
)
from sgxra.protocol.msg4 import seal_msg4
from sgxra.sim import EnclaveIdentity, SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.validate import Policy
from sgxra.wire import AttestationStatus, EpidQuote, Msg0Msg1, Msg1, Msg3, QuoteSignType
from sgxra.wire.msg4_auth import MAX_SECRET, AuthenticatedMsg4, ReasonCode


def handshake_to_msg3(world: World, identity: EnclaveIdentity = IDENTITY) -> tuple[ClientSession, ServiceProviderSession, bytes]:
    client, sp = world.pair(identity)
    sp.receive_msg0_msg1(client.start())
    msg3 = client.receive_msg2(sp.send_msg2())
    return client, sp, msg3


def test_handshake_agrees_on_keys_and_trusts_the_enclave(world: World) -> None:
    client, sp, msg3 = handshake_to_msg3(world)
    outcome = complete_with(sp, msg3, world.verifier)
    sk, mk = sp.keys
    sealed = seal_msg4(outcome.msg4.status, outcome.reason_code, outcome.msg4.platform_info_blob, sk=sk, mk=mk,
                       secret=b"the secret")
    verdict = client.receive_msg4(sealed)
    assert verdict.status is AttestationStatus.Trusted and verdict.authenticated and outcome.trusted
    assert verdict.secret == b"the secret" and verdict.reason is ReasonCode.NONE
    assert sp.keys == client.keys and len(sp.keys[0]) == 16 and sp.keys[0] != sp.keys[1]
    assert outcome.evidence is not None and outcome.evidence.report_body.mr_signer == IDENTITY.mr_signer
    assert sp.state is SpState.DONE and client.state is ClientState.DONE


def test_sample_msg4_only_when_allowed(world: World) -> None:
    for required in (True, False):
        client = ClientSession(world.enclave(), require_authenticated_msg4=required)
        sp = ServiceProviderSession(world.config)
        sp.receive_msg0_msg1(client.start())
        outcome = complete_with(sp, client.receive_msg2(sp.send_msg2()), world.verifier)
        if required:
            with pytest.raises(RemoteProtocolError, match="could be forged"):
                client.receive_msg4(outcome.msg4.to_bytes())
        else:
            verdict = client.receive_msg4(outcome.msg4.to_bytes())
            assert verdict.trusted and not verdict.authenticated and verdict.secret is None


def test_forged_msg4_is_refused(world: World) -> None:
    client, sp, msg3 = handshake_to_msg3(world)
    outcome = complete_with(sp, msg3, world.verifier)
    sealed = seal_msg4(AttestationStatus.NotTrusted, ReasonCode.POLICY, outcome.msg4.platform_info_blob,
                       sk=b"\x00" * 16, mk=b"\x00" * 16)  # an attacker without MK
    with pytest.raises(BadMac, match="msg4"):
        client.receive_msg4(sealed)


def test_an_oversized_sealed_secret_is_refused_as_a_bound(world: World) -> None:
    client, sp, msg3 = handshake_to_msg3(world)
    msg4 = complete_with(sp, msg3, world.verifier).msg4
    with pytest.raises(MalformedMessage, match=f"'secret'.*must be at most {MAX_SECRET + 16} bytes, got"):
        AuthenticatedMsg4(msg4.status, ReasonCode.POLICY, msg4.platform_info_blob, bytes(12),
                          bytes(MAX_SECRET + 17), bytes(16))


def test_msg0_and_msg1_may_arrive_separately(world: World) -> None:
    client, sp = world.pair()
    msg01 = Msg0Msg1.parse(client.start())
    sp.receive_msg0(msg01.msg0.to_bytes())
    need = sp.receive_msg1(msg01.msg1.to_bytes())
    assert need.gid == world.platform.gid
    outcome = complete_with(sp, client.receive_msg2(sp.send_msg2()), world.verifier)
    assert outcome.trusted


def test_pending_state_survives_json_and_holds_no_private_key(world: World) -> None:
    client, sp = world.pair()
    sp.receive_msg0_msg1(client.start())
    msg2 = sp.send_msg2()
    saved = sp.pending.to_json()
    assert "private" not in saved and len(saved) < 1024
    resumed = ServiceProviderSession.resume(world.config, SpPendingState.from_json(saved))
    outcome = complete_with(resumed, client.receive_msg2(msg2), world.verifier)
    assert outcome.trusted and resumed.keys == client.keys


@pytest.mark.parametrize(
    ("identity", "policy", "rule"),
    [
        (EnclaveIdentity(mr_signer=b"\x11" * 32), Policy(mr_signers=frozenset({IDENTITY.mr_signer})), "mr_signer"),
        (IDENTITY, Policy(mr_enclaves=frozenset({b"\x22" * 32})), "mr_enclave"),
        (EnclaveIdentity(isv_prod_id=7), Policy(mr_signers=frozenset({IDENTITY.mr_signer}), isv_prod_id=0), "isv_prod_id"),
        (EnclaveIdentity(isv_svn=1), Policy(mr_signers=frozenset({IDENTITY.mr_signer}), min_isv_svn=2), "isv_svn"),
        (EnclaveIdentity(debug=True), Policy(mr_signers=frozenset({IDENTITY.mr_signer})), "debug"),
        (IDENTITY, Policy(), "identity"),
    ],
)
def test_verdict_reflects_the_enclave_identity(identity: EnclaveIdentity, policy: Policy, rule: str) -> None:
    world = World(dataclasses.replace(policy, allow_simulated=True))
    client, sp, msg3 = handshake_to_msg3(world, identity)
    outcome = complete_with(sp, msg3, world.verifier)
    assert outcome.msg4.status is AttestationStatus.NotTrusted
    assert [v.rule for v in outcome.violations] == [rule]
    assert rule in outcome.reason


def test_debug_enclave_accepted_when_policy_allows_it() -> None:
    world = World(Policy(mr_signers=frozenset({IDENTITY.mr_signer}), allow_debug=True, allow_simulated=True))
    _, sp, msg3 = handshake_to_msg3(world, EnclaveIdentity(debug=True))
    assert complete_with(sp, msg3, world.verifier).trusted


def test_simulated_evidence_refused_unless_allowed() -> None:
    world = World(Policy(mr_signers=frozenset({IDENTITY.mr_signer})))
    _, sp, msg3 = handshake_to_msg3(world)
    outcome = complete_with(sp, msg3, world.verifier)
    assert not outcome.trusted and [v.rule for v in outcome.violations] == ["simulated"]


def test_unregistered_platform_gets_not_trusted(world: World) -> None:
    stranger = SimPlatform.from_seed(b"unregistered", gid=world.platform.gid)
    client = ClientSession(SimEnclave(SimQuotingEnclave(stranger)))
    sp = ServiceProviderSession(world.config)
    sp.receive_msg0_msg1(client.start())
    outcome = complete_with(sp, client.receive_msg2(sp.send_msg2()), world.verifier)
    assert outcome.msg4.status is AttestationStatus.NotTrusted
    assert "not registered" in outcome.reason and outcome.evidence is None


def test_every_single_byte_change_to_msg2_is_refused_by_the_client(world: World) -> None:
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    client = ClientSession(world.enclave(ephemeral_key=ephemeral))
    sp = ServiceProviderSession(world.config)
    sp.receive_msg0_msg1(client.start())
    msg2 = sp.send_msg2()
    assert len(msg2) == 168
    regions: list[tuple[range, tuple[type[SgxRaError], ...]]] = [
        (range(0, 64), (InvalidPoint, BadSignature)),  # g_b: off the curve, or not what was signed
        (range(64, 80), (BadMac,)),  # spid
        (range(80, 82), (MalformedMessage, BadMac)),  # quote_type: 2.. is malformed, 0<->1 breaks the MAC
        (range(82, 84), (RemoteProtocolError,)),  # kdf_id
        (range(84, 148), (BadSignature,)),  # sign_gb_ga
        (range(148, 164), (BadMac,)),  # mac
        (range(164, 168), (MalformedMessage,)),  # sig_rl_size larger than the data
    ]
    for region, expected in regions:
        for i in region:
            victim = ClientSession(world.enclave(ephemeral_key=ephemeral))
            victim.start()
            with pytest.raises(expected):
                victim.receive_msg2(flip(msg2, i))
            assert victim.state is ClientState.ERROR
    # The untouched msg2 still works with the same ephemeral key.
    fresh = ClientSession(world.enclave(ephemeral_key=ephemeral))
    fresh.start()
    assert fresh.receive_msg2(msg2)


def test_every_single_byte_change_to_msg3_is_refused_by_the_sp(world: World) -> None:
    client, sp = world.pair()
    sp.receive_msg0_msg1(client.start())
    msg3 = client.receive_msg2(sp.send_msg2())
    saved = sp.pending
    for i in range(len(msg3)):
        victim = ServiceProviderSession.resume(world.config, saved)
        expected = KeyMismatch if 16 <= i < 80 else BadMac
        with pytest.raises(expected):
            victim.receive_msg3(flip(msg3, i))
        assert victim.state is SpState.ERROR
    intact = ServiceProviderSession.resume(world.config, saved)
    assert complete_with(intact, msg3, world.verifier).trusted


def test_off_curve_g_a_in_msg1_is_refused(world: World) -> None:
    sp = ServiceProviderSession(world.config)
    msg1 = Msg1(g_a=(1).to_bytes(32, "little") * 2, gid=b"\xe0\x0a\x00\x00")
    with pytest.raises(InvalidPoint, match="not on the P-256 curve"):
        sp.receive_msg0_msg1(bytes(4) + msg1.to_bytes())
    assert sp.state is SpState.ERROR


def test_g_a_in_msg3_differing_from_msg1_is_refused(world: World) -> None:
    client, sp, msg3 = handshake_to_msg3(world)
    other = crypto.public_key_to_point(ec.generate_private_key(ec.SECP256R1()).public_key())
    parsed = Msg3.parse(msg3)
    with pytest.raises(KeyMismatch):
        sp.receive_msg3(Msg3(parsed.mac, other, parsed.ps_sec_prop, parsed.quote).to_bytes())


def test_gid_mismatch_is_refused_even_with_a_valid_mac(world: World) -> None:
    client, sp, msg3 = handshake_to_msg3(world)
    parsed = Msg3.parse(msg3)
    quote = EpidQuote.parse(parsed.quote)
    forged_quote = dataclasses.replace(quote, epid_group_id=b"\x01\x02\x03\x04").to_bytes()
    smk = sp._pending.smk if sp._pending else b""  # the peer knows SMK: only the GID check can catch this
    unsigned = Msg3(bytes(16), parsed.g_a, parsed.ps_sec_prop, forged_quote)
    forged = Msg3(crypto.aes_cmac(smk, unsigned.mac_covered_bytes()), parsed.g_a, parsed.ps_sec_prop, forged_quote)
    with pytest.raises(GroupMismatch, match="01020304"):
        sp.receive_msg3(forged.to_bytes())


def test_quote_bound_to_another_session_is_refused(world: World) -> None:
    _, sp_a, msg3_a = handshake_to_msg3(world)
    _, sp_b, msg3_b = handshake_to_msg3(world)
    # Session A's genuine evidence offered to session B (whose msg3 was authentic).
    sp_b.receive_msg3(msg3_b)
    evidence_a = world.verifier.verify_quote(Msg3.parse(msg3_a).quote)
    with pytest.raises(VerificationError, match="different report body"):
        sp_b.receive_evidence(evidence_a)


def test_report_data_not_bound_is_refused(world: World) -> None:
    class UnboundEnclave:
        """Signs a correct msg3 but puts the wrong report_data in its quote."""

        def __init__(self) -> None:
            self.inner = world.enclave()

        def extended_epid_group_id(self) -> int:
            return 0

        def get_msg1(self) -> Msg1:
            return self.inner.get_msg1()

        def proc_msg2(self, msg2: object) -> Msg3:
            msg3 = self.inner.proc_msg2(msg2)  # type: ignore[arg-type]
            body = IDENTITY.report_body(bytes(64))
            quote = SimQuotingEnclave(world.platform).get_quote(body, QuoteSignType.UNLINKABLE, b"\x00" * 16)
            smk = self.inner._keys.smk if self.inner._keys else b""
            unsigned = Msg3(bytes(16), msg3.g_a, msg3.ps_sec_prop, quote)
            return Msg3(crypto.aes_cmac(smk, unsigned.mac_covered_bytes()), msg3.g_a, msg3.ps_sec_prop, quote)

        def get_keys(self) -> tuple[bytes, bytes]:
            return self.inner.get_keys()

    client = ClientSession(UnboundEnclave())
    sp = ServiceProviderSession(world.config)
    sp.receive_msg0_msg1(client.start())
    msg3 = client.receive_msg2(sp.send_msg2())
    with pytest.raises(BindingMismatch):
        complete_with(sp, msg3, world.verifier)
    assert sp.state is SpState.ERROR


def test_messages_out_of_order_at_the_sp(world: World) -> None:
    client, sp, msg3 = handshake_to_msg3(world)
    fresh = ServiceProviderSession(world.config)
    with pytest.raises(UnexpectedMessage, match="msg3 is not expected in state wait_msg0"):
        fresh.receive_msg3(msg3)
    assert fresh.state is SpState.ERROR
    with pytest.raises(LocalProtocolError, match="already failed"):
        fresh.receive_msg0_msg1(bytes(72))

    early = ServiceProviderSession(world.config)
    with pytest.raises(LocalProtocolError, match="send_msg2 is not allowed"):
        early.send_msg2()

    twice = ServiceProviderSession(world.config)
    msg01 = ClientSession(world.enclave()).start()
    twice.receive_msg0_msg1(msg01)
    twice.send_msg2()
    with pytest.raises(UnexpectedMessage, match="msg0"):
        twice.receive_msg0_msg1(msg01)


def test_messages_out_of_order_at_the_client(world: World) -> None:
    client, sp = world.pair()
    with pytest.raises(LocalProtocolError, match="not established"):
        _ = client.keys
    with pytest.raises(UnexpectedMessage, match="msg2"):
        client.receive_msg2(bytes(168))
    assert client.state is ClientState.ERROR

    client2, sp2 = world.pair()
    sp2.receive_msg0_msg1(client2.start())
    with pytest.raises(UnexpectedMessage, match="msg4"):
        client2.receive_msg4(bytes(105))


def test_pending_state_is_gone_after_a_failure(world: World) -> None:
    client, sp, msg3 = handshake_to_msg3(world)
    with pytest.raises(BadMac):
        sp.receive_msg3(flip(msg3, 0))
    with pytest.raises(LocalProtocolError):
        _ = sp.pending
    with pytest.raises(LocalProtocolError):
        _ = sp.keys


def test_non_zero_extended_group_is_refused(world: World) -> None:
    client, sp = world.pair()
    msg01 = client.start()
    with pytest.raises(RemoteProtocolError, match="extended EPID group id 1"):
        sp.receive_msg0_msg1(b"\x01" + msg01[1:])


def test_evidence_needed_carries_the_quote(world: World) -> None:
    _, sp, msg3 = handshake_to_msg3(world)
    need = sp.receive_msg3(msg3)
    assert isinstance(need, EvidenceNeeded) and need.quote == Msg3.parse(msg3).quote


@pytest.mark.parametrize("text", ["", "{}", "[]", '{"v": 1}', "x" * 5000])
def test_corrupt_pending_state_is_malformed(text: str) -> None:
    with pytest.raises(MalformedMessage):
        SpPendingState.from_json(text)
