"""Local attestation between two enclaves on one platform: the SGX SDK's DH session (LAv1) and the
LocalAttestation sample's secure messages, both roles as sans-IO state machines.

Following ``sdk/ec_dh_lib/ec_dh.cpp`` (intel/linux-sgx):

- responder ``start`` (sgx_dh_responder_gen_msg1): msg1 = g_a || its own TARGETINFO;
- initiator ``receive_msg1`` (sgx_LAv1_initiator_proc_msg1): SMK from ECDH(g_a); a REPORT for the
  responder with report_data = SHA-256(g_a || g_b) || KDF id 0x0001 (LE) || zeros; msg2 = g_b ||
  REPORT || CMAC-SMK(REPORT);
- responder ``receive_msg2`` (sgx_dh_responder_proc_msg2): KDF id, CMAC, the REPORT's MAC (only it
  can check: the REPORT is targeted at it), SHA-256(g_a || g_b); then a REPORT for the initiator
  with report_data = SHA-256(g_b || g_a) || zeros; msg3 = CMAC-SMK(msg3_body) || msg3_body; AEK;
- initiator ``receive_msg3`` (sgx_LAv1_initiator_proc_msg3): CMAC, the REPORT's MAC,
  SHA-256(g_b || g_a); AEK.

SMK and AEK use the remote-attestation KDF (:mod:`sgxra.crypto`): KDK = CMAC(0^16, shared_x_le),
key = CMAC(KDK, 0x01 || label || 0x00 || 0x80 0x00). Each side then checks the other's identity:
INIT set (as the sample's ``verify_peer_enclave_trust``) and a caller's ``peer_check`` (e.g.
``Policy.check_enclave``); any violation refuses the session.

The REPORT operations are asked of a :class:`LocalEnclave`: the simulated enclave here; on SGX
hardware, EREPORT / EGETKEY inside the enclave.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sgxra import crypto
from sgxra.errors import (
    BadMac,
    BindingMismatch,
    LocalProtocolError,
    PolicyViolation,
    RemoteProtocolError,
)
from sgxra.protocol._steps import StepMachine
from sgxra.protocol.evidence import Violation
from sgxra.wire._codec import check_uint, u16, u32
from sgxra.wire.local_report import KDF_ID_AES_CMAC, DhMsg1, DhMsg2, DhMsg3, Report, SecureMessage, TargetInfo
from sgxra.wire.report_body import AttributeFlags, ReportBody

PeerCheck = Callable[[ReportBody], Sequence[Violation]]
MAX_COUNTER = 0xFFFFFFFE  # the sample re-keys when the counter reaches 2^32 - 2


class LocalEnclave(Protocol):
    """What an enclave does for local attestation (sgx_self_target, sgx_create_report, sgx_verify_report)."""

    def target_info(self) -> TargetInfo: ...

    def create_report(self, target: TargetInfo, report_data: bytes) -> Report: ...

    def verify_report(self, report: Report) -> None:
        """Raise (:class:`~sgxra.errors.ReportMacMismatch`) unless the REPORT was made for this enclave here."""
        ...


class Role(enum.Enum):
    INITIATOR = "initiator"
    RESPONDER = "responder"


class LaState(enum.Enum):
    START = "start"
    WAIT_MSG2 = "wait_msg2"  # responder
    WAIT_MSG3 = "wait_msg3"  # initiator
    ACTIVE = "active"
    ERROR = "error"


def _sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _check_peer(body: ReportBody, peer_check: PeerCheck, who: str) -> None:
    found = [] if body.attributes.flags & AttributeFlags.INITTED else [Violation("init", f"{who} is not initialized")]
    found.extend(peer_check(body))
    if found:
        raise PolicyViolation([f"{who}: {v}" for v in found])


class _Machine(StepMachine[LaState]):
    """What both roles hold: the enclave, the peer check and the ephemeral key."""

    def __init__(self, enclave: LocalEnclave, peer_check: PeerCheck,
                 ephemeral_key: ec.EllipticCurvePrivateKey | None) -> None:
        super().__init__(LaState.START, LaState.ERROR)
        self.enclave = enclave
        self.peer_check = peer_check
        self._key = ephemeral_key or ec.generate_private_key(ec.SECP256R1())
        self._own_point = crypto.public_key_to_point(self._key.public_key())


class Responder(_Machine):
    """The session responder (the LocalAttestation sample's EnclaveResponder)."""

    def __init__(self, enclave: LocalEnclave, peer_check: PeerCheck, *, session_id: int = 0,
                 additional_prop: bytes = b"", ephemeral_key: ec.EllipticCurvePrivateKey | None = None) -> None:
        check_uint("dh_session", "session_id", session_id, 32)
        super().__init__(enclave, peer_check, ephemeral_key)
        self.session_id = session_id
        self.additional_prop = additional_prop
        self.session: LocalSession | None = None

    def start(self) -> bytes:
        """msg1 (576 bytes)."""
        with self._step(LaState.START, "start", remote=False):
            msg1 = DhMsg1(self._own_point, self.enclave.target_info()).to_bytes()
            self.state = LaState.WAIT_MSG2
            return msg1

    def receive_msg2(self, data: bytes) -> bytes:
        """Check msg2 and the initiator's identity; msg3 (452 + n bytes). The session is then :attr:`session`."""
        with self._step(LaState.WAIT_MSG2, "msg2", remote=True):
            msg2 = DhMsg2.parse(data)
            kdk = crypto.derive_kdk(crypto.ecdh_shared_x_le(self._key, msg2.g_b, "g_b"))
            smk = crypto.derive_key(kdk, "SMK")
            report_data = msg2.report.body.report_data
            if report_data[32:34] != u16(KDF_ID_AES_CMAC):
                raise RemoteProtocolError(f"msg2: KDF id {report_data[32:34].hex()} is not 0100 (AES-CMAC)")
            crypto.verify_cmac(smk, msg2.report.to_bytes(), msg2.cmac, "msg2")
            self.enclave.verify_report(msg2.report)
            if not hmac.compare_digest(report_data[:32], _sha256(self._own_point, msg2.g_b)):
                raise BindingMismatch("msg2: REPORT data is not SHA-256(g_a || g_b)")
            _check_peer(msg2.report.body, self.peer_check, "initiator")
            target = TargetInfo.from_report_body(msg2.report.body)
            report = self.enclave.create_report(target, _sha256(msg2.g_b, self._own_point) + bytes(32))
            unsigned = DhMsg3(bytes(16), report, self.additional_prop)
            msg3 = DhMsg3(crypto.aes_cmac(smk, unsigned.body_bytes()), report, self.additional_prop)
            self.session = LocalSession(Role.RESPONDER, self.session_id, crypto.derive_key(kdk, "AEK"), msg2.report.body,
                                        self.additional_prop)
            self.state = LaState.ACTIVE
            return msg3.to_bytes()


class Initiator(_Machine):
    """The session initiator (the LocalAttestation sample's EnclaveInitiator)."""

    def __init__(self, enclave: LocalEnclave, peer_check: PeerCheck, *,
                 ephemeral_key: ec.EllipticCurvePrivateKey | None = None) -> None:
        super().__init__(enclave, peer_check, ephemeral_key)
        self._peer_point = b""
        self._smk = b""
        self._kdk = b""
        self.session_id = 0
        self.session: LocalSession | None = None

    def receive_msg1(self, data: bytes, *, session_id: int = 0) -> bytes:
        """msg2 (512 bytes). ``session_id``: what the responder's side assigned (SESSION_MSG1_RESP)."""
        with self._step(LaState.START, "msg1", remote=True):
            check_uint("dh_session", "session_id", session_id, 32)
            msg1 = DhMsg1.parse(data)
            kdk = crypto.derive_kdk(crypto.ecdh_shared_x_le(self._key, msg1.g_a, "g_a"))
            smk = crypto.derive_key(kdk, "SMK")
            report_data = _sha256(msg1.g_a, self._own_point) + u16(KDF_ID_AES_CMAC) + bytes(30)
            report = self.enclave.create_report(msg1.target, report_data)
            msg2 = DhMsg2(self._own_point, report, crypto.aes_cmac(smk, report.to_bytes()))
            self._peer_point, self._smk, self._kdk, self.session_id = msg1.g_a, smk, kdk, session_id
            self.state = LaState.WAIT_MSG3
            return msg2.to_bytes()

    def receive_msg3(self, data: bytes) -> LocalSession:
        """Check msg3 and the responder's identity; the established session."""
        with self._step(LaState.WAIT_MSG3, "msg3", remote=True):
            msg3 = DhMsg3.parse(data)
            crypto.verify_cmac(self._smk, msg3.body_bytes(), msg3.cmac, "msg3")
            self.enclave.verify_report(msg3.report)
            if not hmac.compare_digest(msg3.report.body.report_data[:32], _sha256(self._own_point, self._peer_point)):
                raise BindingMismatch("msg3: REPORT data is not SHA-256(g_b || g_a)")
            _check_peer(msg3.report.body, self.peer_check, "responder")
            self.session = LocalSession(Role.INITIATOR, self.session_id, crypto.derive_key(self._kdk, "AEK"),
                                        msg3.report.body, msg3.additional_prop)
            self._smk = self._kdk = b""
            self.state = LaState.ACTIVE
            return self.session


class LocalSession:
    """An established session: the peer's identity, AEK, and the sample's counter-carrying AES-GCM messages.

    The initiator sends requests with its counter c in the IV; the responder accepts only c equal to
    its own counter (at most 2^32 - 2), then answers with c + 1, which the initiator requires (the
    sample compares only the IV's first byte there; this compares the whole u32).

    As in the sample, the initiator's next request is sealed under the IV of the reply before it (c + 1),
    so a second request puts two messages under one AES-GCM (key, IV): kept for interoperability with the
    sample's peers, and said in the README; one request per session avoids it.
    """

    def __init__(self, role: Role, session_id: int, aek: bytes, peer: ReportBody, additional_prop: bytes) -> None:
        self.role = role
        self.session_id = session_id
        self.aek = aek
        self.peer = peer
        self.additional_prop = additional_prop
        self.counter = 0
        # A request is out and awaits its one response (initiator: sealed; responder: opened). The initiator
        # must not seal another under the same counter: two plaintexts under one AES-GCM (key, IV) leak both.
        self._awaiting_response = False

    def __repr__(self) -> str:
        return f"LocalSession({self.role.value}, id={self.session_id}, counter={self.counter}, aek=<redacted>)"

    def _seal(self, counter: int, payload: bytes) -> bytes:
        iv = u32(counter) + bytes(8)
        sealed = AESGCM(self.aek).encrypt(iv, payload, None)
        return SecureMessage(self.session_id, iv, sealed[-16:], sealed[:-16]).to_bytes()

    def _open(self, data: bytes, what: str) -> SecureMessage:
        msg = SecureMessage.parse(data)
        if msg.session_id != self.session_id:
            raise RemoteProtocolError(f"{what}: session id {msg.session_id}, this session is {self.session_id}")
        if msg.iv[4:] != bytes(8):
            raise RemoteProtocolError(f"{what}: IV bytes 4..11 must be zero")
        try:
            plain = AESGCM(self.aek).decrypt(msg.iv, msg.payload + msg.tag, None)
        except InvalidTag:
            raise BadMac(f"{what}: AES-GCM tag does not verify under AEK") from None
        return SecureMessage(msg.session_id, msg.iv, msg.tag, plain)

    def _require(self, role: Role, what: str) -> None:
        if self.role is not role:
            raise LocalProtocolError(f"the {self.role.value} does not {what}")

    def seal_request(self, payload: bytes) -> bytes:
        self._require(Role.INITIATOR, "send requests")
        if self.counter >= MAX_COUNTER:
            raise LocalProtocolError("message counter exhausted: establish a new session")
        if self._awaiting_response:
            raise LocalProtocolError("a request is out: open its response before sealing another")
        sealed = self._seal(self.counter, payload)
        self._awaiting_response = True  # only once a request exists: a refused payload leaves the session usable
        return sealed

    def open_response(self, data: bytes) -> bytes:
        self._require(Role.INITIATOR, "receive responses")
        msg = self._open(data, "response")
        if msg.counter != self.counter + 1:
            raise RemoteProtocolError(f"response: counter {msg.counter}, expected {self.counter + 1} (a replay?)")
        self.counter += 1
        self._awaiting_response = False
        return msg.payload

    def open_request(self, data: bytes) -> bytes:
        self._require(Role.RESPONDER, "receive requests")
        msg = self._open(data, "request")
        if msg.counter != self.counter or msg.counter > MAX_COUNTER:
            raise RemoteProtocolError(f"request: counter {msg.counter}, expected {self.counter} (a replay?)")
        self._awaiting_response = True
        return msg.payload

    def seal_response(self, payload: bytes) -> bytes:
        self._require(Role.RESPONDER, "send responses")
        if not self._awaiting_response:
            raise LocalProtocolError("a response answers exactly one opened request")
        self._awaiting_response = False
        self.counter += 1
        return self._seal(self.counter, payload)
