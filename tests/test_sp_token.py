"""The HTTP service provider returns a trusted verdict as a signed token when it has a token key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.transport.background import LoopThread, UvicornThread
from sgxra.transport.http import create_app
from sgxra.transport.service import AttestationService
from sgxra.verify.token import verify_token
from sp_env import client, make_service, mock_ias


@contextmanager
def http_sp(ias_url: str, token_key: ec.EllipticCurvePrivateKey | None) -> Iterator[UvicornThread]:
    with LoopThread() as loop:
        async def build() -> AttestationService:
            service, _ = await make_service(ias_url)
            return service

        with UvicornThread(create_app(loop.run(build()), token_key=token_key)) as server:
            yield server


def _attest(base_url: str) -> dict[str, object]:
    session = client()
    with httpx.Client(base_url=base_url, timeout=30) as http:
        started = http.post("/v1/attestations", json={"msg0_msg1": session.start().hex()}).json()
        msg3 = session.receive_msg2(bytes.fromhex(started["msg2"]))
        finished: dict[str, object] = http.post(f"/v1/attestations/{started['session_id']}/msg3",
                                                json={"msg3": msg3.hex()}).json()
    return finished


def test_trusted_verdict_comes_with_a_token_only_when_configured() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with mock_ias() as ias:
        with http_sp(ias.url, key) as sp:
            answer = _attest(sp.url)
        with http_sp(ias.url, None) as sp:
            plain = _attest(sp.url)
    assert answer["trusted"] is True and isinstance(answer["token"], str)
    claims = verify_token(answer["token"], key.public_key(), at=datetime.now(timezone.utc))
    assert claims["attester_type"] == "SGX" and claims["attester_tcb_status"] == "OK"
    assert claims["sgxra_evidence"] == "epid" and claims["policy_ids_matched"] == [{"id": "sp-policy", "version": "1"}]
    assert claims["sgxra_simulated"] is True and len(claims["sgx_mrenclave"]) == 64
    assert plain["trusted"] is True and plain["token"] is None
