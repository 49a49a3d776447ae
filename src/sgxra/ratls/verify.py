"""Is an RA-TLS certificate's evidence genuine, bound to its key, and acceptable?

:func:`verify_certificate` returns the same result as :func:`sgxra.api.verify`
(a :class:`DcapResult`, or an :class:`IasResult` for the EPID forms) with the
certificate's :class:`RaTlsEvidence` as its ``envelope``, so its format,
binding and unread extensions are in ``to_dict()``, ``to_json()`` and
``to_token()``. A policy judges it with ``Policy.check`` plus Gramine's
attribute rules (:mod:`sgxra.ratls.policy`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509

from sgxra.api import CollateralFetcher, dcap_result, ias_result
from sgxra.errors import EvidenceMismatch, PolicyViolation, VerificationError
from sgxra.ias.client import IasReportResponse
from sgxra.ias.verifier import new_nonce
from sgxra.ratls.der import RaTlsCertificate, load_certificate
from sgxra.ratls.evidence import RaTlsEvidence, extract
from sgxra.ratls.policy import enclave_attribute_violations
from sgxra.validate.policy import Policy
from sgxra.verify.dcap import DcapVerifier
from sgxra.verify.ias import verify_report
from sgxra.verify.result import DcapResult, IasResult, PolicyVerdict
from sgxra.verify.trust import intel_ias_report_signing_root
from sgxra.wire.collateral import Collateral
from sgxra.wire.quote import EpidQuote
from sgxra.wire.report_body import ReportBody

Result = DcapResult | IasResult


class ReportSource(Protocol):
    """Asks IAS for a report on an EPID quote (:class:`~sgxra.ias.client.IasClient`)."""

    def get_report(self, quote: bytes, *, nonce: str | None = None) -> IasReportResponse: ...


class KeyNotBound(EvidenceMismatch):
    """Genuine-looking evidence that does not bind this certificate's public key."""


def ratls_evidence(result: Result) -> RaTlsEvidence:
    """The certificate's evidence a result of :func:`verify_certificate` carries (its ``envelope``)."""
    if not isinstance(result.envelope, RaTlsEvidence):
        raise TypeError("this result did not come from an RA-TLS certificate")
    return result.envelope


def check_binding(evidence: RaTlsEvidence) -> None:
    if not evidence.binding.bound:
        raise KeyNotBound(f"{evidence.format.value} evidence is not about this certificate's key: "
                          f"{evidence.binding.reason}")


def _embedded_ias(evidence: RaTlsEvidence, at: datetime, ias_root: x509.Certificate | None,
                  max_report_age: timedelta | None) -> IasResult:
    embedded = evidence.ias_report
    if embedded is None:
        raise VerificationError("no IAS report")
    root = ias_root or intel_ias_report_signing_root()
    report = verify_report(embedded.body, embedded.signature, chain=embedded.chain, at=at, root=root,
                           max_age=max_report_age)
    return ias_result(report, at=at, root=root, envelope=evidence)


def _epid(evidence: RaTlsEvidence, at: datetime, ias: ReportSource | None, ias_root: x509.Certificate | None,
          max_report_age: timedelta | None) -> IasResult:
    quote = evidence.quote
    if not isinstance(quote, EpidQuote):
        raise VerificationError("not an EPID quote")
    if ias is None:
        raise VerificationError("an EPID quote must be sent to IAS: no IAS client was given")
    nonce = new_nonce()
    response = ias.get_report(quote.to_bytes(), nonce=nonce)
    root = ias_root or intel_ias_report_signing_root()
    report = verify_report(response.body, response.signature, chain=response.chain, at=at, root=root,
                           api_version=response.api_version, quote=quote.to_bytes(), nonce=nonce,
                           max_age=max_report_age)
    unsigned = set(response.header_advisory_ids) - set(report.advisory_ids)
    if unsigned:  # API v3 names advisories only in headers, which the signature does not cover: fail closed
        raise VerificationError(f"IAS named advisories outside the signed report: {', '.join(sorted(unsigned))}")
    return ias_result(report, at=at, root=root, envelope=evidence)


def judge(result: Result, policy: Policy) -> Result:
    """``result`` with ``policy``'s verdict, Gramine's attribute rules included for an SGX enclave."""
    found = policy.check(result)
    if isinstance(result.body, ReportBody):
        found += enclave_attribute_violations(result.body)
    return dataclasses.replace(result, policy=PolicyVerdict(tuple(found), policy.policy_id))


def verify_certificate(
    certificate: bytes | RaTlsCertificate,
    *,
    at: datetime,
    policy: Policy | None,
    collateral: Collateral | None = None,
    fetcher: CollateralFetcher | None = None,
    root: x509.Certificate | None = None,
    ias_root: x509.Certificate | None = None,
    ias: ReportSource | None = None,
    max_report_age: timedelta | None = None,
    dcap: DcapVerifier | None = None,
) -> Result:
    """Verify a certificate (DER, PEM or parsed): binding first, then the evidence, then judge it by ``policy``.

    DCAP quotes: ``collateral``, or else asked of ``fetcher`` (a
    :class:`CollateralCache` or any callable taking a :class:`CollateralKey`),
    as :func:`sgxra.api.verify` does; nothing is fetched without one. EPID
    quotes are sent to IAS through ``ias``; embedded IAS reports are verified as
    they are. ``root``/``ias_root`` replace Intel's roots (simulation).
    ``policy=None`` must be said explicitly and skips judging.

    Returns a :class:`DcapResult` or :class:`IasResult` whose ``envelope`` is
    the certificate's :class:`RaTlsEvidence` and whose ``policy`` holds the
    verdict: check ``result.accepted``, as for :func:`sgxra.api.verify`
    (:class:`RaTlsVerifier` raises instead). Raises :class:`KeyNotBound` or any
    verification error for evidence that is not genuine and bound.
    """
    if at.tzinfo is None:
        raise ValueError("verification time must be timezone-aware")
    cert = certificate if isinstance(certificate, RaTlsCertificate) else load_certificate(certificate)
    evidence = extract(cert)
    check_binding(evidence)
    result: Result
    if evidence.ias_report is not None:
        result = _embedded_ias(evidence, at, ias_root, max_report_age)
    elif isinstance(evidence.quote, EpidQuote):
        result = _epid(evidence, at, ias, ias_root, max_report_age)
    elif evidence.quote is not None:
        result = dcap_result(evidence.quote, at=at, collateral=collateral, fetcher=fetcher,
                             verifier=dcap or DcapVerifier(root, cache=False), envelope=evidence)
    else:
        raise VerificationError("not a DCAP quote")
    return judge(result, policy) if policy is not None else result


class RaTlsVerifier:
    """Verifies peer certificates for attested connections: fixed policy and trust, time from ``clock``.

    Unlike :func:`verify_certificate`, a refusal raises :class:`PolicyViolation`:
    a connection either is to an accepted peer or does not exist.
    """

    def __init__(
        self, *, policy: Policy | None, clock: Callable[[], datetime], collateral: Collateral | None = None,
        fetcher: CollateralFetcher | None = None, root: x509.Certificate | None = None,
        ias_root: x509.Certificate | None = None, ias: ReportSource | None = None,
        max_report_age: timedelta | None = None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.collateral = collateral
        self.fetcher = fetcher
        self.ias_root = ias_root
        self.ias = ias
        self.max_report_age = max_report_age
        self.dcap = DcapVerifier(root)  # remembers verified collateral between connections

    def verify(self, der: bytes) -> Result:
        result = verify_certificate(
            der, at=self.clock(), policy=self.policy, collateral=self.collateral, fetcher=self.fetcher,
            ias_root=self.ias_root, ias=self.ias, max_report_age=self.max_report_age, dcap=self.dcap,
        )
        if result.policy is not None and not result.policy.accepted:
            raise PolicyViolation([str(v) for v in result.policy.violations])
        return result
