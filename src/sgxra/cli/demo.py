"""``sgxra demo``: the walkthroughs. Plain ``sgxra demo`` is the EPID story; the subcommands are the others.

Each walkthrough lives in its own module and is imported only when it runs (they need the ``server`` extra).
"""

from __future__ import annotations

import sys

import click

from sgxra.cli.exit_codes import FAILURE
from sgxra.cli.lazy import LazyGroup

WALKTHROUGHS = {
    "dcap": "sgxra.cli.demo_dcap:dcap_cmd",
    "local": "sgxra.cli.demo_local:demo_local_cmd",
}
SUMMARIES = {
    "dcap": "Intel's DCAP walkthrough: quote, verification, policy verdict, secret",
    "local": "two simulated enclaves attest each other locally",
}


@click.group("demo", cls=LazyGroup, lazy_commands=WALKTHROUGHS, invoke_without_command=True)
@click.pass_context
def demo_group(ctx: click.Context) -> None:
    """Run a simulated attestation end to end and show each step; the subcommands show the other stories."""
    if ctx.invoked_subcommand is not None:
        return
    from sgxra.cli.demo_epid import run_demo

    ok = run_demo(click.echo)
    others = ", ".join(f"`sgxra demo {name}` ({summary})" for name, summary in SUMMARIES.items())
    click.echo(f"\nMore walkthroughs: {others}.")
    sys.exit(0 if ok else FAILURE)
