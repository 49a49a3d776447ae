"""A mock IAS and service providers on real loopback sockets, for the program tests."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ias_env import PKI, now, running_mock
from loopback import free_port, wait_for_port
from sgxra import crypto
from sgxra.ias import AsyncIasClient, AsyncIasVerifier, IasSettings
from sgxra.ias.mock import MockIas
from sgxra.ias.mock_config import MockIasConfig, MockPlatform
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.protocol.service_provider import SpConfig
from sgxra.sim import EnclaveIdentity, SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.transport.background import LoopThread, UvicornThread
from sgxra.transport.client import attest_tcp
from sgxra.transport.http import create_app as create_sp_app
from sgxra.transport.http_limits import first_request_deadline
from sgxra.transport.lines import TcpLineServer
from sgxra.transport.service import AttestationService, ServiceConfig
from sgxra.transport.store import MemoryStore, RedisStore, SessionStore, StateSealer
from sgxra.validate import Policy
from sgxra.wire.ias_report import QuoteStatus
from sgxra.wire.quote import QuoteSignType

SGXRA = [sys.executable, "-m", "sgxra"]
IAS_KEY = "sp-test-key"
SECRET = b"provisioned secret"
IDENTITY = EnclaveIdentity()
SP_KEY = ec.generate_private_key(ec.SECP256R1())
SP_PUBLIC = crypto.public_key_to_point(SP_KEY.public_key())
SPID = hashlib.sha256(b"sp test spid").digest()[:16]
PLATFORMS = {
    "ok": MockPlatform("platform ok"),
    "out-of-date": MockPlatform("platform out of date", status=QuoteStatus.GROUP_OUT_OF_DATE),
    "hardening": MockPlatform("platform hardening", status=QuoteStatus.SW_HARDENING_NEEDED,
                              advisories=("INTEL-SA-00334",)),
}
STORE_SEALER = StateSealer({"k1": hashlib.sha256(b"sp test store key").digest()})
DEFAULT_POLICY = Policy(mr_signers=frozenset({IDENTITY.mr_signer}), allow_simulated=True)


@contextmanager
def mock_ias_and_handle() -> Iterator[tuple[UvicornThread, MockIas]]:
    """The mock IAS and its state, to inject faults while it runs."""
    config = MockIasConfig(subscription_keys=(IAS_KEY,), platforms=tuple(PLATFORMS.values()))
    with running_mock(config) as (mock, server):
        yield server, mock


@contextmanager
def mock_ias() -> Iterator[UvicornThread]:
    with mock_ias_and_handle() as (server, _):
        yield server


def client(platform: str = "ok", identity: EnclaveIdentity = IDENTITY, **options: bool) -> ClientSession:
    qe = SimQuotingEnclave(SimPlatform.from_seed(PLATFORMS[platform].seed.encode()))
    return ClientSession(SimEnclave(qe, identity, SP_PUBLIC), **options)


def attest(port: int, session: ClientSession | None = None, timeout: float = 20.0) -> ClientVerdict:
    """One attestation over TCP to a service provider on loopback (a fresh client unless given)."""
    return asyncio.run(attest_tcp(session or client(), "127.0.0.1", port, timeout=timeout))


async def make_service(ias_url: str, *, policy: Policy = DEFAULT_POLICY, store: SessionStore | None = None,
                       sample_msg4: bool = False, ias_timeout: float = 10.0,
                       quote_type: QuoteSignType = QuoteSignType.UNLINKABLE) -> tuple[AttestationService, AsyncIasClient]:
    ias = AsyncIasClient(IasSettings(base_url=ias_url, primary_key=IAS_KEY, retries=1, backoff=0.01,
                                     timeout=ias_timeout))
    verifier = AsyncIasVerifier(ias, clock=now, root=PKI.root)
    sp = SpConfig(SP_KEY, SPID, policy, quote_type)
    config = ServiceConfig(sp, msg4_form="sample") if sample_msg4 else ServiceConfig(sp, secret=SECRET)
    return AttestationService(config, store or MemoryStore(), epid=verifier, sigrl=ias), ias


@dataclass
class RunningSp:
    server: TcpLineServer
    port: int
    loop: LoopThread


@contextmanager
def tcp_sp(ias_url: str, *, policy: Policy = DEFAULT_POLICY, sample_msg4: bool = False,
           max_message: int = 256 * 1024, session_timeout: float = 30.0, max_sessions: int = 1024,
           ias_timeout: float = 10.0, store: SessionStore | None = None,
           quote_type: QuoteSignType = QuoteSignType.UNLINKABLE, first_message_timeout: float = 5.0,
           max_per_client: int = 64) -> Iterator[RunningSp]:
    with LoopThread() as loop:
        async def start() -> tuple[TcpLineServer, int, AsyncIasClient]:
            service, ias = await make_service(ias_url, policy=policy, sample_msg4=sample_msg4, ias_timeout=ias_timeout,
                                              store=store, quote_type=quote_type)
            server = TcpLineServer(service, max_message=max_message, session_timeout=session_timeout,
                                   max_sessions=max_sessions, first_message_timeout=first_message_timeout,
                                   max_per_client=max_per_client)
            (_, port), *_ = await server.start(["127.0.0.1"], 0)
            return server, port, ias

        server, port, ias = loop.run(start())
        try:
            yield RunningSp(server, port, loop)
        finally:
            async def stop() -> None:
                await server.shutdown(grace=5)
                await ias.aclose()

            loop.run(stop())


def redis_store(url: str, sealer: StateSealer = STORE_SEALER, timeout: float = 2.0) -> RedisStore:
    """A Redis store sealing under the tests' shared store key."""
    return RedisStore(url, sealer=sealer, timeout=timeout)


@contextmanager
def http_sp(ias_url: str, store_url: str | None = None, first_request_timeout: float = 5.0,
            **limits: float) -> Iterator[UvicornThread]:
    """A replica: the HTTP app on its own loop thread via uvicorn, as `sgxra sp` serves it."""
    with LoopThread() as loop:
        async def build() -> AttestationService:
            store: SessionStore = redis_store(store_url) if store_url else MemoryStore()
            service, _ = await make_service(ias_url, store=store)
            return service

        service = loop.run(build())
        protocol = first_request_deadline(first_request_timeout, service.metrics.refused)
        with UvicornThread(create_sp_app(service, **limits), http=protocol) as server:
            yield server


def sp_files(directory: Path, secret: str) -> tuple[str, str]:
    """What `sgxra sp` reads, written in ``directory``: a key from `sgxra keygen`, a policy trusting IDENTITY (simulated
    platforms allowed) and ``secret``. Returns the key's public half (hex, as `sgxra client` takes it) and the
    settings' [sp] section naming those files."""
    (directory / "secret.txt").write_text(secret)
    (directory / "policy.toml").write_text(f'mr_signers = ["{IDENTITY.mr_signer.hex()}"]\nallow_simulated = true\n')
    keygen = subprocess.run([*SGXRA, "keygen", "-o", str(directory / "sp.key")], capture_output=True, text=True)
    assert keygen.returncode == 0, keygen.stderr
    public = keygen.stdout.split("little-endian): ")[1].split()[0]
    return public, f"""
[sp]
key_file = "{directory / 'sp.key'}"
policy_file = "{directory / 'policy.toml'}"
secret_file = "{directory / 'secret.txt'}"
hosts = ["127.0.0.1"]
"""


@contextmanager
def redis_server(tmp: Path, port: int | None = None,
                 password: str | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real redis-server on loopback (a free port unless given, a password if given); skips where none is
    installed. Yields its URL (with the password) and the process."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = port or free_port()
    auth = ["--requirepass", password] if password else []
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp), *auth], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=10)
        yield f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0", proc
    finally:
        proc.kill()
        proc.wait()



def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll instead of sleeping a fixed time: loaded CI machines are slow."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
