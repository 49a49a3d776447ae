"""The seed's three systems as the real commands: `sgxra client` (workload), `sgxra sp --pccs` (relying party) and
`sgxra pccs serve` (caching service, LAZY), each its own process on loopback, in front of the PCS mock (in this
process, as `sgxra pcs-mock` runs it, from the same state directory)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from loopback import free_port
from pccs_env import running
from sgxra import crypto
from sgxra.cli.keys import write_sp_key
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.sim import EnclaveIdentity
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC
from sgxra.transport.background import UvicornThread
from sgxra.wire.collateral import TcbStatus

SGXRA = [sys.executable, "-m", "sgxra"]


def test_sp_takes_its_collateral_from_sgxra_pccs(tmp_path: Path) -> None:
    state, pccs_port, sp_port = tmp_path / "pki", free_port(), free_port()
    pki = SimIntelPki.load_or_create(state, datetime.now(timezone.utc))
    mock = MockPcs(pki, {DEFAULT_FMSPC: CollateralSpec(DEFAULT_FMSPC, tcb_levels=[
        SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.UpToDate)])}, lambda: datetime.now(timezone.utc))
    sp_key = ec.generate_private_key(ec.SECP256R1())
    write_sp_key(sp_key, tmp_path / "sp.key")
    sp_public = crypto.public_key_to_point(sp_key.public_key()).hex()
    (tmp_path / "policy.toml").write_text(
        f'mr_signers = ["{EnclaveIdentity().mr_signer.hex()}"]\nallow_simulated = true\n')
    (tmp_path / "secret").write_text("pccs-s3cret")
    pccs_url = f"http://127.0.0.1:{pccs_port}"
    with ExitStack() as stack:
        pcs = stack.enter_context(UvicornThread(create_app(mock)))
        stack.enter_context(running(
            [*SGXRA, "pccs", "serve", "--mode", "lazy", "--db", str(tmp_path / "pccs.sqlite"), "--port", str(pccs_port),
             "--pcs-url", pcs.url, "--root", str(state / "sim-root.pem")],
            tmp_path / "pccs.log", pccs_url))
        sp = [*SGXRA, "sp", "--key", str(tmp_path / "sp.key"), "--policy", str(tmp_path / "policy.toml"),
              "--secret-file", str(tmp_path / "secret"), "--host", "127.0.0.1", "--port", str(sp_port),
              "--http-port", str(free_port()), "--pccs", pccs_url, "--dcap-root", str(state / "sim-root.pem"),
              "--collateral-cache", str(tmp_path / "sp-cache.sqlite"), "--log-file", str(tmp_path / "sp.log")]
        stack.enter_context(running(sp, tmp_path / "sp.out", f"http://127.0.0.1:{sp[sp.index('--http-port') + 1]}"))
        client = subprocess.run([*SGXRA, "client", "--platform", "ecdsa", "--dcap-state", str(state), "--port",
                                 str(sp_port), "--sp-public-key", sp_public], capture_output=True, text=True, timeout=60)
    assert client.returncode == 0, client.stdout + client.stderr
    assert "verdict: Trusted" in client.stdout and "'pccs-s3cret'" in client.stdout
    assert mock.requests == {"pckcrl": 1, "tcb": 1, "qe/identity": 1, "rootcacrl": 1}
    pccs_log = (tmp_path / "pccs.log").read_text()
    assert "fetched and stored tcb SGX/" in pccs_log and "fetched and stored pckcrl processor" in pccs_log
