"""A Verifier for the service provider that checks DCAP quotes locally against collateral."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sgxra.errors import VerificationError
from sgxra.pcs.key import CollateralKey, check_evaluation
from sgxra.protocol.evidence import Evidence
from sgxra.verify.dcap import DcapVerdict, DcapVerifier, pck_fmspc_and_ca
from sgxra.verify.result import DcapResult
from sgxra.wire.collateral import Collateral
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.report_body import ReportBody

CollateralSource = Callable[[CollateralKey], Collateral]


def collateral_key(quote: DcapQuote, *, update: str = "standard",
                   tcb_evaluation_data_number: int | None = None) -> CollateralKey:
    """The collateral a quote needs: FMSPC and CA from its (unverified) PCK chain, TEE type from its header."""
    fmspc, ca = pck_fmspc_and_ca(quote)
    return CollateralKey(fmspc, ca, "TDX" if quote.is_tdx else "SGX", update, tcb_evaluation_data_number)


class DcapQuoteVerifier:
    """Verifies ECDSA quotes with ``verifier``, collateral from ``collateral(key)``, at ``clock()``."""

    def __init__(
        self, collateral: CollateralSource, *, clock: Callable[[], datetime], verifier: DcapVerifier | None = None,
        update: str = "standard", tcb_evaluation_data_number: int | None = None,
    ) -> None:
        check_evaluation(update, tcb_evaluation_data_number)
        self.collateral = collateral
        self.clock = clock
        self.verifier = verifier or DcapVerifier()
        self.update = update
        self.tcb_evaluation_data_number = tcb_evaluation_data_number

    def verify_quote(self, quote: bytes) -> Evidence:
        parsed = DcapQuote.parse(quote)
        if not isinstance(parsed.body, ReportBody):
            raise VerificationError("a TDX quote cannot attest an SGX enclave")
        key = collateral_key(parsed, update=self.update, tcb_evaluation_data_number=self.tcb_evaluation_data_number)
        collateral = self.collateral(key)
        at = self.clock()  # after the fetch: collateral issued while it ran is valid at this moment
        verdict = self.verifier.verify(parsed, collateral, at=at)
        return dcap_evidence(verdict, parsed.body, simulated=self.verifier.simulated, at=at)


def dcap_evidence(verdict: DcapVerdict, body: ReportBody, *, simulated: bool, at: datetime) -> Evidence:
    """A genuine SGX quote's verdict, verified ``at``, as the evidence policies judge."""
    result = DcapResult(verdict, at, simulated)  # names the platform facts as the one-call results do
    return Evidence(
        kind="ecdsa", status=verdict.status.value, report_body=body, advisory_ids=verdict.advisory_ids,
        simulated=simulated,
        details={"fmspc": verdict.pck.fmspc.hex(), "pck_ca": verdict.ca_type, "tcb_date": verdict.tcb_date,
                 "collateral_expiry": verdict.collateral_expiry.isoformat()},
        verified_at=at, tcb_date=result.tcb_date, collateral_issued=result.collateral_issued,
        tcb_evaluation_data_number=result.tcb_evaluation_data_number,
    )
