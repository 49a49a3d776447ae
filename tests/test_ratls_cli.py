"""``sgxra ratls cert|inspect|verify`` round trips on the simulated PKI."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.cli.main import main
from sgxra.ratls.der import load_certificate
from sgxra.ratls.sim import certificate
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC
from sgxra.sim.enclave import DEFAULT_MR_ENCLAVE
from sgxra.sim.tdx_qe import DEFAULT_TDX_COMPONENTS, DEFAULT_TDX_FMSPC, DEFAULT_TEE_TCB_SVN, sim_td_report
from sgxra.wire.collateral import TcbStatus


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    pki = SimIntelPki.load_or_create(folder, datetime.now(timezone.utc))
    sgx = CollateralSpec(DEFAULT_FMSPC, tcb_levels=[SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.UpToDate)])
    tdx = CollateralSpec(DEFAULT_TDX_FMSPC, tee="tdx", tcb_levels=[SimTcbLevel(
        DEFAULT_TDX_COMPONENTS, 13, TcbStatus.UpToDate, tdx_components=tuple(DEFAULT_TEE_TCB_SVN))])
    (folder / "sgx.json").write_text(pki.collateral(sgx).to_json())
    (folder / "tdx.json").write_text(pki.collateral(tdx).to_json())
    (folder / "sgx.toml").write_text(f'mr_enclaves = ["{DEFAULT_MR_ENCLAVE.hex()}"]\nallow_simulated = true\n')
    (folder / "other.toml").write_text(f'mr_enclaves = ["{bytes(32).hex()}"]\nallow_simulated = true\n')
    (folder / "tdx.toml").write_text(f'mr_tds = ["{sim_td_report().mr_td.hex()}"]\nallow_simulated = true\n')
    return folder


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(("tee", "fmt", "policy"), [
    ("sgx", "dice", "sgx"), ("sgx", "gramine-legacy", "sgx"), ("sgx", "both", "sgx"), ("tdx", "dice", "tdx"),
])
def test_cert_then_verify(state: Path, tee: str, fmt: str, policy: str) -> None:
    cert, key = state / f"{tee}-{fmt}.pem", state / f"{tee}-{fmt}.key"
    code, out = _run("ratls", "cert", "--out", str(cert), "--key", str(key), "--format", fmt,
                     "--state-dir", str(state), *(["--tdx"] if tee == "tdx" else []))
    assert code == 0, out
    code, out = _run("ratls", "verify", str(cert), "--collateral", str(state / f"{tee}.json"),
                     "--root", str(state / "sim-root.pem"), "--policy", str(state / f"{policy}.toml"), "--json")
    assert code == 0, out
    described = json.loads(out)
    assert described["status"] == "UpToDate" and described["simulated"] is True
    assert described["format"] == ("gramine-legacy" if fmt == "gramine-legacy" else "tcg-dice")
    code, out = _run("ratls", "verify", str(cert), "--collateral", str(state / f"{tee}.json"),
                     "--root", str(state / "sim-root.pem"), "--policy", str(state / "other.toml"))
    assert code == 6, out  # policy refused (a TD under an SGX policy, or another enclave)


def test_inspect_exits_10_for_evidence_about_another_key(state: Path) -> None:
    cert = state / "moved.pem"
    code, out = _run("ratls", "cert", "--out", str(cert), "--key", str(state / "moved.key"), "--state-dir", str(state))
    assert code == 0, out
    extensions = [(e.oid, e.value) for e in load_certificate(cert.read_bytes()).extensions if e.oid != "2.5.29.19"]
    moved = state / "moved.der"
    moved.write_bytes(certificate(ec.generate_private_key(ec.SECP384R1()), extensions))
    code, out = _run("ratls", "inspect", str(moved))
    assert code == 10 and "not bound" in out
    code, out = _run("ratls", "verify", str(moved), "--collateral", str(state / "sgx.json"),
                     "--root", str(state / "sim-root.pem"))
    assert code == 10, out


def test_malformed_certificate_exit_code(state: Path) -> None:
    junk = state / "junk.der"
    junk.write_bytes(b"\x30\x03\x02\x01")
    code, out = _run("ratls", "inspect", str(junk))
    assert code == 3 and "ratls_certificate" in out
