"""sgxra: Intel SGX and TDX remote attestation for relying parties, in Python.

``sgxra.verify(evidence, ...)`` is the one call from evidence to a verdict
(:func:`sgxra.api.verify`). The attribute is a callable that also answers for the
package ``sgxra.verify`` (verification proper), so ``sgxra.verify.dcap``,
``import sgxra.verify.dcap as dcap`` and ``from sgxra.verify import ...`` keep working.
"""

from sgxra.api import IasEvidence, averify
from sgxra.api import one_call as verify
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
