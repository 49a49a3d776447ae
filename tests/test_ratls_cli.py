"""``sgxra ratls cert|inspect|verify`` round trips on the simulated PKI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sgxra.cli.main import main
from sgxra.ratls.connect import connect
from sgxra.ratls.der import load_certificate
from sgxra.ratls.sim import certificate
from sgxra.ratls.verify import RaTlsVerifier
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC
from sgxra.sim.enclave import DEFAULT_MR_ENCLAVE
from sgxra.sim.tdx_qe import DEFAULT_TDX_COMPONENTS, DEFAULT_TDX_FMSPC, DEFAULT_TEE_TCB_SVN, sim_td_report
from sgxra.validate.policy import Policy, TdxRules
from sgxra.verify.pki import load_pem_certificate
from sgxra.wire.collateral import Collateral, TcbStatus


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
    (folder / "tdx.toml").write_text(f'policy_id = "td-policy"\nallow_simulated = true\n[tdx]\n'
                                     f'mr_td = ["{sim_td_report().mr_td.hex()}"]\n')
    (folder / "tdx-other.toml").write_text(f'allow_simulated = true\n[tdx]\nmr_td = ["{bytes(48).hex()}"]\n')
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
    assert described["kind"] == "dcap" and described["tee"] == tee.upper() and described["policy"]["accepted"]
    assert described["ratls"]["format"] == ("gramine-legacy" if fmt == "gramine-legacy" else "tcg-dice")
    assert described["ratls"]["binding"]["bound"] is True
    assert described["ratls"]["binding"]["hashed"] == ("spki" if fmt == "gramine-legacy" else "claims")
    code, out = _run("ratls", "verify", str(cert), "--collateral", str(state / f"{tee}.json"),
                     "--root", str(state / "sim-root.pem"), "--policy", str(state / "other.toml"))
    assert code == 6, out  # policy refused (a TD under an SGX policy, or another enclave)


def _tdx_cert(state: Path) -> Path:
    cert = state / "td.pem"
    if not cert.exists():
        code, out = _run("ratls", "cert", "--out", str(cert), "--key", str(state / "td.key"), "--tdx", "--format",
                         "dice", "--state-dir", str(state))
        assert code == 0, out
    return cert


def _verify_args(state: Path, cert: Path, tee: str = "tdx") -> list[str]:
    return ["ratls", "verify", str(cert), "--collateral", str(state / f"{tee}.json"), "--root",
            str(state / "sim-root.pem")]


def test_tdx_certificate_judged_by_a_tdx_policy_file(state: Path) -> None:
    cert = _tdx_cert(state)
    code, out = _run(*_verify_args(state, cert), "--policy", str(state / "tdx.toml"))
    assert code == 0 and "policy: accepted" in out and "tcg-dice evidence bound" in out, out
    code, out = _run(*_verify_args(state, cert), "--policy", str(state / "tdx-other.toml"), "--json")
    assert code == 6, out
    described = json.loads(out)
    assert described["tee"] == "TDX" and described["ratls"]["format"] == "tcg-dice"
    assert described["policy"]["accepted"] is False
    assert [v["rule"] for v in described["policy"]["violations"]] == ["tdx.mr_td"]
    code, out = _run(*_verify_args(state, cert), "--policy", str(state / "tdx-other.toml"))
    assert code == 6 and "policy: REFUSED" in out and "tdx.mr_td" in out, out


def test_token_from_ratls_verify_is_accepted_by_token_verify(state: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    (state / "token.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    (state / "token.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    at = str(int(datetime.now(timezone.utc).timestamp()) + 60)  # inside the fixture's collateral window
    cert = _tdx_cert(state)
    code, out = _run(*_verify_args(state, cert), "--policy", str(state / "tdx.toml"), "--token-key",
                     str(state / "token.key"), "--nonce", "n-1", "--at", at, "--json")
    assert code == 0, out
    described = json.loads(out)
    code, out = _run("token", "verify", described["token"], "--key", str(state / "token.pub"), "--at", at,
                     "--nonce", "n-1")
    assert code == 0, out
    claims = json.loads(out)
    assert claims["attester_type"] == "TDX" and claims["sgxra_evidence"] == "dcap"
    assert claims["policy_ids_matched"] == [{"id": "td-policy", "version": "1"}]
    assert claims["tdx_mrtd"] == sim_td_report().mr_td.hex()
    assert claims["sgxra_ratls"] == described["ratls"]  # format, binding, the key it binds: signed
    assert claims["sgxra_ratls"]["spki_sha256"] == hashlib.sha256(load_certificate(cert.read_bytes()).spki).hexdigest()
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    (state / "other.pub").write_bytes(other.public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    code, out = _run("token", "verify", described["token"], "--key", str(state / "other.pub"), "--at", at)
    assert code != 0, out


def test_errors_as_json_carry_the_exit_code(state: Path) -> None:
    junk = state / "junk-verify.der"
    junk.write_bytes(b"\x30\x03\x02\x01")
    code, out = _run("ratls", "verify", str(junk), "--json")
    assert code == 3 and json.loads(out)["error"]["exit_code"] == 3


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


def test_secret_prov_serve_and_fetch(state: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secret-prov CLI test")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    (state / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (state / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (state / "secret.bin").write_bytes(b"s3cret\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "sgxra", "secret-prov", "serve", "--host", "127.0.0.1", "--port", "0",
         "--policy", str(state / "sgx.toml"), "--collateral", str(state / "sgx.json"),
         "--root", str(state / "sim-root.pem"), "--secret-file", str(state / "secret.bin"),
         "--cert", str(state / "server.pem"), "--key", str(state / "server.key")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("secret provisioning on 127.0.0.1:"), line
        port = line.rsplit(":", 1)[1].strip()
        result = CliRunner().invoke(main, ["secret-prov", "fetch", "--server", f"127.0.0.1:{port}",
                                           "--ca", str(state / "server.pem"), "--state-dir", str(state)])
        assert result.exit_code == 0 and result.output == "s3cret\n", result.output
    finally:
        server.terminate()
        _, log = server.communicate(timeout=10)
    assert "secret provisioned" in log


def test_ratls_serve_is_an_attested_server(state: Path) -> None:

    server = subprocess.Popen([sys.executable, "-m", "sgxra", "ratls", "serve", "--port", "0", "--tdx", "--format",
                               "dice", "--state-dir", str(state)], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        host, port = line.split(" on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)
        verifier = RaTlsVerifier(
            policy=Policy(tdx=TdxRules(mr_td=frozenset({sim_td_report().mr_td})), allow_simulated=True),
            clock=lambda: datetime.now(timezone.utc), collateral=Collateral.from_json((state / "tdx.json").read_bytes()),
            root=load_pem_certificate((state / "sim-root.pem").read_bytes(), "root"))
        with connect(host, int(port), verifier) as tls:
            tls.sendall(b"echo")
            assert tls.recv(4) == b"echo"
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_verify_fetches_from_a_pccs_through_the_cache(state: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from dcap_env import NOW, PKI, spec
    from ratls_env import SGX
    from servers import ServerThread
    from sgxra.pcs.mock import MockPcs, create_app
    from sgxra.sim.dcap_qe import DEFAULT_FMSPC

    cert, root = tmp_path / "cert.der", tmp_path / "root.pem"
    cert.write_bytes(SGX.certificate("dice")[0])
    root.write_bytes(PKI.root.public_bytes(Encoding.PEM))
    args = ["ratls", "verify", str(cert), "--root", str(root), "--at", NOW.isoformat(), "--policy",
            str(state / "sgx.toml"), "--json"]
    runner = CliRunner(env={"SGXRA_CACHE_DIR": str(tmp_path / "cache")})
    with ServerThread(create_app(MockPcs(PKI, {DEFAULT_FMSPC: spec(issued=NOW)}, lambda: NOW))) as server:
        first = runner.invoke(main, [*args, "--pccs", server.url])
        url = server.url
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["ratls"]["format"] == "tcg-dice"
    again = runner.invoke(main, [*args, "--pccs", url])  # the server is gone: the cache answers
    assert again.exit_code == 0, again.output


def test_secret_prov_serve_refuses_an_encrypted_key_with_a_typed_error(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.BestAvailableEncryption(b"pw")))
    cert = x509.load_der_x509_certificate(certificate(key, []))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "policy.toml").write_text(f'mr_signers = ["{"00" * 32}"]\n')
    (tmp_path / "secret").write_text("s3cret")
    result = CliRunner().invoke(main, ["secret-prov", "serve", "--policy", str(tmp_path / "policy.toml"),
                                       "--secret-file", str(tmp_path / "secret"), "--cert", str(tmp_path / "cert.pem"),
                                       "--key", str(tmp_path / "key.pem"), "--port", "0"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1  # not a traceback
    assert "SpKeyError: cannot read the TLS key" in result.output and "encrypted" in result.output
