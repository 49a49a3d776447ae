"""The service provider's side of msg0..msg4 as a sans-IO state machine.

The machine never touches a socket, a clock or the network. Where it needs
something from outside it returns an event and waits to be fed:

    sp = ServiceProviderSession(config)
    need = sp.receive_msg0_msg1(data)      # -> SigRlNeeded(gid)
    msg2 = sp.send_msg2(sig_rl)            # fetch the SigRL for need.gid first
    state = sp.pending                     # plain value; store it anywhere
    sp = ServiceProviderSession.resume(config, state)
    need = sp.receive_msg3(data)           # -> EvidenceNeeded(quote)
    outcome = sp.receive_evidence(verifier.verify_quote(need.quote))

Any error moves the session to ERROR for good. Evidence that is not genuine,
or that policy refuses, is not an error: it gets a msg4 saying NotTrusted.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from sgxra import crypto
from sgxra.errors import (
    BindingMismatch,
    GroupMismatch,
    KeyMismatch,
    LocalProtocolError,
    RemoteProtocolError,
    ServiceError,
    SgxRaError,
    VerificationError,
)
from sgxra.protocol._steps import StepMachine
from sgxra.protocol.evidence import Evidence, PolicyChecker, Verifier, Violation
from sgxra.protocol.state import SpPendingState
from sgxra.wire.any_quote import parse_quote
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.messages import (
    AttestationStatus,
    Msg0,
    Msg0Msg1,
    Msg1,
    Msg2,
    Msg3,
    Msg4,
)
from sgxra.wire.msg4_auth import ReasonCode
from sgxra.wire.platform_info import PlatformInfoBlob
from sgxra.wire.quote import EpidQuote, QuoteSignType
from sgxra.wire.report_body import ReportBody


class SpState(enum.Enum):
    """Where the service provider's side of msg0..msg4 stands."""
    WAIT_MSG0 = "wait_msg0"
    WAIT_MSG1 = "wait_msg1"
    NEED_SIGRL = "need_sigrl"
    WAIT_MSG3 = "wait_msg3"
    NEED_EVIDENCE = "need_evidence"
    DONE = "done"
    ERROR = "error"


@dataclass(frozen=True)
class SpConfig:
    """What a service provider is: its long-term key, SPID, quote type and policy."""

    signing_key: ec.EllipticCurvePrivateKey
    spid: bytes
    policy: PolicyChecker
    quote_type: QuoteSignType = QuoteSignType.UNLINKABLE


@dataclass(frozen=True)
class SigRlNeeded:
    """msg1 is in: fetch the SigRL of this EPID group, then call ``send_msg2``."""

    gid: int


@dataclass(frozen=True)
class EvidenceNeeded:
    """msg3 is authentic: have this quote verified, then call ``receive_evidence``."""

    quote: bytes
    parsed: EpidQuote | DcapQuote  # already parsed, so drivers can pick a verifier without parsing again


@dataclass(frozen=True)
class AttestationOutcome:
    """The service provider's verdict and the msg4 that carries it."""

    msg4: Msg4
    reason: str
    evidence: Evidence | None
    violations: tuple[Violation, ...]
    reason_code: ReasonCode

    @property
    def trusted(self) -> bool:
        return self.msg4.status in (AttestationStatus.Trusted, AttestationStatus.Trusted_ItsComplicated)


class ServiceProviderSession(StepMachine[SpState]):
    """The service provider's side of one attestation (sans-IO): feed messages, get messages.

    Evidence verification is asked of the caller (``NEED_EVIDENCE``); the session
    binds it to the key exchange, applies the policy and produces msg4."""
    def __init__(self, config: SpConfig, *, ephemeral_key: ec.EllipticCurvePrivateKey | None = None) -> None:
        super().__init__(SpState.WAIT_MSG0, SpState.ERROR)
        self.config = config
        self.outcome: AttestationOutcome | None = None
        self._ephemeral_key = ephemeral_key
        self._pending: SpPendingState | None = None
        self._quoted_body: ReportBody | None = None

    @classmethod
    def resume(cls, config: SpConfig, pending: SpPendingState) -> ServiceProviderSession:
        """Continue a session whose msg2 was sent (possibly by another replica)."""
        session = cls(config)
        session._pending = pending
        session.state = SpState.WAIT_MSG3
        return session

    @property
    def pending(self) -> SpPendingState:
        """The state to keep between msg2 and msg3 (no private key in it)."""
        if self._pending is None or self.state is not SpState.WAIT_MSG3:
            raise LocalProtocolError(f"no pending state to save in state {self.state.value}")
        return self._pending

    @property
    def keys(self) -> tuple[bytes, bytes]:
        """(SK, MK) once msg3 has been authenticated."""
        if self._pending is None or self.state not in (SpState.NEED_EVIDENCE, SpState.DONE):
            raise LocalProtocolError(f"session keys are not established in state {self.state.value}")
        return self._pending.sk, self._pending.mk

    # -- transitions -------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        super()._fail(error)
        self._pending = None  # forget the session keys
        self._ephemeral_key = None

    def receive_msg0(self, data: bytes) -> None:
        with self._step(SpState.WAIT_MSG0, "msg0", remote=True):
            self._accept_msg0(Msg0.parse(data))
            self.state = SpState.WAIT_MSG1

    def receive_msg1(self, data: bytes) -> SigRlNeeded:
        with self._step(SpState.WAIT_MSG1, "msg1", remote=True):
            return self._accept_msg1(Msg1.parse(data))

    def receive_msg0_msg1(self, data: bytes) -> SigRlNeeded:
        with self._step(SpState.WAIT_MSG0, "msg0||msg1", remote=True):
            msg = Msg0Msg1.parse(data)
            self._accept_msg0(msg.msg0)
            return self._accept_msg1(msg.msg1)

    def _accept_msg0(self, msg0: Msg0) -> None:
        if msg0.extended_epid_group_id != 0:
            raise RemoteProtocolError(
                f"msg0: extended EPID group id {msg0.extended_epid_group_id} is not supported (only 0, Intel's)"
            )

    def _accept_msg1(self, msg1: Msg1) -> SigRlNeeded:
        ephemeral = self._ephemeral_key or ec.generate_private_key(ec.SECP256R1())
        self._ephemeral_key = None  # used once, then dropped
        keys = crypto.derive_session_keys(crypto.ecdh_shared_x_le(ephemeral, msg1.g_a, "g_a"))
        self._pending = SpPendingState(
            g_a=msg1.g_a, g_b=crypto.public_key_to_point(ephemeral.public_key()), gid=msg1.gid,
            spid=self.config.spid, quote_type=self.config.quote_type,
            smk=keys.smk, sk=keys.sk, mk=keys.mk, vk=keys.vk,
        )
        self.state = SpState.NEED_SIGRL
        return SigRlNeeded(gid=int.from_bytes(msg1.gid, "little"))

    def send_msg2(self, sig_rl: bytes = b"") -> bytes:
        with self._step(SpState.NEED_SIGRL, "send_msg2", remote=False):
            p = self._require_pending()
            unsigned = Msg2(
                g_b=p.g_b, spid=p.spid, quote_type=p.quote_type, kdf_id=crypto.KDF_ID_SGX,
                sign_gb_ga=crypto.sign_gb_ga(self.config.signing_key, p.g_b, p.g_a),
                mac=bytes(16), sig_rl=sig_rl,
            )
            mac = crypto.aes_cmac(p.smk, unsigned.mac_covered_bytes())
            msg2 = Msg2(unsigned.g_b, unsigned.spid, unsigned.quote_type, unsigned.kdf_id,
                        unsigned.sign_gb_ga, mac, sig_rl)
            self.state = SpState.WAIT_MSG3
            return msg2.to_bytes()

    def receive_msg3(self, data: bytes) -> EvidenceNeeded:
        """Check msg3 in the SDK's order: g_a, MAC, the quote's EPID group (EPID quotes only:
        ECDSA quotes have no group, and msg1 carries zeros)."""
        with self._step(SpState.WAIT_MSG3, "msg3", remote=True):
            p = self._require_pending()
            msg3 = Msg3.parse(data)
            if not hmac.compare_digest(msg3.g_a, p.g_a):
                raise KeyMismatch("msg3: g_a differs from the one in msg1")
            crypto.verify_cmac(p.smk, msg3.mac_covered_bytes(), msg3.mac, "msg3")
            quote = parse_quote(msg3.quote)
            if isinstance(quote, EpidQuote):
                if not hmac.compare_digest(quote.epid_group_id, p.gid):
                    raise GroupMismatch(
                        f"msg3: quote is from EPID group {quote.epid_group_id.hex()}, msg1 announced {p.gid.hex()}"
                    )
                if quote.sign_type is not p.quote_type:
                    raise RemoteProtocolError(
                        f"msg3: quote is {quote.sign_type.name.lower()}, msg2 asked for {p.quote_type.name.lower()}"
                    )
                self._quoted_body = quote.report_body
            elif isinstance(quote.body, ReportBody):
                self._quoted_body = quote.body
            else:
                raise RemoteProtocolError("msg3: a TDX quote cannot attest an SGX enclave")
            self.state = SpState.NEED_EVIDENCE
            return EvidenceNeeded(quote=msg3.quote, parsed=quote)

    def receive_evidence(self, evidence: Evidence) -> AttestationOutcome:
        """Bind genuine evidence to this session, apply policy and produce msg4."""
        with self._step(SpState.NEED_EVIDENCE, "receive_evidence", remote=False):
            p = self._require_pending()
            if self._quoted_body is None:
                raise LocalProtocolError("no quote recorded for this session")
            if evidence.report_body != self._quoted_body:
                raise VerificationError("the verifier's evidence describes a different report body than the quote")
            expected = crypto.report_data_binding(p.g_a, p.g_b, p.vk)
            if not hmac.compare_digest(evidence.report_body.report_data, expected):
                raise BindingMismatch("quote report_data is not bound to this session's keys")
            violations = tuple(self.config.policy.violations(evidence))
            return self._finish(evidence, violations)

    def refuse_evidence(self, error: SgxRaError) -> AttestationOutcome:
        """The verifier found the quote not genuine (or malformed inside): answer NotTrusted."""
        with self._step(SpState.NEED_EVIDENCE, "refuse_evidence", remote=False):
            self.outcome = AttestationOutcome(
                msg4=Msg4(AttestationStatus.NotTrusted, PlatformInfoBlob.empty()),
                reason=f"evidence not genuine: {error}", evidence=None, violations=(),
                reason_code=ReasonCode.NOT_GENUINE,
            )
            self.state = SpState.DONE
            return self.outcome

    def service_unavailable(self, error: SgxRaError) -> AttestationOutcome:
        """The attestation service could not be asked: answer NotTrusted, saying to try again."""
        with self._step(SpState.NEED_EVIDENCE, "service_unavailable", remote=False):
            self.outcome = AttestationOutcome(
                msg4=Msg4(AttestationStatus.NotTrusted, PlatformInfoBlob.empty()),
                reason=f"attestation service unavailable: {error}", evidence=None, violations=(),
                reason_code=ReasonCode.SERVICE_UNAVAILABLE,
            )
            self.state = SpState.DONE
            return self.outcome

    def _finish(self, evidence: Evidence, violations: tuple[Violation, ...]) -> AttestationOutcome:
        if not violations:
            status = AttestationStatus.Trusted if evidence.up_to_date else AttestationStatus.Trusted_ItsComplicated
            reason = "trusted" if evidence.up_to_date else f"trusted with status {evidence.status} accepted by policy"
            code = ReasonCode.NONE
        elif all(v.platform for v in violations):
            status = AttestationStatus.NotTrusted_ItsComplicated
            reason = "platform needs an update: " + "; ".join(map(str, violations))
            code = ReasonCode.PLATFORM_UPDATE_NEEDED
        else:
            status = AttestationStatus.NotTrusted
            reason = "refused by policy: " + "; ".join(map(str, violations))
            code = ReasonCode.POLICY
        pib = evidence.platform_info_blob or PlatformInfoBlob.empty()
        self.outcome = AttestationOutcome(Msg4(status, pib), reason, evidence, violations, code)
        self.state = SpState.DONE
        return self.outcome

    def _require_pending(self) -> SpPendingState:
        if self._pending is None:
            raise LocalProtocolError("session has no key exchange state")
        return self._pending


def complete_with(session: ServiceProviderSession, msg3: bytes, verifier: Verifier) -> AttestationOutcome:
    """Drive msg3 to msg4 with a synchronous verifier."""
    need = session.receive_msg3(msg3)
    try:
        evidence = verifier.verify_quote(need.quote)
    except ServiceError:
        raise
    except SgxRaError as e:  # not genuine, or malformed inside (a PCK certificate that does not parse)
        return session.refuse_evidence(e)
    return session.receive_evidence(evidence)
