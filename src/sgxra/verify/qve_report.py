"""The calling enclave's check of a quote verification enclave's verdict, as Intel's
``sgx_tvl_verify_qve_report_and_identity`` (intel/SGXDataCenterAttestationPrimitives
QuoteVerification/dcap_tvl/sgx_dcap_tvl.cpp and sgx_dcap_constant_val.h at 3c3ecb7) does it:

1. the QvE's REPORT MAC, under the caller's own report key (so the REPORT was made for the caller,
   on its platform);
2. report_data == SHA-256(nonce (16) || quote || expiration_check_date (time_t, 8 LE) ||
   collateral_expiration_status (u32 LE) || quote_verification_result (u32 LE) || supplemental
   data) || 32 zero bytes, recomputed from what the caller was given;
3. the QvE's identity (dcap_tvl/sgx_dcap_constant_val.h): MISCSELECT under mask, ATTRIBUTES under
   mask (INIT set, DEBUG clear), MRSIGNER, product id 2, ISV SVN at least the built-in minimum (7)
   and at least the caller's threshold.

The MAC needs the caller's report key, so this runs where the caller's enclave is (simulated here).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from sgxra.errors import EvidenceMismatch, MalformedMessage, VerificationError
from sgxra.wire._codec import check_len, check_uint, u32
from sgxra.wire.local_report import Report

INTEL_QVE_MRSIGNER = bytes.fromhex("8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF")
QVE_PROD_ID = 2
LEAST_QVE_ISVSVN = 7
_QVE_ATTRIBUTES = bytes.fromhex("01000000000000000000000000000000")
_QVE_ATTRIBUTES_MASK = bytes.fromhex("FBFFFFFFFFFFFFFF0000000000000000")


class QveReportMismatch(EvidenceMismatch):
    """The QvE's report data does not bind what the caller was given (nonce, quote, date, status, result, supplemental)."""


class QveIdentityMismatch(VerificationError):
    """The REPORT is not from the expected quote verification enclave (Intel's TEE_QVEIDENTITY_MISMATCH)."""


class QveOutOfDate(QveIdentityMismatch):
    """The QvE's ISV SVN is below the minimum (Intel's TEE_QVE_OUT_OF_DATE)."""


class ReportVerifier(Protocol):
    """The calling enclave's sgx_verify_report."""

    def verify_report(self, report: Report) -> None: ...


@dataclass(frozen=True)
class QveIdentity:
    """Which enclave may vouch for a verdict: Intel's constants by default (:data:`INTEL_QVE`)."""

    mr_signer: bytes
    prod_id: int = QVE_PROD_ID
    min_isv_svn: int = LEAST_QVE_ISVSVN
    misc_select: int = 0
    misc_select_mask: int = 0xFFFFFFFF
    attributes: bytes = _QVE_ATTRIBUTES
    attributes_mask: bytes = _QVE_ATTRIBUTES_MASK

    def __post_init__(self) -> None:
        check_len("qve_identity", "mr_signer", self.mr_signer, 32)
        check_len("qve_identity", "attributes", self.attributes, 16)
        check_len("qve_identity", "attributes_mask", self.attributes_mask, 16)
        check_uint("qve_identity", "prod_id", self.prod_id, 16)
        check_uint("qve_identity", "min_isv_svn", self.min_isv_svn, 16)


INTEL_QVE = QveIdentity(INTEL_QVE_MRSIGNER)


def qve_report_data(nonce: bytes, quote: bytes, expiration_check_date: int, collateral_expiration_status: int,
                    quote_verification_result: int, supplemental_data: bytes | None) -> bytes:
    """The 64 bytes a QvE REPORT carries for these outputs (qve.cpp ``sgx_qve_generate_report``)."""
    check_len("qve_report_info", "nonce", nonce, 16)
    if not -(1 << 63) <= expiration_check_date < (1 << 63):
        raise MalformedMessage("qve outputs", "expiration_check_date", 0, "does not fit in a 64-bit time_t")
    check_uint("qve outputs", "collateral_expiration_status", collateral_expiration_status, 32)
    check_uint("qve outputs", "quote_verification_result", quote_verification_result, 32)
    digest = hashlib.sha256(b"".join((
        nonce, quote, expiration_check_date.to_bytes(8, "little", signed=True), u32(collateral_expiration_status),
        u32(quote_verification_result), supplemental_data or b"",
    ))).digest()
    return digest + bytes(32)


def verify_qve_report_and_identity(
    report: Report, *, verifier: ReportVerifier, nonce: bytes, quote: bytes, expiration_check_date: int,
    collateral_expiration_status: int, quote_verification_result: int, supplemental_data: bytes | None,
    identity: QveIdentity = INTEL_QVE, isv_svn_threshold: int = 0,
) -> None:
    """Raise unless ``report`` is the expected QvE's statement, for this caller, of exactly these outputs.

    ``nonce`` is the one the caller chose (not one read back from the QvE's answer), so a replayed
    verdict fails the report-data check.
    """
    verifier.verify_report(report)  # ReportMacMismatch: not made for this enclave on this platform
    expected = qve_report_data(nonce, quote, expiration_check_date, collateral_expiration_status,
                               quote_verification_result, supplemental_data)
    if not hmac.compare_digest(report.body.report_data, expected):
        raise QveReportMismatch("QvE report data does not match SHA-256(nonce || quote || expiration_check_date || "
                                "collateral_expiration_status || quote_verification_result || supplemental_data)")
    check_qve_identity(report, identity, isv_svn_threshold)


def check_qve_identity(report: Report, identity: QveIdentity = INTEL_QVE, isv_svn_threshold: int = 0) -> None:
    body = report.body
    if body.misc_select & identity.misc_select_mask != identity.misc_select:
        raise QveIdentityMismatch(f"QvE MISCSELECT {body.misc_select:08x} under mask is not {identity.misc_select:08x}")
    masked = bytes(a & m for a, m in zip(body.attributes.to_bytes(), identity.attributes_mask, strict=True))
    if masked != identity.attributes:
        raise QveIdentityMismatch(f"QvE ATTRIBUTES {body.attributes.to_bytes().hex()} under mask are not "
                                  f"{identity.attributes.hex()} (INIT set, DEBUG clear)")
    if not hmac.compare_digest(body.mr_signer, identity.mr_signer):
        raise QveIdentityMismatch(f"QvE MRSIGNER {body.mr_signer.hex()} is not {identity.mr_signer.hex()}")
    if body.isv_prod_id != identity.prod_id:
        raise QveIdentityMismatch(f"QvE product id {body.isv_prod_id}, expected {identity.prod_id}")
    if body.isv_svn < identity.min_isv_svn:
        raise QveOutOfDate(f"QvE ISV SVN {body.isv_svn} is below the minimum {identity.min_isv_svn}")
    if body.isv_svn < isv_svn_threshold:
        raise QveOutOfDate(f"QvE ISV SVN {body.isv_svn} is below the caller's threshold {isv_svn_threshold}")
