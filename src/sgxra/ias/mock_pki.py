"""The mock IAS's own report-signing chain, generated once into a state directory.

Its root is named SIMULATED and is never Intel's: a verifier must be pointed
at it explicitly (``SGXRA_IAS_ROOT``), and evidence it signs is marked simulated.
"""

from __future__ import annotations

import functools
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ROOT_FILE = "ias-root.pem"
LEAF_FILE = "ias-signing.pem"
LEAF_KEY_FILE = "ias-signing.key"
PIB_KEY_FILE = "pib-signing.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sgxra simulation (not Intel)"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _key_usage(**set_bits: bool) -> x509.KeyUsage:
    bits = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "key_cert_sign", "crl_sign"), False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits, encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class MockIasPki:
    """The IAS mock's SIMULATED report-signing chain and platform-info-blob key."""
    root: x509.Certificate
    leaf: x509.Certificate
    leaf_key: rsa.RSAPrivateKey
    pib_key: ec.EllipticCurvePrivateKey
    root_path: Path | None = None

    @property
    def chain_pem(self) -> bytes:
        return self.leaf.public_bytes(serialization.Encoding.PEM) + self.root.public_bytes(serialization.Encoding.PEM)

    @functools.cached_property
    def chain_header(self) -> str:
        """The chain as IAS sends it with every report (X-IASReport-Signing-Certificate: URL-encoded PEM), made once."""
        return urllib.parse.quote(self.chain_pem.decode(), safe="")

    @classmethod
    def generate(cls, now: datetime, *, lifetime: timedelta = timedelta(days=5 * 365)) -> MockIasPki:
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start, end = now - timedelta(days=1), now + lifetime
        root_name = _name("sgxra SIMULATED IAS Report Signing CA")
        root = (
            x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        leaf = (
            x509.CertificateBuilder().subject_name(_name("sgxra SIMULATED IAS Report Signing"))
            .issuer_name(root_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        return cls(root, leaf, leaf_key, ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, state_dir: Path, now: datetime) -> MockIasPki:
        """Reuse the chain in ``state_dir`` if there is one, else make and save it."""
        paths = [state_dir / n for n in (ROOT_FILE, LEAF_FILE, LEAF_KEY_FILE, PIB_KEY_FILE)]
        if all(p.exists() for p in paths):
            root = x509.load_pem_x509_certificate(paths[0].read_bytes())
            leaf = x509.load_pem_x509_certificate(paths[1].read_bytes())
            leaf_key = serialization.load_pem_private_key(paths[2].read_bytes(), None)
            pib_key = serialization.load_pem_private_key(paths[3].read_bytes(), None)
            if not isinstance(leaf_key, rsa.RSAPrivateKey) or not isinstance(pib_key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"unexpected key types in {state_dir}")
            return cls(root, leaf, leaf_key, pib_key, paths[0])
        pki = cls.generate(now)
        state_dir.mkdir(parents=True, exist_ok=True)
        pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
        paths[0].write_bytes(pki.root.public_bytes(pem))
        paths[1].write_bytes(pki.leaf.public_bytes(pem))
        for path, key in ((paths[2], pki.leaf_key), (paths[3], pki.pib_key)):
            path.touch(mode=0o600)
            path.write_bytes(key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
        return cls(pki.root, pki.leaf, pki.leaf_key, pki.pib_key, paths[0])
