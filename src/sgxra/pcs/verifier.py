"""A Verifier for the service provider that checks DCAP quotes locally against collateral."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sgxra.errors import VerificationError
from sgxra.protocol.evidence import Evidence
from sgxra.verify.dcap import DcapVerifier
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.collateral import Collateral
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.report_body import ReportBody

CollateralSource = Callable[[bytes, str], Collateral]


class DcapQuoteVerifier:
    """Verifies ECDSA quotes with ``verifier``, collateral from ``collateral(fmspc, ca)``, at ``clock()``."""

    def __init__(
        self, collateral: CollateralSource, *, clock: Callable[[], datetime], verifier: DcapVerifier | None = None
    ) -> None:
        self.collateral = collateral
        self.clock = clock
        self.verifier = verifier or DcapVerifier()
        # Evidence under any root but Intel's is simulation, and says so.
        self.simulated = self.verifier.root != intel_sgx_root_ca()

    def verify_quote(self, quote: bytes) -> Evidence:
        parsed = DcapQuote.parse(quote)
        if not isinstance(parsed.body, ReportBody):
            raise VerificationError("a TDX quote cannot attest an SGX enclave")
        fmspc, ca = self.verifier.collateral_key(parsed)
        verdict = self.verifier.verify(parsed, self.collateral(fmspc, ca), at=self.clock())
        return Evidence(
            kind="ecdsa", status=verdict.status.value, report_body=parsed.body, advisory_ids=verdict.advisory_ids,
            simulated=self.simulated,
            details={"fmspc": verdict.pck.fmspc.hex(), "pck_ca": verdict.ca_type, "tcb_date": verdict.tcb_date,
                     "collateral_expiry": verdict.collateral_expiry.isoformat()},
        )
