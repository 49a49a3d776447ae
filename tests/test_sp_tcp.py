"""The service provider over the sample's TCP hex-line protocol, on real loopback sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Iterator

import pytest

from sgxra.errors import BadSignature, MalformedMessage
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.sim import SAMPLE_SP_PUBLIC_KEY_LE, EnclaveIdentity, SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.transport.background import UvicornThread
from sgxra.transport.client import attest_tcp
from sgxra.transport.lines import decode_line, encode_line
from sgxra.validate import Policy
from sgxra.wire import AttestationStatus, Msg0Msg1
from sgxra.wire.msg4_auth import ReasonCode
from sp_env import DEFAULT_POLICY, IDENTITY, SECRET, attest, client, mock_ias, tcp_sp, wait_until


@pytest.fixture(scope="module")
def ias() -> Iterator[UvicornThread]:
    with mock_ias() as server:
        yield server


def test_trusted_enclave_gets_its_secret(ias: UvicornThread) -> None:
    with tcp_sp(ias.url) as sp:
        verdict = attest(sp.port)
    assert verdict.status is AttestationStatus.Trusted and verdict.reason is ReasonCode.NONE
    assert verdict.authenticated and verdict.secret == SECRET
    assert sp.server.stats.completed == 1 and sp.server.stats.trusted == 1


def test_many_sessions_at_once(ias: UvicornThread) -> None:
    async def many(port: int) -> list[ClientVerdict]:
        return await asyncio.gather(*(attest_tcp(client(), "127.0.0.1", port, timeout=20) for _ in range(24)))

    with tcp_sp(ias.url) as sp:
        verdicts = asyncio.run(many(sp.port))
    assert all(v.trusted and v.secret == SECRET for v in verdicts)
    assert sp.server.stats.completed == 24


def test_msg0_and_msg1_on_separate_lines(ias: UvicornThread) -> None:
    session = client(require_authenticated_msg4=False)
    with tcp_sp(ias.url, sample_msg4=True) as sp, socket.create_connection(("127.0.0.1", sp.port), timeout=10) as s:
        msg01 = Msg0Msg1.parse(session.start())
        s.sendall(encode_line(msg01.msg0.to_bytes()) + encode_line(msg01.msg1.to_bytes()))
        lines = s.makefile("rb")
        msg3 = session.receive_msg2(bytes.fromhex(lines.readline().decode().strip()))
        s.sendall(encode_line(msg3))
        msg4 = bytes.fromhex(lines.readline().decode().strip())
    assert len(msg4) == 105  # the sample's msg4
    verdict = session.receive_msg4(msg4)
    assert verdict.trusted and not verdict.authenticated and verdict.secret is None


RULES = [
    ("mr_signer", EnclaveIdentity(mr_signer=b"\x01" * 32), DEFAULT_POLICY, ReasonCode.POLICY, "ok"),
    ("mr_enclave", IDENTITY, dataclasses.replace(DEFAULT_POLICY, mr_enclaves=frozenset({b"\x02" * 32})),
     ReasonCode.POLICY, "ok"),
    ("isv_prod_id", EnclaveIdentity(isv_prod_id=3), dataclasses.replace(DEFAULT_POLICY, isv_prod_id=0),
     ReasonCode.POLICY, "ok"),
    ("isv_svn", EnclaveIdentity(isv_svn=1), dataclasses.replace(DEFAULT_POLICY, min_isv_svn=2), ReasonCode.POLICY, "ok"),
    ("debug", EnclaveIdentity(debug=True), DEFAULT_POLICY, ReasonCode.POLICY, "ok"),
    ("simulated", IDENTITY, dataclasses.replace(DEFAULT_POLICY, allow_simulated=False), ReasonCode.POLICY, "ok"),
    ("status", IDENTITY, DEFAULT_POLICY, ReasonCode.PLATFORM_UPDATE_NEEDED, "out-of-date"),
    ("advisories", IDENTITY,
     dataclasses.replace(DEFAULT_POLICY, accepted_statuses=frozenset({"OK", "SW_HARDENING_NEEDED"})),
     ReasonCode.PLATFORM_UPDATE_NEEDED, "hardening"),
]


@pytest.mark.parametrize(("rule", "identity", "policy", "reason", "platform"), RULES, ids=[r[0] for r in RULES])
def test_policy_refusal_for_each_rule(ias: UvicornThread, rule: str, identity: EnclaveIdentity, policy: Policy,
                                      reason: ReasonCode, platform: str) -> None:
    with tcp_sp(ias.url, policy=policy) as sp:
        verdict = attest(sp.port, client(platform, identity))
    assert not verdict.trusted and verdict.reason is reason and verdict.secret is None
    if reason is ReasonCode.PLATFORM_UPDATE_NEEDED:
        assert verdict.status is AttestationStatus.NotTrusted_ItsComplicated
    else:
        assert verdict.status is AttestationStatus.NotTrusted


def test_accepted_advisory_gives_trusted_its_complicated(ias: UvicornThread) -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, accepted_statuses=frozenset({"OK", "SW_HARDENING_NEEDED"}),
                                 accepted_advisories=frozenset({"INTEL-SA-00334"}))
    with tcp_sp(ias.url, policy=policy) as sp:
        verdict = attest(sp.port, client("hardening"))
    assert verdict.status is AttestationStatus.Trusted_ItsComplicated and verdict.secret == SECRET


def test_enclave_refuses_an_sp_with_another_key(ias: UvicornThread) -> None:
    impostor_view = ClientSession(SimEnclave(SimQuotingEnclave(SimPlatform.from_seed(b"platform ok")),
                                             IDENTITY, SAMPLE_SP_PUBLIC_KEY_LE))
    with tcp_sp(ias.url) as sp, pytest.raises(BadSignature):
        attest(sp.port, impostor_view)


def raw_exchange(port: int, payload: bytes, *, close_write: bool = True, timeout: float = 5) -> bytes:
    """Send raw bytes, then read whatever comes back until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "payload",
    [b"zz" * 72 + b"\n", b"0" * 143 + b"\n", b"00" * 72, b"ab" * 5000 + b"\n", b"\n", b"00" * 10 + b"\n"],
    ids=["non-hex", "odd-length", "stops-mid-line", "over-size-limit", "empty-line", "too-short"],
)
def test_malformed_input_gets_a_clean_close_and_others_are_served(ias: UvicornThread, payload: bytes) -> None:
    with tcp_sp(ias.url, max_message=1024) as sp:
        assert raw_exchange(sp.port, payload) == b""  # no msg2: the connection is just closed
        assert attest(sp.port).trusted  # and the next session is served
    assert sp.server.stats.failed == 1 and sp.server.stats.completed == 1


def test_silent_client_times_out_and_others_are_served(ias: UvicornThread) -> None:
    with tcp_sp(ias.url, session_timeout=2.0) as sp, socket.create_connection(("127.0.0.1", sp.port)) as idle:
        assert attest(sp.port).trusted
        idle.settimeout(5)
        assert idle.recv(10) == b""  # closed by the server after its session timeout
    assert sp.server.stats.timed_out == 1


def test_sessions_in_flight_are_limited(ias: UvicornThread) -> None:
    with tcp_sp(ias.url, max_sessions=2, session_timeout=5, first_message_timeout=0.5) as sp:
        holders = [socket.create_connection(("127.0.0.1", sp.port), timeout=10) for _ in range(2)]
        for h in holders:  # sessions under way (msg2 received) hold their slots; silent ones would give way
            h.sendall(encode_line(client().start()))
            assert h.makefile("rb").readline().endswith(b"\n")
        wait_until(lambda: sp.server.stats.in_flight == 2)
        assert raw_exchange(sp.port, b"", close_write=False) == b""  # refused once its deadline passes in line
        for h in holders:
            h.close()
        wait_until(lambda: sp.server.stats.in_flight == 0)
        assert attest(sp.port).trusted
    assert sp.server.stats.rejected_busy == 1


def test_graceful_shutdown_finishes_sessions_in_flight(ias: UvicornThread) -> None:
    session = client()
    with tcp_sp(ias.url) as sp:
        conn = socket.create_connection(("127.0.0.1", sp.port), timeout=10)
        conn.sendall(encode_line(session.start()))
        lines = conn.makefile("rb")
        msg2 = bytes.fromhex(lines.readline().decode().strip())
        future = asyncio.run_coroutine_threadsafe(sp.server.shutdown(grace=10), sp.loop.loop)
        wait_until(lambda: sp.server._server is not None and not sp.server._server.is_serving())
        with pytest.raises(OSError):  # no new sessions once shutting down
            socket.create_connection(("127.0.0.1", sp.port), timeout=1)
        conn.sendall(encode_line(session.receive_msg2(msg2)))
        verdict = session.receive_msg4(bytes.fromhex(lines.readline().decode().strip()))
        future.result(10)
        conn.close()
    assert verdict.trusted and verdict.secret == SECRET


def test_malformed_line_error_names_the_message() -> None:
    with pytest.raises(MalformedMessage, match="stopped in the middle"):
        decode_line(b"abcd", "msg3")
