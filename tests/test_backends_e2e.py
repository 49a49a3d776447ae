"""msg0..msg4 from a client on the Gramine backend (a fake /dev/attestation over the simulated ECDSA QE)
against `sgxra sp` as a real process on loopback, its collateral from a PCS mock; and `sgxra quote`."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.serialization import Encoding

from backends_env import GRAMINE_ROOT, FakeGramine, fifo_gramine_tree
from loopback import free_port, wait_for_port
from sgxra.backends import BackendEnclave, BackendError, GramineAttestation
from sgxra.backends.base import quoted_report_data
from sgxra.backends.sim import SimQuoteSource
from sgxra.cli.main import main
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.protocol.client import ClientSession
from sgxra.sim import SimPlatform, SimQuotingEnclave
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.sim.tdx_qe import DEFAULT_TDX_COMPONENTS, DEFAULT_TDX_FMSPC, DEFAULT_TEE_TCB_SVN
from sgxra.transport.background import UvicornThread
from sgxra.transport.client import attest_tcp
from sgxra.wire.collateral import TcbStatus
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.quote import QuoteSignType
from sp_env import IDENTITY, PLATFORMS, SECRET, SGXRA, SP_PUBLIC, SPID, mock_ias, sp_files, tcp_sp


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def dcap_sp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimIntelPki, int, str, Path]]:
    """`sgxra sp` (DCAP only) over a PCS mock; yields the PKI, the SP's port, its public key and its directory."""
    tmp = tmp_path_factory.mktemp("dcap-sp")
    pki = SimIntelPki.load_or_create(tmp / "pcs", now())
    spec = CollateralSpec(DEFAULT_FMSPC, tcb_levels=[SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.UpToDate)],
                          issued=now() - timedelta(minutes=1))
    (tmp / "root.pem").write_bytes(pki.root.public_bytes(Encoding.PEM))
    public, sp_section = sp_files(tmp, "gramine secret")
    port = free_port()
    tdx = CollateralSpec(DEFAULT_TDX_FMSPC, tee="tdx", issued=spec.issued, tcb_levels=[SimTcbLevel(
        DEFAULT_TDX_COMPONENTS, 13, TcbStatus.UpToDate, tdx_components=tuple(DEFAULT_TEE_TCB_SVN))])
    mock = MockPcs(pki, {DEFAULT_FMSPC: spec}, now, tdx_specs={DEFAULT_TDX_FMSPC: tdx})
    with UvicornThread(create_app(mock)) as pcs:
        (tmp / "pcs-url").write_text(pcs.url + "/sgx/certification/v4")
        (tmp / "settings.toml").write_text(f"""{sp_section}
[dcap]
pccs_url = "{pcs.url}/sgx/certification/v4"
root_ca = "{tmp / 'root.pem'}"
cache_file = "{tmp / 'collateral.sqlite'}"
""")
        sp = subprocess.Popen([*SGXRA, "sp", "--settings", str(tmp / "settings.toml"), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_port(port, sp)
            yield pki, port, public, tmp
        finally:
            sp.send_signal(signal.SIGTERM)
            sp.communicate(timeout=30)


def gramine_client(tree: FakeGramine, public: str) -> ClientSession:
    return ClientSession(BackendEnclave(GramineAttestation(GRAMINE_ROOT, tree), bytes.fromhex(public)))


def test_gramine_client_gets_its_secret_from_the_sp_program(dcap_sp: tuple[SimIntelPki, int, str, Path]) -> None:
    pki, port, public, _ = dcap_sp
    tree = FakeGramine(SimQuoteSource(pki, identity=IDENTITY).quote)
    session = gramine_client(tree, public)
    verdict = asyncio.run(attest_tcp(session, "127.0.0.1", port, timeout=30))
    assert verdict.trusted and verdict.authenticated and verdict.secret == b"gramine secret"
    assert tree.quotes == 1  # one quote, over the session's binding, written through user_report_data
    sk, _ = session.keys
    assert len(sk) == 16 and tree.user_report_data[32:] == bytes(32)


def test_gramine_client_refused_for_its_identity_and_for_a_stale_quote(
        dcap_sp: tuple[SimIntelPki, int, str, Path]) -> None:
    pki, port, public, _ = dcap_sp
    debug = FakeGramine(SimQuoteSource(pki, identity=EnclaveIdentity(debug=True)).quote)
    verdict = asyncio.run(attest_tcp(gramine_client(debug, public), "127.0.0.1", port, timeout=30))
    assert not verdict.trusted and verdict.secret is None and verdict.reason is not None
    assert verdict.reason.name == "POLICY"
    stale = FakeGramine(SimQuoteSource(pki, identity=IDENTITY).quote, stale=True)
    with pytest.raises(BackendError, match="other report data"):  # refused by the client before msg3 is sent
        asyncio.run(attest_tcp(gramine_client(stale, public), "127.0.0.1", port, timeout=30))


def sgxra(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_quote_command_on_each_backend(tmp_path: Path, dcap_sp: tuple[SimIntelPki, int, str, Path]) -> None:
    _, _, _, state = dcap_sp
    data = bytes(range(64))
    out = tmp_path / "quote.dat"
    sim = subprocess.run([*SGXRA, "quote", "--report-data", data.hex(), "-o", str(out), "--dcap-state",
                          str(state / "pcs")], capture_output=True, text=True, timeout=60)  # the program, once
    assert sim.returncode == 0, sim.stderr
    assert "SIMULATED" in sim.stderr and "DCAP quote version 3, SGX" in sim.stderr
    assert quoted_report_data(out.read_bytes()) == data
    tdx = sgxra("quote", "--tdx", "--report-data", data.hex(), "--dcap-state", str(state / "pcs"))
    assert tdx.exit_code == 0 and DcapQuote.parse(bytes.fromhex(tdx.stdout.strip())).is_tdx
    (tmp_path / "td.dat").write_bytes(bytes.fromhex(tdx.stdout.strip()))
    verified = sgxra("verify", str(tmp_path / "td.dat"), "--pccs", (state / "pcs-url").read_text(), "--root",
                     str(state / "root.pem"), "--json", env={"SGXRA_CACHE_DIR": str(tmp_path / "cache")})
    assert verified.exit_code == 0, verified.output
    result = json.loads(verified.stdout)
    assert result["tee"] == "TDX" and result["status"] == "UpToDate" and result["simulated"]
    tree = tmp_path / "attestation"  # a real tree holding one quote, read through plain files
    tree.mkdir()
    (tree / "attestation_type").write_text("dcap")
    (tree / "user_report_data").write_bytes(bytes(64))
    (tree / "quote").write_bytes(out.read_bytes())
    gramine = sgxra("quote", "--backend", "gramine", "--backend-root", str(tree), "--report-data", data.hex())
    assert gramine.exit_code == 0, gramine.output
    assert bytes.fromhex(gramine.stdout.strip()) == out.read_bytes() and "SIMULATED" not in gramine.stderr
    stale = sgxra("quote", "--backend", "gramine", "--backend-root", str(tree), "--report-data", "00" * 64)
    assert stale.exit_code == 1 and "BackendBusy" in stale.stderr and not stale.stdout
    tsm = sgxra("quote", "--backend", "tsm", "--backend-root", str(tmp_path / "none"), "--report-data", data.hex())
    assert tsm.exit_code == 1 and "BackendUnavailable" in tsm.stderr and "configfs-tsm" in tsm.stderr
    bad = sgxra("quote", "--report-data", "abcd")
    assert bad.exit_code == 2 and "128 hex digits" in bad.stderr
    tdx_elsewhere = sgxra("quote", "--backend", "tsm", "--tdx", "--report-data", data.hex())
    assert tdx_elsewhere.exit_code == 2 and "only the sim backend" in tdx_elsewhere.stderr


def test_client_command_on_the_gramine_backend_outside_gramine(tmp_path: Path,
                                                               dcap_sp: tuple[SimIntelPki, int, str, Path]) -> None:
    _, port, public, _ = dcap_sp
    run = sgxra("client", "--backend", "gramine", "--backend-root", str(tmp_path / "absent"), "--port", str(port),
                "--sp-public-key", public)
    assert run.exit_code == 1 and "BackendUnavailable" in run.stderr and "not running under Gramine" in run.stderr
    tsm = sgxra("client", "--backend", "tsm", "--port", str(port), "--sp-public-key", public)
    assert tsm.exit_code == 2  # a TD's quote attests no SGX enclave: not a client backend


def _epid_tree(sign_type: QuoteSignType) -> FakeGramine:
    """Gramine with sgx.remote_attestation = "epid": the SPID and linkability are the manifest's."""
    qe = SimQuotingEnclave(SimPlatform.from_seed(PLATFORMS["ok"].seed.encode()))
    return FakeGramine(lambda data: qe.get_quote(IDENTITY.report_body(data), sign_type, SPID),
                       attestation_type="epid")


def test_gramine_epid_client_against_an_ias_backed_sp() -> None:
    with mock_ias() as ias, tcp_sp(ias.url) as sp:
        tree = _epid_tree(QuoteSignType.UNLINKABLE)
        verdict = asyncio.run(attest_tcp(gramine_client(tree, SP_PUBLIC.hex()), "127.0.0.1", sp.port, timeout=30))
        assert verdict.trusted and verdict.secret == SECRET and tree.quotes == 2  # one told msg1 the EPID group
        with pytest.raises(BackendError, match="asks for unlinkable quotes, this platform makes linkable ones"):
            asyncio.run(attest_tcp(gramine_client(_epid_tree(QuoteSignType.LINKABLE), SP_PUBLIC.hex()),
                                   "127.0.0.1", sp.port, timeout=30))


def test_client_program_on_a_gramine_tree_gets_its_secret_from_the_sp_program(
        tmp_path: Path, dcap_sp: tuple[SimIntelPki, int, str, Path]) -> None:
    """Both ends real processes: the client reads a real tree whose quote file is served by the simulated QE."""
    pki, port, public, _ = dcap_sp
    with fifo_gramine_tree(tmp_path / "attestation", SimQuoteSource(pki, identity=IDENTITY).quote) as tree:
        run = subprocess.run([*SGXRA, "client", "--backend", "gramine", "--backend-root", str(tree), "--port",
                              str(port), "--sp-public-key", public], capture_output=True, text=True, timeout=60)
        written = (tree / "user_report_data").read_bytes()
    assert run.returncode == 0, run.stderr
    assert "verdict: Trusted" in run.stdout and "'gramine secret'" in run.stdout
    assert written[32:] == bytes(32) and written[:32] != bytes(32)  # the session's binding went through the file
