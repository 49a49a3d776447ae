"""The ``sgxra`` command.

Commands are registered by name in ``COMMANDS`` and their modules imported only when one is run, asked for
its help, or listed: ``sgxra --version`` imports none of them. A command module imports at its top only what
its click decorators need (click, the standard library, small constants); the verifiers, the protocol, the
simulator, httpx and the server extras are imported inside the command's function.
"""

from __future__ import annotations

import click

from sgxra import __version__
from sgxra.cli.lazy import LazyGroup

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "inspect": "sgxra.cli.inspect_command:inspect_cmd",
    "verify-report": "sgxra.cli.ias_commands:verify_report_cmd",
    "ias-mock": "sgxra.cli.ias_commands:ias_mock_cmd",
    "verify-quote": "sgxra.cli.dcap_commands:verify_quote_cmd",
    "collateral": "sgxra.cli.dcap_commands:collateral_group",
    "pcs-mock": "sgxra.cli.dcap_commands:pcs_mock_cmd",
    "sp": "sgxra.cli.sp_command:sp_cmd",
    "keygen": "sgxra.cli.sp_command:keygen_cmd",
    "client": "sgxra.cli.client_command:client_cmd",
    "ratls": "sgxra.cli.ratls_command:ratls_group",
    "secret-prov": "sgxra.cli.ratls_command:secret_prov_group",
    "verify": "sgxra.cli.verify_command:verify_cmd",
    "token": "sgxra.cli.verify_command:token_group",
    "pccs": "sgxra.cli.pccs_command:pccs_group",
    "quote": "sgxra.cli.quote_command:quote_cmd",
    "demo": "sgxra.cli.demo:demo_group",
}

@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(__version__, prog_name="sgxra")
def main() -> None:
    """Intel SGX remote attestation: service provider, client, verifiers, simulation."""


