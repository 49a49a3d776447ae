"""``sgxra demo``: mock IAS, service provider and client on loopback, every step shown."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric import ec

from sgxra import crypto
from sgxra.ias import AsyncIasClient, AsyncIasVerifier, IasSettings
from sgxra.ias.mock import MockIas, create_app
from sgxra.ias.mock_config import DEMO_PLATFORM_SEED, DEMO_SUBSCRIPTION_KEY, MockIasConfig
from sgxra.ias.mock_pki import MockIasPki
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.protocol.service_provider import SpConfig
from sgxra.sim import EnclaveIdentity, SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.transport.background import LoopThread, UvicornThread
from sgxra.transport.client import attest_tcp
from sgxra.transport.lines import TcpLineServer
from sgxra.transport.service import AttestationService, ServiceConfig
from sgxra.transport.store import MemoryStore
from sgxra.validate import Policy
from sgxra.wire import EpidQuote, Msg3

Echo = Callable[[str], None]
SECRET = b"the database password is correct-horse-battery-staple"


def now() -> datetime:
    return datetime.now(timezone.utc)


def _short(data: bytes) -> str:
    return f"{data[:12].hex()}...{data[-4:].hex()} ({len(data)} bytes)"


class _EchoSpLog(logging.Handler):
    """Shows the service provider's own account of each session."""

    def __init__(self, echo: Echo) -> None:
        super().__init__(logging.INFO)
        self.echo = echo

    def emit(self, record: logging.LogRecord) -> None:
        self.echo(f"     SP log: {record.getMessage()}")


def _trace(echo: Echo) -> Callable[[str, bytes], None]:
    arrows = {"msg0||msg1": "client -> SP", "msg2": "SP -> client", "msg3": "client -> SP", "msg4": "SP -> client"}

    def trace(name: str, message: bytes) -> None:
        echo(f"  {arrows[name]}  {name:<10} {_short(message)}")
        if name == "msg3":
            body = EpidQuote.parse(Msg3.parse(message).quote).report_body
            echo(f"     quote: mr_enclave={body.mr_enclave.hex()[:16]}... mr_signer={body.mr_signer.hex()[:16]}... "
                 f"isv_prod_id={body.isv_prod_id} isv_svn={body.isv_svn} debug={body.attributes.debug}")

    return trace


def _show(verdict: ClientVerdict, echo: Echo) -> None:
    reason = verdict.reason.name if verdict.reason is not None else "-"
    form = "authenticated" if verdict.authenticated else "unauthenticated"
    echo(f"  verdict: {verdict.status.name} (reason {reason}, msg4 {form})")
    if verdict.secret is not None:
        echo(f"  secret unsealed inside the enclave: {verdict.secret.decode()!r}")
    else:
        echo("  no secret was sent")


def run_demo(echo: Echo) -> bool:
    """Returns True when the demo showed what it should: one trusted enclave with its secret, one refusal."""
    echo("SIMULATION MODE: software enclave and quoting enclave, mock IAS; no key here is Intel's.\n")
    pki = MockIasPki.generate(now())
    sp_key = ec.generate_private_key(ec.SECP256R1())
    sp_public = crypto.public_key_to_point(sp_key.public_key())
    identity = EnclaveIdentity()
    policy = Policy(mr_signers=frozenset({identity.mr_signer}), isv_prod_id=0, min_isv_svn=1, allow_simulated=True)
    handler = _EchoSpLog(echo)
    sp_log = logging.getLogger("sgxra.sp")
    sp_log.addHandler(handler)
    sp_log.setLevel(logging.INFO)
    try:
        with UvicornThread(create_app(MockIas(MockIasConfig(), pki, now))) as ias, LoopThread() as loop:
            echo(f"1. mock IAS at {ias.url}, signing reports under a SIMULATED root")

            async def start_sp() -> tuple[TcpLineServer, AsyncIasClient, int]:
                client = AsyncIasClient(IasSettings(base_url=ias.url, primary_key=DEMO_SUBSCRIPTION_KEY))
                verifier = AsyncIasVerifier(client, clock=now, root=pki.root)
                config = ServiceConfig(SpConfig(sp_key, hashlib.sha256(b"demo spid").digest()[:16], policy),
                                       secret=SECRET)
                server = TcpLineServer(AttestationService(config, MemoryStore(), epid=verifier, sigrl=client))
                (_, port), *_ = await server.start(["127.0.0.1"], 0)
                return server, client, port

            server, ias_client, port = loop.run(start_sp())
            echo(f"2. service provider at 127.0.0.1:{port} (the sample's hex-line protocol)")
            echo(f"   generated SP key; the enclave embeds its public key {sp_public.hex()[:24]}...")
            echo(f"   policy: MRSIGNER {identity.mr_signer.hex()[:16]}..., product 0, SVN >= 1, no debug enclaves")
            platform = SimPlatform.from_seed(DEMO_PLATFORM_SEED.encode())

            def attest(who: EnclaveIdentity) -> ClientVerdict:
                session = ClientSession(SimEnclave(SimQuotingEnclave(platform), who, sp_public))
                return asyncio.run(attest_tcp(session, "127.0.0.1", port, trace=_trace(echo)))

            echo("\n3. A production enclave asks for its secret:")
            trusted = attest(identity)
            _show(trusted, echo)
            echo("\n4. The same enclave built in debug mode (its memory is readable by the host):")
            refused = attest(EnclaveIdentity(debug=True))
            _show(refused, echo)

            async def stop() -> None:
                await server.shutdown()
                await ias_client.aclose()

            loop.run(stop())
    finally:
        sp_log.removeHandler(handler)
    return trusted.trusted and trusted.secret == SECRET and not refused.trusted and refused.secret is None
