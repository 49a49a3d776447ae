"""Trusted (QvE-style) verification: the simulated QvE's outputs and the caller's check of its REPORT."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import flip
from dcap_env import NOW, PKI, level, quote, spec
from sgxra.errors import CollateralExpired, ReportMacMismatch, SgxRaError, SignatureInvalid
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.sim.qve import SIM_APP_ENCLAVE, SIM_QVE, SIM_QVE_ENCLAVE, QveOutput, SimQve, trusted_verification
from sgxra.sim.report_keys import SimLocalEnclave, SimReportPlatform
from sgxra.verify.qve_report import (
    INTEL_QVE,
    QveIdentityMismatch,
    QveOutOfDate,
    QveReportMismatch,
    qve_report_data,
    verify_qve_report_and_identity,
)
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.collateral import Collateral, TcbStatus
from sgxra.wire.local_report import QE_REPORT_INFO_SIZE, QeReportInfo
from vectors_env import SGX_AT, RealSgx

PLATFORM = SimReportPlatform()
APP = SimLocalEnclave(PLATFORM, SIM_APP_ENCLAVE)
QUOTE = quote()
COLLATERAL = PKI.collateral(spec())
DATE = int(NOW.timestamp())
NONCE = bytes(range(16))


def run_qve(qve_identity: EnclaveIdentity = SIM_QVE_ENCLAVE, platform: SimReportPlatform = PLATFORM,
            collateral: Collateral = COLLATERAL, date: int = DATE) -> QveOutput:
    qve = SimQve(platform, qve_identity, root=PKI.root)
    return qve.verify_quote(QUOTE, collateral, expiration_check_date=date, nonce=NONCE,
                            app_enclave_target_info=APP.target_info())


OUT = run_qve()


def check(output: QveOutput = OUT, **changes: Any) -> None:
    """The caller's check with what it was given, ``changes`` replacing some of it."""
    given: dict[str, Any] = {
        "verifier": APP, "nonce": NONCE, "quote": QUOTE, "expiration_check_date": DATE,
        "collateral_expiration_status": output.collateral_expiration_status,
        "quote_verification_result": output.quote_verification_result,
        "supplemental_data": output.supplemental_data, "identity": SIM_QVE,
    }
    verify_qve_report_and_identity(output.report, **(given | changes))


def test_a_valid_result_is_accepted() -> None:
    check()
    assert (OUT.quote_verification_result, OUT.collateral_expiration_status) == (0, 0)
    assert len(OUT.supplemental_data) == 536 and OUT.supplemental_data[:4] == bytes([3, 0, 3, 0])
    assert len(OUT.qve_report_info.to_bytes()) == QE_REPORT_INFO_SIZE == 960
    assert QeReportInfo.parse(OUT.qve_report_info.to_bytes()) == OUT.qve_report_info


def test_report_data_is_intels_hash_then_32_zero_bytes() -> None:
    expected = hashlib.sha256(NONCE + QUOTE + struct.pack("<qII", DATE, 0, 0) + OUT.supplemental_data).digest()
    assert OUT.report.body.report_data == expected + bytes(32)
    assert qve_report_data(NONCE, QUOTE, DATE, 0, 0, None) == (
        hashlib.sha256(NONCE + QUOTE + struct.pack("<qII", DATE, 0, 0)).digest() + bytes(32))


def test_a_tampered_nonce_is_detected() -> None:
    with pytest.raises(QveReportMismatch):
        check(nonce=flip(NONCE, 0))


def test_a_tampered_quote_is_detected() -> None:
    with pytest.raises(QveReportMismatch):
        check(quote=flip(QUOTE, 100))


def test_a_tampered_expiration_check_date_is_detected() -> None:
    with pytest.raises(QveReportMismatch):
        check(expiration_check_date=DATE + 1)


def test_a_tampered_collateral_expiration_status_is_detected() -> None:
    with pytest.raises(QveReportMismatch):
        check(collateral_expiration_status=1)


def test_a_tampered_verification_result_is_detected() -> None:
    with pytest.raises(QveReportMismatch):
        check(quote_verification_result=0xA002)


def test_tampered_supplemental_data_is_detected() -> None:
    with pytest.raises(QveReportMismatch):
        check(supplemental_data=flip(OUT.supplemental_data, 300))
    with pytest.raises(QveReportMismatch):
        check(supplemental_data=None)


@pytest.mark.parametrize(("qve", "error", "message"), [
    (dataclasses.replace(SIM_QVE_ENCLAVE, mr_signer=bytes(32)), QveIdentityMismatch, "MRSIGNER"),
    (dataclasses.replace(SIM_QVE_ENCLAVE, isv_prod_id=3), QveIdentityMismatch, "product id 3"),
    (dataclasses.replace(SIM_QVE_ENCLAVE, isv_svn=6), QveOutOfDate, "below the minimum 7"),
    (dataclasses.replace(SIM_QVE_ENCLAVE, debug=True), QveIdentityMismatch, "ATTRIBUTES"),
])
def test_a_wrong_qve_identity_is_detected(qve: EnclaveIdentity, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        check(run_qve(qve))


def test_the_callers_svn_threshold_is_enforced() -> None:
    check(isv_svn_threshold=SIM_QVE_ENCLAVE.isv_svn)
    with pytest.raises(QveOutOfDate, match="threshold"):
        check(isv_svn_threshold=SIM_QVE_ENCLAVE.isv_svn + 1)


def test_intels_identity_refuses_the_simulated_qve() -> None:
    with pytest.raises(QveIdentityMismatch, match="MRSIGNER"):
        check(identity=INTEL_QVE)


def test_a_tampered_report_fails_its_mac() -> None:
    for field, value in (("isv_svn", 99), ("mr_signer", bytes(32))):
        forged = dataclasses.replace(OUT.report, body=dataclasses.replace(OUT.report.body, **{field: value}))
        with pytest.raises(ReportMacMismatch):
            check(dataclasses.replace(OUT, qve_report_info=dataclasses.replace(OUT.qve_report_info, qe_report=forged)))


def test_a_report_for_another_enclave_or_from_another_platform_fails_its_mac() -> None:
    other_app = SimLocalEnclave(PLATFORM, EnclaveIdentity(mr_enclave=bytes(32)))
    with pytest.raises(ReportMacMismatch):
        check(verifier=other_app)
    with pytest.raises(ReportMacMismatch):
        check(run_qve(platform=SimReportPlatform()))


def test_expired_collateral_sets_the_expiration_status_and_still_gives_a_verdict() -> None:
    later = DATE + int(timedelta(days=31).total_seconds())
    output = run_qve(date=later)
    assert (output.collateral_expiration_status, output.quote_verification_result) == (1, 0)
    check(output, expiration_check_date=later)


def test_the_result_code_follows_the_tcb_status() -> None:
    collateral = PKI.collateral(spec(level(TcbStatus.OutOfDate, "INTEL-SA-00001")))
    output = run_qve(collateral=collateral)
    assert output.quote_verification_result == 0xA002
    check(output)


def test_a_quote_that_is_not_genuine_gives_no_report() -> None:
    qve = SimQve(PLATFORM, root=PKI.root)
    with pytest.raises(SignatureInvalid):
        qve.verify_quote(flip(QUOTE, 40), COLLATERAL, expiration_check_date=DATE, nonce=NONCE,
                         app_enclave_target_info=APP.target_info())


def test_trusted_verification_of_intels_real_quote(real_sgx: RealSgx) -> None:
    run = trusted_verification(real_sgx.quote, real_sgx.collateral, at=SGX_AT, root=intel_sgx_root_ca())
    assert run.output.quote_verification_result == 0xA008  # ConfigurationAndSWHardeningNeeded, as Intel's QVL says
    sa_list = run.output.supplemental_data[172:492].split(b"\x00")[0]
    assert sa_list == b"INTEL-SA-00289,INTEL-SA-00615"
    assert not run.output.result.simulated
    assert json.loads(run.output.result.to_json())["status"] == "ConfigurationAndSWHardeningNeeded"


def test_errors_are_typed() -> None:
    with pytest.raises(SgxRaError):
        QeReportInfo.parse(bytes(959))
    with pytest.raises(SgxRaError):
        qve_report_data(bytes(15), QUOTE, DATE, 0, 0, None)


def test_verify_trusted_prints_both_verdicts_and_says_the_qve_is_simulated(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from cryptography.hazmat.primitives.serialization import Encoding

    from sgxra.cli.verify_command import verify_cmd

    (tmp_path / "q.bin").write_bytes(QUOTE)
    (tmp_path / "c.json").write_text(COLLATERAL.to_json())
    (tmp_path / "root.pem").write_bytes(PKI.root.public_bytes(Encoding.PEM))
    args = [str(tmp_path / "q.bin"), "--collateral", str(tmp_path / "c.json"), "--root", str(tmp_path / "root.pem"),
            "--at", str(DATE), "--trusted"]
    result = CliRunner().invoke(verify_cmd, args)
    assert result.exit_code == 0, result.output
    untrusted, trusted = result.output.split("trusted quote verification (QvE)")
    assert "Info: App: Verification completed successfully." in untrusted
    assert "SIMULATED" in trusted and "Verify QvE report and identity successfully returned" in trusted
    assert "Info: App: Verification completed successfully." in trusted
    as_json = json.loads(CliRunner().invoke(verify_cmd, [*args, "--json"]).output)
    assert as_json["trusted"]["simulated_qve"] is True and as_json["trusted"]["quote_verification_result"] == 0
    assert len(bytes.fromhex(as_json["trusted"]["supplemental_data"])) == 536
    without = CliRunner().invoke(verify_cmd, [str(tmp_path / "q.bin"), "--trusted", "--root", str(tmp_path / "root.pem"),
                                              "--at", str(DATE)])
    assert without.exit_code == 1 and "--trusted verifies a DCAP quote against the collateral" in without.output


def test_verify_both_is_the_dcap_demos_trusted_step() -> None:
    from sgxra.cli.trusted import verify_both

    lines: list[str] = []
    assert verify_both(QUOTE, COLLATERAL, at=NOW, root=PKI.root, echo=lines.append)
    assert sum("Verification completed successfully" in line for line in lines) == 2
    assert any("SIMULATED" in line for line in lines)
    revoked = PKI.collateral(spec(level(TcbStatus.Revoked)))
    assert not verify_both(QUOTE, revoked, at=NOW, root=PKI.root, echo=lines.append)
    assert any("Error: App: Verification completed with Terminal result: a005" in line for line in lines)


def test_collateral_not_yet_valid_at_the_check_date_is_an_error_not_a_status() -> None:
    with pytest.raises(CollateralExpired, match="not yet valid"):
        run_qve(date=DATE - 3600)
