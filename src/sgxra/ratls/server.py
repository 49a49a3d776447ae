"""A simulated attested TLS server (echo), for demos and tests of attested clients."""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

MAX_CHUNK = 64 * 1024
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey  # what RA-TLS certificates are made for


def server_context(certificate_der: bytes, key: PrivateKey) -> ssl.SSLContext:
    """A server context presenting the RA-TLS certificate (the stdlib only loads them from files)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_path.write_text(ssl.DER_cert_to_PEM_cert(certificate_der))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context.load_cert_chain(cert_path, key_path)
    return context


class ThreadedServer(ABC):
    """Accepts on ``host:port`` (0: any free port) and serves each connection in its own thread."""

    def __init__(self, *, host: str, port: int, timeout: float) -> None:
        self.timeout = timeout
        self.listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self._handlers: list[threading.Thread] = []

    @abstractmethod
    def handle(self, raw: socket.socket, peer: Any) -> None:
        """Serve one accepted connection (in its own thread)."""

    def start(self) -> Self:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def serve_forever(self) -> None:
        while True:
            try:
                raw, peer = self.listener.accept()
            except OSError:  # closed
                return
            handler = threading.Thread(target=self.handle, args=(raw, peer), daemon=True)
            self._handlers.append(handler)
            handler.start()

    def close(self) -> None:
        """Stop listening and wait (up to the timeout) for the connections being served."""
        self.listener.close()
        for handler in self._handlers:
            handler.join(self.timeout)


class AttestedEchoServer(ThreadedServer):
    """Serves TLS with an RA-TLS certificate and echoes what it gets.

    ``on_data`` sees every chunk received (tests use it to prove nothing was sent).
    """

    def __init__(self, certificate_der: bytes, key: PrivateKey, *, host: str = "127.0.0.1", port: int = 0,
                 timeout: float = 10.0, on_data: Callable[[bytes], None] | None = None) -> None:
        super().__init__(host=host, port=port, timeout=timeout)
        self.context = server_context(certificate_der, key)
        self.on_data = on_data

    def handle(self, raw: socket.socket, peer: Any) -> None:
        raw.settimeout(self.timeout)
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                while chunk := tls.recv(MAX_CHUNK):
                    if self.on_data:
                        self.on_data(chunk)
                    tls.sendall(chunk)
        except (OSError, ssl.SSLError):
            pass  # a client that refused us, or went away
        finally:
            raw.close()
