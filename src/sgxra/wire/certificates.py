"""Certificates carried inside evidence, read completely before anything trusts or inspects them.

pyca/cryptography parses much of a certificate lazily: extensions, the public
key, names and the signature algorithm are decoded on first access, and a
malformed one raises ``ValueError``, ``DuplicateExtension`` or
``UnsupportedAlgorithm`` wherever that access happens to be. Reading every
such part here turns each defect into one :class:`MalformedMessage` naming
the certificate and the part, so later code meets only well-formed objects.

Trust anchors (the pinned roots) are configuration, read once: a copy in
evidence whose DER is an anchor's, byte for byte, is the anchor object.
"""

from __future__ import annotations

import binascii
import re
import threading
from datetime import datetime
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

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


class Names(NamedTuple):
    """The DER (whole TLV) of a certificate's issuer and subject: compared as bytes, decoded once per name;
    and of its TBSCertificate, as received (what its signature covers; pyca re-encodes it at every call)."""
    issuer: bytes
    subject: bytes
    tbs: bytes
    same_algorithm: bool  # the outer signatureAlgorithm is byte for byte the one the TBSCertificate names


class Facts(NamedTuple):
    """What checking a certificate read, kept with it: pyca re-builds dates and walks extensions at every access."""
    names: Names
    not_before: datetime
    not_after: datetime
    extensions: dict[type, x509.ExtensionType]  # by type (pyca refuses a repeated extension)


# Names pyca decoded without complaint, by their DER (a name decodes alike in any certificate or CRL):
# one verification meets four names fourteen times.
_DECODED_NAMES: Memo[bytes, bool] = Memo(256)


def check_certificate(cert: x509.Certificate, what: str, names: Names | None = None) -> Facts:
    """Decode every lazily parsed part of ``cert``; a defect is a MalformedMessage naming the part.

    ``names``: the DER of its names, when known; a name already decoded elsewhere is not decoded again.
    Returns what was read, remembered with the certificate (see :func:`certificate_facts`).
    """
    part = "version"
    try:
        _ = cert.version
        part = "serial_number"
        serial = cert.serial_number
        part = "validity"
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        part = "subject"
        if names is None or not _name_decoded(names.subject):
            _ = cert.subject  # string values (UTF-8, BMP) are decoded here
            _name_read(names and names.subject)
        part = "issuer"
        if names is None or not _name_decoded(names.issuer):
            _ = cert.issuer
            _name_read(names and names.issuer)
        part = "public_key"
        cert.public_key()
        part = "signature_algorithm"
        _ = (cert.signature_algorithm_oid, cert.signature_hash_algorithm, cert.signature_algorithm_parameters)
        part = "extensions"
        extensions = {type(e.value): e.value for e in cert.extensions}
    except PYCA_ERRORS as e:
        raise MalformedMessage(what, part, 0, f"{type(e).__name__}: {e}") from None
    if serial < 1:  # pyca parses it, but its CRL lookup refuses negative numbers with a ValueError
        raise MalformedMessage(what, "serial_number", 0, f"{serial} is not positive (RFC 5280 4.1.2.2)")
    facts = Facts(names or _der_names(cert.public_bytes(Encoding.DER)), not_before, not_after, extensions)
    _FACTS.put(id(cert), (cert, facts))
    return facts


def certificate_facts(cert: x509.Certificate) -> Facts:
    """What :func:`check_certificate` read of ``cert`` (checked now if it was not read here)."""
    entry = _TRUSTED_IDS.get(id(cert)) or _FACTS.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    return check_certificate(cert, "certificate")


def certificate_names(cert: x509.Certificate) -> Names:
    """The DER of ``cert``'s issuer, subject and TBSCertificate."""
    return certificate_facts(cert).names


def same_certificate(a: x509.Certificate, b: x509.Certificate) -> bool:
    """pyca's equality (the same DER), sparing its full comparison (~4 us) when both are one object."""
    return a is b or a == b


# The facts of certificates read here, by the identity of the certificate, which the memo holds (so no
# other object takes its id while the entry lasts).
_FACTS: Memo[int, tuple[x509.Certificate, Facts]] = Memo(256)

# Trust anchors given by configuration (a pinned root), each checked once, by DER and by identity. Not a
# memo of evidence, so clearing the parse memos keeps them: a block of evidence whose DER is byte for byte
# an anchor's is that anchor (its names known to decode), not decoded again.
MAX_TRUSTED = 16
_TRUSTED: dict[bytes, x509.Certificate] = {}
_TRUSTED_TEXTS: dict[bytes, x509.Certificate] = {}  # by the text of its PEM block (64 base64 bytes a line)
_TRUSTED_IDS: dict[int, tuple[x509.Certificate, Facts]] = {}
_TRUSTED_NAMES: frozenset[bytes] = frozenset()
_TRUST_LOCK = threading.Lock()


def trust_certificate(cert: x509.Certificate) -> x509.Certificate:
    """Take ``cert``, a trust anchor from configuration, as read: evidence carrying its exact DER gets the anchor.

    Returns the anchor of that DER: ``cert``, or the object taken before for the same DER (so one object
    serves every copy). A certificate that does not pass :func:`check_certificate` is not taken (a copy of
    it in evidence is then read, and refused, as any other)."""
    entry = _TRUSTED_IDS.get(id(cert))
    if entry is not None and entry[0] is cert:
        return cert
    try:
        data = cert.public_bytes(Encoding.DER)
        anchor = _TRUSTED.get(data)
        if anchor is not None:
            return anchor
        facts = check_certificate(cert, "trusted certificate", _der_names(data))
    except (MalformedMessage, *PYCA_ERRORS):
        return cert
    global _TRUSTED_NAMES, _TRUSTED_TEXTS
    with _TRUST_LOCK:
        while len(_TRUSTED) >= MAX_TRUSTED:
            del _TRUSTED_IDS[id(_TRUSTED.pop(next(iter(_TRUSTED))))]
        anchor = _TRUSTED.setdefault(data, cert)
        _TRUSTED_IDS[id(anchor)] = (anchor, facts)
        _TRUSTED_NAMES = frozenset(n for _, f in _TRUSTED_IDS.values() for n in (f.names.issuer, f.names.subject))
        _TRUSTED_TEXTS = {_pem_text(der_data): anchor for der_data, anchor in _TRUSTED.items()}
    return anchor


def _pem_text(data: bytes) -> bytes:
    """The body of the PEM block of ``data`` as pyca and OpenSSL write it: base64 in lines of 64, each ended by LF."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"".join(encoded[i : i + 64] + b"\n" for i in range(0, len(encoded), 64))


def _name_decoded(name: bytes) -> bool:
    return name in _TRUSTED_NAMES or bool(_DECODED_NAMES.get(name))


def _name_read(name: bytes | None) -> None:
    if name is not None:
        _DECODED_NAMES.put(name, True)


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
        return _CHAINS.put(pem, tuple(_from_block(block, read, f"{what}, certificate {i}") if isinstance(read, bytes)
                                      else read for i, (block, read) in enumerate(plain)))
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
    """``cert`` checked; a certificate already checked, or a trust anchor, is used instead only when it is the
    same certificate (DER)."""
    known = _CERTS.get(block) if block else None
    if known is not None and same_certificate(known, cert):
        return known
    data = _block_der(block, cert) if block else None
    anchor = _TRUSTED.get(data) if data is not None else None
    if anchor is not None:
        return anchor
    check_certificate(cert, what, _der_names(data) if data is not None else None)
    if data is not None:  # only a block whose own DER is this certificate may serve it again
        _CERTS.put(block, cert)
    return cert


# Certificate blocks as pyca and OpenSSL both read them without question: exact boundary lines, data
# lines of base64 only, blocks separated by line ends. Any other text is left to pyca's PEM reader.
_PLAIN_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]*\n)-----END CERTIFICATE-----(?:\r?\n)*")


def _plain_blocks(pem: bytes) -> list[tuple[bytes, bytes | x509.Certificate]] | None:
    """Each block's text and its DER, if ``pem`` is nothing but plain certificate blocks in canonical base64
    (what pyca would decode the same); None otherwise. Decoding the blocks here spares pyca's PEM pass and
    a second DER parse per certificate. A block whose text is known (a trust anchor's as pyca writes it,
    or one read before, which passed these checks) gives its certificate, not decoded again."""
    blocks: list[tuple[bytes, bytes | x509.Certificate]] = []
    pos = 0
    while pos < len(pem):
        found = _PLAIN_BLOCK.match(pem, pos)
        if found is None:
            return None
        text = found.group(1)
        pos = found.end()
        known = _TRUSTED_TEXTS.get(text) or _CERTS.get(text)
        if known is not None:
            blocks.append((text, known))
            continue
        encoded = text.translate(None, b"\r\n")
        try:
            data = binascii.a2b_base64(encoded, strict_mode=True)
        except binascii.Error:
            return None
        if binascii.b2a_base64(data, newline=False) != encoded:  # not canonical (pyca refuses stray bits)
            return None
        blocks.append((text, data))
    return blocks or None


def _from_block(block: bytes, data: bytes, what: str) -> x509.Certificate:
    """The certificate of a plain PEM block (its text and DER), checked; a block read before gives the same
    object, and a trust anchor's exact DER gives the anchor."""
    known = _TRUSTED.get(data) or _CERTS.get(block)
    if known is not None:
        return known
    try:
        cert = x509.load_der_x509_certificate(data)
    except PYCA_ERRORS as e:
        raise MalformedMessage(what, "<pem>", 0, f"not PEM certificates: {e}") from None
    check_certificate(cert, what, _der_names(data))
    return _CERTS.put(block, cert)


def _block_der(block: bytes, cert: x509.Certificate) -> bytes | None:
    """The DER in ``cert``'s PEM block, if it is the certificate's; None otherwise."""
    try:
        data = binascii.a2b_base64(block)
    except binascii.Error:
        return None
    return data if data == cert.public_bytes(Encoding.DER) else None  # pyca keeps the DER it read


def _der_names(data: bytes) -> Names:
    """The names of the certificate whose DER is ``data`` (cheaper than pyca's re-encoded TBS), read by offsets:
    Certificate ::= SEQUENCE { TBSCertificate, signatureAlgorithm, signature }, where the TBSCertificate holds
    [0] version (optional), serial, signature (the algorithm again), issuer, validity, subject, ..."""
    _, tbs_start, end = der.span(data, 0, len(data), "certificate")
    _, pos, tbs_end = der.span(data, tbs_start, end, "certificate")
    fields: list[tuple[int, int]] = []
    while pos < tbs_end and len(fields) < 6:
        tag, _, stop = der.span(data, pos, tbs_end, "certificate")
        if fields or tag != 0xA0:
            fields.append((pos, stop))
        pos = stop
    if len(fields) < 5:
        raise MalformedMessage("certificate", "<tbs>", pos, "too few fields")
    outer = der.span(data, tbs_end, end, "certificate")[2]
    return Names(data[fields[2][0] : fields[2][1]], data[fields[4][0] : fields[4][1]], data[tbs_start:tbs_end],
                 data[tbs_end:outer] == data[fields[1][0] : fields[1][1]])


_CRLS: Memo[int, tuple[x509.CertificateRevocationList, CrlFacts]] = Memo(64)  # by identity, as _FACTS


class CrlFacts(NamedTuple):
    """The parts of a CRL's DER that checking it needs: pyca re-encodes the TBSCertList at every signature check."""
    issuer: bytes  # the issuer Name (whole TLV)
    tbs: bytes  # the TBSCertList as received: what the signature covers
    same_algorithm: bool  # the outer signatureAlgorithm is byte for byte the TBSCertList's signature field


def checked_crl(crl: x509.CertificateRevocationList, data: bytes, what: str) -> CrlFacts:
    """The facts of ``crl``, read from ``data``, its DER, which it must fill; the issuer name is decoded by
    pyca unless that name was decoded before (a defect raises MalformedMessage)."""
    facts = _crl_facts(data, what)
    if not _name_decoded(facts.issuer):
        try:
            _ = crl.issuer
        except PYCA_ERRORS as e:
            raise MalformedMessage(what, "issuer", 0, f"{type(e).__name__}: {e}") from None
        _name_read(facts.issuer)
    _CRLS.put(id(crl), (crl, facts))
    return facts


def crl_facts(crl: x509.CertificateRevocationList) -> CrlFacts:
    """What :func:`checked_crl` read of ``crl`` (read now from pyca's encoding if it was not read here)."""
    entry = _CRLS.get(id(crl))
    if entry is not None and entry[0] is crl:
        return entry[1]
    return _CRLS.put(id(crl), (crl, _crl_facts(crl.public_bytes(Encoding.DER), "CRL")))[1]


def _crl_facts(data: bytes, what: str) -> CrlFacts:
    """CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }; TBSCertList ::=
    SEQUENCE { version (optional), signature, issuer, ... }."""
    _, pos, end = der.span(data, 0, len(data), what)
    if end != len(data):
        raise MalformedMessage(what, "<der>", end, f"{len(data) - end} bytes after the CRL")
    _, tbs_pos, tbs_end = der.span(data, pos, end, what)
    _, _, outer_end = der.span(data, tbs_end, end, what)  # signatureAlgorithm
    tag, _, stop = der.span(data, tbs_pos, tbs_end, what)
    if tag == der.INTEGER:
        tbs_pos = stop
    _, _, issuer_pos = der.span(data, tbs_pos, tbs_end, what)  # signature
    _, _, issuer_end = der.span(data, issuer_pos, tbs_end, what)
    return CrlFacts(data[issuer_pos:issuer_end], data[pos:tbs_end],
                    data[tbs_pos:issuer_pos] == data[tbs_end:outer_end])


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
