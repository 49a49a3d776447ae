"""A simulated Intel PKI and platform shared by the DCAP tests (keys are slow to make)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC, SimEcdsaQuotingEnclave
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.wire.collateral import TcbStatus
from sgxra.wire.quote import QuoteSignType

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
PKI = SimIntelPki(NOW)
QE = SimEcdsaQuotingEnclave(PKI)


def level(status: TcbStatus, *advisories: str, components: tuple[int, ...] = DEFAULT_COMPONENTS,
          pcesvn: int = 13) -> SimTcbLevel:
    return SimTcbLevel(components, pcesvn, status, advisories)


def spec(*levels: SimTcbLevel, **changes: Any) -> CollateralSpec:
    fields: dict[str, Any] = {"fmspc": DEFAULT_FMSPC, "tcb_levels": levels or (level(TcbStatus.UpToDate),)}
    return CollateralSpec(**(fields | changes))


def quote(qe: SimEcdsaQuotingEnclave = QE, report_data: bytes = bytes(64)) -> bytes:
    return qe.get_quote(EnclaveIdentity().report_body(report_data), QuoteSignType.UNLINKABLE, bytes(16))
