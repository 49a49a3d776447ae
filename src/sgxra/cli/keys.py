"""The service provider's long-term signing key: files, the sample's key, and how enclaves embed it."""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from sgxra import crypto
from sgxra.sim.sample_keys import SAMPLE_SP_PRIVATE_KEY_LE


class SpKeyError(ValueError):
    """The key file is missing, unreadable (encrypted, say) or not a key of the kind needed."""


def is_sample_key(key: ec.EllipticCurvePrivateKey) -> bool:
    return crypto.private_key_to_le(key) == SAMPLE_SP_PRIVATE_KEY_LE


def _load_private_key(path: str | Path, what: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(Path(path).read_bytes(), None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as e:  # TypeError: encrypted
        raise SpKeyError(f"cannot read the {what} {path}: {e}") from None


def load_sp_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = _load_private_key(path, "service provider key")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SpKeyError(f"{path} is not a P-256 private key")
    return key


def load_token_key(path: str | Path) -> ec.EllipticCurvePrivateKey:
    """The key that signs result tokens: a P-256 (ES256) or P-384 (ES384) private key in PEM."""
    key = _load_private_key(path, "token key")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1)):
        raise SpKeyError(f"{path} is not a P-256 or P-384 private key")
    return key


def load_tls_key(path: Path) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A TLS server's private key (EC or RSA, PEM, not encrypted)."""
    key = _load_private_key(path, "TLS key")
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise SpKeyError(f"{path} is not an EC or RSA private key")
    return key


def write_sp_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def public_key_c_initializer(key: ec.EllipticCurvePublicKey) -> str:
    """The public key as the enclave source embeds it (sgx_ec256_public_t, little-endian)."""
    point = crypto.public_key_to_point(key)

    def row(data: bytes) -> str:
        hexes = [f"0x{b:02x}" for b in data]
        return ",\n        ".join(", ".join(hexes[i : i + 8]) for i in range(0, 32, 8))

    return (
        "static const sgx_ec256_public_t def_service_public_key = {\n"
        f"    {{\n        {row(point[:32])}\n    }},\n"
        f"    {{\n        {row(point[32:])}\n    }}\n"
        "};"
    )
