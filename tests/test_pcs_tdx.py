"""TDX collateral: TCB info and TD QE identity from the /tdx/ tree, CRLs from the /sgx/ tree, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI, Response

from dcap_env import NOW, PKI, quote, spec
from intel_qvl import qvl_verify
from loopback import free_port, wait_for_port
from pcs_env import Recording
from servers import ServerThread
from sgxra.cli.main import main
from sgxra.errors import ServiceError, ServiceNotFound
from sgxra.pcs import CollateralKey, PcsClient, PcsSettings
from sgxra.pcs.mock import Evaluations, MockPcs, create_app
from sgxra.pcs.verifier import collateral_key
from sgxra.sim.dcap_pki import SimIntelPki
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from sgxra.sim.tdx_qe import DEFAULT_TDX_FMSPC, SimTdxQuotingEnclave, sim_td_report
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo, TcbStatus
from sgxra.wire.dcap_quote import DcapQuote
from tdx_env import TDX_QE, tdx_spec
from vectors_env import RealSgx

TDX_KEY = CollateralKey(DEFAULT_TDX_FMSPC, "processor", "TDX")


def tdx_quote(qe: SimTdxQuotingEnclave = TDX_QE, version: int = 4) -> bytes:
    return qe.get_quote(sim_td_report(b"\x05" * 64), version=version)


@pytest.fixture
def mock() -> Iterator[tuple[MockPcs, str]]:
    pcs = MockPcs(PKI, {DEFAULT_FMSPC: spec()}, lambda: NOW, tdx_specs={DEFAULT_TDX_FMSPC: tdx_spec()})
    with ServerThread(create_app(pcs)) as server:
        yield pcs, server.url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_the_quote_header_picks_the_tee() -> None:
    assert collateral_key(DcapQuote.parse(tdx_quote())) == TDX_KEY
    assert collateral_key(DcapQuote.parse(tdx_quote(version=5)), update="early") == CollateralKey(
        DEFAULT_TDX_FMSPC, "processor", "TDX", "early")
    assert collateral_key(DcapQuote.parse(quote()), tcb_evaluation_data_number=17) == CollateralKey(
        DEFAULT_FMSPC, "processor", "SGX", "standard", 17)


@pytest.mark.parametrize("base", ["", "/sgx/certification/v4", "/sgx/certification/v4/"])
def test_tdx_collateral_comes_from_the_tdx_tree(mock: tuple[MockPcs, str], base: str) -> None:
    pcs_mock, url = mock
    transport = Recording()
    with PcsClient(PcsSettings(base_url=url + base, retries=0, timeout=5), transport=transport) as pcs:
        collateral = pcs.fetch(TDX_KEY)
    assert transport.paths == [
        "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
        "/tdx/certification/v4/tcb?fmspc=90C06F000000&update=standard",
        "/tdx/certification/v4/qe/identity?update=standard",
        "/sgx/certification/v4/rootcacrl",
    ]
    assert pcs_mock.requests == {"pckcrl": 1, "tdx/tcb": 1, "tdx/qe/identity": 1, "rootcacrl": 1}
    assert TcbInfo.parse(collateral.tcb_info).id == "TDX" and QeIdentity.parse(collateral.qe_identity).id == "TD_QE"
    verdict = verify_dcap_quote(tdx_quote(), collateral, at=NOW, root=PKI.root)
    assert verdict.status is TcbStatus.UpToDate and verdict.tdx_module_status is TcbStatus.UpToDate


def test_intel_judges_what_the_client_fetched(mock: tuple[MockPcs, str]) -> None:
    """Intel's QVL accepts the TDX and SGX collateral as it came over the wire (chains unquoted, text kept)."""
    _, url = mock
    with PcsClient(PcsSettings(base_url=url, retries=0, timeout=5)) as pcs:
        tdx, sgx = pcs.fetch(TDX_KEY), pcs.fetch(CollateralKey(DEFAULT_FMSPC, "processor"))
    assert qvl_verify(tdx_quote(), tdx, NOW, PKI.root).status == "UpToDate"
    assert qvl_verify(quote(), sgx, NOW, PKI.root).status == "UpToDate"


def test_the_trees_do_not_mix(mock: tuple[MockPcs, str]) -> None:
    pcs_mock, url = mock
    with PcsClient(PcsSettings(base_url=url, retries=0, timeout=5)) as pcs:
        with pytest.raises(ServiceNotFound, match="TDX TCB info"):
            pcs.fetch(CollateralKey(DEFAULT_FMSPC, "processor", "TDX"))  # an SGX-only FMSPC
        with pytest.raises(ServiceNotFound, match="SGX TCB info"):
            pcs.fetch(CollateralKey(DEFAULT_TDX_FMSPC, "processor", "SGX"))
    # A service that answers SGX collateral to a TDX request is refused by name, before anything caches it.
    pcs_mock.specs[DEFAULT_TDX_FMSPC] = spec(fmspc=DEFAULT_TDX_FMSPC)
    misrouted = PcsSettings(base_url=url, tdx_base_url=url + "/sgx/certification/v4", retries=0, timeout=5)
    with PcsClient(misrouted) as pcs, pytest.raises(ServiceError, match="TCB info id SGX, QE identity id QE"):
        pcs.fetch(TDX_KEY)


def test_tdx_evaluation_data_numbers(mock: tuple[MockPcs, str]) -> None:
    pcs_mock, url = mock
    pcs_mock.evaluations = Evaluations(standard=17, early=18, available={17, 18})
    with PcsClient(PcsSettings(base_url=url, retries=0, timeout=5, update="early")) as pcs:
        early = pcs.fetch_collateral(DEFAULT_TDX_FMSPC, "processor", tee="TDX")
        assert TcbInfo.parse(early.tcb_info).tcb_evaluation_data_number == 18
        with pytest.raises(ServiceNotFound):
            pcs.fetch_collateral(DEFAULT_TDX_FMSPC, "processor", tee="TDX", tcb_evaluation_data_number=16)
    verdict = verify_dcap_quote(tdx_quote(), early, at=NOW, root=PKI.root)
    assert verdict.tcb_evaluation_data_number == 18


def test_collateral_fetch_cli_options(mock: tuple[MockPcs, str], tmp_path: Path) -> None:
    pcs_mock, url = mock
    pcs_mock.evaluations = Evaluations(standard=17, early=18, available={16, 17, 18})
    quote_file = tmp_path / "td.quote"
    quote_file.write_bytes(tdx_quote())
    out = tmp_path / "collateral.json"
    code, text = run("collateral", "fetch", str(quote_file), "--pccs", url, "--tcb-evaluation-data-number", "16",
                     "-o", str(out))
    assert code == 0, text
    assert "TDX FMSPC 90C06F000000 processor CA tcbEvaluationDataNumber=16" in text
    assert json.loads(out.read_text())["tcb_info"].count('"tcbEvaluationDataNumber":16') == 1
    code, text = run("collateral", "fetch", str(quote_file), "--pccs", url, "--update", "early")
    assert code == 0, text
    assert '\\"tcbEvaluationDataNumber\\":18' in text
    code, text = run("collateral", "fetch", str(quote_file), "--pccs", url, "--tcb-evaluation-data-number", "99")
    assert code == 13 and "ServiceNotFound" in text and "HTTP 404" in text
    assert run("collateral", "fetch", str(quote_file), "--update", "late")[0] == 2
    code, text = run("collateral", "fetch", str(quote_file), "--pccs", "https://pccs/sgx/certification/v3")
    assert code == 1 and "TDX collateral needs PCS API v4" in text


def test_pcs_mock_program_then_fetch_then_verify_a_tdx_quote(tmp_path: Path) -> None:
    port, state = free_port(), tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "sgxra", "pcs-mock", "--state-dir", str(state), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("SIMULATED PCS") and "TDX FMSPC 90C06F000000" in lines[2]
        wait_for_port(port, proc)
        pki = SimIntelPki.load_or_create(state, NOW)  # the quote's platform shares the mock's PKI
        quote_file = tmp_path / "td.quote"
        quote_file.write_bytes(tdx_quote(SimTdxQuotingEnclave(pki)))
        out = tmp_path / "collateral.json"
        code, text = run("collateral", "fetch", str(quote_file), "--pccs", f"http://127.0.0.1:{port}", "-o", str(out))
        assert code == 0, text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    root = state / "sim-root.pem"
    assert root.read_bytes() == pki.root.public_bytes(Encoding.PEM)
    at = datetime.now(timezone.utc).isoformat()
    code, text = run("verify-quote", str(quote_file), "--collateral", str(out), "--root", str(root), "--at", at, "--json")
    assert code == 0, text
    verdict = json.loads(text)
    assert (verdict["tee"], verdict["quote_version"], verdict["status"]) == ("TDX", 4, "UpToDate")
    assert verdict["tdx_module_status"] == "UpToDate" and verdict["pck"]["fmspc"] == "90c06f000000"
    fetched = Collateral.from_json(out.read_text())
    assert qvl_verify(quote_file.read_bytes(), fetched, datetime.fromisoformat(at), pki.root).status == "UpToDate"


REAL = Path(__file__).parent / "data" / "pcs"


def _verifies(chain_pem: str, text: str, signature: bytes) -> bool:
    key = x509.load_pem_x509_certificates(chain_pem.encode())[0].public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), text.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def test_real_intel_tdx_answers_are_kept_byte_exact(real_sgx: RealSgx) -> None:
    """Intel's own TDX answers (CRLs and chains from the real SGX vector) through the client over loopback."""
    real = real_sgx.collateral
    app = FastAPI()
    chain = urllib.parse.quote(real.tcb_info_issuer_chain, safe="")

    def signed(name: str, header: str) -> Response:
        return Response((REAL / name).read_bytes(), media_type="application/json", headers={header: chain})

    @app.get("/sgx/certification/v4/pckcrl")
    async def pckcrl() -> Response:
        return Response(real.pck_crl, headers={"SGX-PCK-CRL-Issuer-Chain": urllib.parse.quote(real.pck_crl_issuer_chain)})

    @app.get("/sgx/certification/v4/rootcacrl")
    async def rootcacrl() -> Response:
        return Response(real.root_ca_crl.hex())

    @app.get("/tdx/certification/v4/tcb")
    async def tcb() -> Response:
        return signed("tdx_tcb_info_90c06f000000.json", "TCB-Info-Issuer-Chain")

    @app.get("/tdx/certification/v4/qe/identity")
    async def qe_identity() -> Response:
        return signed("tdx_td_qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain")

    key = CollateralKey(bytes.fromhex("90c06f000000"), "processor", "TDX", tcb_evaluation_data_number=18)
    with ServerThread(app) as server, PcsClient(PcsSettings(base_url=server.url, retries=0, timeout=5)) as pcs:
        collateral = pcs.fetch(CollateralKey(key.fmspc, "processor", "TDX"))
        with pytest.raises(ServiceError, match="QE identity of evaluation data number 14"):
            pcs.fetch(key)  # Intel's two answers here belong to different evaluation data sets
    assert collateral.tcb_info_issuer_chain == real.tcb_info_issuer_chain == collateral.qe_identity_issuer_chain
    assert (collateral.pck_crl, collateral.root_ca_crl) == (real.pck_crl, real.root_ca_crl)
    assert _verifies(collateral.tcb_info_issuer_chain, collateral.tcb_info, collateral.tcb_info_signature)
    assert _verifies(collateral.qe_identity_issuer_chain, collateral.qe_identity, collateral.qe_identity_signature)
    assert not _verifies(collateral.tcb_info_issuer_chain, collateral.tcb_info + " ", collateral.tcb_info_signature)
    info = TcbInfo.parse(collateral.tcb_info)
    assert (info.id, info.fmspc.hex(), info.tcb_evaluation_data_number) == ("TDX", "90c06f000000", 18)
