"""A simulated TDX platform: TD reports and the TD quoting enclave's version-4 and version-5 quotes.

Layouts are those of real TDX quotes: header with TEE type 0x81 (its QE and
PCE SVN words are reserved and zero in version 4 and 5), the TD report body
(584 bytes for TD 1.0, 648 for TD 1.5), then certification data of type 6
wrapping the QE report, its PCK signature, the QE authentication data and the
type-5 PCK certificate chain.
"""

from __future__ import annotations

import hashlib

from sgxra.errors import MalformedMessage
from sgxra.sim.dcap_pki import SIM_TD_QE_PROD_ID, SIM_TDX_MODULE_MRSIGNER
from sgxra.sim.dcap_qe import SimPckPlatform
from sgxra.wire.dcap_quote import (
    ATT_KEY_TYPE_ECDSA_P256,
    BODY_TYPE_TD10,
    BODY_TYPE_TD15,
    INTEL_QE_VENDOR_ID,
    TEE_TYPE_TDX,
    QuoteHeader,
)
from sgxra.wire.td_report import TD10_SIZE, TdReport

SIM_TD_QE_MRENCLAVE = hashlib.sha256(b"sgxra simulated TD quoting enclave").digest()
SIM_TDX_MODULE_MRSEAM = hashlib.sha384(b"sgxra simulated TDX module").digest()
DEFAULT_TDX_FMSPC = bytes.fromhex("90C06F000000")
DEFAULT_TDX_COMPONENTS = (2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0)
# TEE TCB SVN: [0] the TDX module's SVN, [1] its major version (identity TDX_01), [2] TDX late microcode.
DEFAULT_TEE_TCB_SVN = bytes((5, 1, 2) + (0,) * 13)
XFAM = bytes.fromhex("E702060000000000")


def sim_td_report(
    report_data: bytes = bytes(64),
    *,
    tee_tcb_svn: bytes = DEFAULT_TEE_TCB_SVN,
    mr_td: bytes = hashlib.sha384(b"sgxra simulated TD").digest(),
    td_attributes: bytes = bytes(8),
    rtmrs: tuple[bytes, bytes, bytes, bytes] = (bytes(48),) * 4,
    mr_signer_seam: bytes = SIM_TDX_MODULE_MRSIGNER,
    td15: bool = False,
    tee_tcb_svn2: bytes | None = None,
) -> TdReport:
    """A TD report as the simulated TDX module would produce it.

    TD 1.5 adds TEE_TCB_SVN2 (the SVNs of the module after a runtime update;
    ``tee_tcb_svn`` unless given) and MRSERVICETD.
    """
    return TdReport(
        tee_tcb_svn=tee_tcb_svn, mr_seam=SIM_TDX_MODULE_MRSEAM, mr_signer_seam=mr_signer_seam,
        seam_attributes=bytes(8), td_attributes=td_attributes, xfam=XFAM, mr_td=mr_td, mr_config_id=bytes(48),
        mr_owner=bytes(48), mr_owner_config=bytes(48), rtmr0=rtmrs[0], rtmr1=rtmrs[1], rtmr2=rtmrs[2],
        rtmr3=rtmrs[3], report_data=report_data,
        tee_tcb_svn2=(tee_tcb_svn2 or tee_tcb_svn) if td15 else None, mr_servicetd=bytes(48) if td15 else None,
    )


class SimTdxQuotingEnclave(SimPckPlatform):
    """One simulated TDX platform's TD quoting enclave (CA "processor" by default, as CollateralSpec's, though
    real TDX PCKs mostly come from the platform CA)."""

    qe_mrenclave = SIM_TD_QE_MRENCLAVE
    qe_prod_id = SIM_TD_QE_PROD_ID
    default_fmspc = DEFAULT_TDX_FMSPC
    default_components = DEFAULT_TDX_COMPONENTS

    def get_quote(self, td_report: TdReport, *, version: int = 4) -> bytes:
        """A quote of ``td_report``: version 4 (TD 1.0 only) or 5 (body type 2 for TD 1.0, 3 for TD 1.5)."""
        if version not in (4, 5):
            raise MalformedMessage("tdx_quote", "version", 0, f"a TDX quote is version 4 or 5, not {version}")
        if version == 4 and td_report.size != TD10_SIZE:
            raise MalformedMessage("tdx_quote", "body", 48, "a version 4 quote carries only a TD 1.0 report")
        header = QuoteHeader(version, ATT_KEY_TYPE_ECDSA_P256, TEE_TYPE_TDX, 0, 0, INTEL_QE_VENDOR_ID, bytes(20))
        body_type = BODY_TYPE_TD10 if td_report.size == TD10_SIZE else BODY_TYPE_TD15
        return self._quote(header, body_type, td_report)
