"""Certificates carried inside evidence, read completely before anything trusts or inspects them.

pyca/cryptography parses much of a certificate lazily: extensions, the public
key, names and the signature algorithm are decoded on first access, and a
malformed one raises ``ValueError``, ``DuplicateExtension`` or
``UnsupportedAlgorithm`` wherever that access happens to be. Reading every
such part here turns each defect into one :class:`MalformedMessage` naming
the certificate and the part, so later code meets only well-formed objects.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from sgxra.errors import MalformedMessage
from sgxra.wire import der
from sgxra.wire.memo import Memo

MAX_CHAIN_PEM = 64 * 1024
MAX_CHAIN_LENGTH = 8
# Inside a PEM block OpenSSL (so Intel's QVL) strips control bytes and spaces from the end of each line,
# then decodes base64 skipping only space, tab and CR; pyca is looser (it takes a vertical tab or form
# feed in place of a newline, which Intel refuses). Lines outside blocks are skipped by both.
_PEM_DATA_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r"
_LINE_END_STRIPPED = bytes(range(0x21))
_PEM_BLOCK_BYTES = _PEM_DATA_BYTES + b"\n"
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


class Names(NamedTuple):
    """The DER (whole TLV) of a certificate's issuer and subject: compared as bytes, decoded once per name;
    and of its TBSCertificate, as received (what its signature covers; pyca re-encodes it at every call)."""
    issuer: bytes
    subject: bytes
    tbs: bytes


# Names pyca decoded without complaint, by their DER (a name decodes alike in any certificate or CRL):
# one verification meets four names fourteen times.
_DECODED_NAMES: Memo[bytes, bool] = Memo(256)
_NAME_PARTS = frozenset(("issuer", "subject"))


def check_certificate(cert: x509.Certificate, what: str, names: Names | None = None) -> None:
    """Decode every lazily parsed part of ``cert``; a defect is a MalformedMessage naming the part.

    ``names``: the DER of its names, when known; a name already decoded elsewhere is not decoded again.
    """
    for part, read in _PARTS:
        name = getattr(names, part) if names is not None and part in _NAME_PARTS else None
        if name is not None and _DECODED_NAMES.get(name):
            continue
        try:
            read(cert)
        except PYCA_ERRORS as e:
            raise MalformedMessage(what, part, 0, f"{type(e).__name__}: {e}") from None
        if name is not None:
            _DECODED_NAMES.put(name, True)
    if cert.serial_number < 1:  # pyca parses it, but its CRL lookup refuses negative numbers with a ValueError
        raise MalformedMessage(what, "serial_number", 0, f"{cert.serial_number} is not positive (RFC 5280 4.1.2.2)")


_CHAINS: Memo[bytes, tuple[x509.Certificate, ...]] = Memo(64)  # PEM text -> its certificates, checked
_CERTS: Memo[bytes, x509.Certificate] = Memo(128, largest=16 * 1024)  # one certificate's PEM block -> the certificate, checked


def checked_pem_chain(pem: bytes, what: str) -> tuple[x509.Certificate, ...]:
    """PEM certificates (leaf first), bounded, each checked by :func:`check_certificate`.

    Remembered per input: one platform sends the same chain in every quote,
    and one verification meets the root three times and the PCK CA twice.
    """
    if len(pem) > MAX_CHAIN_PEM:
        raise MalformedMessage(what, "<pem>", 0, f"{len(pem)} bytes exceeds {MAX_CHAIN_PEM}")
    pem = pem.rstrip(b"\x00")  # a quote's certification data may end as a C string
    known = _CHAINS.get(pem)
    if known is not None:
        return known
    plain = _plain_blocks(pem)  # plain text passes the line checks below by its form
    if plain is not None:
        if len(plain) > MAX_CHAIN_LENGTH:
            raise MalformedMessage(what, "<pem>", 0, f"{len(plain)} certificates exceeds {MAX_CHAIN_LENGTH}")
        return _CHAINS.put(pem, tuple(_from_block(block, data, f"{what}, certificate {i}")
                                      for i, (block, data) in enumerate(plain)))
    blocks = _check_pem_lines(pem, what)
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except PYCA_ERRORS as e:
        raise MalformedMessage(what, "<pem>", 0, f"not PEM certificates: {e}") from None
    if len(certs) > MAX_CHAIN_LENGTH:
        raise MalformedMessage(what, "<pem>", 0, f"{len(certs)} certificates exceeds {MAX_CHAIN_LENGTH}")
    if len(blocks) != len(certs):  # blocks read otherwise than pyca reads them: no reuse, every part checked
        blocks = [b""] * len(certs)
    pairs = enumerate(zip(certs, blocks, strict=True))
    return _CHAINS.put(pem, tuple(_checked(cert, block, f"{what}, certificate {i}") for i, (cert, block) in pairs))


def _checked(cert: x509.Certificate, block: bytes, what: str) -> x509.Certificate:
    """``cert`` checked; a certificate already checked is reused only when it is the same certificate (DER)."""
    known = _CERTS.get(block) if block else None
    if known is not None and known == cert:
        return known
    found = _block_names(block, cert) if block else None
    check_certificate(cert, what, found)
    if found is not None:
        _NAMES.put(id(cert), (cert, found))
    if block:
        _CERTS.put(block, cert)
    return cert


# Certificate blocks as pyca and OpenSSL both read them without question: exact boundary lines, data
# lines of base64 only, blocks separated by line ends. Any other text is left to pyca's PEM reader.
_PLAIN_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]*\n)-----END CERTIFICATE-----(?:\r?\n)*")


def _plain_blocks(pem: bytes) -> list[tuple[bytes, bytes]] | None:
    """Each block's text and its DER, if ``pem`` is nothing but plain certificate blocks in canonical base64
    (what pyca would decode the same); None otherwise. Decoding the blocks here spares pyca's PEM pass and
    a second DER parse per certificate."""
    blocks: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos < len(pem):
        found = _PLAIN_BLOCK.match(pem, pos)
        if found is None:
            return None
        text = found.group(1)
        encoded = text.translate(None, b"\r\n")
        try:
            data = binascii.a2b_base64(encoded, strict_mode=True)
        except binascii.Error:
            return None
        if binascii.b2a_base64(data, newline=False) != encoded:  # not canonical (pyca refuses stray bits)
            return None
        blocks.append((text, data))
        pos = found.end()
    return blocks or None


def _from_block(block: bytes, data: bytes, what: str) -> x509.Certificate:
    """The certificate of a plain PEM block (its text and DER), checked; a block read before gives the same object."""
    known = _CERTS.get(block)
    if known is not None:
        return known
    try:
        cert = x509.load_der_x509_certificate(data)
    except PYCA_ERRORS as e:
        raise MalformedMessage(what, "<pem>", 0, f"not PEM certificates: {e}") from None
    names = _tbs_names(data, der.span(data, 0, len(data), "certificate")[1])
    check_certificate(cert, what, names)
    _NAMES.put(id(cert), (cert, names))
    return _CERTS.put(block, cert)


def _block_names(block: bytes, cert: x509.Certificate) -> Names | None:
    """The names of ``cert`` read from its PEM block's DER (cheaper than pyca's re-encoded TBS), if that DER is
    the certificate's; None otherwise."""
    try:
        data = binascii.a2b_base64(block)
        if x509.load_der_x509_certificate(data) != cert:
            return None
    except (binascii.Error, *PYCA_ERRORS):
        return None
    return _tbs_names(data, der.span(data, 0, len(data), "certificate")[1])


# The names of certificates read here, by the identity of the certificate, which the memo holds (so no
# other object takes its id while the entry lasts).
_NAMES: Memo[int, tuple[x509.Certificate, Names]] = Memo(256)
_CRL_ISSUERS: Memo[int, tuple[x509.CertificateRevocationList, bytes]] = Memo(64)


def certificate_names(cert: x509.Certificate) -> Names:
    """The DER of ``cert``'s issuer, subject and TBSCertificate."""
    entry = _NAMES.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    return _NAMES.put(id(cert), (cert, _tbs_names(cert.tbs_certificate_bytes, 0)))[1]


def _tbs_names(data: bytes, pos: int) -> Names:
    """Issuer and subject of the TBSCertificate at ``pos``: [0] version, serial, signature, issuer, validity, subject."""
    tbs_start = pos
    _, pos, end = der.span(data, pos, len(data), "certificate")
    fields: list[tuple[int, int]] = []
    while pos < end and len(fields) < 6:
        tag, _, stop = der.span(data, pos, end, "certificate")
        if fields or tag != 0xA0:
            fields.append((pos, stop))
        pos = stop
    if len(fields) < 5:
        raise MalformedMessage("certificate", "<tbs>", pos, "too few fields")
    return Names(data[fields[2][0] : fields[2][1]], data[fields[4][0] : fields[4][1]], data[tbs_start:end])


def checked_crl_issuer(crl: x509.CertificateRevocationList, data: bytes | None, what: str) -> bytes:
    """The DER of ``crl``'s issuer, decoded by pyca unless that name was decoded before (a defect raises
    MalformedMessage). ``data``: the CRL's DER, when it was read from DER."""
    issuer = _crl_issuer(data if data is not None else crl.tbs_certlist_bytes, data is not None)
    if not _DECODED_NAMES.get(issuer):
        try:
            _ = crl.issuer
        except PYCA_ERRORS as e:
            raise MalformedMessage(what, "issuer", 0, f"{type(e).__name__}: {e}") from None
        _DECODED_NAMES.put(issuer, True)
    _CRL_ISSUERS.put(id(crl), (crl, issuer))
    return issuer


def crl_issuer(crl: x509.CertificateRevocationList) -> bytes:
    """The DER of ``crl``'s issuer."""
    entry = _CRL_ISSUERS.get(id(crl))
    if entry is not None and entry[0] is crl:
        return entry[1]
    return _CRL_ISSUERS.put(id(crl), (crl, _crl_issuer(crl.tbs_certlist_bytes, False)))[1]


def _crl_issuer(data: bytes, whole: bool) -> bytes:
    """The issuer of a CertificateList (``whole``) or of its TBSCertList: version (optional), signature, issuer."""
    _, pos, end = der.span(data, 0, len(data), "CRL")
    if whole:
        _, pos, end = der.span(data, pos, end, "CRL")
    tag, _, stop = der.span(data, pos, end, "CRL")
    if tag == der.INTEGER:
        pos = stop
    _, _, pos = der.span(data, pos, end, "CRL")  # signature algorithm
    _, _, stop = der.span(data, pos, end, "CRL")
    return data[pos:stop]


def _check_pem_lines(pem: bytes, what: str) -> list[bytes]:
    """Refuse what OpenSSL's PEM reader refuses: a boundary (BEGIN, END) line with more on it, or a
    byte inside BEGIN .. END other than those in ``_PEM_DATA_BYTES``. Return each certificate block's text.

    Boundary lines are found by their dashes and each block's data is checked whole; only a block
    holding some other byte is read line by line (a control byte may end a line, not sit inside one).
    """
    inside, data_start, pos = False, 0, 0
    blocks: list[bytes] = []
    while (dashes := pem.find(b"-----", pos)) >= 0:
        line_start = pem.rfind(b"\n", 0, dashes) + 1
        line_end = pem.find(b"\n", dashes)
        line_end = len(pem) if line_end < 0 else line_end
        if inside:
            _check_pem_data(pem, data_start, line_start, what)
        text = pem[line_start:line_end].rstrip(_LINE_END_STRIPPED)
        if not (text.startswith((b"-----BEGIN ", b"-----END ")) and text.endswith(b"-----")):
            raise MalformedMessage(what, "<pem>", line_start, "a PEM boundary line carries more than its label")
        if inside and text in _CERTIFICATE_ENDS:
            blocks.append(pem[data_start:line_start])
        inside = text.startswith(b"-----BEGIN ")
        data_start = pos = line_end + 1
    if inside:
        _check_pem_data(pem, data_start, len(pem), what)
    return blocks


def _check_pem_data(pem: bytes, start: int, end: int, what: str) -> None:
    """The lines of one PEM block's data, between ``start`` and ``end``."""
    if not pem[start:end].translate(None, _PEM_BLOCK_BYTES):
        return
    offset = start
    for line in pem[start:end].split(b"\n"):
        if stray := line.rstrip(_LINE_END_STRIPPED).translate(None, _PEM_DATA_BYTES):
            at = offset + line.index(stray[:1])
            raise MalformedMessage(what, "<pem>", at, f"byte 0x{stray[0]:02x} inside a PEM block (OpenSSL refuses it)")
        offset += len(line) + 1


_CERTIFICATE_ENDS = (b"-----END CERTIFICATE-----", b"-----END X509 CERTIFICATE-----")
