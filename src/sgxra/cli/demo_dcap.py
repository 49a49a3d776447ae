"""The DCAP part of ``sgxra demo``: the seed's three systems (workload, relying party, caching service) on loopback.

A simulated SGX workload (enclave and ECDSA quoting enclave) attests to the
service provider, which takes its collateral from ``sgxra pccs`` (LAZY mode, in
front of the PCS mock that stands in for Intel's PCS). The second attestation
is answered from the caching service's store: the mock is not asked again.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from sgxra import crypto
from sgxra.pccs.api import create_app as pccs_app
from sgxra.pccs.service import Mode, PccsService
from sgxra.pccs.store import SqliteStore
from sgxra.pcs.client import PcsClient, PcsSettings
from sgxra.pcs.mock import MockPcs
from sgxra.pcs.mock import create_app as pcs_app
from sgxra.pcs.verifier import DcapQuoteVerifier
from sgxra.protocol.client import ClientSession, ClientVerdict
from sgxra.protocol.service_provider import SpConfig
from sgxra.sim import EnclaveIdentity, SimEnclave
from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC, SimEcdsaQuotingEnclave
from sgxra.transport.background import LoopThread, UvicornThread
from sgxra.transport.client import attest_tcp
from sgxra.transport.lines import TcpLineServer
from sgxra.transport.service import AttestationService, ServiceConfig
from sgxra.transport.store import MemoryStore
from sgxra.validate import Policy
from sgxra.verify.dcap import DcapVerifier
from sgxra.wire.collateral import TcbStatus

Echo = Callable[[str], None]
SECRET = b"the DCAP workload's API token"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_dcap_demo(echo: Echo) -> bool:
    """True when both attestations were trusted with the secret and the second left Intel's PCS (mock) alone."""
    echo("\nDCAP: the workload, the relying party and the caching service (sgxra pccs), with a PCS mock as Intel.")
    pki = SimIntelPki(_now())
    spec = CollateralSpec(DEFAULT_FMSPC, tcb_levels=[SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.UpToDate)])
    mock = MockPcs(pki, {DEFAULT_FMSPC: spec}, _now)
    sp_key = ec.generate_private_key(ec.SECP256R1())
    identity = EnclaveIdentity()
    policy = Policy(mr_signers=frozenset({identity.mr_signer}), allow_simulated=True)
    with (tempfile.TemporaryDirectory(prefix="sgxra-demo-") as tmp, UvicornThread(pcs_app(mock)) as pcs,
          PcsClient(PcsSettings(base_url=pcs.url)) as upstream):
        pccs = PccsService(SqliteStore(Path(tmp) / "pccs.sqlite"), Mode.LAZY, pki.root, clock=_now, upstream=upstream)
        with UvicornThread(pccs_app(pccs)) as cache, LoopThread() as loop, PcsClient(PcsSettings(cache.url)) as rp:
            echo(f"5. Intel's PCS (mock, SIMULATED root) at {pcs.url}")
            echo(f"6. caching service at {cache.url}/sgx/certification/v4 (LAZY: fetch on a miss, verify, store)")
            ecdsa = DcapQuoteVerifier(rp.fetch, clock=_now, verifier=DcapVerifier(pki.root))
            config = ServiceConfig(SpConfig(sp_key, hashlib.sha256(b"demo spid").digest()[:16], policy), secret=SECRET)

            async def start() -> tuple[TcpLineServer, int]:
                server = TcpLineServer(AttestationService(config, MemoryStore(), ecdsa=ecdsa))
                (_, port), *_ = await server.start(["127.0.0.1"], 0)
                return server, port

            server, port = loop.run(start())
            echo(f"7. relying party at 127.0.0.1:{port}, collateral from the caching service")
            enclave_qe = SimEcdsaQuotingEnclave(pki)
            public = crypto.public_key_to_point(sp_key.public_key())

            def attest() -> ClientVerdict:
                return asyncio.run(attest_tcp(ClientSession(SimEnclave(enclave_qe, identity, public)), "127.0.0.1", port))

            verdicts = []
            for round_ in ("first", "second"):
                verdict = attest()
                verdicts.append(verdict)
                echo(f"8. workload, {round_} attestation (ECDSA quote): {verdict.status.name}, "
                     f"secret {'received' if verdict.secret == SECRET else 'NOT received'}; "
                     f"PCS asked so far: {sum(mock.requests.values())} requests, caching service fetched "
                     f"{pccs.fetches} items")
            loop.run(server.shutdown())
    return all(v.trusted and v.secret == SECRET for v in verdicts) and pccs.fetches == 4

