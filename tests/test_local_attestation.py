"""Local attestation: SDK layouts, the LAv1 DH session (both roles), report keys per platform, secure messages."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from conftest import flip
from sgxra import crypto
from sgxra.errors import (
    BadMac,
    LocalProtocolError,
    MalformedMessage,
    PolicyViolation,
    RemoteProtocolError,
    ReportMacMismatch,
    SgxRaError,
    UnexpectedMessage,
)
from sgxra.protocol.evidence import Violation
from sgxra.protocol.local_attestation import MAX_COUNTER, Initiator, LaState, LocalSession, Responder
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.sim.report_keys import SimLocalEnclave, SimReportPlatform
from sgxra.validate.policy import Policy
from sgxra.wire.local_report import (
    DH_MSG1_SIZE,
    DH_MSG2_SIZE,
    DH_MSG3_FIXED_SIZE,
    MAX_SECURE_PAYLOAD,
    REPORT_SIZE,
    SECURE_MESSAGE_HEADER_SIZE,
    TARGET_INFO_SIZE,
    DhMsg1,
    DhMsg2,
    DhMsg3,
    Report,
    SecureMessage,
    TargetInfo,
)
from sgxra.wire.report_body import AttributeFlags, Attributes, ReportBody

SIGNER = hashlib.sha256(b"test enclave signer").digest()
PLATFORM = SimReportPlatform()
INITIATOR_ID = EnclaveIdentity(mr_enclave=hashlib.sha256(b"initiator").digest(), mr_signer=SIGNER, isv_prod_id=1)
RESPONDER_ID = EnclaveIdentity(mr_enclave=hashlib.sha256(b"responder").digest(), mr_signer=SIGNER, isv_prod_id=2)
POLICY = Policy(mr_signers=frozenset({SIGNER}))
ACCEPT = POLICY.check_enclave
KEY_A, KEY_B = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
PROP = b"props\x00\x01\x02"


def responder(enclave: SimLocalEnclave | None = None, check: Callable[[ReportBody], Sequence[Violation]] = ACCEPT
              ) -> Responder:
    return Responder(enclave or SimLocalEnclave(PLATFORM, RESPONDER_ID), check, session_id=7,
                     additional_prop=PROP, ephemeral_key=KEY_A)


def initiator(enclave: SimLocalEnclave | None = None, check: Callable[[ReportBody], Sequence[Violation]] = ACCEPT
              ) -> Initiator:
    return Initiator(enclave or SimLocalEnclave(PLATFORM, INITIATOR_ID), check, ephemeral_key=KEY_B)


def handshake() -> tuple[Responder, Initiator, bytes, bytes, bytes]:
    r, i = responder(), initiator()
    msg1 = r.start()
    msg2 = i.receive_msg1(msg1, session_id=7)
    msg3 = r.receive_msg2(msg2)
    i.receive_msg3(msg3)
    return r, i, msg1, msg2, msg3


RESP, INIT, MSG1, MSG2, MSG3 = handshake()


def sessions() -> tuple[LocalSession, LocalSession]:
    r, i, *_ = handshake()
    assert r.session is not None and i.session is not None
    return i.session, r.session


def test_message_sizes_are_the_sdks() -> None:
    assert (len(MSG1), len(MSG2), len(MSG3)) == (576, 512, 452 + len(PROP))
    assert (DH_MSG1_SIZE, DH_MSG2_SIZE, DH_MSG3_FIXED_SIZE) == (576, 512, 452)
    assert (TARGET_INFO_SIZE, REPORT_SIZE, SECURE_MESSAGE_HEADER_SIZE) == (512, 432, 36)
    assert len(DhMsg1.parse(MSG1).target.to_bytes()) == 512
    assert len(DhMsg2.parse(MSG2).report.to_bytes()) == 432
    for msg, parse in ((MSG1, DhMsg1.parse), (MSG2, DhMsg2.parse), (MSG3, DhMsg3.parse)):
        assert parse(msg).to_bytes() == msg
        with pytest.raises(MalformedMessage):
            parse(msg + b"\x00")
        with pytest.raises(MalformedMessage):
            parse(msg[:-1])


def test_target_info_offsets_are_the_sdks() -> None:
    # sgx_report.h: mr_enclave 0, attributes 32, reserved1 48, config_svn 50, misc_select 52, reserved2 56,
    # config_id 64, reserved3 128
    info = TargetInfo(b"\x11" * 32, Attributes(0x2222, 0x3333), b"\x44\x00", 0x5555, 0x66666666, bytes(8),
                      b"\x77" * 64, bytes(384))
    raw = info.to_bytes()
    assert raw[0:32] == b"\x11" * 32 and raw[32:40] == (0x2222).to_bytes(8, "little")
    assert raw[48] == 0x44 and raw[50:52] == b"\x55\x55" and raw[52:56] == b"\x66" * 4 and raw[64:128] == b"\x77" * 64
    assert TargetInfo.parse(raw) == info


def test_target_info_is_what_the_sdk_copies_from_a_report() -> None:
    body = dataclasses.replace(INITIATOR_ID.report_body(bytes(64)), misc_select=5, config_svn=9,
                               config_id=b"\x01" * 64, reserved1=b"\x0c" + bytes(11))
    raw_body, raw_target = body.to_bytes(), TargetInfo.from_report_body(body).to_bytes()
    # LAv2 target_spec: MRENCLAVE 64->0 (32), ATTRIBUTES 48->32 (16), CET 20->48 (1), CONFIGSVN 260->50 (2),
    # MISCSELECT 16->52 (4), CONFIGID 192->64 (64)
    for src, dst, size in ((64, 0, 32), (48, 32, 16), (20, 48, 1), (260, 50, 2), (16, 52, 4), (192, 64, 64)):
        assert raw_target[dst:dst + size] == raw_body[src:src + size]


def test_report_and_message_offsets_are_the_sdks() -> None:
    msg2 = DhMsg2.parse(MSG2)
    assert MSG2[:64] == msg2.g_b and MSG2[64 + 384:64 + 416] == msg2.report.key_id and MSG2[-16:] == msg2.cmac
    assert DhMsg3.parse(MSG3).additional_prop == PROP
    assert MSG3[16 + 432:16 + 436] == len(PROP).to_bytes(4, "little") and MSG3[452:] == PROP
    i_session, _ = sessions()
    sealed = i_session.seal_request(b"abc")
    # secure_message_t: session_id, payload_size, reserved[12] (IV: counter then zeros), payload_tag[16], payload
    assert sealed[:4] == (7).to_bytes(4, "little") and sealed[4:8] == (3).to_bytes(4, "little")
    assert sealed[8:20] == bytes(12) and len(sealed) == 36 + 3


def test_both_roles_agree_on_aek_and_learn_each_others_identity() -> None:
    assert RESP.state is LaState.ACTIVE and INIT.state is LaState.ACTIVE
    assert RESP.session is not None and INIT.session is not None
    assert RESP.session.aek == INIT.session.aek and len(RESP.session.aek) == 16
    assert RESP.session.peer.mr_enclave == INITIATOR_ID.mr_enclave
    assert INIT.session.peer.mr_enclave == RESPONDER_ID.mr_enclave and INIT.session.additional_prop == PROP


def test_report_data_binds_both_keys_in_the_sdks_order() -> None:
    g_a, g_b = DhMsg1.parse(MSG1).g_a, DhMsg2.parse(MSG2).g_b
    assert DhMsg2.parse(MSG2).report.body.report_data == hashlib.sha256(g_a + g_b).digest() + b"\x01\x00" + bytes(30)
    assert DhMsg3.parse(MSG3).report.body.report_data == hashlib.sha256(g_b + g_a).digest() + bytes(32)


def test_smk_and_aek_use_the_remote_attestation_kdf() -> None:
    shared = crypto.ecdh_shared_x_le(KEY_A, DhMsg2.parse(MSG2).g_b, "g_b")
    smk = crypto.derive_session_keys(shared).smk
    crypto.verify_cmac(smk, DhMsg2.parse(MSG2).report.to_bytes(), DhMsg2.parse(MSG2).cmac, "msg2")
    assert RESP.session is not None
    assert RESP.session.aek == crypto.aes_cmac(crypto.derive_session_keys(shared).kdk, b"\x01AEK\x00\x80\x00")


def test_every_single_byte_change_to_msg2_is_refused() -> None:
    for index in range(len(MSG2)):
        for mask in (0x01, 0xFF):
            r = responder()
            r.start()
            with pytest.raises(SgxRaError):
                r.receive_msg2(flip(MSG2, index, mask))
            assert r.state is LaState.ERROR and r.session is None


def test_every_single_byte_change_to_msg3_is_refused() -> None:
    for index in range(len(MSG3)):
        for mask in (0x01, 0xFF):
            i = initiator()
            i.receive_msg1(MSG1, session_id=7)
            with pytest.raises(SgxRaError):
                i.receive_msg3(flip(MSG3, index, mask))
            assert i.state is LaState.ERROR and i.session is None


class _ReportsFromElsewhere(SimLocalEnclave):
    """Verifies on its own platform but has its REPORTs made on another one (a responder relaying for a stranger)."""

    def create_report(self, target: TargetInfo, report_data: bytes) -> Report:
        return SimLocalEnclave(SimReportPlatform(), self.identity).create_report(target, report_data)


def test_a_report_from_another_platform_is_refused() -> None:
    elsewhere = SimReportPlatform()
    r, i = responder(), initiator(SimLocalEnclave(elsewhere, INITIATOR_ID))
    with pytest.raises(ReportMacMismatch):
        r.receive_msg2(i.receive_msg1(r.start()))
    r, i = responder(SimLocalEnclave(elsewhere, RESPONDER_ID)), initiator()
    with pytest.raises(ReportMacMismatch):
        r.receive_msg2(i.receive_msg1(r.start()))
    r, i = responder(_ReportsFromElsewhere(PLATFORM, RESPONDER_ID)), initiator()
    msg3 = r.receive_msg2(i.receive_msg1(r.start()))
    with pytest.raises(ReportMacMismatch):
        i.receive_msg3(msg3)


def test_a_report_for_another_enclave_is_refused() -> None:
    platform = SimReportPlatform()
    me = SimLocalEnclave(platform, RESPONDER_ID)
    report = SimLocalEnclave(platform, INITIATOR_ID).create_report(me.target_info(), bytes(64))
    me.verify_report(report)
    with pytest.raises(ReportMacMismatch):
        SimLocalEnclave(platform, dataclasses.replace(RESPONDER_ID, mr_enclave=bytes(32))).verify_report(report)
    with pytest.raises(ReportMacMismatch):
        me.verify_report(dataclasses.replace(report, key_id=flip(report.key_id, 0)))


def test_each_side_checks_the_others_identity_by_policy() -> None:
    strangers = Policy(mr_signers=frozenset({bytes(32)})).check_enclave
    r, i = responder(check=strangers), initiator()
    with pytest.raises(PolicyViolation, match="initiator: mr_signer"):
        r.receive_msg2(i.receive_msg1(r.start()))
    r, i = responder(), initiator(check=strangers)
    with pytest.raises(PolicyViolation, match="responder: mr_signer"):
        i.receive_msg3(r.receive_msg2(i.receive_msg1(r.start())))
    r, i = responder(), initiator(SimLocalEnclave(PLATFORM, dataclasses.replace(INITIATOR_ID, debug=True)))
    with pytest.raises(PolicyViolation, match="debug"):
        r.receive_msg2(i.receive_msg1(r.start()))


class _UninitializedEnclave(SimLocalEnclave):
    def create_report(self, target: TargetInfo, report_data: bytes) -> Report:
        body = self.identity.report_body(report_data)
        flags = body.attributes.flags & ~AttributeFlags.INITTED
        return self.platform.ereport(dataclasses.replace(body, attributes=Attributes(flags, 7)), target)


def test_an_uninitialized_peer_is_refused() -> None:
    r, i = responder(), initiator(_UninitializedEnclave(PLATFORM, INITIATOR_ID))
    with pytest.raises(PolicyViolation, match="not initialized"):
        r.receive_msg2(i.receive_msg1(r.start()))


def test_messages_out_of_order_fail_the_session() -> None:
    r = responder()
    with pytest.raises(UnexpectedMessage):
        r.receive_msg2(MSG2)
    with pytest.raises(LocalProtocolError):
        r.start()
    i = initiator()
    with pytest.raises(UnexpectedMessage):
        i.receive_msg3(MSG3)


def test_secure_messages_carry_the_counter_and_the_reply_counter_plus_one() -> None:
    i_session, r_session = sessions()
    for n, text in enumerate((b"first", b"second")):
        request = i_session.seal_request(text)
        assert SecureMessage.parse(request).counter == n
        assert r_session.open_request(request) == text
        response = r_session.seal_response(text.upper())
        assert SecureMessage.parse(response).counter == n + 1
        assert i_session.open_response(response) == text.upper()


def test_replays_and_tampering_of_secure_messages_are_refused() -> None:
    i_session, r_session = sessions()
    request = i_session.seal_request(b"hello")
    r_session.open_request(request)
    response = r_session.seal_response(b"hi")
    with pytest.raises(BadMac):
        i_session.open_response(flip(response, 36))  # the payload
    with pytest.raises(BadMac):
        i_session.open_response(flip(response, 25))  # the tag
    i_session.open_response(response)
    with pytest.raises(RemoteProtocolError, match="replay"):
        r_session.open_request(request)
    with pytest.raises(RemoteProtocolError, match="replay"):
        i_session.open_response(response)
    with pytest.raises(RemoteProtocolError, match="session id"):
        r_session.open_request(flip(i_session.seal_request(b"x"), 0))
    with pytest.raises(LocalProtocolError):
        r_session.seal_response(b"unasked")
    with pytest.raises(LocalProtocolError):
        r_session.seal_request(b"the responder does not send requests")


def test_the_initiator_seals_one_request_per_counter() -> None:
    """A second request before the response would reuse the AES-GCM IV (the counter) under AEK."""
    i_session, r_session = sessions()
    request = i_session.seal_request(b"first")
    with pytest.raises(LocalProtocolError, match="open its response"):
        i_session.seal_request(b"second")
    r_session.open_request(request)
    i_session.open_response(r_session.seal_response(b"ok"))
    assert SecureMessage.parse(i_session.seal_request(b"second")).counter == 1


def test_a_request_refused_before_sealing_leaves_the_session_usable() -> None:
    i_session, r_session = sessions()
    with pytest.raises(MalformedMessage):
        i_session.seal_request(bytes(MAX_SECURE_PAYLOAD + 1))
    r_session.open_request(i_session.seal_request(b"small"))
    assert i_session.open_response(r_session.seal_response(b"ok")) == b"ok"


def test_the_counter_is_exhausted_at_two_to_the_32_minus_2() -> None:
    i_session, _ = sessions()
    i_session.counter = MAX_COUNTER
    with pytest.raises(LocalProtocolError, match="exhausted"):
        i_session.seal_request(b"x")


def test_oversized_inputs_are_refused_before_reading() -> None:
    with pytest.raises(MalformedMessage, match="additional_prop_length"):
        DhMsg3.parse(MSG3[:448] + (1 << 31).to_bytes(4, "little"))
    with pytest.raises(MalformedMessage, match="payload_size"):
        SecureMessage.parse(bytes(4) + (1 << 31).to_bytes(4, "little") + bytes(28))


def test_the_local_demo_attests_exchanges_and_refuses_twice() -> None:
    from click.testing import CliRunner

    from sgxra.cli.demo_local import demo_local_cmd

    result = CliRunner().invoke(demo_local_cmd, [])
    assert result.exit_code == 0, result.output
    assert "AEK agreed: True" in result.output and "'pong from the responder'" in result.output
    assert "REFUSED as it should be: ReportMacMismatch" in result.output
    assert "REFUSED as it should be: BadMac" in result.output


PARSERS = (TargetInfo.parse, Report.parse, DhMsg1.parse, DhMsg2.parse, DhMsg3.parse, SecureMessage.parse)


@given(data=st.data())
def test_parsers_take_any_bytes_and_fail_only_with_malformed_message(data: st.DataObject) -> None:
    parse = data.draw(st.sampled_from(PARSERS))
    if data.draw(st.booleans()):
        raw = data.draw(st.binary(max_size=1024))
    else:  # a real message (or its TARGETINFO / REPORT) with one byte changed
        seed = data.draw(st.sampled_from((MSG1, MSG2, MSG3, MSG1[64:], MSG2[64:496])))
        index, value = data.draw(st.integers(0, len(seed) - 1)), data.draw(st.integers(0, 255))
        raw = seed[:index] + bytes([value]) + seed[index + 1:]
    try:
        parsed = parse(raw)
    except MalformedMessage:
        return
    assert parsed.to_bytes() == raw
