"""``sgxra ratls cert|serve|inspect|verify`` and ``sgxra secret-prov serve|fetch``."""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sgxra.cli.dcap_commands import _fail, verdict_json
from sgxra.cli.describe import DESCRIBERS, flatten, to_json_value
from sgxra.cli.exit_codes import MISMATCH
from sgxra.cli.inputs import parse_time
from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.pcs.verifier import CollateralSource
from sgxra.validate.policy import Policy
from sgxra.validate.policy_file import PolicyFileError, parse_policy
from sgxra.verify.dcap import DcapVerdict
from sgxra.verify.pki import load_pem_certificate
from sgxra.wire.collateral import Collateral
from sgxra.wire.ias_report import AttestationReport

if TYPE_CHECKING:  # sgxra.ratls loads httpx (its client transport): imported by the commands themselves
    from sgxra.ratls.evidence import RaTlsEvidence
    from sgxra.ratls.policy import TdxPolicy
    from sgxra.ratls.verify import RaTlsResult

PathArg = click.Path(exists=True, dir_okay=False, path_type=Path)
STATE_DIR = Path(".sgxra/pcs-mock")  # shared with `sgxra pcs-mock`, so its collateral verifies these quotes
TDX_KEYS = {"mr_tds", "allow_debug", "accepted_statuses", "accepted_advisories", "allow_simulated"}


def _read_certificate(arg: str) -> bytes:
    from sgxra.ratls.der import MAX_CERTIFICATE

    if arg == "-":
        data = sys.stdin.buffer.read(2 * MAX_CERTIFICATE + 1)
    else:
        with open(arg, "rb") as f:
            data = f.read(2 * MAX_CERTIFICATE + 1)
    return data


def load_ratls_policy(path: Path) -> Policy | TdxPolicy:
    """A policy file; one naming ``mr_tds`` is a TDX policy (SEAM: issue 10 brings one policy for both)."""
    from sgxra.ratls.policy import TdxPolicy

    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise PolicyFileError([f"{path}: {e}"]) from None
    if "mr_tds" not in data:
        return parse_policy(data).policy
    if set(data) - TDX_KEYS:
        raise PolicyFileError([f"a TDX policy takes only {', '.join(sorted(TDX_KEYS))}"])
    sgx = parse_policy({k: v for k, v in data.items() if k != "mr_tds"} | {"mr_enclaves": [bytes(32).hex()]}).policy
    mr_tds = data["mr_tds"]
    if not isinstance(mr_tds, list) or not all(isinstance(m, str) and len(m) == 96 for m in mr_tds):
        raise PolicyFileError(["mr_tds must be a list of 96-hex-digit strings"])
    try:
        measurements = frozenset(bytes.fromhex(m) for m in mr_tds)
    except ValueError:
        raise PolicyFileError(["mr_tds must be hexadecimal"]) from None
    return TdxPolicy(measurements, sgx.allow_debug, sgx.accepted_statuses, sgx.accepted_advisories, sgx.allow_simulated)


def describe_evidence(evidence: RaTlsEvidence) -> dict[str, Any]:
    cert = evidence.certificate
    described: dict[str, Any] = {
        "format": evidence.format.value,
        "unused_extensions": list(evidence.unused),
        "signature_algorithm": cert.signature_algorithm,
        "signature_algorithm_null_parameter": cert.null_signature_parameter,
        "spki_sha256": hashlib.sha256(cert.spki).hexdigest(),
        "binding": to_json_value(evidence.binding),
    }
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
        _fail(e)
        return
    _print(describe_evidence(evidence), as_json)
    if not evidence.binding.bound:
        click.echo(f"not bound to this certificate's key: {evidence.binding.reason}", err=True)
        sys.exit(MISMATCH)


@contextmanager
def _collateral_source(collateral_file: Path | None, pccs: str | None) -> Iterator[Collateral | CollateralSource | None]:
    if collateral_file:
        yield Collateral.from_json(collateral_file.read_bytes())
    elif pccs:
        from sgxra.pcs.client import PcsClient, PcsSettings

        with PcsClient(PcsSettings(base_url=pccs)) as client:
            yield client.fetch
    else:
        yield None


def _root(path: Path | None) -> x509.Certificate | None:
    return load_pem_certificate(path.read_bytes(), str(path)) if path else None


def result_json(result: RaTlsResult) -> dict[str, Any]:
    described: dict[str, Any] = {"format": result.format.value, "binding": to_json_value(result.binding),
                                 "status": result.status, "simulated": result.simulated}
    verdict = result.verdict
    if isinstance(verdict, DcapVerdict):
        described["dcap"] = verdict_json(verdict)
    elif isinstance(verdict, AttestationReport):
        described["ias_report"] = verdict.to_json_dict()
    else:
        described["evidence"] = {"kind": verdict.kind, "status": verdict.status,
                                 "advisory_ids": list(verdict.advisory_ids)}
    described["report_body"] = to_json_value(result.report_body)
    return described


def _trust_options(command: Any) -> Any:
    for option in reversed([
        click.option("--collateral", "collateral_file", type=PathArg, help="Collateral JSON (`sgxra collateral fetch`)."),
        click.option("--pccs", help="Fetch collateral from this PCCS or PCS base URL instead."),
        click.option("--policy", "policy_file", type=PathArg, help="Policy TOML (`mr_tds` makes it a TDX policy)."),
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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify_cmd(cert: str, collateral_file: Path | None, pccs: str | None, policy_file: Path | None,
               root_file: Path | None, ias_root_file: Path | None, at_text: str | None, as_json: bool) -> None:
    """Verify a certificate's evidence: bound to its key, genuine, and (with --policy) accepted."""
    from sgxra.ratls.verify import verify_certificate

    try:
        at = parse_time(at_text) if at_text else datetime.now(timezone.utc)
        policy = load_ratls_policy(policy_file) if policy_file else None
        with _collateral_source(collateral_file, pccs) as collateral:
            result = verify_certificate(_read_certificate(cert), at=at, policy=policy, collateral=collateral,
                                        root=_root(root_file), ias_root=_root(ias_root_file))
    except (SgxRaError, OSError, ValueError) as e:
        _fail(e)
        return
    described = result_json(result)
    described["policy"] = str(policy_file) if policy_file else None
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    click.echo(f"{result.format.value} evidence, bound ({result.binding.reason}), genuine at {at.isoformat()}"
               + (f", accepted by {policy_file}" if policy_file else " (no policy applied)"))
    click.echo(f"  status: {result.status}{'  SIMULATED' if result.simulated else ''}")
    body = described["report_body"]
    for name in ("mr_enclave", "mr_signer", "isv_prod_id", "isv_svn", "mr_td"):
        if name in body:
            click.echo(f"  {name}: {body[name]}")


def _private_key(path: Path) -> Any:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


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

    from sgxra.ratls.secret_prov import SecretProvisioningServer
    from sgxra.ratls.verify import RaTlsVerifier

    if policy_file is None:
        raise click.UsageError("--policy is required: the secret goes only to enclaves a policy accepts")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        policy = load_ratls_policy(policy_file)
        with _collateral_source(collateral_file, pccs) as collateral:
            verifier = RaTlsVerifier(policy=policy, clock=lambda: datetime.now(timezone.utc), collateral=collateral,
                                     root=_root(root_file), ias_root=_root(ias_root_file))
            server = SecretProvisioningServer(
                verifier, secret_file.read_bytes(), certificate=load_pem_certificate(cert_file.read_bytes(), "--cert"),
                key=_private_key(key_file), host=host, port=port)
            click.echo(f"secret provisioning on {server.address[0]}:{server.address[1]}")
            server.serve_forever()
    except (SgxRaError, OSError, ValueError) as e:
        _fail(e)


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
        _fail(e)
        return
    sys.stdout.buffer.write(secret)

