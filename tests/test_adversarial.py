"""Hostile input against the service provider and the verifiers: each refusal asserted by type.

Every server-level case also checks the server keeps serving and never sends the secret.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator

import pytest

from sgxra import crypto
from sgxra.errors import (
    BadMac,
    BindingMismatch,
    InvalidPoint,
    KeyMismatch,
    MalformedMessage,
    RemoteProtocolError,
)
from sgxra.ias import IasClient, IasSettings, IasVerifier
from sgxra.ias.mock import MockIas
from sgxra.ias.mock_pki import MockIasPki
from sgxra.protocol import ServiceProviderSession, SpConfig, complete_with
from sgxra.protocol.client import ClientSession
from sgxra.protocol.msg4 import seal_msg4
from sgxra.protocol.state import SpPendingState
from sgxra.sim import SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.transport.background import UvicornThread
from sgxra.transport.lines import encode_line
from sgxra.wire import AttestationStatus, Msg0Msg1, Msg1, Msg2, Msg3, QuoteSignType
from sgxra.wire.collateral import Collateral
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.ias_report import AttestationReport
from sgxra.wire.msg4_auth import AuthenticatedMsg4, ReasonCode
from sgxra.wire.pck_extension import PckExtension
from sgxra.wire.platform_info import PlatformInfoBlob
from sgxra.wire.quote import EpidQuote
from sp_env import (
    DEFAULT_POLICY,
    IAS_KEY,
    PKI,
    SECRET,
    SP_KEY,
    SP_PUBLIC,
    SPID,
    attest,
    client,
    mock_ias_and_handle,
    now,
    tcp_sp,
)

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF


@pytest.fixture(scope="module")
def ias() -> Iterator[tuple[UvicornThread, MockIas]]:
    with mock_ias_and_handle() as pair:
        yield pair


def le(x: int, y: int) -> bytes:
    return x.to_bytes(32, "little") + y.to_bytes(32, "little")


def invalid_curve_points() -> list[bytes]:
    """Points of small order on curves other than P-256 (y^2 = x^3 - 3x + b'), and other bad encodings."""
    points = [le(x, 0) for x in (1, 2, 5, 0xDEADBEEF)]  # order 2 on the curve whose b' puts (x, 0) on it
    points += [le(0, 1), le(0, P - 1)]  # order 3 or 2 candidates on b' = 1
    points += [bytes(64), le(P, 1), le(1, P + 1), b"\xff" * 64]
    return points


@pytest.mark.parametrize("point", invalid_curve_points())
def test_invalid_curve_and_small_order_g_a(ias: tuple[UvicornThread, MockIas], point: bytes) -> None:
    with tcp_sp(ias[0].url) as sp:
        with socket.create_connection(("127.0.0.1", sp.port), timeout=5) as s:
            s.sendall(encode_line(bytes(4) + Msg1(point, b"\xe0\x0a\x00\x00").to_bytes()))
            assert s.recv(100) == b""  # no msg2: refused and closed
        assert attest(sp.port).trusted
    assert sp.server.stats.failed == 1
    with pytest.raises(InvalidPoint):
        crypto.point_to_public_key(point)


def run_to_msg3(port: int, session: ClientSession) -> tuple[socket.socket, bytes]:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(encode_line(session.start()))
    msg2 = bytes.fromhex(conn.makefile("rb").readline().decode().strip())
    return conn, session.receive_msg2(msg2)


def finish(conn: socket.socket, msg3: bytes) -> bytes:
    conn.sendall(encode_line(msg3))
    line = conn.makefile("rb").readline()
    conn.close()
    return line


def test_msg3_replayed_into_another_session(ias: tuple[UvicornThread, MockIas]) -> None:
    with tcp_sp(ias[0].url) as sp:
        conn_a, msg3_a = run_to_msg3(sp.port, client())
        assert finish(conn_a, msg3_a)  # session A completes
        conn_b, _ = run_to_msg3(sp.port, client())
        assert finish(conn_b, msg3_a) == b""  # A's msg3 in B: g_a differs, refused, no msg4
        assert attest(sp.port).trusted
    assert sp.server.stats.failed == 1


class QuoteThief:
    """An enclave that authenticates its own msg3 but carries a quote from another session."""

    def __init__(self, stolen_quote: bytes) -> None:
        self.inner = SimEnclave(SimQuotingEnclave(SimPlatform.from_seed(b"platform ok")), sp_public_key_le=SP_PUBLIC)
        self.stolen = stolen_quote

    def extended_epid_group_id(self) -> int:
        return 0

    def get_msg1(self) -> Msg1:
        return self.inner.get_msg1()

    def proc_msg2(self, msg2: Msg2) -> Msg3:
        honest = self.inner.proc_msg2(msg2)
        unsigned = Msg3(bytes(16), honest.g_a, honest.ps_sec_prop, self.stolen)
        smk = self.inner._keys.smk if self.inner._keys else b""
        return Msg3(crypto.aes_cmac(smk, unsigned.mac_covered_bytes()), honest.g_a, honest.ps_sec_prop, self.stolen)

    def get_keys(self) -> tuple[bytes, bytes]:
        return self.inner.get_keys()

    def open_msg4(self, data: bytes) -> object:
        return self.inner.open_msg4(data)


def test_quote_from_another_session_is_a_binding_mismatch(ias: tuple[UvicornThread, MockIas]) -> None:
    with tcp_sp(ias[0].url) as sp:
        conn, msg3 = run_to_msg3(sp.port, client())
        stolen = Msg3.parse(msg3).quote
        finish(conn, msg3)
        thief = ClientSession(QuoteThief(stolen))  # type: ignore[arg-type]
        conn, forged = run_to_msg3(sp.port, thief)
        assert finish(conn, forged) == b""  # genuine quote, wrong session: refused, no msg4, no secret
        assert attest(sp.port).trusted
    assert sp.server.stats.failed == 1


def test_binding_mismatch_is_typed_in_the_state_machine(ias: tuple[UvicornThread, MockIas]) -> None:
    config = SpConfig(SP_KEY, SPID, DEFAULT_POLICY)
    first, first_sp = client(), ServiceProviderSession(config)
    first_sp.receive_msg0_msg1(first.start())
    stolen = Msg3.parse(first.receive_msg2(first_sp.send_msg2())).quote
    thief, sp = ClientSession(QuoteThief(stolen)), ServiceProviderSession(config)  # type: ignore[arg-type]
    sp.receive_msg0_msg1(thief.start())
    forged = thief.receive_msg2(sp.send_msg2())
    with IasClient(IasSettings(base_url=ias[0].url, primary_key=IAS_KEY)) as ias_client:
        with pytest.raises(BindingMismatch):
            complete_with(sp, forged, IasVerifier(ias_client, clock=now, root=PKI.root))


@pytest.mark.parametrize(
    ("fault", "expect"),
    [
        ({"backdate": 3600.0}, "older than"),
        ({"status": "FINE_REALLY"}, "unknown status"),
        ({"version": 4}, "version 4 is not the API version used (5)"),
        ({"bad_signature": True}, "signature does not verify"),
        ({"foreign_pki": MockIasPki.generate(PKI.root.not_valid_before_utc)}, "not validly signed"),
    ],
    ids=["stale", "unknown-status", "downgraded-version", "bad-signature", "chain-to-another-root"],
)
def test_reports_that_must_be_refused(ias: tuple[UvicornThread, MockIas], fault: dict[str, object],
                                      expect: str, caplog: pytest.LogCaptureFixture) -> None:
    server, mock = ias
    mock.report_faults = dataclasses.replace(mock.report_faults, **fault)  # type: ignore[arg-type]
    try:
        with tcp_sp(server.url) as sp, caplog.at_level("INFO", logger="sgxra.sp"):
            verdict = attest(sp.port)
    finally:
        mock.report_faults = type(mock.report_faults)()
    assert verdict.status is AttestationStatus.NotTrusted and verdict.reason is ReasonCode.NOT_GENUINE
    assert verdict.secret is None and verdict.authenticated
    assert expect in caplog.text


class WrongQuoteType(SimQuotingEnclave):
    def get_quote(self, report_body, quote_type, spid, sig_rl=b""):  # type: ignore[no-untyped-def]
        return super().get_quote(report_body, QuoteSignType.UNLINKABLE, spid, sig_rl)


def test_quote_type_must_be_the_one_asked_for(ias: tuple[UvicornThread, MockIas]) -> None:
    sp = ServiceProviderSession(SpConfig(SP_KEY, SPID, DEFAULT_POLICY, QuoteSignType.LINKABLE))
    session = ClientSession(SimEnclave(WrongQuoteType(SimPlatform.from_seed(b"platform ok")), sp_public_key_le=SP_PUBLIC))
    sp.receive_msg0_msg1(session.start())
    with pytest.raises(RemoteProtocolError, match="quote is unlinkable, msg2 asked for linkable"):
        sp.receive_msg3(session.receive_msg2(sp.send_msg2()))
    with tcp_sp(ias[0].url, quote_type=QuoteSignType.LINKABLE) as running:
        honest = attest(running.port)  # the simulated QE honours the linkable request
        liar = ClientSession(SimEnclave(WrongQuoteType(SimPlatform.from_seed(b"platform ok")),
                                        sp_public_key_le=SP_PUBLIC))
        conn, msg3 = run_to_msg3(running.port, liar)
        assert finish(conn, msg3) == b""
    assert honest.trusted


def test_sigrl_length_larger_than_the_data_is_refused_by_the_client() -> None:
    session = client()
    session.start()
    msg2 = Msg2(bytes(64), bytes(16), QuoteSignType.UNLINKABLE, 1, bytes(64), bytes(16), b"").to_bytes()
    with pytest.raises(MalformedMessage, match="sig_rl"):
        session.receive_msg2(msg2[:164] + (1 << 20).to_bytes(4, "little"))


HUGE = (0xFFFFFFFF).to_bytes(4, "little")


def dcap_with(offset: int, size: bytes) -> bytes:
    header = bytes.fromhex("0300") + bytes.fromhex("0200") + bytes(4) + bytes(4) + bytes(16) + bytes(20)
    return header + bytes(384) + size + bytes(offset)


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (EpidQuote.parse, bytes([2, 0, 0, 0]) + bytes(428) + HUGE),
        (Msg2.parse, bytes(164) + HUGE),
        (DcapQuote.parse, dcap_with(0, HUGE)),
        (DcapQuote.parse, dcap_with(0, (600).to_bytes(4, "little"))),
        (PlatformInfoBlob.parse_tlv, bytes([0x15, 0x02, 0xFF, 0xFF]) + bytes(101)),
        (AuthenticatedMsg4.parse, b"SGXRAM4\x01" + bytes(8) + bytes(101) + HUGE + bytes(12)),
        (PckExtension.parse, bytes([0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF])),
        (SpPendingState.from_json, "{" * 100_000),
        (AttestationReport.parse, b" " * (1 << 20)),
        (Collateral.from_json, "x" * (2 << 20)),
    ],
    ids=["epid-signature_len", "msg2-sig_rl_size", "dcap-sig_data_len", "dcap-sig_data_short", "pib-tlv-size",
         "msg4-secret_len", "der-length", "pending-state-json", "ias-report-body", "collateral-json"],
)
def test_huge_length_fields_are_refused_before_reading(parse: object, data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse(data)  # type: ignore[operator]


def test_msg4_forged_or_altered_without_mk_is_refused(ias: tuple[UvicornThread, MockIas]) -> None:
    session, sp = client(), ServiceProviderSession(SpConfig(SP_KEY, SPID, DEFAULT_POLICY))
    sp.receive_msg0_msg1(session.start())
    msg3 = session.receive_msg2(sp.send_msg2())
    with IasClient(IasSettings(base_url=ias[0].url, primary_key=IAS_KEY)) as ias_client:
        outcome = complete_with(sp, msg3, IasVerifier(ias_client, clock=now, root=PKI.root))
    sk, mk = sp.keys
    genuine = seal_msg4(outcome.msg4.status, outcome.reason_code, outcome.msg4.platform_info_blob, sk=sk, mk=mk,
                        secret=SECRET)
    forged = seal_msg4(AttestationStatus.Trusted, ReasonCode.NONE, PlatformInfoBlob.empty(), sk=bytes(16), mk=bytes(16),
                       secret=b"attacker's secret")
    altered = genuine[:8] + (0).to_bytes(4, "little") + genuine[12:]  # Trusted -> NotTrusted
    for bad in (forged, altered):
        with pytest.raises(BadMac, match="msg4"):
            session.enclave.open_msg4(bad)  # the enclave holding this session's keys
    assert session.receive_msg4(genuine).secret == SECRET


def test_msg1_and_msg3_mismatch_are_typed() -> None:
    session, sp = client(), ServiceProviderSession(SpConfig(SP_KEY, SPID, DEFAULT_POLICY))
    msg01 = Msg0Msg1.parse(session.start())
    sp.receive_msg0_msg1(msg01.to_bytes())
    msg3 = Msg3.parse(session.receive_msg2(sp.send_msg2()))
    other = client().enclave.get_msg1().g_a
    with pytest.raises(KeyMismatch):
        sp.receive_msg3(Msg3(msg3.mac, other, msg3.ps_sec_prop, msg3.quote).to_bytes())
