"""``sgxra demo local``: two simulated enclaves attest each other (the SDK's LAv1 DH session), exchange a
message, and two refusals: an enclave on another simulated platform, and a tampered msg2."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable

import click

from sgxra.errors import BadMac, ReportMacMismatch, SgxRaError
from sgxra.protocol.local_attestation import Initiator, Responder
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.sim.report_keys import SimLocalEnclave, SimReportPlatform
from sgxra.validate.policy import Policy
from sgxra.wire.local_report import DhMsg1, DhMsg2, DhMsg3
from sgxra.wire.report_body import ReportBody

Echo = Callable[[str], None]
SIGNER = hashlib.sha256(b"sgxra demo enclave signer").digest()
RESPONDER = EnclaveIdentity(mr_enclave=hashlib.sha256(b"sgxra demo EnclaveResponder").digest(), mr_signer=SIGNER,
                            isv_prod_id=1, isv_svn=1)
INITIATOR = EnclaveIdentity(mr_enclave=hashlib.sha256(b"sgxra demo EnclaveInitiator").digest(), mr_signer=SIGNER,
                            isv_prod_id=1, isv_svn=1)
# Each side accepts enclaves of the same signer and product, not in debug mode (the sample's verify_peer_enclave_trust).
POLICY = Policy(mr_signers=frozenset({SIGNER}), isv_prod_id=1)


def _who(body: ReportBody) -> str:
    return (f"mr_enclave={body.mr_enclave.hex()[:16]}... mr_signer={body.mr_signer.hex()[:16]}... "
            f"isv_prod_id={body.isv_prod_id} isv_svn={body.isv_svn} debug={body.attributes.debug}")


def _attest(responder_enclave: SimLocalEnclave, initiator_enclave: SimLocalEnclave, echo: Echo,
            tamper: Callable[[bytes], bytes] = lambda m: m) -> tuple[Responder, Initiator]:
    responder = Responder(responder_enclave, POLICY.check_enclave, session_id=1)
    initiator = Initiator(initiator_enclave, POLICY.check_enclave)
    msg1 = responder.start()
    echo(f"  responder -> initiator  msg1 {len(msg1)} bytes: g_a, TARGETINFO (mr_enclave="
         f"{DhMsg1.parse(msg1).target.mr_enclave.hex()[:16]}...)")
    msg2 = tamper(initiator.receive_msg1(msg1, session_id=1))
    echo(f"  initiator -> responder  msg2 {len(msg2)} bytes: g_b, REPORT for the responder "
         f"(report_data = SHA-256(g_a || g_b) || KDF id "
         f"{int.from_bytes(DhMsg2.parse(msg2).report.body.report_data[32:34], 'little'):#06x}), "
         "CMAC-SMK")
    msg3 = responder.receive_msg2(msg2)
    echo(f"     responder: REPORT MAC verified with its own report key; initiator {_who(DhMsg2.parse(msg2).report.body)}"
         ": accepted by policy")
    echo(f"  responder -> initiator  msg3 {len(msg3)} bytes: CMAC-SMK, REPORT for the initiator "
         f"(report_data = SHA-256(g_b || g_a)), {len(DhMsg3.parse(msg3).additional_prop)} bytes of properties")
    session = initiator.receive_msg3(msg3)
    echo(f"     initiator: REPORT MAC verified; responder {_who(session.peer)}: accepted by policy")
    return responder, initiator


def _refused(title: str, run: Callable[[], object], expected: type[SgxRaError], echo: Echo) -> bool:
    echo(title)
    try:
        run()
    except expected as e:
        echo(f"  REFUSED as it should be: {type(e).__name__}: {e}")
        return True
    except SgxRaError as e:
        echo(f"  refused, but for the wrong reason: {type(e).__name__}: {e}")
        return False
    echo("  NOT REFUSED: this is a bug")
    return False


def run_local_demo(echo: Echo) -> bool:
    """True when the demo showed what it should: one session with a message exchanged, two refusals."""
    echo("SIMULATION MODE: software enclaves on simulated platforms; REPORT MACs use simulated per-platform report "
         "keys (sgxra.sim.report_keys), not SGX hardware.\n")
    platform = SimReportPlatform()
    responder_enclave, initiator_enclave = SimLocalEnclave(platform, RESPONDER), SimLocalEnclave(platform, INITIATOR)
    echo("1. Two enclaves on one platform attest each other (SDK LAv1: sgx_dh_*)")
    responder, initiator = _attest(responder_enclave, initiator_enclave, echo)
    r_session, i_session = responder.session, initiator.session
    if r_session is None or i_session is None:
        return False
    same = r_session.aek == i_session.aek
    echo(f"  AEK agreed: {same} (fingerprint {hashlib.sha256(i_session.aek).hexdigest()[:16]}; the key stays inside)")
    request = i_session.seal_request(b"ping from the initiator")
    echo(f"  initiator -> responder  secure message {len(request)} bytes, counter {i_session.counter}: "
         f"{r_session.open_request(request).decode()!r}")
    response = r_session.seal_response(b"pong from the responder")
    echo(f"  responder -> initiator  secure message {len(response)} bytes, counter {r_session.counter}: "
         f"{i_session.open_response(response).decode()!r}")
    stranger = SimLocalEnclave(SimReportPlatform(), INITIATOR)
    ok_platform = _refused("\n2. The same initiator enclave, but on another simulated platform",
                           lambda: _attest(responder_enclave, stranger, echo), ReportMacMismatch, echo)
    ok_tamper = _refused("\n3. A msg2 with one byte of its REPORT changed on the way (isv_svn)",
                         lambda: _attest(responder_enclave, initiator_enclave, echo,
                                         lambda m: m[:64 + 258] + bytes([m[64 + 258] ^ 1]) + m[64 + 259:]),
                         BadMac, echo)
    return same and ok_platform and ok_tamper


@click.command("local")
def demo_local_cmd() -> None:
    """Local attestation: two simulated enclaves attest each other and exchange a message; two refusals."""
    sys.exit(0 if run_local_demo(click.echo) else 1)
