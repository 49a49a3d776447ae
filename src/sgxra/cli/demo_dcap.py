"""``sgxra demo dcap``: Intel's DCAP walkthrough on loopback, every step shown.

The three systems: the workload (a simulated enclave and ECDSA quoting enclave), the relying party (the
service provider, verifying quotes), and the caching service (``sgxra pccs`` in LAZY mode, in front of a
PCS mock standing in for Intel's PCS). A quote is generated (QuoteGenerationSample's job), verified
untrusted and trusted (a simulated QvE), judged by a policy, and then a secret is provisioned over msg0..msg4.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra import crypto
from sgxra.api import verify
from sgxra.backends.base import BackendEnclave
from sgxra.backends.sim import SimQuoteSource
from sgxra.cli.exit_codes import FAILURE, fail
from sgxra.cli.quote_command import describe_quote
from sgxra.cli.trusted import verify_both
from sgxra.errors import SgxRaError
from sgxra.pccs.service import Mode, PccsService
from sgxra.pccs.store import SqliteStore
from sgxra.pcs.cache import CollateralCache
from sgxra.pcs.client import PcsClient, PcsSettings
from sgxra.pcs.verifier import DcapQuoteVerifier, collateral_key
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.protocol.service_provider import SpConfig
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.transport.client import attest_tcp
from sgxra.transport.lines import TcpLineServer
from sgxra.transport.service import AttestationService, ServiceConfig
from sgxra.transport.store import MemoryStore
from sgxra.validate import Policy
from sgxra.verify.dcap import DcapVerifier
from sgxra.verify.result import DcapResult, IasResult
from sgxra.wire.collateral import TcbStatus
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.messages import Msg3

Echo = Callable[[str], None]
SECRET = b"the model weights key is 0f1e2d3c4b5a6978"


def now() -> datetime:
    return datetime.now(timezone.utc)


def trusted_verification(quote: bytes, cache: CollateralCache, at: datetime, root: x509.Certificate,
                         echo: Echo) -> bool:
    """The QvE step of the walkthrough (a simulated QvE): True when both verdicts agree and are not terminal."""
    collateral = cache.get(collateral_key(DcapQuote.parse(quote)), now=at)
    return verify_both(quote, collateral, at=at, root=root, echo=lambda line: echo("   " + line))


def _show_result(result: DcapResult, echo: Echo) -> None:
    echo(f"   status {result.status}, TEE {result.tee}, simulated root: {result.simulated}, "
         f"TCB date {result.tcb_date.date()}, advisories {', '.join(result.advisory_ids) or 'none'}")
    echo(f"   collateral issued {result.collateral_issued:%Y-%m-%d %H:%M} UTC, "
         f"TCB evaluation data number {result.tcb_evaluation_data_number}")


def _show_policy(result: DcapResult | IasResult, echo: Echo) -> bool:
    verdict = result.policy
    if verdict is None or verdict.accepted:
        echo("   policy: accepted")
        return True
    for violation in verdict.violations:
        echo(f"   policy: refused ({violation.rule}: {violation.message})")
    return False


def _trace(echo: Echo) -> Callable[[str, bytes], None]:
    arrows = {"msg0||msg1": "workload -> SP", "msg2": "SP -> workload", "msg3": "workload -> SP",
              "msg4": "SP -> workload"}

    def trace(name: str, message: bytes) -> None:
        echo(f"   {arrows[name]}  {name:<10} {len(message)} bytes")
        if name == "msg3":
            echo(f"      its quote: {describe_quote(Msg3.parse(message).quote)}")

    return trace


def run_dcap_demo(echo: Echo) -> bool:
    """True when the walkthrough showed what it should: a verified quote accepted, a debug enclave's refused,
    and a secret provisioned to the accepted enclave."""
    # The servers need the `server` extra: imported here, so `sgxra demo --help` works without it.
    from sgxra.pccs.api import create_app as pccs_app
    from sgxra.pcs.mock import MockPcs, create_app
    from sgxra.transport.background import LoopThread, UvicornThread

    echo("SIMULATION MODE: software enclave and ECDSA quoting enclave, PCS mock; no key here is Intel's.\n")
    pki = SimIntelPki(now())
    identity = EnclaveIdentity()
    # issued a minute ago, so a verification at "now" never precedes the collateral the mock makes on demand
    spec = CollateralSpec(DEFAULT_FMSPC, tcb_levels=[SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.UpToDate)],
                          issued=pki.now - timedelta(minutes=1))
    policy = Policy(mr_signers=frozenset({identity.mr_signer}), min_isv_svn=1, allow_simulated=True)
    sp_key = ec.generate_private_key(ec.SECP256R1())
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="sgxra-demo-") as state, \
            UvicornThread(create_app(MockPcs(pki, {DEFAULT_FMSPC: spec}, now))) as pcs_server, \
            LoopThread() as loop:
        upstream = stack.enter_context(PcsClient(PcsSettings(base_url=pcs_server.url + "/sgx/certification/v4")))
        pccs = PccsService(SqliteStore(Path(state) / "pccs.sqlite"), Mode.LAZY, pki.root, clock=now,
                           upstream=upstream)
        pccs_server = stack.enter_context(UvicornThread(pccs_app(pccs)))
        pcs = stack.enter_context(PcsClient(PcsSettings(base_url=pccs_server.url + "/sgx/certification/v4")))
        cache = CollateralCache(Path(state) / "collateral.sqlite", pcs.fetch)
        echo(f"1. Caching service: sgxra pccs (LAZY) at {pccs_server.url}, in front of a PCS mock at {pcs_server.url}")
        echo(f"   TCB info, QE identity and CRLs for FMSPC {DEFAULT_FMSPC.hex().upper()}, under a SIMULATED root, "
             "fetched on a miss, verified, stored; the relying party keeps its own cache too")

        async def start_sp() -> tuple[TcpLineServer, int]:
            verifier = DcapQuoteVerifier(lambda key: cache.get(key, now=now()), clock=now,
                                         verifier=DcapVerifier(pki.root))
            config = ServiceConfig(SpConfig(sp_key, hashlib.sha256(b"dcap demo").digest()[:16], policy),
                                   secret=SECRET)
            server = TcpLineServer(AttestationService(config, MemoryStore(), ecdsa=verifier))
            (_, port), *_ = await server.start(["127.0.0.1"], 0)
            return server, port

        server, port = loop.run(start_sp())
        echo(f"2. Relying party: service provider at 127.0.0.1:{port}, verifying ECDSA quotes against the cache")
        echo(f"   policy: MRSIGNER {identity.mr_signer.hex()[:16]}..., ISV SVN >= 1, no debug enclaves, "
             "simulated roots allowed (demo only)")

        echo("3. Workload: a simulated enclave and ECDSA quoting enclave (`sgxra quote --backend sim`)")
        source = SimQuoteSource(pki, identity=identity)
        report_data = hashlib.sha512(b"a nonce from the relying party").digest()
        quote = source.quote(report_data)
        echo(f"   {describe_quote(quote)}; report data {report_data.hex()[:16]}...")
        echo(f"   MRENCLAVE {identity.mr_enclave.hex()[:16]}..., the PCK certificate chain inside the quote")

        echo("4. Untrusted verification (no SGX needed), collateral fetched through the cache:")
        at = now()
        result = verify(quote, fetcher=cache, at=at, root=pki.root)
        if not isinstance(result, DcapResult):
            raise SgxRaError("a DCAP quote gave a result that is not DCAP's")
        _show_result(result, echo)
        echo(f"   caching service: {pccs.fetches} items fetched from the PCS mock, verified and stored")

        echo("5. Trusted verification (inside a quote verification enclave):")
        trusted = trusted_verification(quote, cache, at, pki.root, echo)

        echo("6. Policy verdict:")
        accepted = _show_policy(policy.apply(result), echo)
        debug_quote = SimQuoteSource(pki, identity=EnclaveIdentity(debug=True)).quote(report_data)
        echo("   the same enclave built in debug mode:")
        debug_result = verify(debug_quote, fetcher=cache, at=at, root=pki.root, policy=policy)
        refused = not _show_policy(debug_result, echo)

        echo("7. Secret provisioning: msg0..msg4 from the workload, the quote binding the session keys:")
        session = ClientSession(BackendEnclave(source, crypto.public_key_to_point(sp_key.public_key())))
        verdict: ClientVerdict = asyncio.run(attest_tcp(session, "127.0.0.1", port, trace=_trace(echo)))
        reason = verdict.reason.name if verdict.reason is not None else "-"
        echo(f"   verdict: {verdict.status.name} (reason {reason})")
        if verdict.secret is not None:
            echo(f"   secret unsealed inside the enclave: {verdict.secret.decode()!r}")
        loop.run(server.shutdown())
    genuine = result.simulated and result.status == TcbStatus.UpToDate.value
    return genuine and trusted and accepted and refused and verdict.trusted and verdict.secret == SECRET


@click.command("dcap")
def dcap_cmd() -> None:
    """Intel's DCAP walkthrough: quote, verification, policy verdict, secret."""
    try:
        shown = run_dcap_demo(click.echo)
    except SgxRaError as e:
        fail(e)
    if not shown:
        sys.exit(FAILURE)
