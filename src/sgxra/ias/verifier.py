"""A Verifier for the service provider that asks IAS about EPID quotes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from cryptography import x509

from sgxra.errors import MalformedMessage, VerificationError
from sgxra.ias.client import AsyncIasClient, IasClient, IasReportResponse
from sgxra.protocol.evidence import Evidence
from sgxra.verify.ias import SigningChainCache, verify_report
from sgxra.verify.trust import fingerprint, intel_ias_report_signing_root
from sgxra.wire.ias_report import ADVISORY_STATUSES, AttestationReport, QuoteStatus

Clock = Callable[[], datetime]
C = TypeVar("C", IasClient, AsyncIasClient)



def evidence_from_report(
    report: AttestationReport, *, simulated: bool, header_advisory_ids: tuple[str, ...] = (),
    header_advisory_url: str | None = None, at: datetime | None = None,
) -> Evidence:
    """Turn a verified report into evidence; a quote IAS found forged is not evidence.

    Advisories arrive in the signed body (API v4, v5) and in the Advisory-IDs and
    Advisory-URL headers (API v3, which has no body field for them). Headers are
    not covered by the report signature, so they may only add: the evidence
    carries the body's advisories followed by any further ones the headers name,
    and a header can never remove a signed one. More advisories can only make a
    policy refuse, never accept. What headers can do unseen is vanish, so a report
    whose status means "see the advisories" but that names none is refused.
    ``at`` is when the report was verified (a policy's collateral age is judged then).
    """
    if report.isv_enclave_quote_status is QuoteStatus.SIGNATURE_INVALID:
        raise VerificationError("IAS: the quote's EPID signature is invalid")
    advisories = tuple(dict.fromkeys((*report.advisory_ids, *header_advisory_ids)))
    if report.status in ADVISORY_STATUSES and not advisories:
        raise VerificationError(f"IAS: {report.status} names no advisory (in API v3 they come as headers: stripped?)")
    details = {"ias_report_id": report.id, "ias_timestamp": report.timestamp.isoformat(),
               "ias_report_version": str(report.version)}
    if report.revocation_reason is not None:
        details["revocation_reason"] = str(report.revocation_reason)
    unsigned = [a for a in advisories if a not in report.advisory_ids]
    if unsigned:
        details["advisories_from_headers"] = ",".join(unsigned)  # not covered by the report signature
    advisory_url = report.advisory_url or header_advisory_url
    if advisory_url:
        details["advisory_url"] = advisory_url
    return Evidence(
        kind="epid", status=report.status, report_body=report.quote.report_body,
        advisory_ids=advisories, platform_info_blob=report.platform_info_blob,
        epid_pseudonym=report.epid_pseudonym, simulated=simulated, details=details,
        verified_at=at, collateral_issued=report.timestamp,
        tcb_evaluation_data_number=report.tcb_evaluation_data_number,
    )


class _ReportChecks(Generic[C]):
    """Verification of IAS answers, shared by the sync and async verifiers."""

    def __init__(
        self, client: C, *, clock: Clock, root: x509.Certificate | None = None,
        max_age: timedelta | None = timedelta(minutes=10),
    ) -> None:
        self.client: C = client
        self.clock = clock
        self.root = root or intel_ias_report_signing_root()
        self.max_age = max_age
        # Anything not signed under Intel's own root is simulation, and says so.
        self.simulated = fingerprint(self.root) != fingerprint(intel_ias_report_signing_root())
        self.chain_cache = SigningChainCache()

    def evidence(self, quote: bytes, nonce: str, response: IasReportResponse) -> Evidence:
        at = self.clock()
        try:
            report = verify_report(
                response.body, response.signature, chain=response.chain, at=at, root=self.root,
                api_version=response.api_version, quote=quote, nonce=nonce, max_age=self.max_age,
                chain_cache=self.chain_cache,
            )
        except MalformedMessage as e:  # signed by IAS yet unreadable (an unknown status, say): not a pass
            raise VerificationError(f"IAS report refused: {e}") from e
        return evidence_from_report(report, simulated=self.simulated, header_advisory_ids=response.header_advisory_ids,
                                    header_advisory_url=response.header_advisory_url, at=at)


def new_nonce() -> str:
    return secrets.token_hex(16)  # 32 characters, IAS's limit


class IasVerifier(_ReportChecks[IasClient]):
    def verify_quote(self, quote: bytes) -> Evidence:
        nonce = new_nonce()
        return self.evidence(quote, nonce, self.client.get_report(quote, nonce=nonce))


class AsyncIasVerifier(_ReportChecks[AsyncIasClient]):
    async def verify_quote(self, quote: bytes) -> Evidence:
        nonce = new_nonce()
        return self.evidence(quote, nonce, await self.client.get_report(quote, nonce=nonce))
