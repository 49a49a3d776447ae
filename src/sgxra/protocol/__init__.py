"""Sans-IO state machines for both roles of the msg0..msg4 key exchange."""

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

# Imported on first use: `sgxra.protocol.msg4` alone does not load both state machines.
_EXPORTS = {
    "ClientSession": "sgxra.protocol.client",
    "ClientState": "sgxra.protocol.client",
    "EnclaveBackend": "sgxra.protocol.client",
    "Evidence": "sgxra.protocol.evidence",
    "PolicyChecker": "sgxra.protocol.evidence",
    "Verifier": "sgxra.protocol.evidence",
    "Violation": "sgxra.protocol.evidence",
    "AttestationOutcome": "sgxra.protocol.service_provider",
    "EvidenceNeeded": "sgxra.protocol.service_provider",
    "ServiceProviderSession": "sgxra.protocol.service_provider",
    "SigRlNeeded": "sgxra.protocol.service_provider",
    "SpConfig": "sgxra.protocol.service_provider",
    "SpState": "sgxra.protocol.service_provider",
    "complete_with": "sgxra.protocol.service_provider",
    "SpPendingState": "sgxra.protocol.state",
}

if TYPE_CHECKING:
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
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

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
