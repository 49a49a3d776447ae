"""A simulated EPID platform: quoting enclave, group registry and verifier.

Real EPID signatures need Intel's group keys; the simulation keeps the quote's
real layout (version 2, 436-byte header and body) and replaces the signature
with a 96-byte structure a simulated verifier can check::

    magic      16  b"SGXRA-SIM-EPID\\x00\\x01"  (never a real EPID signature)
    platform   16  the platform id, registered under the quote's EPID group
    signature  64  ECDSA-P256-SHA256 r || s (big-endian) by the platform's
                   key over the quote's first 432 bytes

Platform keys come from a seed, so a client and a mock IAS can agree on a
platform without sharing files. None of this is private or unlinkable: it is
for development and tests only, and its evidence is marked ``simulated``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from sgxra.errors import MalformedMessage, VerificationError
from sgxra.protocol.evidence import Evidence
from sgxra.wire.quote import EpidQuote, QuoteSignType
from sgxra.wire.report_body import ReportBody

SIM_SIGNATURE_MAGIC = b"SGXRA-SIM-EPID\x00\x01"
SIM_SIGNATURE_SIZE = 96
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DEFAULT_GID = 0x00000AE0


@dataclass(frozen=True)
class SimPlatform:
    """One simulated SGX machine: its EPID group, identity and signing key."""

    gid: int
    platform_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    qe_svn: int = 7
    pce_svn: int = 6

    @classmethod
    def from_seed(cls, seed: bytes, gid: int = DEFAULT_GID) -> SimPlatform:
        digest = hashlib.sha256(b"sgxra sim platform key\x00" + seed).digest()
        scalar = int.from_bytes(digest, "big") % (_P256_N - 1) + 1
        platform_id = hashlib.sha256(b"sgxra sim platform id\x00" + seed).digest()[:16]
        return cls(gid, platform_id, ec.derive_private_key(scalar, ec.SECP256R1()))

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


class SimQuotingEnclave:
    """Produces version-2 EPID-layout quotes signed as the module docstring says."""

    def __init__(self, platform: SimPlatform) -> None:
        self.platform = platform

    @property
    def gid(self) -> bytes:
        return self.platform.gid.to_bytes(4, "little")

    def get_quote(self, report_body: ReportBody, quote_type: QuoteSignType, spid: bytes, sig_rl: bytes = b"") -> bytes:
        # A linkable basename is fixed per SPID (so pseudonyms link); an unlinkable one is random.
        suffix = hashlib.sha256(spid).digest()[:16] if quote_type is QuoteSignType.LINKABLE else os.urandom(16)
        unsigned = EpidQuote(
            version=2, sign_type=quote_type, epid_group_id=self.gid, qe_svn=self.platform.qe_svn,
            pce_svn=self.platform.pce_svn, xeid=0, basename=spid + suffix, report_body=report_body,
            signature=b"",
        )
        der = self.platform.private_key.sign(unsigned.body_bytes(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = SIM_SIGNATURE_MAGIC + self.platform.platform_id + r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return unsigned.body_bytes() + len(signature).to_bytes(4, "little") + signature


class SimEpidRegistry:
    """The simulated EPID groups and the platforms registered in each."""

    def __init__(self) -> None:
        self._keys: dict[tuple[int, bytes], ec.EllipticCurvePublicKey] = {}

    def register(self, platform: SimPlatform) -> None:
        self._keys[(platform.gid, platform.platform_id)] = platform.public_key

    def public_key(self, gid: int, platform_id: bytes) -> ec.EllipticCurvePublicKey:
        key = self._keys.get((gid, platform_id))
        if key is None:
            raise VerificationError(f"platform {platform_id.hex()} is not registered in EPID group {gid:08x}")
        return key


@dataclass(frozen=True)
class SimSignature:
    """The signature of a SIMULATED EPID quote (an ECDSA stand-in naming its platform)."""
    platform_id: bytes
    r: int
    s: int

    @classmethod
    def parse(cls, signature: bytes) -> SimSignature:
        if len(signature) != SIM_SIGNATURE_SIZE or not hmac.compare_digest(signature[:16], SIM_SIGNATURE_MAGIC):
            raise MalformedMessage("sim_epid_signature", "magic", 0, "not a simulated EPID signature")
        return cls(signature[16:32], int.from_bytes(signature[32:64], "big"), int.from_bytes(signature[64:], "big"))


def pseudonym(platform_id: bytes, basename: bytes) -> bytes:
    """The simulated linkable pseudonym: the same for one platform and basename."""
    return hashlib.sha256(b"sgxra sim pseudonym\x00" + platform_id + basename).digest()


class SimEpidVerifier:
    """Checks simulated EPID quotes against a registry (a Verifier for the SP)."""

    def __init__(self, registry: SimEpidRegistry) -> None:
        self.registry = registry

    def verify_quote(self, quote: bytes) -> Evidence:
        try:
            parsed = EpidQuote.parse(quote)
        except MalformedMessage as e:
            raise VerificationError(f"quote is not a simulated EPID quote: {e}") from None
        return self.verify_parsed(parsed)

    def verify_parsed(self, parsed: EpidQuote) -> Evidence:
        """As ``verify_quote``, for a quote the caller has parsed already."""
        try:
            sig = SimSignature.parse(parsed.signature)
        except MalformedMessage as e:
            raise VerificationError(f"quote is not a simulated EPID quote: {e}") from None
        key = self.registry.public_key(parsed.gid, sig.platform_id)
        if not (0 < sig.r < _P256_N and 0 < sig.s < _P256_N):
            raise VerificationError("simulated EPID signature out of range")
        try:
            key.verify(encode_dss_signature(sig.r, sig.s), parsed.body_bytes(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise VerificationError("simulated EPID quote signature does not verify") from None
        linkable = parsed.sign_type is QuoteSignType.LINKABLE
        return Evidence(
            kind="sim-epid", status="OK", report_body=parsed.report_body, simulated=True,
            epid_pseudonym=pseudonym(sig.platform_id, parsed.basename) if linkable else None,
        )
