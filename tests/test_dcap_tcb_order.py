"""TCB levels, QE identity statuses and TDX statuses as Intel's QVL has them.

Intel keeps a TCB info's levels in a set ordered highest first (SGX component
SVNs, then PCESVN, then for TDX the TDX component SVNs; TcbLevel operator>)
and takes the first the platform meets: the JSON order must not matter, and
two levels equal under that order make the TCB info invalid. A QE identity
level is UpToDate, Revoked, or else counts as OutOfDate (EnclaveReportVerifier).
TDX adds the module's status and the TD relaunch rule (TDRelaunchCheck).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from dcap_env import NOW, PKI, QE, level, quote, spec
from sgxra.errors import MalformedMessage, VerificationError
from sgxra.sim.dcap_pki import SIM_QE_MRSIGNER, SIM_QE_PROD_ID, SimQeLevel, SimTcbLevel, pem, raw_signature
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS
from sgxra.verify import tcb
from sgxra.verify.dcap import DcapVerdict, verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbInfo, TcbStatus
from sgxra.wire.dcap_quote import (
    ATT_KEY_TYPE_ECDSA_P256,
    BODY_TYPE_TD10,
    BODY_TYPE_TD15,
    CERT_TYPE_PCK_CHAIN,
    INTEL_QE_VENDOR_ID,
    TEE_TYPE_TDX,
    CertificationData,
    DcapQuote,
    QeReportCertificationData,
    QuoteHeader,
)
from sgxra.wire.report_body import Attributes, ReportBody
from sgxra.wire.td_report import TdReport

S = TcbStatus
RAW = quote()
LOWER = (10, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0)
HIGHER = (12, 12, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0)
SGX_LEVELS = (
    level(S.UpToDate, components=HIGHER),
    level(S.SWHardeningNeeded, "INTEL-SA-00615", pcesvn=14),  # the platform's PCESVN is 13
    level(S.ConfigurationNeeded, "INTEL-SA-00289"),  # the one the platform meets, highest first
    level(S.OutOfDate, "INTEL-SA-00828", pcesvn=5),
    level(S.OutOfDate, "INTEL-SA-00001", components=(1,) * 16),
    level(S.OutOfDateConfigurationNeeded, "INTEL-SA-00002", components=LOWER),
)


def _verify(collateral: Collateral, raw: bytes = RAW) -> DcapVerdict:
    return verify_dcap_quote(raw, collateral, at=NOW, root=PKI.root)


@settings(max_examples=25)
@given(st.permutations(SGX_LEVELS))
def test_sgx_level_order_in_json_does_not_matter(levels: list[SimTcbLevel]) -> None:
    verdict = _verify(PKI.collateral(spec(*levels)))
    assert verdict.status is S.ConfigurationNeeded and verdict.advisory_ids == ("INTEL-SA-00289",)


def test_a_lower_level_listed_first_does_not_win() -> None:
    verdict = _verify(PKI.collateral(spec(level(S.OutOfDate, "INTEL-SA-00828", components=LOWER),
                                          level(S.UpToDate))))
    assert verdict.status is S.UpToDate and verdict.advisory_ids == ()


def test_duplicated_levels_make_the_tcb_info_invalid() -> None:
    with pytest.raises(MalformedMessage, match="duplicated TCB level"):
        _verify(PKI.collateral(spec(level(S.UpToDate), level(S.OutOfDate, pcesvn=13))))


@pytest.mark.parametrize("tcb_type", [1, 2])
def test_only_tcb_type_0_is_supported(tcb_type: int) -> None:
    with pytest.raises(MalformedMessage, match=f"tcbType.*TCB type {tcb_type} is not supported"):
        _verify(PKI.collateral(spec(extra={"tcb_info": {"tcbType": tcb_type}})))


def test_relaunch_statuses_are_never_a_level_status_in_collateral() -> None:
    with pytest.raises(MalformedMessage, match="unknown or missing TCB status 'TDRelaunchAdvised'"):
        _verify(PKI.collateral(spec(level(S.TDRelaunchAdvised))))


# Intel reads five statuses in a QE identity level: UpToDate leaves the platform's status, Revoked makes it
# Revoked, the other three count as OutOfDate. SWHardeningNeeded and ConfigurationAndSWHardeningNeeded make
# the identity invalid (STATUS_SGX_ENCLAVE_IDENTITY_INVALID), as Intel's QVL judged them on simulated collateral.
QE_READ = [S.UpToDate, S.ConfigurationNeeded, S.OutOfDate, S.OutOfDateConfigurationNeeded, S.Revoked]
EXPECTED_WITH_CONFIGURATION_NEEDED = {S.UpToDate: S.ConfigurationNeeded, S.Revoked: S.Revoked}
EXPECTED_WITH_UP_TO_DATE = {S.UpToDate: S.UpToDate, S.Revoked: S.Revoked}


@pytest.mark.parametrize("qe_status", QE_READ)
def test_every_qe_identity_status_converges_as_intel_does(qe_status: TcbStatus) -> None:
    qe_levels = (SimQeLevel(8, qe_status, ("INTEL-SA-00999",)),)
    with_config = _verify(PKI.collateral(spec(level(S.ConfigurationNeeded), qe_levels=qe_levels)))
    assert with_config.qe_status is qe_status
    assert with_config.status is EXPECTED_WITH_CONFIGURATION_NEEDED.get(qe_status, S.OutOfDateConfigurationNeeded)
    up_to_date = _verify(PKI.collateral(spec(level(S.UpToDate), qe_levels=qe_levels)))
    assert up_to_date.status is EXPECTED_WITH_UP_TO_DATE.get(qe_status, S.OutOfDate)


@pytest.mark.parametrize("qe_status", [S.SWHardeningNeeded, S.ConfigurationAndSWHardeningNeeded])
def test_qe_identity_statuses_intel_does_not_read_are_refused(qe_status: TcbStatus) -> None:
    with pytest.raises(MalformedMessage, match=f"{qe_status.value} is not a valid status"):
        _verify(PKI.collateral(spec(qe_levels=(SimQeLevel(8, qe_status),))))


def test_qe_identity_levels_keep_their_json_order() -> None:
    # Intel walks a QE identity's levels in JSON order (EnclaveIdentityV2::getTcbStatus).
    qe_levels = (SimQeLevel(2, S.OutOfDate), SimQeLevel(8, S.UpToDate))
    assert _verify(PKI.collateral(spec(qe_levels=qe_levels))).qe_status is S.OutOfDate


@pytest.mark.parametrize(("field", "values"), [
    ("MISCSELECT", {"miscselect": "00000001", "miscselectMask": "FFFFFFFE"}),
    ("attributes", {"attributes": "11000000000000000100000000000000"}),
])
def test_qe_identity_values_are_compared_unmasked_as_intel_does(field: str, values: dict[str, str]) -> None:
    # The report's masked value must equal the identity's value as written: a bit outside the mask never matches.
    with pytest.raises(VerificationError, match=f"QE identity mismatch: {field}"):
        _verify(PKI.collateral(spec(extra={"qe_identity": values})))


# --- TDX: a v5 quote built with the simulated PKI, collateral modelled on Intel's TCB info for FMSPC B0C06F000000.

MODULE = {"mrsigner": "00" * 48, "attributes": "00" * 8, "attributesMask": "FF" * 8}


def _tdx_level(tdx: tuple[int, ...], status: TcbStatus, *advisories: str,
               sgx: tuple[int, ...] = DEFAULT_COMPONENTS) -> dict[str, Any]:
    return {"tcb": {"sgxtcbcomponents": [{"svn": s} for s in sgx], "pcesvn": 13,
                    "tdxtcbcomponents": [{"svn": s} for s in tdx + (0,) * (16 - len(tdx))]},
            "tcbDate": "2025-08-13T00:00:00Z", "tcbStatus": status.value} | (
        {"advisoryIDs": list(advisories)} if advisories else {})


def _module_levels(*levels: tuple[int, TcbStatus]) -> list[dict[str, Any]]:
    return [{"tcb": {"isvsvn": svn}, "tcbDate": "2025-08-13T00:00:00Z", "tcbStatus": status.value}
            | ({"advisoryIDs": ["INTEL-SA-01245"]} if status is S.OutOfDate else {}) for svn, status in levels]


TDX_LEVELS = [
    _tdx_level((5, 0, 4), S.UpToDate),
    _tdx_level((5, 0, 3), S.OutOfDate, "INTEL-SA-01192"),
    _tdx_level((5, 0, 2), S.OutOfDate, "INTEL-SA-01036"),
]
MODULE_IDENTITIES = [
    MODULE | {"id": "TDX_03", "tcbLevels": _module_levels((5, S.UpToDate), (3, S.OutOfDate))},
    MODULE | {"id": "TDX_01", "tcbLevels": _module_levels((11, S.UpToDate), (6, S.OutOfDate))},
]


def _tdx_collateral(levels: list[dict[str, Any]] = TDX_LEVELS, qe_svn: int = 8) -> Collateral:
    extra = {"tcb_info": {"id": "TDX", "tdxModule": MODULE, "tdxModuleIdentities": MODULE_IDENTITIES,
                          "tcbLevels": levels},
             "qe_identity": {"id": "TD_QE"}}
    return PKI.collateral(spec(extra=extra, qe_levels=(SimQeLevel(qe_svn, S.UpToDate), SimQeLevel(0, S.OutOfDate))))


def _td_report(tee_tcb_svn: bytes, tee_tcb_svn2: bytes | None) -> TdReport:
    sizes = {"mr_seam": 48, "td_attributes": 8, "xfam": 8, "mr_td": 48, "mr_config_id": 48, "mr_owner": 48,
             "mr_owner_config": 48, "rtmr0": 48, "rtmr1": 48, "rtmr2": 48, "rtmr3": 48, "report_data": 64}
    extra = {"tee_tcb_svn2": tee_tcb_svn2, "mr_servicetd": bytes(48)} if tee_tcb_svn2 is not None else {}
    return TdReport(tee_tcb_svn=tee_tcb_svn, mr_signer_seam=bytes(48), seam_attributes=bytes(8),
                    **{name: bytes([1]) * size for name, size in sizes.items()}, **extra)


_ATTESTATION_KEY = ec.generate_private_key(ec.SECP256R1())


def _tdx_quote(td: TdReport, qe_svn: int = 8) -> bytes:
    numbers = _ATTESTATION_KEY.public_key().public_numbers()
    attestation_key = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    auth = b"\x01" * 32
    qe_report = ReportBody.build(
        mr_enclave=bytes(32), mr_signer=SIM_QE_MRSIGNER, isv_prod_id=SIM_QE_PROD_ID, isv_svn=qe_svn,
        attributes=Attributes(0x11, 0xE7), report_data=hashlib.sha256(attestation_key + auth).digest() + bytes(32),
    )
    chain = pem(QE.pck_certificate, PKI.cas["processor"], PKI.root).encode()
    qe = QeReportCertificationData(qe_report, raw_signature(QE.pck_key, qe_report.to_bytes()), auth,
                                   CertificationData(CERT_TYPE_PCK_CHAIN, chain))
    header = QuoteHeader(5, ATT_KEY_TYPE_ECDSA_P256, TEE_TYPE_TDX, qe_svn, 13, INTEL_QE_VENDOR_ID, bytes(20))
    body_type = BODY_TYPE_TD15 if td.tee_tcb_svn2 is not None else BODY_TYPE_TD10
    unsigned = DcapQuote(header, body_type, td, bytes(64), attestation_key, qe)
    signed = dataclasses.replace(unsigned, isv_signature=raw_signature(_ATTESTATION_KEY, unsigned.signed_bytes()))
    return signed.to_bytes()


def _svn(*head: int) -> bytes:
    return bytes(head + (0,) * (16 - len(head)))


ON_OLD_MODULE = _svn(3, 3, 4)  # module TDX_03 at SVN 3 (OutOfDate), TDX microcode 4 (the latest level)


@pytest.mark.parametrize(("svn2", "expected"), [
    (_svn(5, 3, 4), S.TDRelaunchAdvised),  # relaunching gets module SVN 5, the latest of TDX_03
    (_svn(5, 0, 4), S.TDRelaunchAdvised),  # version 0 in SVN2: compared with the latest level's TDX components
    (_svn(3, 3, 4), S.OutOfDate),  # a relaunch would not help
    (_svn(5, 3, 3), S.OutOfDate),  # the microcode a relaunch would see is not the latest
    (None, S.OutOfDate),  # TD 1.0: no SVN2, no relaunch advice
], ids=["module-update", "svn2-version-0", "no-better-module", "old-microcode", "td10"])
def test_td_relaunch_advised_as_intel_rules(svn2: bytes | None, expected: TcbStatus) -> None:
    verdict = _verify(_tdx_collateral(), _tdx_quote(_td_report(ON_OLD_MODULE, svn2)))
    assert verdict.status is expected
    assert verdict.tdx_module_status is S.OutOfDate and verdict.advisory_ids == ("INTEL-SA-01245",)


def test_td_relaunch_with_configuration_needed() -> None:
    levels = [{**TDX_LEVELS[0], "tcbStatus": "ConfigurationNeeded"}, *TDX_LEVELS[1:]]
    verdict = _verify(_tdx_collateral(levels), _tdx_quote(_td_report(ON_OLD_MODULE, _svn(5, 3, 4))))
    assert verdict.status is S.TDRelaunchAdvisedConfigurationNeeded


def test_no_relaunch_advice_when_the_qe_is_out_of_date() -> None:
    collateral = _tdx_collateral(qe_svn=9)  # the quote's QE (SVN 8) is below the UpToDate level
    verdict = _verify(collateral, _tdx_quote(_td_report(ON_OLD_MODULE, _svn(5, 3, 4))))
    assert verdict.qe_status is S.OutOfDate and verdict.status is S.OutOfDate


def test_current_td_is_up_to_date_and_tdx_order_does_not_matter() -> None:
    raw = _tdx_quote(_td_report(_svn(5, 3, 4), _svn(5, 3, 4)))
    for levels in (TDX_LEVELS, TDX_LEVELS[::-1], [TDX_LEVELS[1], TDX_LEVELS[0], TDX_LEVELS[2]]):
        verdict = _verify(_tdx_collateral(levels), raw)
        assert verdict.status is S.UpToDate and verdict.tdx_module_status is S.UpToDate


def test_tdx_levels_equal_in_sgx_part_are_ordered_by_tdx_components() -> None:
    # Same SGX SVNs and PCESVN: Intel orders by the TDX components; microcode 3 meets only the middle level.
    raw = _tdx_quote(_td_report(_svn(5, 3, 3), None))
    verdict = _verify(_tdx_collateral(TDX_LEVELS[::-1]), raw)
    assert verdict.status is S.OutOfDate and "INTEL-SA-01192" in verdict.advisory_ids


def test_module_identity_ids_are_hex_and_case_insensitive_as_intel_matches_them() -> None:
    info = TcbInfo.parse(_tdx_collateral().tcb_info)
    renamed = dataclasses.replace(info, tdx_module_identities=(
        dataclasses.replace(info.tdx_module_identities[0], id="tdx_0a"),))
    assert tcb.find_module_identity(renamed, 10).id == "tdx_0a"
    with pytest.raises(VerificationError, match="TDX_10"):
        tcb.find_module_identity(renamed, 16)


@pytest.mark.parametrize(("tcb_id", "module"), [("SGX", MODULE), ("TDX", None)])
def test_tdx_module_belongs_to_tdx_tcb_info_only(tcb_id: str, module: dict[str, str] | None) -> None:
    extra: dict[str, Any] = {"id": tcb_id} | ({"tdxModule": module} if module else {})
    with pytest.raises(MalformedMessage, match="tdxModule"):
        _verify(PKI.collateral(spec(extra={"tcb_info": extra})))


@pytest.mark.parametrize("status", [S.ConfigurationNeeded, S.SWHardeningNeeded, S.OutOfDateConfigurationNeeded])
def test_a_module_level_status_intel_does_not_recognize_is_refused(status: TcbStatus) -> None:
    identities = [MODULE | {"id": "TDX_03", "tcbLevels": _module_levels((3, status))}]
    extra = {"tcb_info": {"id": "TDX", "tdxModule": MODULE, "tdxModuleIdentities": identities,
                          "tcbLevels": TDX_LEVELS}, "qe_identity": {"id": "TD_QE"}}
    with pytest.raises(VerificationError, match=f"TDX module TDX_03 TCB status {status.value} is not recognized"):
        _verify(PKI.collateral(spec(extra=extra)), _tdx_quote(_td_report(ON_OLD_MODULE, None)))
