"""Click groups whose commands are imported on first use, so that `sgxra --version` and `--help` start fast."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import click

from sgxra.cli.exit_codes import USAGE

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
        if args:  # for the missing-extra message: "demo dcap" when a group's command needs the extra
            ctx.meta["sgxra.command"] = " ".join(filter(None, (ctx.meta.get("sgxra.command"), args[0])))
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
