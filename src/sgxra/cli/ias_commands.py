"""``sgxra verify-report`` and ``sgxra ias-mock``."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from sgxra.cli.exit_codes import FAILURE, fail
from sgxra.cli.inputs import INPUT_HELP, QUOTE, REPORT, SIGNATURE, parse_time, read_certificate, read_chain, read_input
from sgxra.errors import CertificateChainError, SgxRaError


@click.command("verify-report", help="Verify a saved IAS Attestation Verification Report and print it.\n\n"
                                     f"BODY (the report's JSON), --signature and --quote: {INPUT_HELP}")
@click.argument("body_arg", metavar="BODY")
@click.option("--signature", "signature_arg", required=True,
              help="X-IASReport-Signature: raw bytes, hex or base64 (detected).")
@click.option("--chain", "chain_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Signing chain, leaf first: PEM, or the URL-encoded X-IASReport-Signing-Certificate value.")
@click.option("--root", "root_file", envvar="SGXRA_IAS_ROOT", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trust this root instead of Intel's pinned one (a mock's; env SGXRA_IAS_ROOT).")
@click.option("--api-version", type=int, help="Require the report's version to be this IAS API version.")
@click.option("--nonce", help="Require the report to echo this nonce.")
@click.option("--quote", "quote_arg", help="Require the report to be about this quote (raw bytes, hex or base64).")
@click.option("--max-age", type=float, help="Require the report to be at most this many seconds old at --at.")
@click.option("--at", "at_text", help="Verification time: ISO-8601 or Unix seconds (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: status and every report field.")
def verify_report_cmd(
    body_arg: str, signature_arg: str, chain_file: Path | None, root_file: Path | None, api_version: int | None,
    nonce: str | None, quote_arg: str | None, max_age: float | None, at_text: str | None, as_json: bool,
) -> None:
    from sgxra.verify.ias import verify_report

    try:
        if [body_arg, signature_arg, quote_arg].count("-") > 1:
            raise click.BadParameter("only one input can be read from standard input (-)")
        if chain_file is None:
            raise CertificateChainError(
                "no signing certificate: give --chain with the PEM chain or the "
                "X-IASReport-Signing-Certificate header value"
            )
        at = parse_time(at_text) if at_text else datetime.now(timezone.utc)
        report = verify_report(
            read_input(body_arg, "report body", REPORT), read_input(signature_arg, "signature", SIGNATURE),
            chain=read_chain(chain_file), at=at,
            root=read_certificate(root_file),
            api_version=api_version, nonce=nonce, quote=read_input(quote_arg, "quote", QUOTE) if quote_arg else None,
            max_age=timedelta(seconds=max_age) if max_age is not None else None,
        )
    except SgxRaError as e:
        fail(e)
    except (OSError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(FAILURE)
    described = report.to_json_dict()
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    click.echo(f"genuine IAS report, verified at {at.isoformat()}")
    for name, value in described.items():
        if value is not None and value != []:
            click.echo(f"  {name}: {value}")


@click.command("ias-mock")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file of keys, platforms, groups and faults (default: one demo platform).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".sgxra/ias-mock"),
              show_default=True, help="Where the mock's SIMULATED signing chain is kept.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
def ias_mock_cmd(config_file: Path | None, state_dir: Path, host: str, port: int) -> None:
    """Serve an IAS-compatible mock for simulated EPID quotes (development only)."""
    import uvicorn

    from sgxra.ias.mock import MockIas, create_app
    from sgxra.ias.mock_config import MockConfigError, MockIasConfig
    from sgxra.ias.mock_pki import MockIasPki

    def now() -> datetime:
        return datetime.now(timezone.utc)

    try:
        config = MockIasConfig.load(config_file) if config_file else MockIasConfig()
    except MockConfigError as e:
        raise click.BadParameter(str(e), param_hint="--config") from None
    pki = MockIasPki.load_or_create(state_dir, now())
    click.echo("SIMULATED IAS: reports are signed by a root that is not Intel's.")
    click.echo(f"root certificate: {pki.root_path}")
    click.echo(f"export SGXRA_IAS_ROOT={pki.root_path}")
    click.echo(f"base URL: http://{host}:{port}")
    uvicorn.run(create_app(MockIas(config, pki, now)), host=host, port=port, log_level="warning")
