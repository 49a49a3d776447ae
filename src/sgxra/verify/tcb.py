"""TCB level matching and status convergence, as Intel's quote verification library does them."""

from __future__ import annotations

from collections.abc import Sequence

from sgxra.errors import VerificationError
from sgxra.wire.collateral import ModuleTcbLevel, TcbInfo, TcbLevel, TcbStatus
from sgxra.wire.td_report import TdReport


def match_platform_level(
    tcb_info: TcbInfo, components: Sequence[int], pcesvn: int, td_report: TdReport | None = None
) -> TcbLevel:
    """The first TCB level the platform meets: every component SVN and the PCESVN at least the level's.

    For TDX the TEE TCB SVN of the TD report must also meet the level's TDX
    components; from TDX module version 1 on (``tee_tcb_svn[1] > 0``) the first
    two bytes belong to the module and are judged by its identity instead.
    """
    for level in tcb_info.tcb_levels:
        if any(have < need for have, need in zip(components, level.sgx_components, strict=True)) or pcesvn < level.pcesvn:
            continue
        if td_report is not None:
            if level.tdx_components is None:
                continue
            tee = td_report.tee_tcb_svn
            start = 2 if tee[1] > 0 else 0
            if any(tee[i] < level.tdx_components[i] for i in range(start, 16)):
                continue
        return level
    raise VerificationError("TCB level not supported: the platform meets none of the TCB info's levels")


def match_module_level(levels: Sequence[ModuleTcbLevel], isvsvn: int, what: str) -> ModuleTcbLevel:
    """The first level whose ISVSVN the enclave (QE, TDX module) meets."""
    for level in levels:
        if isvsvn >= level.isvsvn:
            return level
    raise VerificationError(f"{what} TCB not supported: ISVSVN {isvsvn} is below every level")


def match_tdx_module(tcb_info: TcbInfo, td_report: TdReport) -> ModuleTcbLevel | None:
    """Check the TDX module's signer and attributes; its TCB level from version 1 on (None for version 0)."""
    version, module_svn = td_report.tee_tcb_svn[1], td_report.tee_tcb_svn[0]
    if version == 0:
        identity = tcb_info.tdx_module
        if identity is None:
            raise VerificationError("TCB info lacks the TDX module identity")
    else:
        wanted = f"TDX_{version:02d}"
        found = [m for m in tcb_info.tdx_module_identities if m.id == wanted]
        if not found:
            raise VerificationError(f"TCB info has no identity for TDX module {wanted}")
        identity = found[0]
    if td_report.mr_signer_seam != identity.mrsigner:
        raise VerificationError("TDX module signer (MRSIGNER_SEAM) does not match the TCB info")
    if not masked_equal(td_report.seam_attributes, identity.attributes, identity.attributes_mask):
        raise VerificationError("TDX module attributes do not match the TCB info")
    return None if version == 0 else match_module_level(identity.tcb_levels, module_svn, f"TDX module {identity.id}")


def masked_equal(value: bytes, expected: bytes, mask: bytes) -> bool:
    """value & mask == expected & mask, byte by byte (all three the same length)."""
    return all(v & m == e & m for v, e, m in zip(value, expected, mask, strict=True))


def converge(platform: TcbStatus, other: TcbStatus) -> TcbStatus:
    """Fold a QE's (or TDX module's) status into the platform's."""
    if other is TcbStatus.Revoked:
        return TcbStatus.Revoked
    if other is TcbStatus.OutOfDate:
        if platform in (TcbStatus.UpToDate, TcbStatus.SWHardeningNeeded):
            return TcbStatus.OutOfDate
        if platform in (TcbStatus.ConfigurationNeeded, TcbStatus.ConfigurationAndSWHardeningNeeded):
            return TcbStatus.OutOfDateConfigurationNeeded
    return platform


def merge_advisories(*groups: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)
