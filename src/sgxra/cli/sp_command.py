"""``sgxra sp`` (the service provider server) and ``sgxra keygen``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sgxra.cli.exit_codes import USAGE
from sgxra.errors import SgxRaError

if TYPE_CHECKING:
    import uvicorn

    from sgxra.cli.sp_settings import SpSettings
    from sgxra.transport.metrics import SpMetrics

log = logging.getLogger("sgxra.sp")
# No checks by click: our loaders say in one line what is wrong with a file (a startup error, exit 2).
FileArg = click.Path()


def _listen(host: str, port: int, what: str) -> socket.socket:
    """A listening socket, bound before anything starts: a port in use is a one-line startup error."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen for {what} on {host} port {port}: {e.strerror or e}") from None
    return sock


def _serve_http(app: Any, sock: socket.socket, settings: SpSettings,
                metrics: SpMetrics) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    import uvicorn  # the 'server' extra, needed for --http-port and --metrics-port only

    from sgxra.transport.http_limits import first_request_deadline

    class _Uvicorn(uvicorn.Server):
        """uvicorn without its own signal handling: ``sgxra sp`` shuts everything down together."""

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    server = _Uvicorn(uvicorn.Config(app, log_level="warning",
                                     http=first_request_deadline(settings.first_message_timeout, metrics.refused)))
    return server, asyncio.create_task(server.serve(sockets=[sock]))


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
    from sgxra.cli.sp_build import build
    from sgxra.transport.lines import TcpLineServer, serve_until_signalled
    from sgxra.transport.stdio import serve_stdio
    from sgxra.transport.store import MemoryStore

    if settings.http_port or settings.metrics_port:  # before anything starts: the 'server' extra may be missing
        from sgxra.transport.http import create_app, metrics_app

    built = build(settings)
    service = built.service
    if settings.stdio:
        failures = await serve_stdio(service, sys.stdin.buffer, sys.stdout.buffer, max_message=settings.max_message)
        await built.close()
        return 1 if failures else 0
    tcp = TcpLineServer(service, max_message=settings.max_message, session_timeout=settings.session_timeout,
                        max_sessions=settings.max_sessions, first_message_timeout=settings.first_message_timeout,
                        max_per_client=settings.max_per_client)
    host = settings.hosts[0] if settings.hosts else "0.0.0.0"
    wanted: list[tuple[str, int, Any]] = []
    if settings.http_port:
        app = create_app(service, max_message=settings.max_message, max_sessions=settings.max_sessions,
                         max_per_client=settings.max_per_client, body_timeout=settings.first_message_timeout,
                         token_key=built.token_key)
        wanted.append(("the HTTP/JSON API and /metrics", settings.http_port, app))
    if settings.metrics_port:
        wanted.append(("/metrics", settings.metrics_port, metrics_app(service)))
    bound: list[tuple[socket.socket, str, Any]] = []
    try:
        for what, port, app in wanted:
            bound.append((_listen(host, port, what), what, app))
        addresses = await tcp.start(settings.hosts, settings.port)
    except BaseException:
        for sock, _, _ in bound:
            sock.close()
        await built.close()
        raise
    for address, port in addresses:
        log.warning("listening for the sample's hex-line protocol on %s port %d", address, port)
    servers = [_serve_http(app, sock, settings, service.metrics) for sock, _, app in bound]
    for sock, what, _ in bound:
        log.warning("%s on %s port %d", what, host, sock.getsockname()[1])
    reclaimer = asyncio.create_task(service.store.reclaim_every(settings.session_ttl)) \
        if isinstance(service.store, MemoryStore) else None

    async def shutdown() -> None:
        for server, _ in servers:
            server.should_exit = True
        await tcp.shutdown(grace=settings.session_timeout)
        for _, task in servers:
            await task
        if reclaimer is not None:
            reclaimer.cancel()
        pending = len(service.store) if isinstance(service.store, MemoryStore) else -1
        stats = tcp.stats
        log.warning("stopped: %d sessions completed, %d trusted, %d failed, %d timed out, %d refused as busy, "
                    "%d refused per client, %d silent connections closed for newcomers; %s", stats.completed,
                    stats.trusted, stats.failed, stats.timed_out, stats.rejected_busy, stats.rejected_per_client,
                    stats.evicted_silent, f"{pending} sessions pending in memory" if pending >= 0 else "Redis store")
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
@click.option("--http-port", type=int, help="Also serve the HTTP/JSON API (and /metrics) on this port.")
@click.option("--metrics-port", type=int, help="Serve /metrics (Prometheus) on a port of its own.")
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
@click.option("--store-key-file", type=FileArg,
              help="Key(s) sealing sessions in Redis, ID:64-hex-digits each, shared by replicas ($SGXRA_STORE_KEY).")
@click.option("--secret-file", type=FileArg, help="Secret to provision, sealed under SK, to trusted enclaves.")
@click.option("--sample-msg4", is_flag=True, default=None, help="Answer with the sample's unauthenticated msg4.")
@click.option("--max-message-size", "max_message", type=int, help="Largest message accepted, in bytes.")
@click.option("--session-timeout", type=float, help="Seconds a whole TCP session may take.")
@click.option("--session-ttl", type=float, help="Seconds a session may wait between msg2 and msg3.")
@click.option("--max-sessions", type=int, help="Sessions in flight at once; more are refused.")
@click.option("--first-message-timeout", type=float, help="Seconds for msg0||msg1 (TCP) or a request body (HTTP).")
@click.option("--max-per-client", type=int, help="Connections or requests in flight per client address.")
@click.option("-v", "--verbose", is_flag=True, default=None, help="Log each session.")
@click.option("-d", "--debug", is_flag=True, default=None, help="Log messages and session keys (development only).")
@click.option("--log-file", help="Log file (default sp.log).")
@click.option("--log-json", is_flag=True, default=None, help="Log JSON lines, each with its session id.")
def sp_cmd(settings_file: str | None, sample_msg4: bool | None, **options: Any) -> None:
    """Run the service provider: the sample's TCP protocol, -z, and optionally HTTP/JSON."""
    from sgxra.cli.keys import SpKeyError
    from sgxra.cli.sp_build import configure_logging
    from sgxra.cli.sp_settings import SettingsError, load_settings
    from sgxra.transport.store import StoreConfigError
    from sgxra.validate.policy_file import PolicyFileError

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
    except (SettingsError, PolicyFileError, SpKeyError, StoreConfigError, SgxRaError, OSError, UnicodeDecodeError) as e:
        # Startup errors (a port in use, a file that cannot be read, a bad setting): one line, the usage code.
        click.echo(f"sgxra sp: error: {e}", err=True)
        sys.exit(USAGE)


@click.command("keygen")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the private key (PEM, mode 600; never overwritten).")
def keygen_cmd(output: Path) -> None:
    """Create the SP's long-term signing key and print the public key as an enclave embeds it."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from sgxra import crypto
    from sgxra.cli.keys import public_key_c_initializer, write_sp_key

    key = ec.generate_private_key(ec.SECP256R1())
    try:
        write_sp_key(key, output)
    except FileExistsError:
        raise click.UsageError(f"{output} exists; refusing to overwrite a key") from None
    click.echo(f"private key written to {output}")
    click.echo(f"public key (x||y, little-endian): {crypto.public_key_to_point(key.public_key()).hex()}")
    click.echo(public_key_c_initializer(key.public_key()))
