"""`sgxra verify-quote`, `sgxra collateral fetch` and `sgxra pcs-mock`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

from conftest import flip
from dcap_env import NOW, PKI, quote, spec
from loopback import free_port
from servers import ServerThread
from sgxra.cli.main import main
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.sim.dcap_pki import SimIntelPki
from sgxra.sim.dcap_qe import DEFAULT_FMSPC, SimEcdsaQuotingEnclave
from sgxra.wire.collateral import Collateral
from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, SGX_QUOTE, RealSgx


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.usefixtures("vectors")
def test_verify_quote_json_on_the_real_quote() -> None:
    code, out = run("verify-quote", str(SGX_QUOTE), "--collateral", str(SGX_COLLATERAL), "--at", str(SGX_AT_UNIX), "--json")
    assert code == 0, out
    obj = json.loads(out)
    assert obj["status"] == "ConfigurationAndSWHardeningNeeded"
    assert obj["advisory_ids"] == ["INTEL-SA-00289", "INTEL-SA-00615"]
    assert obj["pck"]["fmspc"] == "00a067110000" and obj["pck"]["pcesvn"] == 13 and obj["pck"]["pck_ca"] == "processor"
    assert obj["report_body"]["mr_signer"] and "isv_svn" in obj["report_body"]
    assert obj["collateral_expiry"] == "2025-07-19T10:01:18+00:00"


def test_verify_quote_exit_codes(real_sgx: RealSgx, tmp_path: Path) -> None:
    collateral, at = str(SGX_COLLATERAL), str(SGX_AT_UNIX)
    assert run("verify-quote", str(SGX_QUOTE), "--collateral", collateral, "--at", "1760000000")[0] == 9
    tampered = tmp_path / "quote.hex"
    tampered.write_text(flip(real_sgx.quote, 100).hex())  # hex input is detected
    code, out = run("verify-quote", str(tampered), "--collateral", collateral, "--at", at)
    assert code == 7 and "quote signature does not verify" in out
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(real_sgx.quote[:100])
    assert run("verify-quote", str(truncated), "--collateral", collateral, "--at", at)[0] == 3


def test_collateral_fetch_against_the_mock_then_verify(tmp_path: Path) -> None:
    quote_file = tmp_path / "quote.bin"
    quote_file.write_bytes(quote())
    root = tmp_path / "root.pem"
    root.write_bytes(PKI.root.public_bytes(Encoding.PEM))
    with ServerThread(create_app(MockPcs(PKI, {DEFAULT_FMSPC: spec()}, lambda: NOW))) as server:
        out = tmp_path / "collateral.json"
        code, text = run("collateral", "fetch", str(quote_file), "--pccs", server.url + "/sgx/certification/v4",
                         "-o", str(out))
    assert code == 0, text
    Collateral.from_json(out.read_text())
    code, text = run("verify-quote", str(quote_file), "--collateral", str(out), "--root", str(root),
                     "--at", NOW.isoformat(), "--json")
    assert code == 0, text
    assert json.loads(text)["status"] == "UpToDate"
    code, text = run("verify-quote", str(quote_file), "--collateral", str(out), "--at", NOW.isoformat())
    # Without --root, Intel's root is trusted: the simulated collateral's root CA CRL is the first thing refused.
    assert code == 7 and "root CA CRL" in text and "Intel SGX Root CA" in text


def test_pcs_mock_program(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "sgxra", "pcs-mock", "--state-dir", str(state), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("SIMULATED PCS") and lines[1].startswith("export SGXRA_DCAP_ROOT=")
        pki = SimIntelPki.load_or_create(state, NOW)  # the client side reuses the mock's PKI
        quote_file = tmp_path / "quote.bin"
        quote_file.write_bytes(quote(SimEcdsaQuotingEnclave(pki)))
        from datetime import datetime, timezone

        from sgxra.pcs import PcsClient, PcsSettings
        from sgxra.verify.dcap import verify_dcap_quote

        settings = PcsSettings(base_url=f"http://127.0.0.1:{port}/sgx/certification/v4", retries=8, backoff=0.05)
        with PcsClient(settings) as pcs:
            collateral = pcs.fetch_collateral(DEFAULT_FMSPC, "processor")
        verdict = verify_dcap_quote(quote_file.read_bytes(), collateral, at=datetime.now(timezone.utc), root=pki.root)
        assert verdict.status.value == "UpToDate"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
