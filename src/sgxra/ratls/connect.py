"""Attested TLS connections: the peer's RA-TLS certificate is verified on the same connection, before any byte is sent.

The stdlib ``ssl`` module has no verification callback, so the context's socket
classes do it: right after the handshake they verify the peer certificate (the
TLS handshake has already proven possession of its key), and a socket that was
not verified refuses to send. A failed verification closes the connection and
raises the verifier's error. There is no separate "fetch the certificate" step,
so there is no window between checking one connection and using another.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any, ClassVar

import httpx

from sgxra.ratls.evidence import NotAttested
from sgxra.ratls.verify import RaTlsVerifier, Result


def _verify_peer(verifier: RaTlsVerifier | None, der: bytes | None) -> Result:
    if verifier is None:
        raise NotAttested("no RA-TLS verifier is attached to this context")
    if not der:
        raise NotAttested("the peer presented no certificate")
    return verifier.verify(der)


class AttestedSocket(ssl.SSLSocket):
    """An ``SSLSocket`` whose handshake ends with RA-TLS verification.

    ``ratls_result`` holds the accepted peer's :class:`DcapResult` or
    :class:`IasResult` (its ``envelope``: the certificate's evidence).
    """

    verifier: ClassVar[RaTlsVerifier | None] = None
    ratls_result: Result | None = None

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        if self.ratls_result is None:
            try:
                self.ratls_result = _verify_peer(self.verifier, self.getpeercert(binary_form=True))
            except BaseException:
                self.close()
                raise

    def _attested(self) -> None:
        if self.ratls_result is None:  # a handshake deferred by do_handshake_on_connect=False
            self.do_handshake()

    def send(self, data: Any, flags: int = 0) -> int:
        self._attested()
        return super().send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._attested()
        super().sendall(data, flags)

    def write(self, data: Any) -> int:
        self._attested()
        return super().write(data)

    # Reading first would complete a deferred handshake inside OpenSSL, unverified: verify first.
    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        self._attested()
        return super().recv(buflen, flags)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        self._attested()
        return super().recv_into(buffer, nbytes, flags)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        self._attested()
        return super().read(len, buffer)


class AttestedObject(ssl.SSLObject):
    """The same for asyncio's memory-BIO TLS (``SSLObject``)."""

    verifier: ClassVar[RaTlsVerifier | None] = None
    ratls_result: Result | None = None

    def do_handshake(self) -> None:
        super().do_handshake()
        if self.ratls_result is None:
            self.ratls_result = _verify_peer(self.verifier, self.getpeercert(binary_form=True))

    def write(self, data: Any) -> int:
        if self.ratls_result is None:
            raise NotAttested("refusing to send before the peer is verified")
        return super().write(data)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        if self.ratls_result is None:
            raise NotAttested("refusing to read before the peer is verified")
        return super().read(len, buffer)


def client_context(verifier: RaTlsVerifier) -> ssl.SSLContext:
    """A client context that trusts a server only through its RA-TLS evidence (no CA, no host name)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the evidence vouches for the key; the handshake proves possession
    context.sslsocket_class = type("AttestedSocket", (AttestedSocket,), {"verifier": verifier})
    context.sslobject_class = type("AttestedObject", (AttestedObject,), {"verifier": verifier})
    return context


def connect(host: str, port: int, verifier: RaTlsVerifier, *, timeout: float = 10.0) -> AttestedSocket:
    """A TLS connection to an attested server; its ``ratls_result`` says what was verified."""
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        attested = client_context(verifier).wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
    if not isinstance(attested, AttestedSocket) or attested.ratls_result is None:
        attested.close()
        raise NotAttested("the connection was not verified")
    return attested


class AttestedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection is to an attested server (https only)."""

    def __init__(self, verifier: RaTlsVerifier, **kwargs: Any) -> None:
        super().__init__(verify=client_context(verifier), **kwargs)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            raise NotAttested(f"an attested transport speaks https only, not {request.url.scheme}")
        return super().handle_request(request)
