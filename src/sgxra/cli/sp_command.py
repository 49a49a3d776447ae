"""``sgxra sp`` (the service provider server) and ``sgxra keygen``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import Any

import click
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra import crypto
from sgxra.cli.keys import SpKeyError, public_key_c_initializer, write_sp_key
from sgxra.cli.sp_build import build, configure_logging
from sgxra.cli.sp_settings import SettingsError, SpSettings, load_settings
from sgxra.errors import SgxRaError
from sgxra.transport.http import create_app
from sgxra.transport.lines import TcpLineServer, serve_until_signalled
from sgxra.transport.stdio import serve_stdio
from sgxra.transport.store import MemoryStore
from sgxra.validate.policy_file import PolicyFileError

log = logging.getLogger("sgxra.sp")
FileArg = click.Path(exists=True, dir_okay=False)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: ``sgxra sp`` shuts everything down together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (`sgxra[uvloop]`; less CPU per attestation), unless SGXRA_LOOP=asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    if os.environ.get("SGXRA_LOOP") == "asyncio":
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def run_sp(settings: SpSettings) -> int:
    built = build(settings)
    service = built.service
    if settings.stdio:
        failures = await serve_stdio(service, sys.stdin.buffer, sys.stdout.buffer, max_message=settings.max_message)
        await built.close()
        return 1 if failures else 0
    tcp = TcpLineServer(service, max_message=settings.max_message, session_timeout=settings.session_timeout,
                        max_sessions=settings.max_sessions)
    reclaimer = asyncio.create_task(service.store.reclaim_every(settings.session_ttl)) \
        if isinstance(service.store, MemoryStore) else None
    for host, port in await tcp.start(settings.hosts, settings.port):
        log.warning("listening for the sample's hex-line protocol on %s port %d", host, port)
    http: _Uvicorn | None = None
    http_task: asyncio.Task[None] | None = None
    if settings.http_port:
        app = create_app(service, max_message=settings.max_message, max_sessions=settings.max_sessions)
        host = settings.hosts[0] if settings.hosts else "0.0.0.0"
        http = _Uvicorn(uvicorn.Config(app, host=host, port=settings.http_port, log_level="warning"))
        http_task = asyncio.create_task(http.serve())
        log.warning("HTTP/JSON API on %s port %d (OpenAPI at /openapi.json)", host, settings.http_port)

    async def shutdown() -> None:
        if http is not None and http_task is not None:
            http.should_exit = True
        await tcp.shutdown(grace=settings.session_timeout)
        if http_task is not None:
            await http_task
        if reclaimer is not None:
            reclaimer.cancel()
        pending = len(service.store) if isinstance(service.store, MemoryStore) else -1
        log.warning("stopped: %d sessions completed, %d trusted, %d failed, %d timed out, %d refused as busy; "
                    "%s", tcp.stats.completed, tcp.stats.trusted, tcp.stats.failed, tcp.stats.timed_out,
                    tcp.stats.rejected_busy, f"{pending} sessions pending in memory" if pending >= 0 else "Redis store")
        await built.close()

    await serve_until_signalled(shutdown)
    return 0


@click.command("sp")
@click.option("--settings", "settings_file", type=FileArg, help="TOML settings file (see sgxra/cli/sp_settings.py).")
@click.option("--policy", "policy_file", type=FileArg, help="TOML policy file (see sgxra/validate/policy_file.py).")
@click.option("--key", "key_file", type=FileArg, help="The SP's long-term P-256 signing key (PEM, from `sgxra keygen`).")
@click.option("--insecure-sample-key", is_flag=True, default=None,
              help="Sign with Intel's published sample key (anyone can impersonate you; for interop tests only).")
@click.option("--spid", help="Service provider ID, 32 hex digits (EPID).")
@click.option("--linkable/--unlinkable", default=None, help="EPID quote type to ask for.")
@click.option("--host", "hosts", multiple=True, help="Address to listen on (repeatable; default: all, IPv4 and IPv6).")
@click.option("--port", type=int, help="TCP port of the hex-line protocol (default 7777).")
@click.option("--http-port", type=int, help="Also serve the HTTP/JSON API on this port.")
@click.option("-z", "--stdio", is_flag=True, default=None, help="Read and write the hex lines on stdin/stdout.")
@click.option("--ias-url", help="IAS: 'development', 'production' or a base URL.")
@click.option("--ias-api-version", type=click.IntRange(3, 5), help="IAS API version (default 5).")
@click.option("--ias-primary-key-file", type=FileArg, help="IAS primary subscription key ($SGXRA_IAS_PRIMARY_KEY).")
@click.option("--ias-secondary-key-file", type=FileArg, help="IAS secondary key ($SGXRA_IAS_SECONDARY_KEY).")
@click.option("--ias-root", type=FileArg, help="Report signing CA to trust instead of Intel's (a mock's).")
@click.option("--pccs", "pccs_url", help="PCS or PCCS base URL: accept ECDSA (DCAP) quotes.")
@click.option("--dcap-root", type=FileArg, help="SGX root CA to trust instead of Intel's (a simulated PKI's).")
@click.option("--collateral-cache", help="SQLite file caching DCAP collateral.")
@click.option("--redis", "redis_url", help="Keep sessions in Redis (redis://host:port/db) to share them between replicas.")
@click.option("--secret-file", type=FileArg, help="Secret to provision, sealed under SK, to trusted enclaves.")
@click.option("--sample-msg4", is_flag=True, default=None, help="Answer with the sample's unauthenticated msg4.")
@click.option("--max-message-size", "max_message", type=int, help="Largest message accepted, in bytes.")
@click.option("--session-timeout", type=float, help="Seconds a whole TCP session may take.")
@click.option("--session-ttl", type=float, help="Seconds a session may wait between msg2 and msg3.")
@click.option("--max-sessions", type=int, help="Sessions in flight at once; more are refused.")
@click.option("-v", "--verbose", is_flag=True, default=None, help="Log each session.")
@click.option("-d", "--debug", is_flag=True, default=None, help="Log messages and session keys (development only).")
@click.option("--log-file", help="Log file (default sp.log).")
def sp_cmd(settings_file: str | None, sample_msg4: bool | None, **options: Any) -> None:
    """Run the service provider: the sample's TCP protocol, -z, and optionally HTTP/JSON."""
    if sample_msg4:
        options["msg4"] = "sample"
    options["hosts"] = list(options["hosts"]) or None
    try:
        settings = load_settings(Path(settings_file) if settings_file else None, options)
        listener = configure_logging(settings)
        try:
            code = run_loop(run_sp(settings))
        finally:
            listener.stop()  # flushes what is queued
        sys.exit(code)
    except (SettingsError, PolicyFileError, SpKeyError, SgxRaError, OSError) as e:
        raise click.UsageError(str(e)) from None


@click.command("keygen")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the private key (PEM, mode 600; never overwritten).")
def keygen_cmd(output: Path) -> None:
    """Create the SP's long-term signing key and print the public key as an enclave embeds it."""
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        write_sp_key(key, output)
    except FileExistsError:
        raise click.UsageError(f"{output} exists; refusing to overwrite a key") from None
    click.echo(f"private key written to {output}")
    click.echo(f"public key (x||y, little-endian): {crypto.public_key_to_point(key.public_key()).hex()}")
    click.echo(public_key_c_initializer(key.public_key()))
