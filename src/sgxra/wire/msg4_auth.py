"""sgxra's authenticated msg4: the sample's status and platform info blob, a reason code,
an optional secret sealed under SK, all MACed under MK.

The SDK leaves msg4 to the service provider; the sample's 105-byte form has no
MAC, so anyone on the path can turn "NotTrusted" into "Trusted". Layout::

    magic       8   b"SGXRAM4\\x01"
    status      u32  AttestationStatus
    reason      u32  ReasonCode
    pib         101  platform_info_blob_t
    secret_len  u32  length of the sealed secret (0: none)
    iv          12   AES-GCM IV (zeros when there is no secret)
    secret      secret_len  AES-128-GCM(SK, iv, secret, aad = every byte before it)
    mac         16   AES-CMAC(MK, every byte before it)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sgxra.errors import MalformedMessage
from sgxra.wire._codec import Reader, check_len, u32
from sgxra.wire.messages import AttestationStatus
from sgxra.wire.platform_info import PlatformInfoBlob

MAGIC = b"SGXRAM4\x01"
MAX_SECRET = 64 * 1024
HEADER_SIZE = 8 + 4 + 4 + 101 + 4 + 12


class ReasonCode(enum.IntEnum):
    """Why msg4 says what it says, so a client can tell a fix it can make from one it cannot."""
    NONE = 0  # trusted
    POLICY = 1  # the enclave's identity, version or debug mode is not accepted
    PLATFORM_UPDATE_NEEDED = 2  # only the platform's TCB status or advisories stand in the way
    NOT_GENUINE = 3  # the evidence did not verify
    SERVICE_UNAVAILABLE = 4  # the attestation service could not be asked; try again later


@dataclass(frozen=True)
class AuthenticatedMsg4:
    """sgxra's msg4: status, reason and platform info, a sealed secret, a MAC under MK."""
    status: AttestationStatus
    reason: ReasonCode
    platform_info_blob: PlatformInfoBlob
    iv: bytes
    sealed_secret: bytes
    mac: bytes

    def __post_init__(self) -> None:
        check_len("msg4_auth", "iv", self.iv, 12)
        check_len("msg4_auth", "mac", self.mac, 16)
        if len(self.sealed_secret) > MAX_SECRET + 16:
            raise MalformedMessage("msg4_auth", "secret", 0,
                                   f"must be at most {MAX_SECRET + 16} bytes, got {len(self.sealed_secret)}")

    @staticmethod
    def is_authenticated(data: bytes) -> bool:
        return data[: len(MAGIC)] == MAGIC

    @classmethod
    def parse(cls, data: bytes) -> AuthenticatedMsg4:
        r = Reader("msg4_auth", data)
        if r.take("magic", 8) != MAGIC:
            raise r.error("magic", "not an sgxra authenticated msg4", 0)
        status = r.u32("status")
        if status not in AttestationStatus._value2member_map_:
            raise r.error("status", f"must be 0..3, got {status}", 8)
        reason = r.u32("reason")
        if reason not in ReasonCode._value2member_map_:
            raise r.error("reason", f"unknown reason code {reason}", 12)
        pib = PlatformInfoBlob.read(r)
        size = r.u32("secret_len")
        if size > MAX_SECRET + 16:
            raise r.error("secret_len", f"{size} exceeds {MAX_SECRET + 16}", r.offset - 4)
        iv = r.take("iv", 12)
        sealed = r.take("secret", size)
        mac = r.take("mac", 16)
        r.end()
        return cls(AttestationStatus(status), ReasonCode(reason), pib, iv, sealed, mac)

    @staticmethod
    def header(status: AttestationStatus, reason: ReasonCode, pib: PlatformInfoBlob, sealed_len: int, iv: bytes) -> bytes:
        """Every byte before the sealed secret: also the AES-GCM associated data."""
        return MAGIC + u32(status) + u32(reason) + pib.to_bytes() + u32(sealed_len) + iv

    def mac_covered_bytes(self) -> bytes:
        head = self.header(self.status, self.reason, self.platform_info_blob, len(self.sealed_secret), self.iv)
        return head + self.sealed_secret

    def to_bytes(self) -> bytes:
        return self.mac_covered_bytes() + self.mac
