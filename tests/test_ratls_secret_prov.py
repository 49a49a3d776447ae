"""Gramine-compatible secret provisioning on loopback, with simulated enclaves as clients."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from dcap_env import NOW, PKI
from ratls_env import SGX, SGX_COLLATERAL, SGX_POLICY, TDX, TDX_COLLATERAL, TDX_POLICY, sgx_verifier
from sgxra.errors import RemoteProtocolError
from sgxra.ratls.secret_prov import REQUEST, RESPONSE, SecretProvisioningServer, fetch_secret
from sgxra.ratls.sim import certificate, mbedtls_style
from sgxra.ratls.verify import RaTlsVerifier
from sgxra.validate.policy import Policy

SECRET = b"the wrapping key \x00\x01\x02"
SERVER_KEY = ec.generate_private_key(ec.SECP256R1())
_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secret provisioning test server")])
SERVER_CERT = (x509.CertificateBuilder().subject_name(_NAME).issuer_name(_NAME).public_key(SERVER_KEY.public_key())
               .serial_number(7).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(SERVER_KEY, hashes.SHA256()))


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[SecretProvisioningServer]:
    policy = getattr(request, "param", None) or sgx_verifier().policy
    prov = SecretProvisioningServer(sgx_verifier(policy), SECRET, certificate=SERVER_CERT, key=SERVER_KEY, timeout=5)
    prov.start()
    yield prov
    prov.close()


def _fetch(prov: SecretProvisioningServer, der: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    host, port = prov.address
    return fetch_secret(host, port, certificate=x509.load_der_x509_certificate(der), key=key, server_ca=SERVER_CERT,
                        timeout=5)


def test_simulated_enclave_gets_the_secret(server: SecretProvisioningServer, caplog: pytest.LogCaptureFixture) -> None:
    der, key = SGX.certificate("both")
    with caplog.at_level(logging.INFO, "sgxra.secret_prov"):
        assert _fetch(server, der, key) == SECRET  # type: ignore[arg-type]
        server.close()
    assert "secret provisioned" in caplog.text


@pytest.mark.parametrize("server", [Policy(mr_enclaves=frozenset({bytes(32)}), allow_simulated=True)], indirect=True)
def test_refused_enclave_gets_nothing_and_the_server_says_why(server: SecretProvisioningServer,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    der, key = SGX.certificate("dice")
    with caplog.at_level(logging.INFO, "sgxra.secret_prov"):
        with pytest.raises(RemoteProtocolError, match="no secret"):
            _fetch(server, der, key)  # type: ignore[arg-type]
        server.close()
    assert "secret refused" in caplog.text and "PolicyViolation" in caplog.text and "mr_enclave" in caplog.text
    assert "secret provisioned" not in caplog.text


def test_unattested_client_gets_nothing(server: SecretProvisioningServer, caplog: pytest.LogCaptureFixture) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with caplog.at_level(logging.INFO, "sgxra.secret_prov"):
        with pytest.raises(RemoteProtocolError):
            _fetch(server, certificate(key, []), key)
        server.close()
    assert "NotAttested" in caplog.text and "secret provisioned" not in caplog.text


def _raw_client(prov: SecretProvisioningServer, payload: bytes) -> bytes:
    """An attested client that sends ``payload`` instead of the request; returns all it got back."""
    der, key = SGX.certificate("dice")
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.use_certificate(x509.load_der_x509_certificate(der))
    context.use_privatekey(key)
    raw = socket.create_connection(prov.address, timeout=5)
    raw.settimeout(None)  # pyOpenSSL wants a blocking socket; the server closes within its own timeout
    conn = SSL.Connection(context, raw)
    conn.set_connect_state()
    conn.do_handshake()
    conn.sendall(payload)
    received = b""
    try:
        while chunk := conn.recv(4096):
            received += chunk
    except SSL.ZeroReturnError:  # the server's close_notify: a clear close
        return received
    finally:
        conn.close()
    raise AssertionError("the connection ended without close_notify")


@pytest.mark.parametrize("payload", [b"GET / HTTP/1.1\r\n\r\n" * 2, REQUEST[:-1] + b"X"])
def test_malformed_request_gets_a_clear_close(server: SecretProvisioningServer, caplog: pytest.LogCaptureFixture,
                                              payload: bytes) -> None:
    with caplog.at_level(logging.INFO, "sgxra.secret_prov"):
        assert _raw_client(server, payload) == b""
        server.close()
    assert "malformed request" in caplog.text
    assert "secret provisioned" not in caplog.text


def test_well_formed_raw_request_gets_gramines_response(server: SecretProvisioningServer) -> None:
    answer = _raw_client(server, REQUEST)
    assert answer == RESPONSE + len(SECRET).to_bytes(4, "big") + SECRET
    assert len(REQUEST) == 35 and len(RESPONSE) == 37


def test_mbedtls_style_enclave_certificate_gets_the_secret(server: SecretProvisioningServer) -> None:
    """Gramine's enclaves present certificates with the NULL signature parameter that cryptography refuses."""
    der, key = SGX.certificate("both")
    mbedtls = mbedtls_style(der, key)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(mbedtls)
    host, port = server.address
    assert fetch_secret(host, port, certificate=mbedtls, key=key, server_ca=SERVER_CERT, timeout=5) == SECRET


def test_client_without_certificate_fails_the_handshake(server: SecretProvisioningServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    raw = socket.create_connection(server.address, timeout=5)
    raw.settimeout(None)
    conn = SSL.Connection(context, raw)
    conn.set_connect_state()
    with caplog.at_level(logging.INFO, "sgxra.secret_prov"):
        with pytest.raises(SSL.Error):
            conn.do_handshake()
            conn.sendall(REQUEST)
            conn.recv(100)
        conn.close()
        server.close()
    assert "failed" in caplog.text and "secret provisioned" not in caplog.text


def test_one_unified_policy_serves_enclaves_and_tds(caplog: pytest.LogCaptureFixture) -> None:
    """A policy file's SGX rules and [tdx] table judge both kinds of client; collateral comes from a fetcher."""
    both = dataclasses.replace(SGX_POLICY, tdx=TDX_POLICY.tdx)
    verifier = RaTlsVerifier(policy=both, clock=lambda: NOW, root=PKI.root,
                             fetcher=lambda key: TDX_COLLATERAL if key.tee == "TDX" else SGX_COLLATERAL)
    prov = SecretProvisioningServer(verifier, SECRET, certificate=SERVER_CERT, key=SERVER_KEY, timeout=5).start()
    try:
        with caplog.at_level(logging.INFO, "sgxra.secret_prov"):
            for attester in (SGX, TDX):
                der, key = attester.certificate("dice")
                assert _fetch(prov, der, key) == SECRET  # type: ignore[arg-type]
            refuses_tds = SecretProvisioningServer(
                RaTlsVerifier(policy=SGX_POLICY, clock=lambda: NOW, root=PKI.root, fetcher=verifier.fetcher), SECRET,
                certificate=SERVER_CERT, key=SERVER_KEY, timeout=5).start()
            try:
                der, key = TDX.certificate("dice")
                with pytest.raises(RemoteProtocolError, match="no secret"):
                    _fetch(refuses_tds, der, key)  # type: ignore[arg-type]
            finally:
                refuses_tds.close()
    finally:
        prov.close()
    assert caplog.text.count("secret provisioned") == 2 and "no [tdx] rules" in caplog.text
