"""Both verdicts, untrusted and trusted (simulated QvE), printed as Intel's QuoteVerificationSample prints them.

``sgxra verify --trusted`` uses :func:`echo_both`; ``sgxra demo dcap`` can call :func:`verify_both`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography import x509

from sgxra.sim.qve import TrustedVerification, trusted_verification
from sgxra.verify.result import QV_RESULT, DcapResult
from sgxra.wire.collateral import Collateral

Echo = Callable[[str], None]
SIMULATED_QVE = ("SIMULATED: the QvE and the app enclave are software on a simulated platform; the QvE's REPORT is "
                 "MACed with a simulated report key, not by SGX hardware")
_NON_TERMINAL = {0xA001, 0xA002, 0xA003, 0xA007, 0xA008}


def sample_verdict(result_code: int, collateral_expiration_status: int) -> str:
    """The QuoteVerificationSample's line for a verification result."""
    if result_code == 0:
        return ("Info: App: Verification completed successfully." if collateral_expiration_status == 0 else
                "Warning: App: Verification completed, but collateral is out of date based on "
                "'expiration_check_date' you provided.")
    if result_code in _NON_TERMINAL:
        return f"Warning: App: Verification completed with Non-terminal result: {result_code:x}"
    return f"Error: App: Verification completed with Terminal result: {result_code:x}"


def _supplemental_lines(supplemental: bytes) -> list[str]:
    lines = [f"Info: Supplemental data Major Version: {int.from_bytes(supplemental[0:2], 'little')}",
             f"Info: Supplemental data Minor Version: {int.from_bytes(supplemental[2:4], 'little')}"]
    sa_list = supplemental[172:492].split(b"\x00")[0].decode("ascii", "replace")
    return lines + ([f"Info: Advisory ID: {sa_list}"] if sa_list else [])


def echo_both(untrusted: DcapResult, trusted: TrustedVerification, echo: Echo) -> None:
    at = untrusted.verified_at
    expired = int(untrusted.verdict.dates.earliest_expiration <= at)
    echo("untrusted quote verification (sgxra's verifier in this process; no SGX needed, the result is not "
         "cryptographically authenticated):")
    echo("  Info: App: tee_verify_quote successfully returned.")
    echo("  " + sample_verdict(QV_RESULT[untrusted.verdict.status], expired))
    for line in _supplemental_lines(untrusted.to_supplemental()):
        echo("  " + line)
    out = trusted.output
    echo(f"trusted quote verification (QvE) [{SIMULATED_QVE}]:")
    echo("  Info: get target info successfully returned.")
    echo("  Info: App: tee_verify_quote successfully returned.")
    echo("  Info: Ecall: Verify QvE report and identity successfully returned.")
    echo("  " + sample_verdict(out.quote_verification_result, out.collateral_expiration_status))
    for line in _supplemental_lines(out.supplemental_data):
        echo("  " + line)


def trusted_dict(trusted: TrustedVerification) -> dict[str, Any]:
    out = trusted.output
    return {"simulated_qve": True, "quote_verification_result": out.quote_verification_result,
            "collateral_expiration_status": out.collateral_expiration_status,
            "expiration_check_date": trusted.expiration_check_date, "nonce": trusted.nonce.hex(),
            "supplemental_data": out.supplemental_data.hex(), "qve_report": out.report.to_bytes().hex(),
            "qve_report_verified": True}


def verify_both(quote: bytes, collateral: Collateral, *, at: datetime, root: x509.Certificate | None = None,
                echo: Echo) -> bool:
    """Verify untrusted, then trusted with the simulated QvE, print both; True when both verdicts are non-terminal
    and agree. Raises what either verification raises (a quote that is not genuine gets no verdict)."""
    from sgxra.api import verify

    untrusted = verify(quote, collateral=collateral, at=at, root=root)
    if not isinstance(untrusted, DcapResult):
        raise TypeError("trusted verification is for DCAP quotes")
    trusted = trusted_verification(quote, collateral, at=at, root=root)
    echo_both(untrusted, trusted, echo)
    code = trusted.output.quote_verification_result
    return code == QV_RESULT[untrusted.verdict.status] and (code == 0 or code in _NON_TERMINAL)
