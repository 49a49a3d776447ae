"""``sgxra inspect``."""

from __future__ import annotations

import json
import sys

import click

from sgxra.cli.describe import DESCRIBERS, flatten
from sgxra.cli.exit_codes import FAILURE, exit_code_for
from sgxra.cli.inputs import read_blob
from sgxra.errors import SgxRaError


@click.command("inspect")
@click.argument("kind", type=click.Choice(sorted(DESCRIBERS)))
@click.argument("data", metavar="(HEX | @FILE)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the SDK's field names.")
def inspect_cmd(kind: str, data: str, as_json: bool) -> None:
    """Print a message, quote, report body or platform info blob field by field."""
    try:
        described = DESCRIBERS[kind](read_blob(data))
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
