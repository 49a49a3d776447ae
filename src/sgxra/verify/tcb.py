"""TCB level matching and status convergence, as Intel's quote verification library does them.

The rules follow Intel's QVL (TcbLevelCheck, TdxModuleCheck, TDRelaunchCheck,
EnclaveReportVerifier): platform TCB levels are taken highest first (the TCB
info parser orders them), QE and TDX module levels in their JSON order.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from sgxra.errors import VerificationError
from sgxra.wire.collateral import ModuleTcbLevel, TcbInfo, TcbLevel, TcbStatus, TdxModuleIdentity
from sgxra.wire.td_report import TdReport

S = TcbStatus
_CONFIGURATION_NEEDED = {
    S.ConfigurationNeeded, S.OutOfDateConfigurationNeeded, S.ConfigurationAndSWHardeningNeeded,
    S.TDRelaunchAdvisedConfigurationNeeded,
}
_PLATFORM_CURRENT = {S.UpToDate, S.SWHardeningNeeded, S.ConfigurationNeeded, S.ConfigurationAndSWHardeningNeeded}


@dataclass(frozen=True)
class TcbEvaluation:
    """What the platform's TCB comes to before the QE's status is folded in."""

    status: TcbStatus
    level: TcbLevel  # the level whose status and advisories count (the TDX level for TDX)
    module_level: ModuleTcbLevel | None  # the TDX module's level, from module version 1 on


def _meets_sgx(level: TcbLevel, components: Sequence[int], pcesvn: int) -> bool:
    needed = level.sgx_components
    return pcesvn >= level.pcesvn and len(components) == len(needed) and all(map(operator.ge, components, needed))


def _meets_tdx(level: TcbLevel, tee_tcb_svn: bytes) -> bool:
    """From TDX module version 1 on (``tee_tcb_svn[1] > 0``) the first two bytes belong to the module."""
    if level.tdx_components is None:
        return False
    start = 2 if tee_tcb_svn[1] > 0 else 0
    return all(tee_tcb_svn[i] >= level.tdx_components[i] for i in range(start, 16))


def match_sgx_level(tcb_info: TcbInfo, components: Sequence[int], pcesvn: int) -> TcbLevel:
    """The first level (highest first) whose SGX component SVNs and PCESVN the platform meets."""
    for level in tcb_info.tcb_levels:
        if _meets_sgx(level, components, pcesvn):
            return level
    raise VerificationError("TCB level not supported: the platform meets none of the TCB info's levels")


def match_tdx_levels(
    tcb_info: TcbInfo, components: Sequence[int], pcesvn: int, tee_tcb_svn: bytes
) -> tuple[TcbLevel, TcbLevel]:
    """The SGX level, and the first level whose SGX part the platform and TDX part the TD's TEE TCB SVN meet."""
    sgx_level = match_sgx_level(tcb_info, components, pcesvn)
    for level in tcb_info.tcb_levels:
        if _meets_sgx(level, components, pcesvn) and _meets_tdx(level, tee_tcb_svn):
            return sgx_level, level
    raise VerificationError("TCB level not supported: the TD's TEE TCB SVN meets none of the TCB info's TDX levels")


def match_module_level(levels: Sequence[ModuleTcbLevel], isvsvn: int, what: str) -> ModuleTcbLevel:
    """The first level, in JSON order, whose ISVSVN the enclave (QE, TDX module) meets."""
    for level in levels:
        if isvsvn >= level.isvsvn:
            return level
    raise VerificationError(f"{what} TCB not supported: ISVSVN {isvsvn} is below every level")


def find_module_identity(tcb_info: TcbInfo, version: int) -> TdxModuleIdentity:
    """The identity ``TDX_<version as two hex digits>`` (case-insensitive, as Intel matches it)."""
    wanted = f"TDX_{version:02X}"
    for identity in tcb_info.tdx_module_identities:
        if identity.id.upper() == wanted:
            return identity
    raise VerificationError(f"TCB info has no identity for TDX module {wanted}")


def match_tdx_module(tcb_info: TcbInfo, td_report: TdReport) -> ModuleTcbLevel | None:
    """Check the TDX module's signer and attributes; its TCB level from version 1 on (None for version 0)."""
    version, module_svn = td_report.tee_tcb_svn[1], td_report.tee_tcb_svn[0]
    if version == 0:
        identity = tcb_info.tdx_module
        if identity is None:
            raise VerificationError("TCB info lacks the TDX module identity")
    else:
        identity = find_module_identity(tcb_info, version)
    if td_report.mr_signer_seam != identity.mrsigner:
        raise VerificationError("TDX module signer (MRSIGNER_SEAM) does not match the TCB info")
    # Intel compares SEAM attributes unmasked and requires them zero.
    if any(td_report.seam_attributes) or td_report.seam_attributes != identity.attributes:
        raise VerificationError("TDX module attributes (SEAMATTRIBUTES) are not zero or do not match the TCB info")
    if version == 0:
        return None
    level = match_module_level(identity.tcb_levels, module_svn, f"TDX module {identity.id}")
    if level.status not in (S.UpToDate, S.OutOfDate, S.Revoked):  # Intel: an unrecognized module status
        raise VerificationError(f"TDX module {identity.id} TCB status {level.status.value} is not recognized")
    return level


def qe_effective(qe_status: TcbStatus) -> TcbStatus:
    """Intel reads a QE identity level as UpToDate, Revoked, or else OutOfDate."""
    return qe_status if qe_status in (S.UpToDate, S.Revoked) else S.OutOfDate


def converge(platform: TcbStatus, other: TcbStatus) -> TcbStatus:
    """Fold a QE's (or TDX module's) status into the platform's, as Intel's converge functions do."""
    if other is S.OutOfDate:
        if platform in (S.UpToDate, S.SWHardeningNeeded):
            return S.OutOfDate
        if platform in (S.ConfigurationNeeded, S.ConfigurationAndSWHardeningNeeded):
            return S.OutOfDateConfigurationNeeded
    if other is S.Revoked:
        return S.Revoked
    return platform


def evaluate_platform(
    tcb_info: TcbInfo, components: Sequence[int], pcesvn: int, td_report: TdReport | None, qe_status: TcbStatus
) -> TcbEvaluation:
    """The platform's TCB status (SGX; or TDX with its module and relaunch rule), before the QE is folded in."""
    if td_report is None:
        level = match_sgx_level(tcb_info, components, pcesvn)
        return TcbEvaluation(level.status, level, None)
    sgx_level, tdx_level = match_tdx_levels(tcb_info, components, pcesvn, td_report.tee_tcb_svn)
    module_level = match_tdx_module(tcb_info, td_report)
    module_status = module_level.status if module_level else S.UpToDate
    status = converge(tdx_level.status, module_status)
    if status is not S.Revoked and td_report.tee_tcb_svn2 is not None and qe_effective(qe_status) is S.UpToDate:
        status = _relaunch(tcb_info, td_report.tee_tcb_svn2, sgx_level.status, status, module_status)
    return TcbEvaluation(status, tdx_level, module_level)


def _relaunch(
    tcb_info: TcbInfo, svn2: bytes, sgx_status: TcbStatus, tdx_status: TcbStatus, module_status: TcbStatus
) -> TcbStatus:
    """Intel's TD relaunch rule: the platform is current but the TD runs on an out-of-date module
    while the module it would get on relaunch (TEE TCB SVN 2, TD 1.5) meets the latest level."""
    if sgx_status not in _PLATFORM_CURRENT or module_status is not S.OutOfDate:
        return tdx_status
    if tdx_status not in (S.OutOfDate, S.OutOfDateConfigurationNeeded):
        return tdx_status
    latest = tcb_info.tcb_levels[0]
    latest_tdx = latest.tdx_components or (0,) * 16
    if svn2[1] == 0:
        module_ok = svn2[0] >= latest_tdx[0]
    else:
        identity = find_module_identity(tcb_info, svn2[1])
        if not identity.tcb_levels:
            raise VerificationError(f"TDX module {identity.id} has no TCB levels")
        module_ok = svn2[0] >= identity.tcb_levels[0].isvsvn
    if not (module_ok and svn2[2] >= latest_tdx[2]):
        return tdx_status
    if sgx_status in _CONFIGURATION_NEEDED or tdx_status in _CONFIGURATION_NEEDED:
        return S.TDRelaunchAdvisedConfigurationNeeded
    return S.TDRelaunchAdvised


def merge_advisories(*groups: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)
