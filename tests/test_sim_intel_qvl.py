"""Intel's QVL judges simulated evidence under the simulated root, and agrees with sgxra's verdict.

Each case builds a simulated quote and collateral, asks Intel's library (via
tests/intel_qvl.py) and sgxra's verifier, and checks that both give the
expected TCB status, or that both reject.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from dcap_env import NOW, PKI, QE, level, quote, spec
from intel_qvl import qvl_verify
from sgxra.errors import SgxRaError
from sgxra.sim.dcap_pki import SimQeLevel, SimTdxModule
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.sim.tdx_qe import sim_td_report
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbStatus
from tdx_env import TDX_QE, tdx_level, tdx_spec

S = TcbStatus
REJECTED = "Rejected"
HIGHER = (12, 12, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # above the simulated SGX platform's components
OLD_QE = SimEcdsaQuotingEnclave(PKI, qe_svn=6)
TDX_HIGHER = (5, 1, 3) + (0,) * 13  # TDX microcode (byte 2) above the platform's
TDX_OLD = (2, 1, 1) + (0,) * 13  # module SVN 2 (TDX_01 level OutOfDate), microcode 1
Case = tuple[Callable[[], bytes], Callable[[], Collateral], datetime]


def sgxra_status(raw: bytes, collateral: Collateral, at: datetime) -> str:
    try:
        return verify_dcap_quote(raw, collateral, at=at, root=PKI.root).status.value
    except SgxRaError:
        return REJECTED


def judge(raw: bytes, collateral: Collateral, at: datetime, expected: str) -> None:
    intel = qvl_verify(raw, collateral, at, PKI.root)
    assert intel.status == expected, f"Intel's QVL: {intel.steps}"
    assert sgxra_status(raw, collateral, at) == intel.status


SGX_CASES: dict[str, tuple[Callable[[], bytes], Callable[[], Collateral], str]] = {
    "up-to-date": (quote, lambda: PKI.collateral(spec(issued=NOW)), S.UpToDate.value),
    "sw-hardening": (quote, lambda: PKI.collateral(spec(
        level(S.UpToDate, components=HIGHER), level(S.SWHardeningNeeded, "INTEL-SA-00615"), issued=NOW)),
        S.SWHardeningNeeded.value),
    "configuration": (quote, lambda: PKI.collateral(spec(level(S.ConfigurationNeeded), issued=NOW)),
                      S.ConfigurationNeeded.value),
    "configuration-and-sw-hardening": (quote, lambda: PKI.collateral(spec(
        level(S.ConfigurationAndSWHardeningNeeded, "INTEL-SA-00615"), issued=NOW)),
        S.ConfigurationAndSWHardeningNeeded.value),
    "out-of-date": (quote, lambda: PKI.collateral(spec(
        level(S.UpToDate, components=HIGHER), level(S.OutOfDate, "INTEL-SA-00828"), issued=NOW)),
        S.OutOfDate.value),
    "out-of-date-pcesvn": (quote, lambda: PKI.collateral(spec(
        level(S.UpToDate, pcesvn=14), level(S.OutOfDate), issued=NOW)), S.OutOfDate.value),
    "out-of-date-configuration": (quote, lambda: PKI.collateral(spec(
        level(S.OutOfDateConfigurationNeeded), issued=NOW)), S.OutOfDateConfigurationNeeded.value),
    "revoked-level": (quote, lambda: PKI.collateral(spec(level(S.Revoked), issued=NOW)), S.Revoked.value),
    "qe-out-of-date": (lambda: quote(OLD_QE), lambda: PKI.collateral(spec(level(S.ConfigurationNeeded),
                                                                             issued=NOW)),
                       S.OutOfDateConfigurationNeeded.value),
    "platform-ca": (lambda: quote(SimEcdsaQuotingEnclave(PKI, ca="platform")),
                    lambda: PKI.collateral(spec(ca="platform", issued=NOW)), S.UpToDate.value),
    "revoked-pck": (quote, lambda: PKI.collateral(spec(revoked_pck_serials=[QE.pck_certificate.serial_number],
                                                       issued=NOW)), REJECTED),
    "revoked-intermediate": (quote, lambda: PKI.collateral(spec(
        revoked_ca_serials=[PKI.cas["processor"].serial_number], issued=NOW)), REJECTED),
    "qe-signer-mismatch": (quote, lambda: PKI.collateral(spec(qe_mrsigner=b"\x01" * 32, issued=NOW)), REJECTED),
    "tdx-collateral": (quote, lambda: PKI.collateral(tdx_spec()), REJECTED),
}


@pytest.mark.parametrize("case", list(SGX_CASES))
def test_sgx(case: str) -> None:
    make_quote, make_collateral, expected = SGX_CASES[case]
    judge(make_quote(), make_collateral(), NOW, expected)


def test_expired_collateral_is_rejected_by_both() -> None:
    judge(quote(), PKI.collateral(spec(issued=NOW)), NOW + timedelta(days=31), REJECTED)


def tdx_quote(version: int = 4, **report: Any) -> Callable[[], bytes]:
    return lambda: TDX_QE.get_quote(sim_td_report(b"\x05" * 64, **report), version=version)


RELAUNCH_LEVELS = (tdx_level(S.UpToDate), tdx_level(S.OutOfDate, "INTEL-SA-00837", tdx=TDX_OLD))
TDX_CASES: dict[str, tuple[Callable[[], bytes], Callable[[], Collateral], str]] = {
    "v4-up-to-date": (tdx_quote(4), lambda: PKI.collateral(tdx_spec()), S.UpToDate.value),
    "v5-td10-up-to-date": (tdx_quote(5), lambda: PKI.collateral(tdx_spec()), S.UpToDate.value),
    "v5-td15-up-to-date": (tdx_quote(5, td15=True), lambda: PKI.collateral(tdx_spec()), S.UpToDate.value),
    "tdx-out-of-date": (tdx_quote(4), lambda: PKI.collateral(tdx_spec(
        tdx_level(S.UpToDate, tdx=TDX_HIGHER), tdx_level(S.OutOfDate, "INTEL-SA-00837"))), S.OutOfDate.value),
    "tdx-sw-hardening": (tdx_quote(4), lambda: PKI.collateral(tdx_spec(
        tdx_level(S.UpToDate, tdx=TDX_HIGHER), tdx_level(S.SWHardeningNeeded, "INTEL-SA-00615"))),
        S.SWHardeningNeeded.value),
    "tdx-configuration": (tdx_quote(5), lambda: PKI.collateral(tdx_spec(tdx_level(S.ConfigurationNeeded))),
                          S.ConfigurationNeeded.value),
    "tdx-revoked": (tdx_quote(4), lambda: PKI.collateral(tdx_spec(tdx_level(S.Revoked))), S.Revoked.value),
    "module-out-of-date": (tdx_quote(4, tee_tcb_svn=bytes((2, 1, 2) + (0,) * 13)),
                           lambda: PKI.collateral(tdx_spec()), S.OutOfDate.value),
    "module-major-0": (tdx_quote(4, tee_tcb_svn=bytes((5, 0, 2) + (0,) * 13)),
                       lambda: PKI.collateral(tdx_spec(tdx_level(S.UpToDate, tdx=(5, 0, 2) + (0,) * 13))),
                       S.UpToDate.value),
    "td-qe-out-of-date": (tdx_quote(4), lambda: PKI.collateral(tdx_spec(
        qe_levels=(SimQeLevel(9, S.UpToDate), SimQeLevel(8, S.OutOfDate, ("INTEL-SA-00615",))))),
        S.OutOfDate.value),
    "module-signer-mismatch": (tdx_quote(4), lambda: PKI.collateral(tdx_spec(tdx_modules=(
        SimTdxModule(1, (SimQeLevel(4, S.UpToDate),), mrsigner=bytes(48)),))), REJECTED),
    "sgx-collateral": (tdx_quote(4), lambda: PKI.collateral(tdx_spec(tee="sgx")), REJECTED),
    "relaunch-not-advised-when-update-is-old": (
        tdx_quote(5, td15=True, tee_tcb_svn=bytes(TDX_OLD)), lambda: PKI.collateral(tdx_spec(*RELAUNCH_LEVELS)),
        S.OutOfDate.value),
}
TDX_RELAUNCH: dict[str, tuple[Callable[[], bytes], Callable[[], Collateral], str]] = {
    "relaunch-advised": (
        tdx_quote(5, td15=True, tee_tcb_svn=bytes(TDX_OLD), tee_tcb_svn2=bytes((5, 1, 2) + (0,) * 13)),
        lambda: PKI.collateral(tdx_spec(*RELAUNCH_LEVELS)), "TDRelaunchAdvised"),
    "relaunch-advised-configuration": (
        tdx_quote(5, td15=True, tee_tcb_svn=bytes(TDX_OLD), tee_tcb_svn2=bytes((5, 1, 2) + (0,) * 13)),
        lambda: PKI.collateral(tdx_spec(tdx_level(S.UpToDate),
                                        tdx_level(S.OutOfDateConfigurationNeeded, tdx=TDX_OLD))),
        "TDRelaunchAdvisedConfigurationNeeded"),
}


@pytest.mark.parametrize("case", list(TDX_CASES))
def test_tdx(case: str) -> None:
    make_quote, make_collateral, expected = TDX_CASES[case]
    judge(make_quote(), make_collateral(), NOW, expected)


@pytest.mark.parametrize("case", list(TDX_RELAUNCH))
def test_tdx_relaunch(case: str) -> None:
    make_quote, make_collateral, expected = TDX_RELAUNCH[case]
    judge(make_quote(), make_collateral(), NOW, expected)
