"""Helpers for the PCCS tests: a service over a store, served on loopback."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from loopback import free_port
from sgxra.pccs.service import Mode, PccsService
from sgxra.pccs.store import SqliteStore, Store
from sgxra.pcs.client import PcsClient, PcsSettings

DCAP_QVL_DATA = Path(__file__).parent / "data" / "dcap-qvl"
ADMIN_TOKEN, USER_TOKEN = "admin-secret", "user-secret"


def sha512(token: str) -> str:
    return hashlib.sha512(token.encode()).hexdigest()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def upstream_for(url: str) -> PcsClient:
    return PcsClient(PcsSettings(base_url=url + "/sgx/certification/v4", retries=0, backoff=0.01, timeout=5))


def service(tmp: Path, mode: Mode, root: x509.Certificate, clock: Clock, *, upstream: PcsClient | None = None,
            store: Store | None = None, **options: object) -> PccsService:
    return PccsService(store or SqliteStore(tmp / "pccs.sqlite"), mode, root, clock=clock, upstream=upstream,
                       **options)  # type: ignore[arg-type]


def _postgres_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port; its URL. Skips where none is installed.

    PostgreSQL refuses to run as root: then it runs as the ``postgres`` user (or ``nobody``) through runuser.
    """
    initdb, postgres = _postgres_binary("initdb"), _postgres_binary("postgres")
    if initdb is None or postgres is None:
        pytest.skip("PostgreSQL (initdb, postgres) is not installed (.ci/run installs it)")
    pytest.importorskip("psycopg", reason="psycopg (the pccs extra) is not installed")
    import psycopg

    prefix: list[str] = []
    as_root = os.geteuid() == 0
    # As root the server runs as another user, who must reach the folder: /tmp, not a private TMPDIR.
    home = Path(tempfile.mkdtemp(prefix="sgxra-pg-", dir="/tmp" if as_root else None))
    if as_root:
        runuser = shutil.which("runuser")
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if runuser is None or user is None:
            pytest.skip("running as root, and there is no runuser or unprivileged user to run PostgreSQL as")
        entry = pwd.getpwnam(user)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        prefix = [runuser, "-u", user, "--"]
    data, port = home / "data", free_port()
    subprocess.run([*prefix, initdb, "-D", str(data), "-U", "sgxra", "--auth=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    log = home / "postgres.log"  # a file, not a pipe: a full pipe would stall the server
    with log.open("wb") as sink:
        server = subprocess.Popen([*prefix, postgres, "-D", str(data), "-p", str(port), "-k", str(home),
                                   "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                                  stdout=sink, stderr=subprocess.STDOUT)
    url = f"postgresql://sgxra@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        # Fast shutdown (SIGINT, not waiting for clients), sent to the postmaster itself: runuser does not pass it on.
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGINT)
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until ``url`` answers HTTP at all (any status), or the server process ends."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url + "/", timeout=2)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit {process.poll()})") from None
            time.sleep(0.1)


@contextlib.contextmanager
def running(command: list[str], log: Path, url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` as a process logging to ``log``, once ``url`` answers; terminated afterwards."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink)
    try:
        wait_until_serving(url, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
