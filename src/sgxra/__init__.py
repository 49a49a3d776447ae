"""sgxra: Intel SGX remote attestation for service providers, in Python."""

from sgxra.crypto import SessionKeys, derive_session_keys
from sgxra.errors import (
    BadMac,
    BadSignature,
    BindingMismatch,
    GroupMismatch,
    InvalidPoint,
    KeyMismatch,
    LocalProtocolError,
    MalformedMessage,
    PolicyViolation,
    ProtocolError,
    RemoteProtocolError,
    SgxRaError,
    UnexpectedMessage,
    VerificationError,
)
from sgxra.protocol import (
    AttestationOutcome,
    ClientSession,
    Evidence,
    ServiceProviderSession,
    SpConfig,
    SpPendingState,
    Verifier,
    complete_with,
)
from sgxra.validate import Policy
from sgxra.verify.dcap import DcapVerdict, DcapVerifier, verify_dcap_quote
from sgxra.verify.ias import verify_report
from sgxra.wire.collateral import Collateral, TcbStatus
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.ias_report import AttestationReport, QuoteStatus

__all__ = [
    "AttestationOutcome",
    "AttestationReport",
    "Collateral",
    "DcapQuote",
    "DcapVerdict",
    "DcapVerifier",
    "BadMac",
    "BadSignature",
    "BindingMismatch",
    "ClientSession",
    "Evidence",
    "GroupMismatch",
    "InvalidPoint",
    "KeyMismatch",
    "LocalProtocolError",
    "MalformedMessage",
    "Policy",
    "PolicyViolation",
    "ProtocolError",
    "QuoteStatus",
    "RemoteProtocolError",
    "ServiceProviderSession",
    "SessionKeys",
    "SgxRaError",
    "SpConfig",
    "SpPendingState",
    "TcbStatus",
    "UnexpectedMessage",
    "VerificationError",
    "Verifier",
    "complete_with",
    "derive_session_keys",
    "verify_dcap_quote",
    "verify_report",
]
