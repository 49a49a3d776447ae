"""Certificates carried inside evidence, read completely before anything trusts or inspects them.

pyca/cryptography parses much of a certificate lazily: extensions, the public
key, names and the signature algorithm are decoded on first access, and a
malformed one raises ``ValueError``, ``DuplicateExtension`` or
``UnsupportedAlgorithm`` wherever that access happens to be. Reading every
such part here turns each defect into one :class:`MalformedMessage` naming
the certificate and the part, so later code meets only well-formed objects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from sgxra.errors import MalformedMessage

MAX_CHAIN_PEM = 64 * 1024
MAX_CHAIN_LENGTH = 8
# What pyca raises for a malformed or unsupported part (DuplicateExtension and
# UnsupportedGeneralNameType are not ValueErrors).
PYCA_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension,
               x509.UnsupportedGeneralNameType, x509.InvalidVersion)

_PARTS: tuple[tuple[str, Callable[[x509.Certificate], Any]], ...] = (
    ("version", lambda c: c.version),
    ("serial_number", lambda c: c.serial_number),
    ("validity", lambda c: (c.not_valid_before_utc, c.not_valid_after_utc)),
    ("subject", lambda c: c.subject),  # string values (UTF-8, BMP) are decoded here
    ("issuer", lambda c: c.issuer),
    ("public_key", lambda c: c.public_key()),
    ("signature_algorithm", lambda c: (c.signature_algorithm_oid, c.signature_hash_algorithm,
                                       c.signature_algorithm_parameters)),
    ("extensions", lambda c: c.extensions),
)


def check_certificate(cert: x509.Certificate, what: str) -> None:
    """Decode every lazily parsed part of ``cert``; a defect is a MalformedMessage naming the part."""
    for part, read in _PARTS:
        try:
            read(cert)
        except PYCA_ERRORS as e:
            raise MalformedMessage(what, part, 0, f"{type(e).__name__}: {e}") from None
    if cert.serial_number < 1:  # pyca parses it, but its CRL lookup refuses negative numbers with a ValueError
        raise MalformedMessage(what, "serial_number", 0, f"{cert.serial_number} is not positive (RFC 5280 4.1.2.2)")


@lru_cache(maxsize=128)
def checked_pem_chain(pem: bytes, what: str) -> tuple[x509.Certificate, ...]:
    """PEM certificates (leaf first), bounded, each checked by :func:`check_certificate`.

    Remembered per input: one platform sends the same chain in every quote.
    """
    if len(pem) > MAX_CHAIN_PEM:
        raise MalformedMessage(what, "<pem>", 0, f"{len(pem)} bytes exceeds {MAX_CHAIN_PEM}")
    try:
        certs = x509.load_pem_x509_certificates(pem.rstrip(b"\x00"))
    except PYCA_ERRORS as e:
        raise MalformedMessage(what, "<pem>", 0, f"not PEM certificates: {e}") from None
    if len(certs) > MAX_CHAIN_LENGTH:
        raise MalformedMessage(what, "<pem>", 0, f"{len(certs)} certificates exceeds {MAX_CHAIN_LENGTH}")
    for index, cert in enumerate(certs):
        check_certificate(cert, f"{what}, certificate {index}")
    return tuple(certs)
