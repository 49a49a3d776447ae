"""An in-process walk through msg0..msg4 with the simulated enclave and verifier."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sgxra import crypto
from sgxra.protocol import (
    ClientSession,
    ServiceProviderSession,
    SpConfig,
    complete_with,
)
from sgxra.protocol.msg4 import seal_msg4
from sgxra.protocol.service_provider import AttestationOutcome
from sgxra.sim import (
    SAMPLE_SP_PRIVATE_KEY_LE,
    EnclaveIdentity,
    SimEnclave,
    SimEpidRegistry,
    SimEpidVerifier,
    SimPlatform,
    SimQuotingEnclave,
)
from sgxra.validate import Policy
from sgxra.wire import EpidQuote, Msg3

Echo = Callable[[str], None]


def _short(data: bytes) -> str:
    return data.hex() if len(data) <= 24 else f"{data[:12].hex()}...{data[-4:].hex()} ({len(data)} bytes)"


def attest_once(identity: EnclaveIdentity, policy: Policy, echo: Echo) -> AttestationOutcome:
    platform = SimPlatform.from_seed(b"demo platform")
    registry = SimEpidRegistry()
    registry.register(platform)
    enclave = SimEnclave(SimQuotingEnclave(platform), identity)
    config = SpConfig(
        signing_key=crypto.private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE),
        spid=hashlib.sha256(b"demo spid").digest()[:16],
        policy=policy,
    )
    client, sp = ClientSession(enclave), ServiceProviderSession(config)

    msg01 = client.start()
    echo(f"  client -> SP  msg0||msg1  {_short(msg01)}")
    need = sp.receive_msg0_msg1(msg01)
    echo(f"  SP: EPID group {need.gid:08x}; SigRL empty (simulated group)")
    msg2 = sp.send_msg2(b"")
    echo(f"  SP -> client  msg2        {_short(msg2)}")
    msg3 = client.receive_msg2(msg2)
    echo("  enclave: msg2 signature and MAC verified; report_data = SHA256(g_a||g_b||VK)")
    body = EpidQuote.parse(Msg3.parse(msg3).quote).report_body
    echo(f"  client -> SP  msg3        {_short(msg3)}")
    echo(f"    quote: mr_enclave={body.mr_enclave.hex()[:16]}... mr_signer={body.mr_signer.hex()[:16]}... "
         f"isv_prod_id={body.isv_prod_id} isv_svn={body.isv_svn} debug={body.attributes.debug}")
    outcome = complete_with(sp, msg3, SimEpidVerifier(registry))
    sk, mk = sp.keys
    client.receive_msg4(seal_msg4(outcome.msg4.status, outcome.reason_code, outcome.msg4.platform_info_blob, sk=sk, mk=mk))
    echo(f"  SP -> client  msg4        status={outcome.msg4.status.name}")
    echo(f"  verdict: {outcome.reason}")
    same = sp.keys == client.keys
    echo(f"  session keys agree on both sides: {same} "
         f"(SK fingerprint {hashlib.sha256(client.keys[0]).hexdigest()[:16]})")
    return outcome


def run_demo(echo: Echo) -> bool:
    """Returns True when the demo showed what it should: one trust, one refusal."""
    production = EnclaveIdentity()
    policy = Policy(mr_signers=frozenset({production.mr_signer}), isv_prod_id=0, min_isv_svn=1,
                    allow_simulated=True)
    echo("SIMULATION MODE: software enclave and quoting enclave; keys are not Intel's.")
    echo("The SP signs with Intel's published sample key (insecure; demo only).\n")
    echo("1. A production enclave, accepted by policy:")
    trusted = attest_once(production, policy, echo)
    echo("\n2. The same enclave built in debug mode, refused under the default policy:")
    refused = attest_once(EnclaveIdentity(debug=True), policy, echo)
    return trusted.trusted and not refused.trusted
