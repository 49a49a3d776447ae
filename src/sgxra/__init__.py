"""sgxra: Intel SGX remote attestation for service providers, in Python.

The names below are imported on first use (PEP 562), so ``import sgxra`` and the
``sgxra`` command start without loading the verifiers, the protocol or the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

__version__ = "0.1.0"

# Where each public name lives. A new export goes here and into the TYPE_CHECKING block below
# (tests/test_lean_install.py checks that both agree with __all__).
_EXPORTS: dict[str, str] = {
    "SessionKeys": "sgxra.crypto",
    "derive_session_keys": "sgxra.crypto",
    "BadMac": "sgxra.errors",
    "BadSignature": "sgxra.errors",
    "BindingMismatch": "sgxra.errors",
    "GroupMismatch": "sgxra.errors",
    "InvalidPoint": "sgxra.errors",
    "KeyMismatch": "sgxra.errors",
    "LocalProtocolError": "sgxra.errors",
    "MalformedMessage": "sgxra.errors",
    "PolicyViolation": "sgxra.errors",
    "ProtocolError": "sgxra.errors",
    "RemoteProtocolError": "sgxra.errors",
    "SgxRaError": "sgxra.errors",
    "UnexpectedMessage": "sgxra.errors",
    "VerificationError": "sgxra.errors",
    "AttestationOutcome": "sgxra.protocol",
    "ClientSession": "sgxra.protocol",
    "Evidence": "sgxra.protocol",
    "ServiceProviderSession": "sgxra.protocol",
    "SpConfig": "sgxra.protocol",
    "SpPendingState": "sgxra.protocol",
    "Verifier": "sgxra.protocol",
    "complete_with": "sgxra.protocol",
    "Policy": "sgxra.validate",
    "DcapVerdict": "sgxra.verify.dcap",
    "DcapVerifier": "sgxra.verify.dcap",
    "verify_dcap_quote": "sgxra.verify.dcap",
    "verify_report": "sgxra.verify.ias",
    "Collateral": "sgxra.wire.collateral",
    "TcbStatus": "sgxra.wire.collateral",
    "DcapQuote": "sgxra.wire.dcap_quote",
    "AttestationReport": "sgxra.wire.ias_report",
    "QuoteStatus": "sgxra.wire.ias_report",
}

if TYPE_CHECKING:
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
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


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
