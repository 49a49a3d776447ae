"""The ``sgxra`` command.

Commands are registered by name in ``COMMANDS`` and their modules imported only when one is run, asked for
its help, or listed: ``sgxra --version`` imports none of them. A command module imports at its top only what
its click decorators need (click, the standard library, small constants); the verifiers, the protocol, the
simulator, httpx and the server extras are imported inside the command's function.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import click

from sgxra import __version__
from sgxra.cli.exit_codes import FAILURE, USAGE

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
}

# Top-level packages of the optional extras (pyproject.toml) -> the extra that installs them.
EXTRA_FOR_PACKAGE = {
    "fastapi": "server",
    "starlette": "server",
    "pydantic": "server",
    "uvicorn": "server",
    "redis": "redis",
    "OpenSSL": "ratls",
    "psycopg": "pccs",
}


def missing_extra(error: BaseException | None) -> tuple[str, str] | None:
    """The missing package and the extra that installs it, if an extra's absence caused this import error."""
    while error is not None:  # the ModuleNotFoundError itself, or what an ImportError of ours was raised from
        if isinstance(error, ModuleNotFoundError) and error.name:
            extra = EXTRA_FOR_PACKAGE.get(error.name.partition(".")[0])
            return (error.name, extra) if extra else None
        error = error.__cause__
    return None


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; a missing extra is one clear line and exit code 2."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        self.add_command(command, cmd_name)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        ctx.meta["sgxra.command"] = args[0] if args else None  # for the missing-extra message
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportError as e:
            missing = missing_extra(e)
            if missing is None:
                raise
            package, extra = missing
            click.echo(f"error: sgxra {ctx.meta.get('sgxra.command')} needs {package}, part of the '{extra}' extra: "
                       f"pip install 'sgxra[{extra}]'", err=True)
            ctx.exit(USAGE)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(__version__, prog_name="sgxra")
def main() -> None:
    """Intel SGX remote attestation: service provider, client, verifiers, simulation."""


@main.command()
def demo() -> None:
    """Run a simulated attestation end to end and show each step."""
    from sgxra.cli.demo import run_demo

    sys.exit(0 if run_demo(click.echo) else FAILURE)
