"""The remote attestation messages msg0..msg4 as the SGX SDK lays them out."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sgxra.errors import MalformedMessage
from sgxra.wire._codec import Reader, check_len, check_uint, u16, u32
from sgxra.wire.platform_info import PIB_SIZE, PlatformInfoBlob
from sgxra.wire.quote import QUOTE_BODY_SIZE, QuoteSignType

POINT_SIZE = 64
MAC_SIZE = 16
SIGNATURE_SIZE = 64
SPID_SIZE = 16
PS_SEC_PROP_SIZE = 256
MSG2_FIXED_SIZE = 168
# A SigRL holds 128 bytes per revoked signature; 4 MiB is far beyond any real one.
MAX_SIGRL_SIZE = 4 * 1024 * 1024
# EPID quotes are ~1.1 KiB, ECDSA quotes with their certificate chain ~5 KiB.
MAX_QUOTE_SIZE = 256 * 1024
MSG3_FIXED_SIZE = MAC_SIZE + POINT_SIZE + PS_SEC_PROP_SIZE


@dataclass(frozen=True)
class Msg0:
    """The client's extended EPID group id (0 for Intel's EPID groups)."""

    extended_epid_group_id: int

    SIZE = 4

    def __post_init__(self) -> None:
        check_uint("msg0", "extended_epid_group_id", self.extended_epid_group_id, 32)

    @classmethod
    def parse(cls, data: bytes) -> Msg0:
        r = Reader("msg0", data)
        msg = cls(r.u32("extended_epid_group_id"))
        r.end()
        return msg

    def to_bytes(self) -> bytes:
        return u32(self.extended_epid_group_id)


@dataclass(frozen=True)
class Msg1:
    """sgx_ra_msg1_t: the enclave's ephemeral public key and its EPID group."""

    g_a: bytes
    gid: bytes

    SIZE = 68

    def __post_init__(self) -> None:
        check_len("msg1", "g_a", self.g_a, POINT_SIZE)
        check_len("msg1", "gid", self.gid, 4)

    @classmethod
    def parse(cls, data: bytes) -> Msg1:
        r = Reader("msg1", data)
        msg = cls.read(r)
        r.end()
        return msg

    @classmethod
    def read(cls, r: Reader) -> Msg1:
        return cls(g_a=r.take("g_a", POINT_SIZE), gid=r.take("gid", 4))

    def to_bytes(self) -> bytes:
        return self.g_a + self.gid


@dataclass(frozen=True)
class Msg0Msg1:
    """msg0 and msg1 sent together as one 72-byte message, as the sample does."""

    msg0: Msg0
    msg1: Msg1

    SIZE = 72

    @classmethod
    def parse(cls, data: bytes) -> Msg0Msg1:
        r = Reader("msg0msg1", data)
        msg0 = Msg0(r.u32("msg0.extended_epid_group_id"))
        msg1 = Msg1.read(r)
        r.end()
        return cls(msg0, msg1)

    def to_bytes(self) -> bytes:
        return self.msg0.to_bytes() + self.msg1.to_bytes()


@dataclass(frozen=True)
class Msg2:
    """sgx_ra_msg2_t: the SP's ephemeral key, signed and MACed, plus the SigRL."""

    g_b: bytes
    spid: bytes
    quote_type: QuoteSignType
    kdf_id: int
    sign_gb_ga: bytes  # r (32, little-endian) || s (32, little-endian)
    mac: bytes
    sig_rl: bytes

    def __post_init__(self) -> None:
        check_len("msg2", "g_b", self.g_b, POINT_SIZE)
        check_len("msg2", "spid", self.spid, SPID_SIZE)
        check_uint("msg2", "kdf_id", self.kdf_id, 16)
        check_len("msg2", "sign_gb_ga", self.sign_gb_ga, SIGNATURE_SIZE)
        check_len("msg2", "mac", self.mac, MAC_SIZE)
        if len(self.sig_rl) > MAX_SIGRL_SIZE:
            raise MalformedMessage("msg2", "sig_rl", MSG2_FIXED_SIZE, f"exceeds the limit of {MAX_SIGRL_SIZE} bytes")

    @classmethod
    def parse(cls, data: bytes) -> Msg2:
        r = Reader("msg2", data)
        g_b = r.take("g_b", POINT_SIZE)
        spid = r.take("spid", SPID_SIZE)
        quote_type = r.u16("quote_type")
        if quote_type not in (0, 1):
            raise r.error("quote_type", f"must be 0 (unlinkable) or 1 (linkable), got {quote_type}", 80)
        kdf_id = r.u16("kdf_id")
        sign_gb_ga = r.take("sign_gb_ga", SIGNATURE_SIZE)
        mac = r.take("mac", MAC_SIZE)
        sig_rl_size = r.u32("sig_rl_size")
        if sig_rl_size > MAX_SIGRL_SIZE:
            raise r.error("sig_rl_size", f"{sig_rl_size} exceeds the limit of {MAX_SIGRL_SIZE}", 164)
        sig_rl = r.take("sig_rl", sig_rl_size)
        r.end()
        return cls(g_b, spid, QuoteSignType(quote_type), kdf_id, sign_gb_ga, mac, sig_rl)

    def mac_covered_bytes(self) -> bytes:
        """Bytes 0..147, which the MAC covers (the SigRL is neither signed nor MACed)."""
        return self.g_b + self.spid + u16(self.quote_type) + u16(self.kdf_id) + self.sign_gb_ga

    def to_bytes(self) -> bytes:
        return self.mac_covered_bytes() + self.mac + u32(len(self.sig_rl)) + self.sig_rl


@dataclass(frozen=True)
class Msg3:
    """sgx_ra_msg3_t: MAC, g_a again, PSE security properties and the quote."""

    mac: bytes
    g_a: bytes
    ps_sec_prop: bytes
    quote: bytes

    def __post_init__(self) -> None:
        check_len("msg3", "mac", self.mac, MAC_SIZE)
        check_len("msg3", "g_a", self.g_a, POINT_SIZE)
        check_len("msg3", "ps_sec_prop", self.ps_sec_prop, PS_SEC_PROP_SIZE)
        if not QUOTE_BODY_SIZE + 4 <= len(self.quote) <= MAX_QUOTE_SIZE:
            raise MalformedMessage(
                "msg3", "quote", MSG3_FIXED_SIZE,
                f"must be {QUOTE_BODY_SIZE + 4}..{MAX_QUOTE_SIZE} bytes, got {len(self.quote)}",
            )

    @classmethod
    def parse(cls, data: bytes) -> Msg3:
        r = Reader("msg3", data)
        mac = r.take("mac", MAC_SIZE)
        g_a = r.take("g_a", POINT_SIZE)
        ps_sec_prop = r.take("ps_sec_prop", PS_SEC_PROP_SIZE)
        if not QUOTE_BODY_SIZE + 4 <= r.remaining <= MAX_QUOTE_SIZE:
            raise r.error("quote", f"must be {QUOTE_BODY_SIZE + 4}..{MAX_QUOTE_SIZE} bytes, got {r.remaining}")
        return cls(mac, g_a, ps_sec_prop, r.rest("quote"))

    def mac_covered_bytes(self) -> bytes:
        """Everything after the mac field, which the MAC covers."""
        return self.g_a + self.ps_sec_prop + self.quote

    def to_bytes(self) -> bytes:
        return self.mac + self.mac_covered_bytes()


class AttestationStatus(enum.IntEnum):
    """The sample's attestation_status_t in msg4."""

    NotTrusted = 0
    NotTrusted_ItsComplicated = 1
    Trusted_ItsComplicated = 2
    Trusted = 3


@dataclass(frozen=True)
class Msg4:
    """The sample's msg4: attestation status and the platform info blob (no MAC)."""

    status: AttestationStatus
    platform_info_blob: PlatformInfoBlob

    SIZE = 4 + PIB_SIZE

    @classmethod
    def parse(cls, data: bytes) -> Msg4:
        r = Reader("msg4", data)
        status = r.u32("status")
        if status not in AttestationStatus._value2member_map_:
            raise r.error("status", f"must be 0..3, got {status}", 0)
        pib = PlatformInfoBlob.read(r)
        r.end()
        return cls(AttestationStatus(status), pib)

    def to_bytes(self) -> bytes:
        return u32(self.status) + self.platform_info_blob.to_bytes()
