"""The ``sgxra`` command."""

from __future__ import annotations

import json
import sys

import click

from sgxra.cli.client_command import client_cmd
from sgxra.cli.dcap_commands import collateral_group, pcs_mock_cmd, verify_quote_cmd
from sgxra.cli.demo import demo_group
from sgxra.cli.describe import DESCRIBERS, SHAPES, flatten
from sgxra.cli.exit_codes import FAILURE, exit_code_for
from sgxra.cli.ias_commands import ias_mock_cmd, verify_report_cmd
from sgxra.cli.inputs import INPUT_HELP, read_input
from sgxra.cli.quote_command import quote_cmd
from sgxra.cli.ratls_command import ratls_group, secret_prov_group
from sgxra.cli.sp_command import keygen_cmd, sp_cmd
from sgxra.cli.verify_command import token_group, verify_cmd
from sgxra.errors import SgxRaError


@click.group()
@click.version_option(package_name="sgxra")
def main() -> None:
    """Intel SGX remote attestation: service provider, client, verifiers, simulation."""


@main.command(help="Print a message, quote, report body or platform info blob field by field.\n\n"
                   f"INPUT: {INPUT_HELP}")
@click.argument("kind", type=click.Choice(sorted(DESCRIBERS)))
@click.argument("data", metavar="INPUT")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the SDK's field names.")
def inspect(kind: str, data: str, as_json: bool) -> None:
    try:
        described = DESCRIBERS[kind](read_input(data, kind, SHAPES[kind]))
    except (SgxRaError, OSError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(exit_code_for(e) if isinstance(e, SgxRaError) else FAILURE)
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    rows = flatten(described, kind)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name.ljust(width)} = {value}")


main.add_command(verify_report_cmd)
main.add_command(ias_mock_cmd)
main.add_command(verify_quote_cmd)
main.add_command(collateral_group)
main.add_command(pcs_mock_cmd)
main.add_command(sp_cmd)
main.add_command(keygen_cmd)
main.add_command(client_cmd)
main.add_command(quote_cmd)
main.add_command(demo_group)
main.add_command(ratls_group)
main.add_command(secret_prov_group)
main.add_command(verify_cmd)
main.add_command(token_group)
