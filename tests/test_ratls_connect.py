"""Attested connections on loopback: refused before any byte is sent, unless the server is attested and accepted."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ratls_env import SGX, SGX_POLICY, sgx_verifier
from sgxra.errors import PolicyViolation
from sgxra.ratls.connect import AttestedTransport, client_context, connect
from sgxra.ratls.der import load_certificate
from sgxra.ratls.evidence import Format, NotAttested
from sgxra.ratls.server import AttestedEchoServer
from sgxra.ratls.sim import PrivateKey, certificate, mbedtls_style
from sgxra.ratls.verify import KeyNotBound, ratls_evidence
from sgxra.validate.policy import Policy


class Recorder:
    def __init__(self) -> None:
        self.received = bytearray()
        self.lock = threading.Lock()

    def __call__(self, chunk: bytes) -> None:
        with self.lock:
            self.received += chunk


def _serve(der: bytes, key: PrivateKey) -> tuple[AttestedEchoServer, Recorder]:
    recorder = Recorder()
    return AttestedEchoServer(der, key, on_data=recorder).start(), recorder


@pytest.fixture(scope="module")
def attested() -> Iterator[AttestedEchoServer]:
    der, key = SGX.certificate("both")
    server, _ = _serve(der, key)
    yield server
    server.close()


def test_attested_server_is_accepted(attested: AttestedEchoServer) -> None:
    host, port = attested.address
    with connect(host, port, sgx_verifier()) as tls:
        assert tls.ratls_result is not None and tls.ratls_result.accepted
        assert ratls_evidence(tls.ratls_result).format is Format.DICE
        tls.sendall(b"ping")
        assert tls.recv(16) == b"ping"


def _refused(der: bytes, key: PrivateKey, error: type[Exception], policy: Policy = SGX_POLICY) -> None:
    server, recorder = _serve(der, key)
    try:
        with pytest.raises(error):
            connect(*server.address, sgx_verifier(policy))
        # the client also refuses through the context, whatever the caller tries to send
        with pytest.raises(error):
            with client_context(sgx_verifier(policy)).wrap_socket(
                    socket.create_connection(server.address, timeout=5)) as tls:
                tls.sendall(b"secret")
    finally:
        server.close()
    assert bytes(recorder.received) == b""


def test_server_without_evidence_is_refused_before_sending() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _refused(certificate(key, []), key, NotAttested)


def test_server_bound_to_another_key_is_refused_before_sending() -> None:
    der, _ = SGX.certificate("dice")
    key = ec.generate_private_key(ec.SECP384R1())
    moved = certificate(key, [(e.oid, e.value) for e in load_certificate(der).extensions if e.oid != "2.5.29.19"])
    _refused(moved, key, KeyNotBound)


def test_server_failing_policy_is_refused_before_sending() -> None:
    der, key = SGX.certificate("dice")
    _refused(der, key, PolicyViolation, Policy(mr_enclaves=frozenset({bytes(32)}), allow_simulated=True))


@pytest.mark.parametrize("first", ["sendall", "recv"])
def test_deferred_handshake_is_still_verified_first(first: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    server, recorder = _serve(certificate(key, []), key)
    try:
        raw = socket.create_connection(server.address, timeout=5)
        tls = client_context(sgx_verifier()).wrap_socket(raw, do_handshake_on_connect=False)
        with pytest.raises(NotAttested):
            tls.sendall(b"secret") if first == "sendall" else tls.recv(10)
    finally:
        server.close()
    assert bytes(recorder.received) == b""


def test_httpx_transport(attested: AttestedEchoServer) -> None:
    host, port = attested.address
    with httpx.Client(transport=AttestedTransport(sgx_verifier()), timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError):  # attested, but an echo server does not speak HTTP
            client.get(f"https://{host}:{port}/")
        with pytest.raises(NotAttested):
            client.get(f"http://{host}:{port}/")
    key = ec.generate_private_key(ec.SECP256R1())
    plain, recorder = _serve(certificate(key, []), key)
    try:
        with httpx.Client(transport=AttestedTransport(sgx_verifier()), timeout=5) as client:
            with pytest.raises(NotAttested):
                client.get(f"https://{plain.address[0]}:{plain.address[1]}/")
    finally:
        plain.close()
    assert bytes(recorder.received) == b""


def test_asyncio_streams_are_verified(attested: AttestedEchoServer) -> None:
    async def run(verifier_policy: Policy) -> bytes:
        reader, writer = await asyncio.open_connection(*attested.address,
                                                       ssl=client_context(sgx_verifier(verifier_policy)))
        writer.write(b"hello")
        await writer.drain()
        data = await reader.readexactly(5)
        writer.close()
        return data

    assert asyncio.run(run(SGX_POLICY)) == b"hello"
    with pytest.raises(PolicyViolation):
        asyncio.run(run(Policy(mr_enclaves=frozenset({bytes(32)}), allow_simulated=True)))


def test_mbedtls_style_server_certificate_is_verified() -> None:
    der, key = SGX.certificate("both")
    server, _ = _serve(mbedtls_style(der, key), key)  # type: ignore[arg-type]
    try:
        with connect(*server.address, sgx_verifier()) as tls:
            assert tls.ratls_result is not None
            assert ratls_evidence(tls.ratls_result).certificate.null_signature_parameter
    finally:
        server.close()
