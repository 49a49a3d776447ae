"""Gramine-compatible secret provisioning: the enclave is the TLS client, with its RA-TLS certificate.

Wire format (Gramine's ``secret_prov_*.c``): the client sends the 35 bytes
``SECRET_PROVISION_RA_TLS_REQUEST_V1\\0``; the server answers with the 37 bytes
``SECRET_PROVISION_RA_TLS_RESPONSE_V1:\\0``, a 4-byte big-endian length and the
secret. The secret goes only to a client whose certificate the verifier and its
policy accept; any other client, and any malformed request, gets a TLS
close_notify and nothing else, and the server logs why.

The stdlib ``ssl`` cannot accept a self-signed client certificate, so this needs
pyOpenSSL (the ``ratls`` extra): its verify callback lets every chain through
the handshake, and the RA-TLS evidence is verified right after it.
"""

from __future__ import annotations

import logging
import select
import socket
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from sgxra.errors import RemoteProtocolError, SgxRaError
from sgxra.ratls.server import PrivateKey, ThreadedServer
from sgxra.ratls.verify import RaTlsVerifier, ratls_evidence

try:
    from OpenSSL import SSL, crypto
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise ImportError("secret provisioning needs pyOpenSSL: install sgxra[ratls]") from e

REQUEST = b"SECRET_PROVISION_RA_TLS_REQUEST_V1\x00"
RESPONSE = b"SECRET_PROVISION_RA_TLS_RESPONSE_V1:\x00"
MAX_SECRET = 1024 * 1024
MAX_DRAIN = 64 * 1024
DRAIN_SECONDS = 1.0
LOG = logging.getLogger("sgxra.secret_prov")
T = TypeVar("T")


class _Deadline:
    """Drives a non-blocking pyOpenSSL connection until ``timeout`` seconds have passed."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.end = time.monotonic() + timeout

    def run(self, call: Callable[[], T]) -> T:
        while True:
            try:
                return call()
            except (SSL.WantReadError, SSL.WantWriteError) as e:
                left = self.end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("peer too slow") from None
                reading = isinstance(e, SSL.WantReadError)
                select.select([self.sock] if reading else [], [] if reading else [self.sock], [], left)

    def read_exactly(self, conn: SSL.Connection, n: int) -> bytes:
        data = b""
        while len(data) < n:
            try:
                chunk = self.run(partial(conn.recv, n - len(data)))
            except SSL.ZeroReturnError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def send_all(self, conn: SSL.Connection, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self.run(partial(conn.send, view)) :]

    def close(self, conn: SSL.Connection) -> None:
        """close_notify, then read (briefly, boundedly) what the peer still sends, so the close is not a reset."""
        self.end = min(self.end, time.monotonic() + DRAIN_SECONDS)
        try:
            self.run(conn.shutdown)
            drained = 0
            while drained < MAX_DRAIN:
                drained += len(self.run(partial(conn.recv, 4096)))
        except (SSL.Error, OSError, TimeoutError):
            pass


def _context(method: int, certificate: x509.Certificate, key: PrivateKey) -> SSL.Context:
    context = SSL.Context(method)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.use_certificate(certificate)
    context.use_privatekey(key)
    return context


def _accept_any(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    return True  # the chain means nothing in RA-TLS; the evidence is verified after the handshake


class SecretProvisioningServer(ThreadedServer):
    """Serves ``secret`` on ``host:port`` (0: any free port) to enclaves ``verifier`` (and its :class:`Policy`) accepts.

    ``certificate``/``key`` are the server's own (enclaves check them against their CA chain).
    """

    def __init__(self, verifier: RaTlsVerifier, secret: bytes, *, certificate: x509.Certificate, key: PrivateKey,
                 host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0,
                 log: logging.Logger = LOG) -> None:
        if len(secret) > MAX_SECRET:
            raise ValueError(f"a secret is at most {MAX_SECRET} bytes")
        super().__init__(host=host, port=port, timeout=timeout)
        self.verifier = verifier
        self.secret = secret
        self.log = log
        self.context = _context(SSL.TLS_SERVER_METHOD, certificate, key)
        self.context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _accept_any)

    def handle(self, raw: socket.socket, peer: Any) -> None:
        self.provision(raw, peer)

    def provision(self, raw: socket.socket, peer: Any) -> bool:
        """One client: True if it was given the secret."""
        raw.setblocking(False)
        conn = SSL.Connection(self.context, raw)
        conn.set_accept_state()
        io = _Deadline(raw, self.timeout)
        try:
            io.run(conn.do_handshake)
            peer_cert = conn.get_peer_certificate()
            der = crypto.dump_certificate(crypto.FILETYPE_ASN1, peer_cert) if peer_cert is not None else b""
            try:
                result = self.verifier.verify(der)
            except SgxRaError as e:
                self.log.warning("secret refused to %s: %s: %s", peer, type(e).__name__, e)
                return False
            request = io.read_exactly(conn, len(REQUEST))
            if request != REQUEST:
                self.log.warning("secret refused to %s: malformed request (%d bytes, expected %r)",
                                 peer, len(request), REQUEST)
                return False
            io.send_all(conn, RESPONSE + len(self.secret).to_bytes(4, "big") + self.secret)
            self.log.info("secret provisioned to %s (%s evidence, status %s)", peer, ratls_evidence(result).format.value,
                          result.status)
            return True
        except (SSL.Error, OSError, TimeoutError) as e:
            self.log.warning("connection from %s failed: %s", peer, e)
            return False
        finally:
            io.close(conn)
            raw.close()


def fetch_secret(host: str, port: int, *, certificate: x509.Certificate | bytes, key: PrivateKey,
                 server_ca: x509.Certificate, timeout: float = 10.0) -> bytes:
    """The enclave's side (for tests and the simulated enclave): present ``certificate``, ask, read the secret.

    ``certificate`` may be DER bytes (OpenSSL reads mbedTLS-style ones that
    ``cryptography`` refuses). The server must hold a certificate chaining to
    ``server_ca``, as Gramine's ``SECRET_PROVISION_CA_CHAIN_PATH`` demands.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    if isinstance(certificate, bytes):
        with tempfile.TemporaryDirectory() as folder:  # OpenSSL reads it from a file; pyOpenSSL objects are deprecated
            path = Path(folder) / "cert.der"
            path.write_bytes(certificate)
            context.use_certificate_file(str(path), crypto.FILETYPE_ASN1)
    else:
        context.use_certificate(certificate)
    context.use_privatekey(key)
    context.get_cert_store().add_cert(crypto.X509.from_cryptography(server_ca))  # type: ignore[union-attr]
    context.set_verify(SSL.VERIFY_PEER)
    raw = socket.create_connection((host, port), timeout=timeout)
    raw.setblocking(False)
    conn = SSL.Connection(context, raw)
    conn.set_connect_state()
    io = _Deadline(raw, timeout)
    try:
        return _request_secret(io, conn)
    except (SSL.Error, TimeoutError) as e:
        raise RemoteProtocolError(f"secret provisioning failed: {type(e).__name__}: {e}") from None
    finally:
        io.close(conn)
        raw.close()


def _request_secret(io: _Deadline, conn: SSL.Connection) -> bytes:
    io.run(conn.do_handshake)
    io.send_all(conn, REQUEST)
    header = io.read_exactly(conn, len(RESPONSE) + 4)
    if header[: len(RESPONSE)] != RESPONSE or len(header) != len(RESPONSE) + 4:
        raise RemoteProtocolError(f"the server sent no secret ({len(header)} bytes of response header)")
    size = int.from_bytes(header[len(RESPONSE) :], "big")
    if size > MAX_SECRET:
        raise RemoteProtocolError(f"secret of {size} bytes exceeds {MAX_SECRET}")
    secret = io.read_exactly(conn, size)
    if len(secret) != size:
        raise RemoteProtocolError(f"secret cut short: {len(secret)} of {size} bytes")
    return secret
