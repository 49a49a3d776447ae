"""Is an RA-TLS certificate's evidence genuine, bound to its key, and acceptable?

SEAM (issue 10, the unified result type): :class:`RaTlsResult` is a small
stand-in holding the format, the binding and the underlying verifier's verdict
(``DcapVerdict`` for DCAP quotes, the verified IAS ``AttestationReport`` or the
EPID verifier's ``Evidence``), plus the ``Evidence`` the current ``Policy`` judged.
When the unified result lands, ``verify_certificate`` returns it instead, with
the RA-TLS format and binding as its evidence details, and the policy step
below becomes ``policy.check(result)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from sgxra.errors import EvidenceMismatch, PolicyViolation, VerificationError
from sgxra.ias.verifier import evidence_from_report
from sgxra.pcs.verifier import CollateralSource, collateral_key, dcap_evidence
from sgxra.protocol.evidence import Evidence, Verifier, Violation
from sgxra.ratls.binding import Binding
from sgxra.ratls.der import RaTlsCertificate, load_certificate
from sgxra.ratls.evidence import Format, RaTlsEvidence, extract
from sgxra.ratls.policy import TdxPolicy, enclave_attribute_violations
from sgxra.validate.policy import Policy
from sgxra.verify.dcap import DcapVerdict, DcapVerifier
from sgxra.verify.ias import verify_report
from sgxra.verify.trust import intel_ias_report_signing_root, intel_sgx_root_ca
from sgxra.wire.collateral import Collateral
from sgxra.wire.ias_report import AttestationReport
from sgxra.wire.quote import EpidQuote
from sgxra.wire.report_body import ReportBody
from sgxra.wire.td_report import TdReport


class KeyNotBound(EvidenceMismatch):
    """Genuine-looking evidence that does not bind this certificate's public key."""


@dataclass(frozen=True)
class RaTlsResult:
    evidence: RaTlsEvidence
    verdict: DcapVerdict | AttestationReport | Evidence
    judged: Evidence | None  # what ``Policy`` saw (None for a TD)
    simulated: bool

    @property
    def format(self) -> Format:
        return self.evidence.format

    @property
    def binding(self) -> Binding:
        return self.evidence.binding

    @property
    def report_body(self) -> ReportBody | TdReport:
        return self.evidence.report_body

    @property
    def status(self) -> str:
        if isinstance(self.verdict, DcapVerdict):
            return self.verdict.status.value
        return self.verdict.status


def check_binding(evidence: RaTlsEvidence) -> None:
    if not evidence.binding.bound:
        raise KeyNotBound(f"{evidence.format.value} evidence is not about this certificate's key: "
                          f"{evidence.binding.reason}")


def _dcap(evidence: RaTlsEvidence, at: datetime, collateral: Collateral | CollateralSource | None,
          dcap: DcapVerifier) -> RaTlsResult:
    quote = evidence.quote
    if quote is None or isinstance(quote, EpidQuote):
        raise VerificationError("not a DCAP quote")
    if collateral is None:
        raise VerificationError("a DCAP quote needs collateral (or a source to fetch it from)")
    bundle = collateral if isinstance(collateral, Collateral) else collateral(collateral_key(quote, verifier=dcap))
    verdict = dcap.verify(quote, bundle, at=at)
    simulated = dcap.root != intel_sgx_root_ca()
    judged = dcap_evidence(verdict, quote.body, simulated=simulated) if isinstance(quote.body, ReportBody) else None
    return RaTlsResult(evidence, verdict, judged, simulated)


def _ias(evidence: RaTlsEvidence, at: datetime, ias_root: x509.Certificate | None,
         max_report_age: timedelta | None) -> RaTlsResult:
    embedded = evidence.ias_report
    if embedded is None:
        raise VerificationError("no IAS report")
    report = verify_report(embedded.body, embedded.signature, chain=embedded.chain, at=at, root=ias_root,
                           max_age=max_report_age)
    simulated = ias_root is not None and ias_root != intel_ias_report_signing_root()
    return RaTlsResult(evidence, report, evidence_from_report(report, simulated=simulated), simulated)


def _epid(evidence: RaTlsEvidence, epid_verifier: Verifier | None) -> RaTlsResult:
    quote = evidence.quote
    if not isinstance(quote, EpidQuote):
        raise VerificationError("not an EPID quote")
    if epid_verifier is None:
        raise VerificationError("an EPID quote must be sent to IAS: no EPID verifier was given")
    judged = epid_verifier.verify_quote(quote.to_bytes())
    if judged.report_body != quote.report_body:
        raise EvidenceMismatch("the EPID verifier answered about another quote")
    return RaTlsResult(evidence, judged, judged, judged.simulated)


def violations(result: RaTlsResult, policy: Policy | TdxPolicy) -> list[Violation]:
    body = result.report_body
    if isinstance(body, TdReport):
        if not isinstance(policy, TdxPolicy) or not isinstance(result.verdict, DcapVerdict):
            return [Violation("tee", "a TD quote needs a TDX policy")]
        return policy.violations(body, result.status, result.verdict.advisory_ids, simulated=result.simulated)
    if not isinstance(policy, Policy) or result.judged is None:
        return [Violation("tee", "an SGX enclave needs an SGX policy")]
    return [*policy.violations(result.judged), *enclave_attribute_violations(body)]


def verify_certificate(
    certificate: bytes | RaTlsCertificate,
    *,
    at: datetime,
    policy: Policy | TdxPolicy | None,
    collateral: Collateral | CollateralSource | None = None,
    root: x509.Certificate | None = None,
    ias_root: x509.Certificate | None = None,
    epid_verifier: Verifier | None = None,
    max_report_age: timedelta | None = None,
    dcap: DcapVerifier | None = None,
) -> RaTlsResult:
    """Verify a certificate (DER, PEM or parsed): binding first, then the evidence, then ``policy``.

    ``collateral`` is a bundle or a source called with the quote's
    ``CollateralKey``; ``root`` replaces Intel's SGX root (simulation), as
    ``ias_root`` does the IAS report-signing root. ``policy=None`` must be said
    explicitly and skips judging (genuine and bound only). Raises
    :class:`KeyNotBound`, any verification error, or :class:`PolicyViolation`.
    """
    if at.tzinfo is None:
        raise ValueError("verification time must be timezone-aware")
    cert = certificate if isinstance(certificate, RaTlsCertificate) else load_certificate(certificate)
    evidence = extract(cert)
    check_binding(evidence)
    if evidence.ias_report is not None:
        result = _ias(evidence, at, ias_root, max_report_age)
    elif isinstance(evidence.quote, EpidQuote):
        result = _epid(evidence, epid_verifier)
    else:
        result = _dcap(evidence, at, collateral, dcap or DcapVerifier(root, cache=False))
    if policy is not None:
        found = violations(result, policy)
        if found:
            raise PolicyViolation([str(v) for v in found])
    return result


class RaTlsVerifier:
    """Verifies peer certificates for attested connections: fixed policy and trust, time from ``clock``."""

    def __init__(
        self, *, policy: Policy | TdxPolicy | None, clock: Callable[[], datetime],
        collateral: Collateral | CollateralSource | None = None, root: x509.Certificate | None = None,
        ias_root: x509.Certificate | None = None, epid_verifier: Verifier | None = None,
        max_report_age: timedelta | None = None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.collateral = collateral
        self.ias_root = ias_root
        self.epid_verifier = epid_verifier
        self.max_report_age = max_report_age
        self.dcap = DcapVerifier(root)  # remembers verified collateral between connections

    def verify(self, der: bytes) -> RaTlsResult:
        return verify_certificate(
            der, at=self.clock(), policy=self.policy, collateral=self.collateral, ias_root=self.ias_root,
            epid_verifier=self.epid_verifier, max_report_age=self.max_report_age, dcap=self.dcap,
        )
