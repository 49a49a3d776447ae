"""Building and opening the authenticated msg4 (layout in ``sgxra.wire.msg4_auth``)."""

from __future__ import annotations

from dataclasses import dataclass

from sgxra import crypto
from sgxra.errors import LocalProtocolError, RemoteProtocolError
from sgxra.wire.messages import AttestationStatus
from sgxra.wire.msg4_auth import MAX_SECRET, AuthenticatedMsg4, ReasonCode
from sgxra.wire.platform_info import PlatformInfoBlob

TRUSTED = (AttestationStatus.Trusted, AttestationStatus.Trusted_ItsComplicated)


def seal_msg4(
    status: AttestationStatus, reason: ReasonCode, pib: PlatformInfoBlob, *, sk: bytes, mk: bytes,
    secret: bytes | None = None,
) -> bytes:
    """msg4 MACed under MK; ``secret`` sealed under SK, and only ever with a trusted verdict."""
    if secret is not None and status not in TRUSTED:
        raise LocalProtocolError("a secret is only ever sent with a trusted verdict")
    if secret is not None and len(secret) > MAX_SECRET:
        raise LocalProtocolError(f"secret larger than {MAX_SECRET} bytes")
    iv, sealed = bytes(crypto.GCM_IV_SIZE), b""
    if secret is not None:
        iv = crypto.new_iv()
        aad = AuthenticatedMsg4.header(status, reason, pib, len(secret) + 16, iv)
        sealed = crypto.seal(sk, iv, secret, aad)
    covered = AuthenticatedMsg4.header(status, reason, pib, len(sealed), iv) + sealed
    return covered + crypto.aes_cmac(mk, covered)


@dataclass(frozen=True, repr=False)
class OpenedMsg4:
    """An authenticated msg4 after its MAC was checked and its secret opened."""
    status: AttestationStatus
    reason: ReasonCode
    platform_info_blob: PlatformInfoBlob
    secret: bytes | None

    @property
    def trusted(self) -> bool:
        return self.status in TRUSTED

    def __repr__(self) -> str:
        return f"OpenedMsg4(status={self.status.name}, reason={self.reason.name}, secret={'<sealed>' if self.secret else None})"


def open_msg4(data: bytes, *, sk: bytes, mk: bytes) -> OpenedMsg4:
    """Check the MAC under MK, then unseal the secret under SK; refuse a secret with a distrust verdict."""
    msg4 = AuthenticatedMsg4.parse(data)
    covered = msg4.mac_covered_bytes()
    crypto.verify_cmac(mk, covered, msg4.mac, "msg4")
    secret = None
    if msg4.sealed_secret:
        if msg4.status not in TRUSTED:
            raise RemoteProtocolError("msg4 carries a secret with a distrust verdict")
        aad = covered[: len(covered) - len(msg4.sealed_secret)]
        secret = crypto.unseal(sk, msg4.iv, msg4.sealed_secret, aad)
    return OpenedMsg4(msg4.status, msg4.reason, msg4.platform_info_blob, secret)
