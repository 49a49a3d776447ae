"""Intel's QVL judges the verifier's rules on simulated evidence: its verdict and sgxra's must agree.

Covers the forged signer roles (TCB info and QE identity signed by a PCK leaf, CRLs by the wrong CA),
TCB level order, tcbType, QE identity values and the TD relaunch rule. Skips, saying why, where Intel's
QVL cannot run (tests/intel_qvl.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

import intel_qvl
from dcap_env import NOW, PKI, QE, level, quote, spec
from sgxra.errors import SgxRaError
from sgxra.sim.dcap_pki import SimQeLevel, SimTcbLevel, pem, raw_signature
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbStatus
from test_dcap_tcb_order import ON_OLD_MODULE, TDX_LEVELS, _svn, _td_report, _tdx_collateral, _tdx_quote

S = TcbStatus
REJECTED = "Rejected"
LOWER = (10, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0)
HIGHER = (12, 12, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0)
LEVELS = (
    level(S.UpToDate, components=HIGHER),
    level(S.SWHardeningNeeded, "INTEL-SA-00615", pcesvn=14),
    level(S.ConfigurationNeeded, "INTEL-SA-00289"),
    level(S.OutOfDate, "INTEL-SA-00828", pcesvn=5),
    level(S.OutOfDateConfigurationNeeded, "INTEL-SA-00002", components=LOWER),
)
PCK_CHAIN = pem(QE.pck_certificate, PKI.cas["processor"], PKI.root)


def _judged(raw: bytes, collateral: Collateral) -> tuple[str, str]:
    if reason := intel_qvl.unavailable_reason():
        pytest.skip(reason)
    intel = intel_qvl.qvl_verify(raw, collateral, NOW, PKI.root).status
    try:
        ours = verify_dcap_quote(raw, collateral, at=NOW, root=PKI.root).status.value
    except SgxRaError:
        ours = REJECTED
    return intel, ours


def _signed_by_pck(what: str, text: str) -> Collateral:
    """Collateral whose ``what`` (tcb_info or qe_identity) is signed by the platform's PCK key."""
    honest = PKI.collateral(spec(level(S.OutOfDate, "INTEL-SA-00828")))
    return dataclasses.replace(honest, **{what: text, f"{what}_signature": raw_signature(QE.pck_key, text.encode()),
                                          f"{what}_issuer_chain": PCK_CHAIN})


def _levels(order: Callable[[tuple[SimTcbLevel, ...]], tuple[SimTcbLevel, ...]]) -> Collateral:
    return PKI.collateral(spec(*order(LEVELS)))


CASES: dict[str, tuple[Callable[[], bytes], Callable[[], Collateral], str]] = {
    "levels-as-listed": (quote, lambda: _levels(lambda ls: ls), S.ConfigurationNeeded.value),
    "levels-reversed": (quote, lambda: _levels(lambda ls: ls[::-1]), S.ConfigurationNeeded.value),
    "levels-rotated": (quote, lambda: _levels(lambda ls: ls[3:] + ls[:3]), S.ConfigurationNeeded.value),
    "lower-level-first": (quote, lambda: PKI.collateral(spec(
        level(S.OutOfDate, components=LOWER), level(S.UpToDate))), S.UpToDate.value),
    "duplicated-levels": (quote, lambda: PKI.collateral(spec(level(S.UpToDate), level(S.OutOfDate))), REJECTED),
    "tcb-type-1": (quote, lambda: PKI.collateral(spec(extra={"tcb_info": {"tcbType": 1}})), REJECTED),
    "tcb-info-signed-by-pck": (quote, lambda: _signed_by_pck(
        "tcb_info", PKI.collateral(spec(level(S.OutOfDate))).tcb_info.replace('"OutOfDate"', '"UpToDate"')),
        REJECTED),
    "qe-identity-signed-by-pck": (lambda: quote(SimEcdsaQuotingEnclave(PKI, qe_svn=0)), lambda: _signed_by_pck(
        "qe_identity", PKI.qe_identity_json(spec(qe_levels=(SimQeLevel(0, S.UpToDate),)))), REJECTED),
    "qe-miscselect-outside-mask": (quote, lambda: PKI.collateral(spec(
        extra={"qe_identity": {"miscselect": "00000001", "miscselectMask": "FFFFFFFE"}})), REJECTED),
    "pck-crl-of-another-key": (quote, lambda: dataclasses.replace(PKI.collateral(spec()), pck_crl=PKI.crl(
        PKI.cas["processor"], PKI.ca_keys["platform"], [], NOW, timedelta(days=30))), REJECTED),
    "root-crl-by-a-ca": (quote, lambda: dataclasses.replace(PKI.collateral(spec()), root_ca_crl=PKI.crl(
        PKI.root, PKI.ca_keys["processor"], [], NOW, timedelta(days=30))), REJECTED),
}
TDX_CASES: dict[str, tuple[bytes | None, list[int], str]] = {  # TEE_TCB_SVN2, order of TDX_LEVELS, verdict
    "tdx-relaunch-advised": (_svn(5, 3, 4), [0, 1, 2], S.TDRelaunchAdvised.value),
    "tdx-relaunch-svn2-version-0": (_svn(5, 0, 4), [2, 0, 1], S.TDRelaunchAdvised.value),
    "tdx-relaunch-not-helping": (_svn(3, 3, 4), [1, 2, 0], S.OutOfDate.value),
    "tdx-relaunch-old-microcode": (_svn(5, 3, 3), [0, 1, 2], S.OutOfDate.value),
    "tdx-td10-reversed": (None, [2, 1, 0], S.OutOfDate.value),
}
for _name, (_svn2, _order, _expected) in TDX_CASES.items():
    CASES[_name] = (lambda svn2=_svn2: _tdx_quote(_td_report(ON_OLD_MODULE, svn2)),
                    lambda order=_order: _tdx_collateral([TDX_LEVELS[i] for i in order]), _expected)
QE_EXPECTED = {S.UpToDate: S.ConfigurationNeeded.value, S.Revoked: S.Revoked.value,
               S.SWHardeningNeeded: REJECTED, S.ConfigurationAndSWHardeningNeeded: REJECTED}
for _status in [s for s in S if not s.value.startswith("TDRelaunch")]:
    CASES[f"qe-{_status.value}"] = (quote, lambda st=_status: PKI.collateral(spec(
        level(S.ConfigurationNeeded), qe_levels=(SimQeLevel(8, st),))),
        QE_EXPECTED.get(_status, S.OutOfDateConfigurationNeeded.value))


@pytest.mark.parametrize("case", list(CASES))
def test_intel_and_sgxra_agree(case: str) -> None:
    make_quote, make_collateral, expected = CASES[case]
    intel, ours = _judged(make_quote(), make_collateral())
    assert (intel, ours) == (expected, expected)
