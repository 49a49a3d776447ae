"""The one error hierarchy of sgxra, rooted at :class:`SgxRaError`.

Programs map each family to its own exit code; see ``sgxra.cli``.
"""

from __future__ import annotations

from collections.abc import Sequence


class SgxRaError(Exception):
    """Base of every error sgxra raises on purpose."""


class MalformedMessage(SgxRaError):
    """Bytes that do not form the named structure.

    ``structure`` and ``field`` say what was being read, ``offset`` where (in
    bytes from the start of ``structure``).
    """

    def __init__(self, structure: str, field: str, offset: int, reason: str) -> None:
        self.structure = structure
        self.field = field
        self.offset = offset
        self.reason = reason
        super().__init__(f"malformed {structure}: field {field!r} at offset {offset}: {reason}")


class InvalidPoint(MalformedMessage):
    """A P-256 public key that is not a valid point on the curve."""


class ProtocolError(SgxRaError):
    """The key exchange cannot continue."""


class LocalProtocolError(ProtocolError):
    """Our side used the state machine wrongly (a bug in the caller)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""


class UnexpectedMessage(RemoteProtocolError):
    """A message arrived in a state that does not accept it."""


class UnknownSession(RemoteProtocolError):
    """No pending session under this id: never started, already finished, or expired."""


class BadMac(RemoteProtocolError):
    """A CMAC over a protocol message does not verify."""


class BadSignature(RemoteProtocolError):
    """The service provider's signature in msg2 does not verify."""


class KeyMismatch(RemoteProtocolError):
    """msg3's g_a differs from the one msg1 announced."""


class GroupMismatch(RemoteProtocolError):
    """The quote's EPID group differs from the one msg1 announced."""


class BindingMismatch(RemoteProtocolError):
    """The quote's report_data is not SHA256(g_a || g_b || VK) || 32 zero bytes."""


class VerificationError(SgxRaError):
    """Evidence (a quote or a report about it) is not genuine."""


class PolicyViolation(SgxRaError):
    """Genuine evidence that the relying party's policy does not accept."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = tuple(violations)
        super().__init__("policy refused the enclave: " + "; ".join(self.violations))


class SignatureInvalid(VerificationError):
    """A signature over evidence (an IAS report, a quote, collateral) does not verify."""


class CertificateChainError(VerificationError):
    """A certificate chain does not lead to the pinned root, or breaks a rule on the way."""


class CertificateExpired(CertificateChainError):
    """A certificate is not valid at the verification time."""


class CertificateRevoked(CertificateChainError):
    """A certificate is on its issuer's CRL."""


class ReportMacMismatch(VerificationError):
    """A local REPORT's MAC does not verify under this enclave's report key: the REPORT was altered,
    targeted at another enclave, or made on another platform."""


class EvidenceMismatch(VerificationError):
    """Genuine evidence that does not belong to this request (quote, nonce, API version)."""


class StaleEvidence(VerificationError):
    """Evidence outside the caller's freshness window."""


class ServiceError(SgxRaError):
    """A remote attestation service (IAS, PCS) did not give a usable answer.

    ``status_code`` is the HTTP status (None for timeouts and connection
    errors) and ``request_id`` the service's Request-ID, when it sent one.
    """

    def __init__(self, message: str, *, status_code: int | None = None, request_id: str | None = None) -> None:
        self.status_code = status_code
        self.request_id = request_id
        detail = []
        if status_code is not None:
            detail.append(f"HTTP {status_code}")
        if request_id:
            detail.append(f"Request-ID {request_id}")
        super().__init__(message + (f" ({', '.join(detail)})" if detail else ""))


class ServiceAuthError(ServiceError):
    """The service refused our subscription key(s) (401)."""


class ServiceBadRequest(ServiceError):
    """The service called our request invalid (400): usually malformed evidence."""


class ServiceNotFound(ServiceError):
    """The service has no such resource (404)."""


class ServiceUnavailable(ServiceError):
    """The service failed (500), was unavailable (503) or unreachable, after retries."""


class CollateralExpired(VerificationError):
    """Collateral (TCB info, QE identity, a CRL) is not current at the verification time."""


class StoreUnavailable(SgxRaError):
    """The session store (Redis) cannot be reached; the session cannot continue now."""
