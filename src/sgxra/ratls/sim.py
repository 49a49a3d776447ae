"""Simulated RA-TLS certificates, as Gramine, the Intel SGX SDK and sgx-ra-tls write them.

The quotes come from the simulated quoting enclaves (verifiable only under the
simulated Intel PKI, and marked simulated), so these certificates can never pass
for real evidence. Development and tests only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from sgxra.ias.mock_pki import MockIasPki
from sgxra.ratls.binding import HASH_ALGORITHMS
from sgxra.ratls.evidence import (
    DICE_OID,
    DICE_TAG,
    GRAMINE_LEGACY_OID,
    IAS_LEAF_OID,
    IAS_REPORT_OID,
    IAS_ROOT_OID,
    IAS_SIGNATURE_OID,
)
from sgxra.ratls.server import PrivateKey
from sgxra.sim.dcap_pki import SimIntelPki
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.sim.epid import SimPlatform, SimQuotingEnclave
from sgxra.sim.tdx_qe import SimTdxQuotingEnclave, sim_td_report
from sgxra.wire.der import SEQUENCE, encode, encode_oid, read_all, read_one
from sgxra.wire.ias_report import TIMESTAMP_FORMAT
from sgxra.wire.quote import QUOTE_BODY_SIZE, QuoteSignType

FORMATS = ("dice", "gramine-legacy", "both")
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
BIT_STRING = 0x03
# Gramine's certificate: subject and issuer, serial 1, validity 2001..2030 (meaningless in RA-TLS).
_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RATLS"),
                   x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GramineDevelopers"),
                   x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])
_NOT_BEFORE = datetime(2001, 1, 1, tzinfo=timezone.utc)
_NOT_AFTER = datetime(2030, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
_IDENTITY = EnclaveIdentity()


def spki_der(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def dice_claims(spki: bytes, *, hash_id: int = 1, extra: Mapping[str, Any] | None = None) -> bytes:
    """The claims map with ``pubkey-hash`` = serialized ``[hash_id, H(spki)]`` (an unknown id hashes with SHA-256)."""
    digest = hashlib.new(HASH_ALGORITHMS.get(hash_id, "sha256"), spki).digest()
    return cbor2.dumps({"pubkey-hash": cbor2.dumps([hash_id, digest]), **(extra or {})})


def tagged_evidence(quote: bytes, claims: bytes) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(DICE_TAG, [quote, claims]))


def certificate(key: PrivateKey, extensions: Sequence[tuple[str, bytes]]) -> bytes:
    """A self-signed certificate of ``key`` carrying the given (OID, value) extensions, DER."""
    builder = (x509.CertificateBuilder().subject_name(_NAME).issuer_name(_NAME).public_key(key.public_key())
               .serial_number(1).not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False))
    for oid, value in extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class SimRaTlsAttester:
    """A simulated enclave (SGX) or TD (TDX) that makes RA-TLS certificates for fresh keys."""

    def __init__(self, pki: SimIntelPki, *, tdx: bool = False, identity: EnclaveIdentity = _IDENTITY,
                 quoting_enclave: SimEcdsaQuotingEnclave | SimTdxQuotingEnclave | None = None) -> None:
        self.tdx = tdx
        self.identity = identity
        self.qe = quoting_enclave or (SimTdxQuotingEnclave(pki) if tdx else SimEcdsaQuotingEnclave(pki))

    def quote(self, report_data: bytes) -> bytes:
        report_data = report_data.ljust(64, b"\x00")
        if isinstance(self.qe, SimTdxQuotingEnclave):
            return self.qe.get_quote(sim_td_report(report_data))
        return self.qe.get_quote(self.identity.report_body(report_data), QuoteSignType.UNLINKABLE, bytes(16))

    def dice_extension(self, key: PrivateKey) -> tuple[str, bytes]:
        """Intel's TDX builds hash with SHA-384 (claims and key); SGX producers with SHA-256."""
        claims = dice_claims(spki_der(key), hash_id=7 if self.tdx else 1)
        digest = hashlib.sha384(claims) if self.tdx else hashlib.sha256(claims)
        return DICE_OID, tagged_evidence(self.quote(digest.digest()), claims)

    def gramine_legacy_extension(self, key: PrivateKey) -> tuple[str, bytes]:
        return GRAMINE_LEGACY_OID, self.quote(hashlib.sha256(spki_der(key)).digest())

    def certificate(self, fmt: str = "dice", key: PrivateKey | None = None) -> tuple[bytes, PrivateKey]:
        """(DER certificate, its key) in format ``dice``, ``gramine-legacy`` or ``both`` (Gramine >= 1.8)."""
        if fmt not in FORMATS:
            raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
        key = key or ec.generate_private_key(ec.SECP384R1())  # Gramine's key type
        extensions = []
        if fmt in ("gramine-legacy", "both"):
            extensions.append(self.gramine_legacy_extension(key))
        if fmt in ("dice", "both"):
            extensions.append(self.dice_extension(key))
        return certificate(key, extensions), key


def mbedtls_style(der: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The certificate as mbedTLS (Gramine) writes it: ECDSA-SHA256 with an explicit NULL parameter, re-signed."""
    plain = encode(SEQUENCE, encode_oid(ECDSA_SHA256))
    with_null = encode(SEQUENCE, encode_oid(ECDSA_SHA256) + b"\x05\x00")
    tbs = read_all(read_one(der, 0, "certificate", 0)[0].value, "certificate")[0]
    if plain not in tbs.value:
        raise ValueError("not an ECDSA-SHA256 certificate")
    new_tbs = encode(SEQUENCE, tbs.value.replace(plain, with_null, 1))  # the first one is the signature field
    signature = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return encode(SEQUENCE, new_tbs + with_null + encode(BIT_STRING, b"\x00" + signature))


def sim_epid_certificate(ias: MockIasPki, at: datetime, *, identity: EnclaveIdentity = _IDENTITY,
                         key: rsa.RSAPrivateKey | None = None, status: str = "OK") -> tuple[bytes, rsa.RSAPrivateKey]:
    """An original sgx-ra-tls (EPID) certificate: RSA key, IAS report (``status``) signed by the mock IAS, its chain."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pkcs1 = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    qe = SimQuotingEnclave(SimPlatform.from_seed(b"sgxra ratls"))
    quote = qe.get_quote(identity.report_body(hashlib.sha256(pkcs1).digest().ljust(64, b"\x00")),
                         QuoteSignType.UNLINKABLE, bytes(16))
    report = {"id": str(secrets.randbelow(10**38)), "timestamp": (at - timedelta(seconds=1)).strftime(TIMESTAMP_FORMAT),
              "version": 4, "isvEnclaveQuoteStatus": status,
              "isvEnclaveQuoteBody": base64.b64encode(quote[:QUOTE_BODY_SIZE]).decode()}
    body = json.dumps(report, separators=(",", ":")).encode()
    signature = base64.b64encode(ias.leaf_key.sign(body, padding.PKCS1v15(), hashes.SHA256()))
    pem = serialization.Encoding.PEM
    extensions = [(IAS_REPORT_OID, body), (IAS_ROOT_OID, ias.root.public_bytes(pem)),
                  (IAS_LEAF_OID, ias.leaf.public_bytes(pem)), (IAS_SIGNATURE_OID, signature)]
    return certificate(key, extensions), key
