"""For tests that run servers on 127.0.0.1: a free port, waiting for a program to listen, a TLS certificate."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    """A port nothing listens on just now (the OS's choice), for a program to be told to listen on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """Until 127.0.0.1:``port`` accepts a connection; fails if ``process`` ends first or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                errors = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"{process.args!r} ended (exit {process.returncode}) before listening on "
                                     f"port {port}: {errors}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{process.args!r} did not listen on port {port} within {timeout} s") from None
            time.sleep(0.05)  # polling for the server to listen, not a timing assertion


def self_signed(tmp: Path, *names: x509.GeneralName) -> tuple[Path, Path]:
    """A self-signed TLS certificate for ``names`` (subject alternative names), valid for a day, and its key:
    PEM files in ``tmp``. A client trusts it with ``ssl.create_default_context(cafile=<the certificate>)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sgxra loopback test server")])
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "tls-cert.pem", tmp / "tls-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
