"""A simulated TDX platform on the shared simulated Intel PKI, for the TDX tests."""

from __future__ import annotations

from typing import Any

from dcap_env import NOW, PKI
from sgxra.sim.dcap_pki import CollateralSpec, SimTcbLevel
from sgxra.sim.tdx_qe import DEFAULT_TDX_COMPONENTS, DEFAULT_TDX_FMSPC, DEFAULT_TEE_TCB_SVN, SimTdxQuotingEnclave
from sgxra.wire.collateral import TcbStatus

TDX_QE = SimTdxQuotingEnclave(PKI)
TEE_SVN = tuple(DEFAULT_TEE_TCB_SVN)


def tdx_level(status: TcbStatus, *advisories: str, tdx: tuple[int, ...] = TEE_SVN,
              components: tuple[int, ...] = DEFAULT_TDX_COMPONENTS) -> SimTcbLevel:
    return SimTcbLevel(components, 13, status, advisories, tdx_components=tdx)


def tdx_spec(*levels: SimTcbLevel, **changes: Any) -> CollateralSpec:
    # issued is pinned: the PCS mock tests move the shared PKI's clock
    fields: dict[str, Any] = {"fmspc": DEFAULT_TDX_FMSPC, "tee": "tdx", "issued": NOW,
                              "tcb_levels": levels or (tdx_level(TcbStatus.UpToDate),)}
    return CollateralSpec(**(fields | changes))
