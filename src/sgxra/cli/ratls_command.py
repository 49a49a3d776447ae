"""``sgxra ratls cert|serve|inspect|verify`` and ``sgxra secret-prov serve|fetch``."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sgxra.cli.describe import DESCRIBERS, flatten, to_json_value
from sgxra.cli.exit_codes import MISMATCH, OK, POLICY, fail
from sgxra.cli.inputs import parse_time, read_certificate
from sgxra.cli.verify_command import _pccs_cache, print_result
from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.validate.policy_file import load_policy
from sgxra.verify.pki import load_pem_certificate
from sgxra.wire.collateral import Collateral

if TYPE_CHECKING:  # sgxra.ratls loads httpx (its client transport): imported by the commands themselves
    from sgxra.api import CollateralFetcher
    from sgxra.ratls.evidence import RaTlsEvidence

PathArg = click.Path(exists=True, dir_okay=False, path_type=Path)
STATE_DIR = Path(".sgxra/pcs-mock")  # shared with `sgxra pcs-mock`, so its collateral verifies these quotes


def _read_certificate(arg: str) -> bytes:
    from sgxra.ratls.der import MAX_CERTIFICATE

    if arg == "-":
        data = sys.stdin.buffer.read(2 * MAX_CERTIFICATE + 1)
    else:
        with open(arg, "rb") as f:
            data = f.read(2 * MAX_CERTIFICATE + 1)
    return data


def describe_evidence(evidence: RaTlsEvidence) -> dict[str, Any]:
    described = evidence.to_dict()
    if evidence.claims is not None:
        described["claims"] = {k: to_json_value(v) for k, v in evidence.claims.items()}
    if evidence.ias_report is not None:
        described["ias_report"] = evidence.ias_report.report.to_json_dict()
    elif evidence.quote is not None:
        described["quote"] = DESCRIBERS["quote"](evidence.quote.to_bytes())
    return described


def _print(described: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    rows = flatten(described)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name.ljust(width)} = {value}")


@click.group("ratls")
def ratls_group() -> None:
    """RA-TLS: inspect and verify attested TLS certificates; simulated ones for development."""


@ratls_group.command("inspect")
@click.argument("cert", metavar="CERT")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect_cmd(cert: str, as_json: bool) -> None:
    """Show a certificate's evidence (PEM, DER or -): format, binding, quote. Exit 0 only if it binds the key, else 10.

    Nothing here says the evidence is genuine: `sgxra ratls verify` does that.
    """
    from sgxra.ratls.der import load_certificate
    from sgxra.ratls.evidence import extract

    try:
        evidence = extract(load_certificate(_read_certificate(cert)))
    except (SgxRaError, OSError) as e:
        fail(e)
    _print(describe_evidence(evidence), as_json)
    if not evidence.binding.bound:
        click.echo(f"not bound to this certificate's key: {evidence.binding.reason}", err=True)
        sys.exit(MISMATCH)


def _trust(collateral_file: Path | None, pccs: str | None) -> tuple[Collateral | None, CollateralFetcher | None]:
    """Collateral from a file, or a cache over a PCCS, as `sgxra verify` takes them."""
    if collateral_file:
        return Collateral.from_json(collateral_file.read_bytes()), None
    return None, _pccs_cache(pccs) if pccs else None


def _trust_options(command: Any) -> Any:
    for option in reversed([
        click.option("--collateral", "collateral_file", type=PathArg, help="Collateral JSON (`sgxra collateral fetch`)."),
        click.option("--pccs", help="Fetch collateral from this PCCS or PCS base URL instead."),
        click.option("--policy", "policy_file", type=PathArg,
                     help="Policy TOML, as for `sgxra verify` (a [tdx] table judges TDs)."),
        click.option("--root", "root_file", envvar="SGXRA_DCAP_ROOT", type=PathArg,
                     help="Trust this SGX root instead of Intel's (a simulated PKI's; env SGXRA_DCAP_ROOT)."),
        click.option("--ias-root", "ias_root_file", envvar="SGXRA_IAS_ROOT", type=PathArg,
                     help="Trust this IAS report-signing root instead of Intel's (env SGXRA_IAS_ROOT)."),
    ]):
        command = option(command)
    return command


@ratls_group.command("verify")
@click.argument("cert", metavar="CERT")
@_trust_options
@click.option("--at", "at_text", help="Verification time: ISO-8601 or Unix seconds (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result, RA-TLS facts and violations included.")
@click.option("--token-key", "token_key_file", type=PathArg,
              help="Also print the result as a JWT signed with this EC private key (PEM; ES256 or ES384).")
@click.option("--nonce", help="Put this verifier nonce in the token.")
def verify_cmd(cert: str, collateral_file: Path | None, pccs: str | None, policy_file: Path | None,
               root_file: Path | None, ias_root_file: Path | None, at_text: str | None, as_json: bool,
               token_key_file: Path | None, nonce: str | None) -> None:
    """Verify a certificate's evidence: bound to its key, genuine, and (with --policy) accepted.

    Exit 0: accepted (or genuine, without a policy); 6: the policy refuses it;
    10: the evidence is not about this certificate's key; otherwise the code of
    the failure, as `sgxra verify`.
    """
    from sgxra.cli.keys import load_token_key
    from sgxra.ratls.verify import ratls_evidence, verify_certificate

    try:
        at = parse_time(at_text) if at_text else datetime.now(timezone.utc)
        policy = load_policy(policy_file).policy if policy_file else None
        collateral, fetcher = _trust(collateral_file, pccs)
        key = load_token_key(token_key_file) if token_key_file else None
        result = verify_certificate(_read_certificate(cert), at=at, policy=policy, collateral=collateral,
                                    fetcher=fetcher, root=read_certificate(root_file), ias_root=read_certificate(ias_root_file))
        token = result.to_token(key, nonce=nonce, at=at) if key is not None else None
    except (SgxRaError, OSError, ValueError) as e:
        fail(e, as_json=as_json)
    if as_json:
        click.echo(json.dumps(result.to_dict() | ({"token": token} if token else {}), indent=2))
    else:
        evidence = ratls_evidence(result)
        click.echo(f"RA-TLS: {evidence.format.value} evidence bound to the certificate's key ({evidence.binding.reason})")
        print_result(result, at, token)
    sys.exit(OK if result.accepted else POLICY)


def _attester(state_dir: Path, tdx: bool) -> Any:
    from sgxra.ratls.sim import SimRaTlsAttester
    from sgxra.sim.dcap_pki import SimIntelPki

    return SimRaTlsAttester(SimIntelPki.load_or_create(state_dir, datetime.now(timezone.utc)), tdx=tdx)


_sim_options = [
    click.option("--tdx", is_flag=True, help="A TD's quote (TDX) instead of an SGX enclave's."),
    click.option("--format", "fmt", type=click.Choice(["dice", "gramine-legacy", "both"]), default="both",
                 show_default=True, help="Which evidence extension(s), as Gramine writes them."),
    click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=STATE_DIR,
                 show_default=True, help="The SIMULATED Intel PKI (shared with `sgxra pcs-mock`)."),
]


def _sim(command: Any) -> Any:
    for option in reversed(_sim_options):
        command = option(command)
    return command


@ratls_group.command("cert")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Certificate (PEM).")
@click.option("--key", "key_out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Key (PEM).")
@_sim
def cert_cmd(out: Path, key_out: Path, tdx: bool, fmt: str, state_dir: Path) -> None:
    """Make a SIMULATED RA-TLS certificate (verifiable only under the simulated PKI's root)."""
    der, key = _attester(state_dir, tdx).certificate(fmt)
    out.write_text(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode())
    key_out.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key_out.chmod(0o600)
    click.echo(f"SIMULATED {'TDX' if tdx else 'SGX'} RA-TLS certificate ({fmt}) written to {out}; "
               f"its root: {state_dir / 'sim-root.pem'}", err=True)


@ratls_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4433, show_default=True, type=int)
@_sim
def serve_cmd(host: str, port: int, tdx: bool, fmt: str, state_dir: Path) -> None:
    """Run a SIMULATED attested TLS echo server (development and tests)."""
    from sgxra.ratls.server import AttestedEchoServer

    der, key = _attester(state_dir, tdx).certificate(fmt)
    server = AttestedEchoServer(der, key, host=host, port=port)
    click.echo(f"SIMULATED attested echo server on {server.address[0]}:{server.address[1]} "
               f"({'TDX' if tdx else 'SGX'}, {fmt}); trust root {state_dir / 'sim-root.pem'}")
    server.serve_forever()


@click.group("secret-prov")
def secret_prov_group() -> None:
    """Gramine-compatible secret provisioning (needs the `ratls` extra: pyOpenSSL)."""


@secret_prov_group.command("serve")
@_trust_options
@click.option("--secret-file", type=PathArg, required=True, help="The secret to hand to accepted enclaves.")
@click.option("--cert", "cert_file", type=PathArg, required=True, help="This server's TLS certificate (PEM).")
@click.option("--key", "key_file", type=PathArg, required=True, help="This server's TLS key (PEM).")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=4433, show_default=True, type=int)
def secret_prov_serve_cmd(collateral_file: Path | None, pccs: str | None, policy_file: Path | None,
                          root_file: Path | None, ias_root_file: Path | None, secret_file: Path, cert_file: Path,
                          key_file: Path, host: str, port: int) -> None:
    """Serve a secret to enclaves whose RA-TLS certificate is bound, genuine and accepted by --policy."""
    import logging

    from sgxra.cli.keys import load_tls_key
    from sgxra.ratls.secret_prov import SecretProvisioningServer
    from sgxra.ratls.verify import RaTlsVerifier

    if policy_file is None:
        raise click.UsageError("--policy is required: the secret goes only to enclaves a policy accepts")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        collateral, fetcher = _trust(collateral_file, pccs)
        verifier = RaTlsVerifier(policy=load_policy(policy_file).policy, clock=lambda: datetime.now(timezone.utc),
                                 collateral=collateral, fetcher=fetcher, root=read_certificate(root_file),
                                 ias_root=read_certificate(ias_root_file))
        server = SecretProvisioningServer(
            verifier, secret_file.read_bytes(), certificate=load_pem_certificate(cert_file.read_bytes(), "--cert"),
            key=load_tls_key(key_file), host=host, port=port)
        click.echo(f"secret provisioning on {server.address[0]}:{server.address[1]}")
        server.serve_forever()
    except (SgxRaError, OSError, ValueError) as e:
        fail(e)


@secret_prov_group.command("fetch")
@click.option("--server", "address", default="localhost:4433", show_default=True, help="HOST:PORT")
@click.option("--ca", "ca_file", type=PathArg, required=True, help="The CA (PEM) the server's certificate chains to.")
@_sim
def secret_prov_fetch_cmd(address: str, ca_file: Path, tdx: bool, fmt: str, state_dir: Path) -> None:
    """Fetch a secret as a SIMULATED enclave would (writes it to stdout)."""
    from sgxra.ratls.secret_prov import fetch_secret

    host, _, port = address.rpartition(":")
    try:
        if not host or not port.isdigit():
            raise MalformedMessage("address", "--server", 0, f"{address!r} is not HOST:PORT")
        der, key = _attester(state_dir, tdx).certificate(fmt)
        secret = fetch_secret(host, int(port), certificate=x509.load_der_x509_certificate(der), key=key,
                              server_ca=load_pem_certificate(ca_file.read_bytes(), "--ca"))
    except (SgxRaError, OSError, ValueError) as e:
        fail(e)
    sys.stdout.buffer.write(secret)

