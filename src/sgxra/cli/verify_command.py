"""``sgxra verify`` (any evidence, one verdict) and ``sgxra token verify``."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.cli.exit_codes import OK, POLICY, fail
from sgxra.cli.inputs import EVIDENCE, INPUT_HELP, parse_time, read_certificate, read_input
from sgxra.cli.keys import load_token_key
from sgxra.errors import SgxRaError

if TYPE_CHECKING:
    from sgxra.pcs.cache import CollateralCache
    from sgxra.verify.result import DcapResult, IasResult

PathArg = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("verify", epilog=f"EVIDENCE: {INPUT_HELP}")
@click.argument("evidence_arg", metavar="EVIDENCE")
@click.option("--collateral", "collateral_file", type=PathArg,
              help="Collateral JSON for a DCAP quote (the nine-field form `sgxra collateral fetch` writes).")
@click.option("--pccs", help="Fetch collateral from this PCCS (or PCS) base URL, through the collateral cache "
                             "(default without --collateral: Intel's PCS).")
@click.option("--policy", "policy_file", type=PathArg, help="Policy TOML file; exit 6 when it refuses the evidence.")
@click.option("--at", "at_text", help="Verification time: ISO-8601 or Unix seconds (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result, every violation included, as JSON.")
@click.option("--token-key", "token_key_file", type=PathArg,
              help="Also print the result as a JWT signed with this EC private key (PEM; ES256 or ES384).")
@click.option("--nonce", help="Put this verifier nonce in the token.")
@click.option("--root", "root_file", envvar="SGXRA_DCAP_ROOT", type=PathArg,
              help="Trust this DCAP root instead of Intel's (a simulated PKI's; env SGXRA_DCAP_ROOT).")
@click.option("--ias-root", "ias_root_file", envvar="SGXRA_IAS_ROOT", type=PathArg,
              help="Trust this IAS report-signing root instead of Intel's (a mock's; env SGXRA_IAS_ROOT).")
@click.option("--trusted", is_flag=True, help="Also verify in trusted mode, with a SIMULATED quote verification "
                                              "enclave (DCAP quote and --collateral needed), and print both verdicts.")
def verify_cmd(evidence_arg: str, collateral_file: Path | None, pccs: str | None, policy_file: Path | None,
               at_text: str | None, as_json: bool, token_key_file: Path | None, nonce: str | None,
               root_file: Path | None, ias_root_file: Path | None, trusted: bool) -> None:
    """Verify a DCAP quote (SGX or TDX) or an IAS report (JSON: report, signature, certificates) and judge it.

    Exit 0: genuine and accepted by the policy (if one is given); 6: the policy
    refuses it; otherwise the code of the failure (see `sgxra --help`).
    """
    from sgxra.api import IasEvidence, verify
    from sgxra.cli.trusted import echo_both, trusted_dict
    from sgxra.sim.qve import trusted_verification
    from sgxra.validate.policy_file import load_policy
    from sgxra.verify.result import DcapResult
    from sgxra.wire.collateral import Collateral

    try:
        at = parse_time(at_text) if at_text else datetime.now(timezone.utc)
        data = read_input(evidence_arg, "evidence", EVIDENCE)
        is_ias = data.lstrip()[:1] == b"{"
        root_path = ias_root_file if is_ias else root_file
        root = read_certificate(root_path)
        policy = load_policy(policy_file).policy if policy_file else None
        collateral = Collateral.from_json(collateral_file.read_bytes()) if collateral_file else None
        if trusted and (collateral is None or is_ias):
            raise ValueError("--trusted verifies a DCAP quote against the collateral given with --collateral")
        fetcher = None
        if collateral is None and pccs and not is_ias:
            fetcher = _pccs_cache(pccs)
        key = load_token_key(token_key_file) if token_key_file else None
        result = verify(IasEvidence.from_json(data) if is_ias else data, collateral=collateral, fetcher=fetcher,
                        policy=policy, at=at, root=root)
        token = result.to_token(key, nonce=nonce, at=at) if key is not None else None
        qve = trusted_verification(data, collateral, at=at, root=root) if trusted and collateral else None
    except (SgxRaError, OSError, ValueError) as e:
        fail(e, as_json=as_json)
    if as_json:
        extra = ({"token": token} if token else {}) | ({"trusted": trusted_dict(qve)} if qve else {})
        click.echo(json.dumps(result.to_dict() | extra, indent=2))
    else:
        print_result(result, at, token)
        if qve is not None and isinstance(result, DcapResult):
            echo_both(result, qve, click.echo)
    sys.exit(OK if result.accepted else POLICY)


def print_result(result: DcapResult | IasResult, at: datetime, token: str | None) -> None:
    """A result for people: what was verified, its measurements, the policy's verdict, the token."""
    described = result.to_dict()
    click.echo(f"genuine {result.tee} evidence ({described['kind']}), verified at {at.isoformat()}"
               + (" [SIMULATED]" if result.simulated else ""))
    for name in ("status", "advisory_ids", "tcb_date", "tcb_evaluation_data_number", "fmspc", "pck_ca"):
        if described.get(name) is not None:
            click.echo(f"  {name}: {described[name]}")
    for name in ("mr_enclave", "mr_signer", "isv_prod_id", "isv_svn", "mr_td"):
        if name in described["body"]:
            click.echo(f"  {name}: {described['body'][name]}")
    if result.policy is not None:
        click.echo("policy: accepted" if result.policy.accepted else "policy: REFUSED")
        for violation in result.policy.violations:
            click.echo(f"  - {violation}")
    if token:
        click.echo(f"token: {token}")


def _pccs_cache(pccs: str) -> CollateralCache:
    """A cache per PCCS URL: entries are keyed on the platform, not on the service that answered."""
    from sgxra.api import default_cache_path
    from sgxra.pcs.cache import CollateralCache
    from sgxra.pcs.client import PcsClient, PcsSettings

    path = default_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return CollateralCache(path.with_name(f"collateral-{hashlib.sha256(pccs.encode()).hexdigest()[:16]}.sqlite"),
                           PcsClient(PcsSettings(base_url=pccs)).fetch)


@click.group("token")
def token_group() -> None:
    """Signed results (JWT): check one."""


@token_group.command("verify")
@click.argument("token")
@click.option("--key", "key_file", required=True, type=PathArg,
              help="The signer's EC public key (PEM public key or certificate).")
@click.option("--at", "at_text", help="Check validity at this time: ISO-8601 or Unix seconds (default: now).")
@click.option("--nonce", help="Require the token to carry this verifier nonce.")
def token_verify_cmd(token: str, key_file: Path, at_text: str | None, nonce: str | None) -> None:
    """Check TOKEN (the JWT, or @FILE holding it) and print its claims as JSON."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from sgxra.verify.token import MAX_TOKEN, TokenInvalid, verify_token

    try:
        if token.startswith("@"):
            token = Path(token[1:]).read_text()[: MAX_TOKEN + 1].strip()
        pem = key_file.read_bytes()
        public = (x509.load_pem_x509_certificate(pem).public_key() if b"CERTIFICATE" in pem
                  else serialization.load_pem_public_key(pem))
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise TokenInvalid(f"{key_file}: not an EC public key")
        at = parse_time(at_text) if at_text else datetime.now(timezone.utc)
        claims = verify_token(token, public, at=at, nonce=nonce)
    except (SgxRaError, OSError, ValueError) as e:
        fail(e)
    click.echo(json.dumps(claims, indent=2))
