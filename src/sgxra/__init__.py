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

__all__ = [
    "AttestationOutcome",
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
    "RemoteProtocolError",
    "ServiceProviderSession",
    "SessionKeys",
    "SgxRaError",
    "SpConfig",
    "SpPendingState",
    "UnexpectedMessage",
    "VerificationError",
    "Verifier",
    "complete_with",
    "derive_session_keys",
]
