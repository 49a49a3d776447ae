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
# Inside a PEM block OpenSSL (so Intel's QVL) strips control bytes and spaces from the end of each line,
# then decodes base64 skipping only space, tab and CR; pyca is looser (it takes a vertical tab or form
# feed in place of a newline, which Intel refuses). Lines outside blocks are skipped by both.
_PEM_DATA_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r"
_LINE_END_STRIPPED = bytes(range(0x21))
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
    pem = pem.rstrip(b"\x00")  # a quote's certification data may end as a C string
    _check_pem_lines(pem, what)
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except PYCA_ERRORS as e:
        raise MalformedMessage(what, "<pem>", 0, f"not PEM certificates: {e}") from None
    if len(certs) > MAX_CHAIN_LENGTH:
        raise MalformedMessage(what, "<pem>", 0, f"{len(certs)} certificates exceeds {MAX_CHAIN_LENGTH}")
    for index, cert in enumerate(certs):
        check_certificate(cert, f"{what}, certificate {index}")
    return tuple(certs)


def _check_pem_lines(pem: bytes, what: str) -> None:
    """Refuse what OpenSSL's PEM reader refuses: a boundary (BEGIN, END) line with more on it, or a
    byte inside BEGIN .. END other than those in ``_PEM_DATA_BYTES``."""
    inside, offset = False, 0
    for line in pem.split(b"\n"):
        text = line.rstrip(_LINE_END_STRIPPED)
        if b"-----" in text:
            if not (text.startswith((b"-----BEGIN ", b"-----END ")) and text.endswith(b"-----")):
                raise MalformedMessage(what, "<pem>", offset, "a PEM boundary line carries more than its label")
            inside = text.startswith(b"-----BEGIN ")
        elif inside and (stray := text.translate(None, _PEM_DATA_BYTES)):
            at = offset + text.index(stray[:1])
            raise MalformedMessage(what, "<pem>", at, f"byte 0x{stray[0]:02x} inside a PEM block (OpenSSL refuses it)")
        offset += len(line) + 1
