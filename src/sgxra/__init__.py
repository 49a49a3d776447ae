"""sgxra: Intel SGX and TDX remote attestation for relying parties, in Python.

``sgxra.verify(evidence, ...)`` is the one call from evidence to a verdict
(:func:`sgxra.api.verify`). The attribute is a callable that also answers for the
package ``sgxra.verify`` (verification proper), so ``sgxra.verify.dcap``,
``import sgxra.verify.dcap as dcap`` and ``from sgxra.verify import ...`` keep working.

The other names are imported on first use (PEP 562), so ``import sgxra`` and the
``sgxra`` command start without loading the verifiers, the protocol or the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

__version__ = "0.1.0"

# The package first (cheap: its names load on first use), so that a later `import sgxra.verify.x` cannot rebind
# `sgxra.verify` to the bare package; then the one call (sgxra/one_call.py, cheap too) takes the name.
import sgxra.verify  # noqa: E402, F401
from sgxra.one_call import one_call as verify  # noqa: E402

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
    "IasEvidence": "sgxra.api",
    "averify": "sgxra.api",
    "TdxRules": "sgxra.validate.policy",
    "DcapResult": "sgxra.verify.result",
    "IasResult": "sgxra.verify.result",
    "PolicyVerdict": "sgxra.verify.result",
}

if TYPE_CHECKING:
    from sgxra.api import IasEvidence, averify
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
    from sgxra.validate.policy import TdxRules
    from sgxra.verify.dcap import DcapVerdict, DcapVerifier, verify_dcap_quote
    from sgxra.verify.ias import verify_report
    from sgxra.verify.result import DcapResult, IasResult, PolicyVerdict
    from sgxra.wire.collateral import Collateral, TcbStatus
    from sgxra.wire.dcap_quote import DcapQuote
    from sgxra.wire.ias_report import AttestationReport, QuoteStatus
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "DcapResult",
    "IasEvidence",
    "IasResult",
    "PolicyVerdict",
    "TdxRules",
    "averify",
    "verify",
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
