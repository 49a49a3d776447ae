"""Sans-IO state machines for both roles of the msg0..msg4 key exchange."""

from sgxra.protocol.client import ClientSession, ClientState, EnclaveBackend
from sgxra.protocol.evidence import Evidence, PolicyChecker, Verifier, Violation
from sgxra.protocol.service_provider import (
    AttestationOutcome,
    EvidenceNeeded,
    ServiceProviderSession,
    SigRlNeeded,
    SpConfig,
    SpState,
    complete_with,
)
from sgxra.protocol.state import SpPendingState

__all__ = [
    "AttestationOutcome",
    "ClientSession",
    "ClientState",
    "EnclaveBackend",
    "Evidence",
    "EvidenceNeeded",
    "PolicyChecker",
    "ServiceProviderSession",
    "SigRlNeeded",
    "SpConfig",
    "SpPendingState",
    "SpState",
    "Verifier",
    "Violation",
    "complete_with",
]
