"""Does the evidence's report data bind the certificate's public key?

Each format names what is hashed and with which algorithm:

- TCG DICE: ``report_data`` starts with the hash of the claims bytes exactly as
  embedded (SHA-256 for SGX, SHA-384 for TDX, as Intel's TDX builds), and the
  claims' ``pubkey-hash`` is ``[alg, digest]`` over the DER SubjectPublicKeyInfo,
  alg 1, 7 or 8 (SHA-256, SHA-384, SHA-512: the IANA Named Information ids).
- Gramine legacy: SHA-256 of the DER SubjectPublicKeyInfo.
- Intel SGX SDK legacy, alone: SHA-256 of the PEM public key with its trailing NUL (Open Enclave's rule).
- sgx-ra-tls: SHA-256 of the PKCS#1 RSAPublicKey (the SPKI without its header).

Every byte of ``report_data`` after the hash must be zero: the producers write
zeros, and anything there would be evidence about something else.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sgxra.errors import MalformedMessage
from sgxra.ratls.der import RaTlsCertificate

# IANA "Named Information Hash Algorithm" ids that RA-TLS verifiers must accept.
HASH_ALGORITHMS = {1: "sha256", 7: "sha384", 8: "sha512"}
MAX_CLAIMS = 64 * 1024
STRUCT = "ratls_claims"


@dataclass(frozen=True)
class Binding:
    """Which hash over what, and whether the report data holds it."""

    hashed: str  # "claims", "spki", "pem-public-key" or "rsa-public-key"
    algorithm: str  # of the report data hash
    bound: bool
    reason: str  # why not, or what matched
    pubkey_hash_algorithm: str | None = None  # DICE: the pubkey-hash claim's algorithm


def decode_cbor(data: bytes, structure: str, field: str) -> Any:
    """Exactly one CBOR item filling ``data``: no duplicate map keys, no trailing bytes."""
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream, max_depth=8, allow_duplicate_keys=False).decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, EOFError) as e:
        raise MalformedMessage(structure, field, 0, f"not CBOR: {e}") from None
    if stream.tell() != len(data):
        raise MalformedMessage(structure, field, stream.tell(), "bytes after the CBOR item")
    return item


def parse_claims(claims: bytes) -> Mapping[str, Any]:
    """The claims map: text keys; ``pubkey-hash`` required (checked in :func:`bind_claims`)."""
    if len(claims) > MAX_CLAIMS:
        raise MalformedMessage(STRUCT, "<claims>", 0, f"{len(claims)} bytes exceeds {MAX_CLAIMS}")
    decoded = decode_cbor(claims, STRUCT, "<claims>")
    if not isinstance(decoded, Mapping) or not all(isinstance(k, str) for k in decoded):
        raise MalformedMessage(STRUCT, "<claims>", 0, "must be a CBOR map keyed by text")
    return decoded


def _report_data_holds(report_data: bytes, digest: bytes) -> bool:
    head, tail = report_data[: len(digest)], report_data[len(digest) :]
    return hmac.compare_digest(head, digest) and not any(tail)


def _mismatch(report_data: bytes, digest: bytes, what: str) -> str:
    if hmac.compare_digest(report_data[: len(digest)], digest):
        return f"report data holds {what} but its remaining {64 - len(digest)} bytes are not zero"
    return f"report data does not hold {what}"


def bind_claims(certificate: RaTlsCertificate, claims: bytes, decoded: Mapping[str, Any], report_data: bytes, *,
                tdx: bool) -> Binding:
    """``claims`` as embedded (what the report data hashes) and as :func:`parse_claims` read them."""
    algorithm = "sha384" if tdx else "sha256"
    entry = decoded.get("pubkey-hash")
    if not isinstance(entry, bytes):
        raise MalformedMessage(STRUCT, "pubkey-hash", 0, "missing, or not a byte string")
    hash_entry = decode_cbor(entry, STRUCT, "pubkey-hash")
    if (not isinstance(hash_entry, (list, tuple)) or len(hash_entry) != 2 or type(hash_entry[0]) is not int
            or not isinstance(hash_entry[1], bytes)):
        raise MalformedMessage(STRUCT, "pubkey-hash", 0, "must be serialized CBOR [hash-alg-id, digest]")
    alg_id, claimed = hash_entry
    key_hash = HASH_ALGORITHMS.get(alg_id)
    if key_hash is None:
        return Binding("claims", algorithm, False, f"pubkey-hash uses unknown hash algorithm id {alg_id}")
    if not hmac.compare_digest(claimed, hashlib.new(key_hash, certificate.spki).digest()):
        return Binding("claims", algorithm, False, "pubkey-hash is not the hash of this certificate's public key",
                       key_hash)
    digest = hashlib.new(algorithm, claims).digest()
    if not _report_data_holds(report_data, digest):
        return Binding("claims", algorithm, False, _mismatch(report_data, digest, f"{algorithm}(claims)"), key_hash)
    return Binding("claims", algorithm, True, f"report data = {algorithm}(claims); pubkey-hash = {key_hash}(SPKI)",
                   key_hash)


def bind_digest(hashed: str, data: bytes, report_data: bytes) -> Binding:
    digest = hashlib.sha256(data).digest()
    if not _report_data_holds(report_data, digest):
        return Binding(hashed, "sha256", False, _mismatch(report_data, digest, f"sha256({hashed})"))
    return Binding(hashed, "sha256", True, f"report data = sha256({hashed})")


def pem_public_key_with_nul(certificate: RaTlsCertificate) -> bytes:
    pem = certificate.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem + b"\x00"


def bind_rsa_key(certificate: RaTlsCertificate, report_data: bytes) -> Binding:
    """sgx-ra-tls: SHA-256 of the PKCS#1 RSAPublicKey; a key of another type binds nothing."""
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return Binding("rsa-public-key", "sha256", False, "sgx-ra-tls binds an RSA key; this one is not RSA")
    return bind_digest("rsa-public-key", key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1),
                       report_data)
