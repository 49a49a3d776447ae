"""``sgxra inspect``."""

from __future__ import annotations

import json
import sys

import click

from sgxra.cli.describe import DESCRIBERS, SHAPES, flatten
from sgxra.cli.exit_codes import FAILURE, exit_code_for
from sgxra.cli.inputs import INPUT_HELP, read_input
from sgxra.errors import SgxRaError


@click.command("inspect", help="Print a message, quote, report body or platform info blob field by field.\n\n"
                               f"INPUT: {INPUT_HELP}")
@click.argument("kind", type=click.Choice(sorted(DESCRIBERS)))
@click.argument("data", metavar="INPUT")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the SDK's field names.")
def inspect_cmd(kind: str, data: str, as_json: bool) -> None:
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
