"""``sgxra client``: attest a (simulated) enclave to a service provider and receive its secret."""

from __future__ import annotations

import asyncio
import contextlib
import string
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from sgxra.backends.base import BackendEnclave
from sgxra.cli.exit_codes import NOT_GENUINE, POLICY, SERVICE, fail
from sgxra.cli.quote_command import ROOT_HELP, make_source
from sgxra.errors import SgxRaError
from sgxra.ias.mock_config import DEMO_PLATFORM_SEED
from sgxra.protocol.client import ClientSession, ClientVerdict, EnclaveBackend
from sgxra.sim import SAMPLE_SP_PUBLIC_KEY_LE, EnclaveIdentity, SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.sim.dcap_pki import SimIntelPki
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.sim.enclave import DEFAULT_MR_ENCLAVE, DEFAULT_MR_SIGNER, QuotingEnclave
from sgxra.sim.epid import DEFAULT_GID
from sgxra.wire.msg4_auth import ReasonCode

CLIENT_BACKENDS = ("sim", "gramine")
_EXIT_FOR_REASON = {ReasonCode.POLICY: POLICY, ReasonCode.PLATFORM_UPDATE_NEEDED: POLICY,
                    ReasonCode.NOT_GENUINE: NOT_GENUINE, ReasonCode.SERVICE_UNAVAILABLE: SERVICE}


def _hex32(value: str, name: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise click.BadParameter("must be 64 hex digits", param_hint=name)
    return raw


def _gid(value: str | None, platform: str) -> int:
    """The EPID group id: 8 hex digits as IAS writes it (00000ae0), never 0 (what ECDSA platforms announce)."""
    if value is None:
        return DEFAULT_GID
    if platform != "epid":
        raise click.BadParameter("only EPID platforms have an EPID group", param_hint="--gid")
    gid = int(value, 16) if len(value) == 8 and all(c in string.hexdigits for c in value) else 0
    if not gid:
        raise click.BadParameter(f"{value!r} is not a non-zero EPID group id of 8 hex digits (e.g. 00000ae0)",
                                 param_hint="--gid")
    return gid


def make_quoting_enclave(platform: str, seed: str, dcap_state: Path, gid: int = DEFAULT_GID) -> QuotingEnclave:
    if platform == "ecdsa":
        return SimEcdsaQuotingEnclave(SimIntelPki.load_or_create(dcap_state, datetime.now(timezone.utc)))
    return SimQuotingEnclave(SimPlatform.from_seed(seed.encode(), gid))


def describe_secret(secret: bytes) -> str:
    printable = all(chr(b) in string.printable for b in secret)
    return repr(secret.decode()) if printable else secret.hex()


def report(verdict: ClientVerdict, secret_out: Path | None) -> int:
    form = "authenticated msg4 (MAC under MK)" if verdict.authenticated else "the sample's msg4 (unauthenticated)"
    reason = verdict.reason.name if verdict.reason is not None else "not given by the sample's msg4"
    click.echo(f"verdict: {verdict.status.name}")
    click.echo(f"reason: {reason}")
    click.echo(f"msg4: {form}")
    if verdict.secret is not None:
        if secret_out:
            secret_out.touch(mode=0o600)
            secret_out.write_bytes(verdict.secret)
            click.echo(f"secret: {len(verdict.secret)} bytes, unsealed inside the enclave, written to {secret_out}")
        else:
            click.echo(f"secret: {len(verdict.secret)} bytes, unsealed inside the enclave: {describe_secret(verdict.secret)}")
    else:
        click.echo("secret: none")
    if verdict.trusted:
        return 0
    return _EXIT_FOR_REASON.get(verdict.reason, POLICY) if verdict.reason is not None else POLICY


@click.command("client")
@click.option("--host", default="127.0.0.1", show_default=True, help="Service provider host (TCP).")
@click.option("--port", default=7777, show_default=True, type=int, help="Service provider port (TCP).")
@click.option("--http", "http_url", help="Use the HTTP/JSON API at this base URL instead of TCP.")
@click.option("-z", "--stdio", is_flag=True, help="Copy/paste mode: write our lines to stdout, read the SP's from stdin.")
@click.option("--backend", type=click.Choice(CLIENT_BACKENDS), default="sim", show_default=True,
              help="The enclave: sim (simulated; the options below describe it) or gramine (this process, run "
                   "under Gramine on SGX hardware, quoting through /dev/attestation). A TD's configfs-tsm quote "
                   "attests no SGX enclave: take it with `sgxra quote --backend tsm` to `sgxra verify` or RA-TLS.")
@click.option("--backend-root", type=click.Path(file_okay=False, path_type=Path), help=ROOT_HELP)
@click.option("--platform", type=click.Choice(["epid", "ecdsa"]), default="epid", show_default=True,
              help="Simulated quoting enclave: EPID (judged by IAS) or ECDSA (DCAP).")
@click.option("--platform-seed", default=DEMO_PLATFORM_SEED, show_default=True,
              help="Simulated EPID platform (must be registered with the IAS mock).")
@click.option("--gid", "gid_hex", metavar="HEX8",
              help="EPID group id of the simulated EPID platform, 8 hex digits (default 00000ae0); "
                   "the IAS mock must know the group.")
@click.option("--dcap-state", type=click.Path(file_okay=False, path_type=Path), default=Path(".sgxra/pcs-mock"),
              show_default=True, help="Simulated Intel PKI shared with `sgxra pcs-mock` (ECDSA).")
@click.option("--mr-enclave", default=DEFAULT_MR_ENCLAVE.hex(), help="The simulated enclave's MRENCLAVE.")
@click.option("--mr-signer", default=DEFAULT_MR_SIGNER.hex(), help="The simulated enclave's MRSIGNER.")
@click.option("--isv-prod-id", default=0, type=click.IntRange(0, 0xFFFF), show_default=True)
@click.option("--isv-svn", default=1, type=click.IntRange(0, 0xFFFF), show_default=True)
@click.option("--debug-enclave", is_flag=True, help="Run the simulated enclave in debug mode.")
@click.option("--sp-public-key", default=SAMPLE_SP_PUBLIC_KEY_LE.hex(),
              help="The SP's public key the enclave trusts (x||y little-endian hex; default: Intel's sample key).")
@click.option("--sample-msg4", is_flag=True, help="Accept the sample's unauthenticated msg4 (Intel's sample SP).")
@click.option("--secret-out", type=click.Path(dir_okay=False, path_type=Path), help="Write the secret here.")
@click.option("--timeout", default=30.0, show_default=True, type=float)
def client_cmd(host: str, port: int, http_url: str | None, stdio: bool, backend: str, backend_root: Path | None,
               platform: str, platform_seed: str,
               gid_hex: str | None, dcap_state: Path, mr_enclave: str, mr_signer: str, isv_prod_id: int, isv_svn: int,
               debug_enclave: bool, sp_public_key: str, sample_msg4: bool, secret_out: Path | None,
               timeout: float) -> None:
    """Attest an enclave (simulated, or this process under Gramine or in a TD) and print the verdict."""
    identity = EnclaveIdentity(_hex32(mr_enclave, "--mr-enclave"), _hex32(mr_signer, "--mr-signer"),
                               isv_prod_id, isv_svn, debug_enclave)
    gid = _gid(gid_hex, platform)
    try:
        enclave: EnclaveBackend
        if backend == "sim":
            enclave = SimEnclave(make_quoting_enclave(platform, platform_seed, dcap_state, gid), identity,
                                 bytes.fromhex(sp_public_key))
        else:
            enclave = BackendEnclave(make_source(backend, backend_root), bytes.fromhex(sp_public_key))
        session = ClientSession(enclave, require_authenticated_msg4=not sample_msg4)
        from sgxra.transport.client import attest_http, attest_stdio, attest_tcp  # httpx: only when attesting

        if stdio:
            verdict = attest_stdio(session, sys.stdin.buffer, sys.stdout.buffer)
        elif http_url:
            verdict = attest_http(session, http_url, timeout=timeout)
        else:
            verdict = asyncio.run(attest_tcp(session, host, port, timeout=timeout))
    except (SgxRaError, OSError, TimeoutError, ValueError) as e:
        fail(e)
    if stdio:  # stdout carries the protocol's lines: the verdict goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            sys.exit(report(verdict, secret_out))
    sys.exit(report(verdict, secret_out))
