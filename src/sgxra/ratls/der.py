"""The parts of an X.509 certificate RA-TLS needs, read without ``cryptography``'s certificate loader.

mbedTLS (Gramine) writes the ECDSA signature AlgorithmIdentifier with an explicit
NULL parameter, which RFC 5758 forbids and recent ``cryptography`` refuses to
load. This reader accepts exactly that deviation and is otherwise strict DER:
definite lengths, every structure filled exactly, each extension at most once.

It does not check the self-signature or the validity dates: in RA-TLS the
certificate is self-signed by a fresh key and its dates are arbitrary (Gramine
writes 2001..2030); the TLS handshake's CertificateVerify proves possession of
the key, and the quote binds the key to the enclave.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from sgxra.errors import MalformedMessage
from sgxra.wire.der import BOOLEAN, OCTET_STRING, OID, SEQUENCE, Tlv, decode_oid, expect, read_all, read_one

MAX_CERTIFICATE = 1024 * 1024
STRUCT = "ratls_certificate"
NULL, BIT_STRING, INTEGER = 0x05, 0x03, 0x02
_VERSION, _ISSUER_UID, _SUBJECT_UID, _EXTENSIONS = 0xA0, 0x81, 0x82, 0xA3
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----")


@dataclass(frozen=True)
class Extension:
    oid: str
    critical: bool
    value: bytes  # the OCTET STRING's content


@dataclass(frozen=True)
class RaTlsCertificate:
    """A certificate's DER, its SubjectPublicKeyInfo (exact bytes) and its extensions."""

    der: bytes
    spki: bytes
    extensions: tuple[Extension, ...]
    signature_algorithm: str
    null_signature_parameter: bool  # the mbedTLS quirk

    def extension(self, oid: str) -> Extension | None:
        return next((e for e in self.extensions if e.oid == oid), None)

    def public_key(self) -> PublicKeyTypes:
        try:
            return serialization.load_der_public_key(self.spki)
        except (ValueError, TypeError) as e:
            raise MalformedMessage(STRUCT, "subjectPublicKeyInfo", 0, f"not a usable public key: {e}") from None


def _raw(data: bytes, tlv: Tlv) -> bytes:
    return data[tlv.offset : tlv.value_offset + len(tlv.value)]


def _algorithm(tlv: Tlv, field: str) -> tuple[str, bool]:
    """An AlgorithmIdentifier: OID, and whether a NULL parameter follows (nothing else is accepted)."""
    parts = read_all(expect(tlv, SEQUENCE, STRUCT, field), STRUCT, tlv.value_offset)
    if not parts or parts[0].tag != OID:
        raise MalformedMessage(STRUCT, field, tlv.offset, "AlgorithmIdentifier without an OID")
    oid = decode_oid(parts[0].value, STRUCT, parts[0].offset)
    if len(parts) == 1:
        return oid, False
    if len(parts) == 2 and parts[1].tag == NULL and not parts[1].value:
        return oid, True
    raise MalformedMessage(STRUCT, field, tlv.offset, "unexpected AlgorithmIdentifier parameters")


def _extensions(tlv: Tlv) -> tuple[Extension, ...]:
    outer = read_all(tlv.value, STRUCT, tlv.value_offset)
    if len(outer) != 1:
        raise MalformedMessage(STRUCT, "extensions", tlv.offset, "[3] must hold one SEQUENCE")
    found: list[Extension] = []
    for item in read_all(expect(outer[0], SEQUENCE, STRUCT, "extensions"), STRUCT, outer[0].value_offset):
        parts = read_all(expect(item, SEQUENCE, STRUCT, "extension"), STRUCT, item.value_offset)
        if len(parts) not in (2, 3):
            raise MalformedMessage(STRUCT, "extension", item.offset, "must be OID, [critical,] OCTET STRING")
        oid = decode_oid(expect(parts[0], OID, STRUCT, "extension.extnID"), STRUCT, parts[0].offset)
        critical = False
        if len(parts) == 3:
            flag = expect(parts[1], BOOLEAN, STRUCT, "extension.critical")
            if flag not in (b"\x00", b"\xff"):
                raise MalformedMessage(STRUCT, "extension.critical", parts[1].offset, "not a DER BOOLEAN")
            critical = flag == b"\xff"
        value = expect(parts[-1], OCTET_STRING, STRUCT, "extension.extnValue")
        if any(e.oid == oid for e in found):
            # Two copies of one extension could show different evidence to different verifiers.
            raise MalformedMessage(STRUCT, "extensions", item.offset, f"extension {oid} appears twice")
        found.append(Extension(oid, critical, value))
    return tuple(found)


def parse_der(der: bytes) -> RaTlsCertificate:
    if len(der) > MAX_CERTIFICATE:
        raise MalformedMessage(STRUCT, "<der>", 0, f"{len(der)} bytes exceeds {MAX_CERTIFICATE}")
    cert, end = read_one(der, 0, STRUCT, 0)
    if end != len(der):
        raise MalformedMessage(STRUCT, "<der>", end, "bytes after the certificate")
    parts = read_all(expect(cert, SEQUENCE, STRUCT, "Certificate"), STRUCT, cert.value_offset)
    if len(parts) != 3:
        raise MalformedMessage(STRUCT, "Certificate", 0, "must be tbsCertificate, signatureAlgorithm, signature")
    tbs_tlv, outer_alg, signature = parts
    expect(signature, BIT_STRING, STRUCT, "signature")
    algorithm, null_parameter = _algorithm(outer_alg, "signatureAlgorithm")
    tbs = read_all(expect(tbs_tlv, SEQUENCE, STRUCT, "tbsCertificate"), STRUCT, tbs_tlv.value_offset)
    if tbs and tbs[0].tag == _VERSION:
        tbs = tbs[1:]
    if len(tbs) < 6:
        raise MalformedMessage(STRUCT, "tbsCertificate", tbs_tlv.offset, "too few fields")
    serial, inner_alg, issuer, validity, subject, spki, *rest = tbs
    expect(serial, INTEGER, STRUCT, "serialNumber")
    for tlv, name in ((issuer, "issuer"), (validity, "validity"), (subject, "subject"), (spki, "subjectPublicKeyInfo")):
        expect(tlv, SEQUENCE, STRUCT, name)
    if _algorithm(inner_alg, "tbsCertificate.signature")[0] != algorithm:
        raise MalformedMessage(STRUCT, "signatureAlgorithm", outer_alg.offset, "differs from the one in tbsCertificate")
    extensions: tuple[Extension, ...] = ()
    for tlv in rest:
        if tlv.tag == _EXTENSIONS and not extensions:
            extensions = _extensions(tlv)
        elif tlv.tag not in (_ISSUER_UID, _SUBJECT_UID) or extensions:
            raise MalformedMessage(STRUCT, "tbsCertificate", tlv.offset, f"unexpected field with tag 0x{tlv.tag:02x}")
    return RaTlsCertificate(der, _raw(der, spki), extensions, algorithm, null_parameter)


def load_certificate(data: bytes) -> RaTlsCertificate:
    """One certificate, PEM or DER."""
    if len(data) > 2 * MAX_CERTIFICATE:
        raise MalformedMessage(STRUCT, "<input>", 0, "too large for a certificate")
    if data.lstrip()[:1] == b"-":
        found = _PEM.findall(data)
        if len(found) != 1:
            raise MalformedMessage(STRUCT, "<pem>", 0, f"expected one PEM certificate, found {len(found)}")
        try:
            der = base64.b64decode(b"".join(found[0].split()), validate=True)
        except (binascii.Error, ValueError):
            raise MalformedMessage(STRUCT, "<pem>", 0, "bad base64") from None
        return parse_der(der)
    return parse_der(data)
