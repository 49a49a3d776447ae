"""A simulated quote verification enclave: ``sgx_qv_verify_quote`` with a QvE, in software.

It runs sgxra's DCAP verification (the same as untrusted mode) and returns what Intel's QvE
returns (qve.cpp ``sgx_qve_verify_quote``): the collateral expiration status, the verification
result (``sgx_ql_qv_result_t``), the 536-byte supplemental data, and a REPORT targeted at the
caller whose report data binds all of them (:func:`sgxra.verify.qve_report.qve_report_data`).

What is simulated: the enclave boundary and the REPORT's MAC (a simulated platform's report key,
:mod:`sgxra.sim.report_keys`); the simulated QvE's MRSIGNER is not Intel's, so Intel's identity
check (:data:`~sgxra.verify.qve_report.INTEL_QVE`) refuses it and callers check :data:`SIM_QVE`.

As Intel's QvE: the time of verification is ``expiration_check_date``; collateral that has expired
by then does not fail verification but sets the expiration status to 1 (the set is then checked
at the last instant all of it was valid); errors (a bad signature, a revoked PCK, a broken chain)
raise, with no REPORT, as the QvE returns an error code. Collateral not yet valid at the check date
also raises: Intel's QVL may count that as an expiration (status 1); sgxra fails closed there.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509

from sgxra.errors import CertificateExpired, CollateralExpired
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.sim.report_keys import SimLocalEnclave, SimReportPlatform
from sgxra.verify.dcap import DcapVerdict, DcapVerifier
from sgxra.verify.qve_report import QveIdentity, qve_report_data, verify_qve_report_and_identity
from sgxra.verify.result import QV_RESULT, DcapResult
from sgxra.verify.validity import collateral_items
from sgxra.wire.collateral import Collateral
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.local_report import QeReportInfo, Report, TargetInfo

SIM_QVE_MRSIGNER = hashlib.sha256(b"sgxra simulated QvE signer").digest()
SIM_QVE_ISVSVN = 8
SIM_QVE_ENCLAVE = EnclaveIdentity(mr_enclave=hashlib.sha256(b"sgxra simulated QvE").digest(),
                                  mr_signer=SIM_QVE_MRSIGNER, isv_prod_id=2, isv_svn=SIM_QVE_ISVSVN)
SIM_QVE = QveIdentity(SIM_QVE_MRSIGNER)
SIM_APP_ENCLAVE = EnclaveIdentity(mr_enclave=hashlib.sha256(b"sgxra simulated verifying app enclave").digest())


@dataclass(frozen=True)
class QveOutput:
    """What sgx_qv_verify_quote hands back in QvE mode."""

    collateral_expiration_status: int
    quote_verification_result: int
    supplemental_data: bytes
    qve_report_info: QeReportInfo
    result: DcapResult  # the verdict behind the numbers, for display

    @property
    def report(self) -> Report:
        return self.qve_report_info.qe_report


class SimQve:
    """A QvE on a simulated platform."""

    def __init__(self, platform: SimReportPlatform, identity: EnclaveIdentity = SIM_QVE_ENCLAVE,
                 root: x509.Certificate | None = None) -> None:
        self.enclave = SimLocalEnclave(platform, identity)
        self.verifier = DcapVerifier(root, cache=False)

    def verify_quote(self, quote: bytes, collateral: Collateral, *, expiration_check_date: int, nonce: bytes,
                     app_enclave_target_info: TargetInfo) -> QveOutput:
        at = datetime.fromtimestamp(expiration_check_date, timezone.utc)
        verdict, expired = self._verify(DcapQuote.parse(quote), collateral, at)
        status = 1 if expired or verdict.dates.earliest_expiration <= at else 0
        result = DcapResult(verdict, at, simulated=self.verifier.simulated)
        supplemental = result.to_supplemental()
        code = QV_RESULT[verdict.status]
        report_data = qve_report_data(nonce, quote, expiration_check_date, status, code, supplemental)
        report = self.enclave.create_report(app_enclave_target_info, report_data)
        return QveOutput(status, code, supplemental, QeReportInfo(nonce, app_enclave_target_info, report), result)

    def _verify(self, quote: DcapQuote, collateral: Collateral, at: datetime) -> tuple[DcapVerdict, bool]:
        try:
            return self.verifier.verify(quote, collateral, at=at), False
        except (CollateralExpired, CertificateExpired):
            items = collateral_items(collateral, quote.pck_chain_pem)
            if not items:
                raise
            start, end = max(i[1] for i in items), min(i[2] for i in items)
            if start > end or end >= at:  # no common window, or something not yet valid: a real failure
                raise
            return self.verifier.verify(quote, collateral, at=end), True


@dataclass(frozen=True)
class TrustedVerification:
    """One run of the QuoteVerificationSample's trusted mode: the QvE's outputs, checked by the app enclave."""

    output: QveOutput
    nonce: bytes
    expiration_check_date: int


def trusted_verification(quote: bytes, collateral: Collateral, *, at: datetime,
                         root: x509.Certificate | None = None, isv_svn_threshold: int = SIM_QVE_ISVSVN,
                         platform: SimReportPlatform | None = None) -> TrustedVerification:
    """A simulated app enclave asks the simulated QvE (same platform) to verify ``quote`` at ``at``, then
    checks the QvE's REPORT and identity as ``sgx_tvl_verify_qve_report_and_identity``; raises on any failure."""
    platform = platform or SimReportPlatform()
    app = SimLocalEnclave(platform, SIM_APP_ENCLAVE)
    nonce = os.urandom(16)
    date = int(at.timestamp())
    output = SimQve(platform, root=root).verify_quote(quote, collateral, expiration_check_date=date, nonce=nonce,
                                                      app_enclave_target_info=app.target_info())
    verify_qve_report_and_identity(
        output.report, verifier=app, nonce=nonce, quote=quote, expiration_check_date=date,
        collateral_expiration_status=output.collateral_expiration_status,
        quote_verification_result=output.quote_verification_result, supplemental_data=output.supplemental_data,
        identity=SIM_QVE, isv_svn_threshold=isv_svn_threshold)
    return TrustedVerification(output, nonce, date)
