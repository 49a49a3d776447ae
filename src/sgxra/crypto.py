"""SGX-flavoured key exchange primitives on pyca/cryptography.

The SGX SDK stores P-256 points and ECDSA signature halves as little-endian
byte strings; everything here takes and returns that form.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sgxra.errors import BadMac, BadSignature, InvalidPoint, MalformedMessage

# The P-256 field prime: coordinates must be reduced below it.
_P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
KDF_ID_SGX = 1
LABELS = ("SMK", "SK", "MK", "VK")


def _le_to_int(data: bytes) -> int:
    return int.from_bytes(data, "little")


def point_to_public_key(point_le: bytes, field: str = "g_a") -> ec.EllipticCurvePublicKey:
    """Validate a little-endian ``x || y`` point and return it as a P-256 key.

    Refuses wrong sizes, coordinates not reduced mod p, the all-zero encoding
    (the SDK's stand-in for the point at infinity) and points off the curve.
    """
    if len(point_le) != 64:
        raise InvalidPoint("p256_point", field, 0, f"must be 64 bytes, got {len(point_le)}")
    x, y = _le_to_int(point_le[:32]), _le_to_int(point_le[32:])
    if x == 0 and y == 0:
        raise InvalidPoint("p256_point", field, 0, "is the point at infinity")
    if x >= _P256_P or y >= _P256_P:
        raise InvalidPoint("p256_point", field, 0, "coordinate not reduced modulo p")
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise InvalidPoint("p256_point", field, 0, "is not on the P-256 curve") from None


def public_key_to_point(key: ec.EllipticCurvePublicKey) -> bytes:
    numbers = key.public_numbers()
    return numbers.x.to_bytes(32, "little") + numbers.y.to_bytes(32, "little")


def private_key_from_le(scalar_le: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from the SDK's little-endian sgx_ec256_private_t."""
    if len(scalar_le) != 32:
        raise MalformedMessage("p256_private_key", "r", 0, f"must be 32 bytes, got {len(scalar_le)}")
    scalar = _le_to_int(scalar_le)
    if not 0 < scalar < _P256_N:
        raise MalformedMessage("p256_private_key", "r", 0, "scalar out of range")
    return ec.derive_private_key(scalar, ec.SECP256R1())


def private_key_to_le(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_numbers().private_value.to_bytes(32, "little")


def ecdh_shared_x_le(private_key: ec.EllipticCurvePrivateKey, peer_point_le: bytes, field: str) -> bytes:
    """ECDH with a validated peer point; the shared x-coordinate, little-endian."""
    peer = point_to_public_key(peer_point_le, field)
    return private_key.exchange(ec.ECDH(), peer)[::-1]


def aes_cmac(key: bytes, data: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def verify_cmac(key: bytes, data: bytes, tag: bytes, what: str) -> None:
    """Constant-time CMAC check; raises :class:`BadMac` naming the message."""
    if not hmac.compare_digest(aes_cmac(key, data), tag):
        raise BadMac(f"{what}: MAC does not verify")


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """The keys both sides derive from the ECDH secret (all 16 bytes)."""

    kdk: bytes
    smk: bytes
    sk: bytes
    mk: bytes
    vk: bytes

    def __repr__(self) -> str:  # keys never reach logs by accident
        return "SessionKeys(<redacted>)"


def derive_key(kdk: bytes, label: str) -> bytes:
    """The SDK's labelled KDF: CMAC(KDK, 0x01 || label || 0x00 || 0x80 || 0x00)."""
    return aes_cmac(kdk, b"\x01" + label.encode("ascii") + b"\x00\x80\x00")


def derive_kdk(shared_x_le: bytes) -> bytes:
    """KDK = CMAC(16 zero bytes, x_le): what every labelled key of a session is derived from."""
    if len(shared_x_le) != 32:
        raise MalformedMessage("ecdh_shared_secret", "x", 0, f"must be 32 bytes, got {len(shared_x_le)}")
    return aes_cmac(bytes(16), shared_x_le)


def derive_session_keys(shared_x_le: bytes) -> SessionKeys:
    """KDK, then SMK, SK, MK and VK from it."""
    kdk = derive_kdk(shared_x_le)
    smk, sk, mk, vk = (derive_key(kdk, label) for label in LABELS)
    return SessionKeys(kdk=kdk, smk=smk, sk=sk, mk=mk, vk=vk)


def sign_gb_ga(sp_key: ec.EllipticCurvePrivateKey, g_b: bytes, g_a: bytes) -> bytes:
    """msg2's signature: ECDSA-P256-SHA256 over g_b || g_a, as r || s little-endian."""
    r, s = decode_dss_signature(sp_key.sign(g_b + g_a, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "little") + s.to_bytes(32, "little")


def verify_gb_ga(sp_public_point_le: bytes, g_b: bytes, g_a: bytes, signature_le: bytes) -> None:
    """Check msg2's signature under the SP's long-term public key."""
    key = point_to_public_key(sp_public_point_le, "sp_public_key")
    if len(signature_le) != 64:
        raise BadSignature("msg2 sign_gb_ga must be 64 bytes")
    r, s = _le_to_int(signature_le[:32]), _le_to_int(signature_le[32:])
    if not (0 < r < _P256_N and 0 < s < _P256_N):
        raise BadSignature("msg2 sign_gb_ga: r or s out of range")
    try:
        key.verify(encode_dss_signature(r, s), g_b + g_a, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadSignature("msg2 sign_gb_ga does not verify under the service provider's key") from None


def report_data_binding(g_a: bytes, g_b: bytes, vk: bytes) -> bytes:
    """The 64 bytes report_data must hold: SHA256(g_a || g_b || VK) || 32 zero bytes."""
    return hashlib.sha256(g_a + g_b + vk).digest() + bytes(32)


GCM_IV_SIZE = 12


def new_iv() -> bytes:
    """A fresh random AES-GCM IV (12 bytes)."""
    return os.urandom(GCM_IV_SIZE)


def seal(sk: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-128-GCM under SK: ciphertext || tag."""
    return AESGCM(sk).encrypt(iv, plaintext, aad)


def unseal(sk: bytes, iv: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(sk).decrypt(iv, sealed, aad)
    except InvalidTag:
        raise BadMac("secret: AES-GCM tag does not verify") from None
