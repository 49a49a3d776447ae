"""``sgxra pccs serve|import|export|status``: the PCCS-compatible caching service."""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sgxra.cli.exit_codes import fail
from sgxra.errors import SgxRaError
from sgxra.pcs.key import UPDATE_TYPES

if TYPE_CHECKING:  # imported when used: the command line starts without the server's dependencies
    from sgxra.pccs.service import PccsService
    from sgxra.pcs.client import PcsClient

PathArg = click.Path(exists=True, dir_okay=False, path_type=Path)
DEFAULT_DB = ".sgxra/pccs.sqlite"
db_option = click.option("--db", "db_url", default=DEFAULT_DB, show_default=True, envvar="SGXRA_PCCS_DB",
                         help="postgresql://user@host/db (replicas share it), sqlite:///path, or a file path (SQLite).")
root_option = click.option("--root", "root_file", envvar="SGXRA_DCAP_ROOT", type=PathArg,
                           help="Verify against this root instead of Intel's pinned SGX Root CA (a simulated PKI's; "
                                "env SGXRA_DCAP_ROOT).")
log = logging.getLogger("sgxra.pccs")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _service(db_url: str, root_file: Path | None, mode: str = "offline", upstream: PcsClient | None = None,
             refresh_margin: float = 3600.0) -> PccsService:
    from sgxra.cli.inputs import read_certificate
    from sgxra.pccs.service import Mode, PccsService
    from sgxra.pccs.store import open_store
    from sgxra.verify.trust import intel_sgx_root_ca

    root = read_certificate(root_file) or intel_sgx_root_ca()
    if "://" not in db_url:
        Path(db_url).parent.mkdir(parents=True, exist_ok=True)
    return PccsService(open_store(db_url), Mode(mode), root, clock=_now, upstream=upstream,
                       refresh_margin=timedelta(seconds=refresh_margin))


@click.group("pccs")
def pccs_group() -> None:
    """A PCCS-compatible caching service for DCAP collateral (Intel's PCCS REST API)."""


def _token_hash(path: Path | None, what: str) -> str | None:
    from sgxra.pccs.guard import Tokens

    return Tokens.check_hash(path.read_text()[:1024], what) if path else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refresher(service: PccsService, stop: threading.Event) -> None:
    """Refetch items as they come due (by their nextUpdate); wake at least every five minutes for new ones."""
    while not stop.is_set():
        try:
            done, next_due = service.refresh_due()
        except SgxRaError as e:
            log.warning("scheduled refresh failed: %s", e)
            done, next_due = [], None
        if done:
            log.info("refreshed %s", ", ".join(done))
        wait = 300.0 if next_due is None else (next_due - _now()).total_seconds()
        stop.wait(min(max(wait, 5.0), 300.0))


@pccs_group.command("serve")
@db_option
@click.option("--mode", type=click.Choice(["lazy", "req", "offline"]), default="lazy", show_default=True,
              help="lazy: fetch on a miss; req: fetch at platform registration; offline: never contact upstream.")
@click.option("--pcs-url", default=None, help="Upstream: Intel's PCS (default) or another PCCS, e.g. "
                                               "https://pccs:8081/sgx/certification/v4.")
@click.option("--api-key-file", type=PathArg, help="File holding the PCS subscription key.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls-cert", type=PathArg, help="TLS certificate (PEM chain) to serve HTTPS with.")
@click.option("--tls-key", type=PathArg, help="Its private key (PEM).")
@click.option("--insecure-http", is_flag=True, help="Allow plain HTTP on a non-loopback address.")
@click.option("--admin-token-file", type=PathArg, help="File holding the SHA-512 hex of the admin token.")
@click.option("--user-token-file", type=PathArg, help="File holding the SHA-512 hex of the user token.")
@click.option("--refresh-margin", default=3600.0, show_default=True, type=click.FloatRange(0, 7 * 86400),
              help="Seconds before an item's nextUpdate at which it is refetched (lazy and req modes).")
@click.option("--request-timeout", type=click.FloatRange(0.1, 300),
              help="Seconds for a new connection's first request head, and for any request's body (default 5).")
@root_option
def serve_cmd(db_url: str, mode: str, pcs_url: str | None, api_key_file: Path | None, host: str, port: int,
              tls_cert: Path | None, tls_key: Path | None, insecure_http: bool, admin_token_file: Path | None,
              user_token_file: Path | None, refresh_margin: float, request_timeout: float | None,
              root_file: Path | None) -> None:
    """Serve Intel's PCCS REST API (v3 and v4, SGX and TDX) from a verified collateral store."""
    import uvicorn

    from sgxra.pccs.api import create_app
    from sgxra.pccs.guard import REQUEST_TIMEOUT, Tokens
    from sgxra.pcs.client import INTEL_PCS_V4, PcsClient, PcsSettings
    from sgxra.transport.http_limits import first_request_deadline

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_cert is None and not _is_loopback(host) and not insecure_http:
        raise click.UsageError(f"plain HTTP on {host} (not loopback) needs --insecure-http; or give --tls-cert/--tls-key")
    try:
        tokens = Tokens(_token_hash(admin_token_file, "--admin-token-file"), _token_hash(user_token_file,
                                                                                       "--user-token-file"))
        upstream = None
        if mode != "offline":
            api_key = api_key_file.read_text().strip() if api_key_file else None
            upstream = PcsClient(PcsSettings(base_url=pcs_url or INTEL_PCS_V4, api_key=api_key or None))
        service = _service(db_url, root_file, mode, upstream, refresh_margin)
    except (SgxRaError, OSError, ValueError) as e:
        fail(e)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    if mode != "offline":
        threading.Thread(target=_refresher, args=(service, stop), daemon=True, name="pccs-refresh").start()
    request_timeout = REQUEST_TIMEOUT if request_timeout is None else request_timeout
    scheme = "https" if tls_cert else "http"
    click.echo(f"sgxra PCCS ({mode} mode) on {scheme}://{host}:{port}/sgx/certification/v4", err=True)
    uvicorn.run(create_app(service, tokens, body_timeout=request_timeout), host=host, port=port, log_level="warning",
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None,
                # Bounded: request heads of 16 KiB at most, idle connections dropped, at most 1024 at once (503 beyond),
                # and a new connection's first request head due within the request timeout.
                h11_max_incomplete_event_size=16 * 1024, timeout_keep_alive=30, limit_concurrency=1024,
                http=first_request_deadline(request_timeout, _connection_refused))
    stop.set()


def _connection_refused(limit: str) -> None:
    log.info("connection closed (%s)", limit)


@pccs_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--qeid", help="QE ID (hex) of the platform whose PCK certificate a .pem file holds.")
@click.option("--update", type=click.Choice(UPDATE_TYPES), default="standard", show_default=True,
              help="Which TCB evaluation data set imported TCB info and identities count as.")
@root_option
def import_cmd(paths: tuple[Path, ...], db_url: str, qeid: str | None, update: str, root_file: Path | None) -> None:
    """Verify and store collateral: nine-field JSON files (a DIR: its *.json), quotes (their PCK certificate),
    PCK certificate chains (.pem, with --qeid), or a `sgxra pccs export` file."""
    from sgxra.pccs.importer import path_items

    try:
        service = _service(db_url, root_file)
        now = int(time.time())
        stored = [label for path in paths
                  for label in service.import_items(path_items(path, now=now, qeid=qeid, update=update))]
    except (SgxRaError, OSError, ValueError) as e:
        fail(e)
    for label in stored:
        click.echo(f"stored {label}")
    click.echo(f"{len(stored)} items stored in {db_url}", err=True)


@pccs_group.command("export")
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
def export_cmd(db_url: str, output: Path | None) -> None:
    """Write every stored item (for `sgxra pccs import` elsewhere; each is verified again there)."""
    from sgxra.pccs.items import export_json
    from sgxra.pccs.store import open_store

    try:
        store = open_store(db_url)
        text = export_json(store.items())
        store.close()
        if output:
            output.write_text(text)
        else:
            click.echo(text)
    except (SgxRaError, OSError) as e:
        fail(e)


@pccs_group.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def status_cmd(db_url: str, as_json: bool) -> None:
    """What is cached and when each item expires (its nextUpdate)."""
    try:
        rows = _service(db_url, None).status()
    except (SgxRaError, OSError) as e:
        fail(e)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("nothing cached")
    for row in rows:
        state = "EXPIRED" if row["expired"] else "valid"
        click.echo(f"{row['kind']:<12} {row['key']:<40} {row['variant'] or '-':<12} {state:<8} "
                   f"next update {row['next_update']}")
