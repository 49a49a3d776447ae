"""The platform info blob IAS returns for out-of-date or revoked platforms.

IAS sends it as hex of a TLV: type 0x15, version 0x02, a big-endian u16 size
(101), then the 101-byte platform_info_blob_t that msg4 carries. The blob is
produced by IAS for the platform's own software to read, and its multi-byte
integers are big-endian (AESM converts them with its le2be helpers).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sgxra.errors import MalformedMessage
from sgxra.wire._codec import Reader, check_len, check_uint

PIB_SIZE = 101
PIB_TLV_TYPE = 0x15
PIB_TLV_VERSION = 0x02


class EpidGroupFlags(enum.IntFlag):
    """Platform info blob: the EPID group's flags."""
    QE_EPID_GROUP_REVOKED = 0x01
    PERF_REKEY_FOR_QE_EPID_GROUP_AVAILABLE = 0x02
    QE_EPID_GROUP_OUT_OF_DATE = 0x04


class TcbEvaluationFlags(enum.IntFlag):
    """Platform info blob: what in the quote's TCB is out of date."""
    QUOTE_CPUSVN_OUT_OF_DATE = 0x0001
    QUOTE_ISVSVN_QE_OUT_OF_DATE = 0x0002
    QUOTE_ISVSVN_PCE_OUT_OF_DATE = 0x0004
    PLATFORM_CONFIGURATION_NEEDED = 0x0008


class PseEvaluationFlags(enum.IntFlag):
    """Platform info blob: the platform services' evaluation flags."""
    PSE_ISVSVN_OUT_OF_DATE = 0x0001
    EPID_GROUP_ID_BY_PS_HW_GID_REVOKED = 0x0002
    SVN_FROM_PS_HW_SEC_INFO_OUT_OF_DATE = 0x0004
    SIGRL_VER_FROM_PS_HW_SIG_RLVER_OUT_OF_DATE = 0x0008
    PRIVRL_VER_FROM_PS_HW_PRV_KEY_RLVER_OUT_OF_DATE = 0x0010


def _names(flag_type: type[enum.IntFlag], value: int) -> tuple[str, ...]:
    return tuple(f.name for f in flag_type if f.name and value & f)


@dataclass(frozen=True)
class PlatformInfoBlob:
    """platform_info_blob_t, the 101 bytes inside the TLV (and inside msg4)."""

    sgx_epid_group_flags: int
    sgx_tcb_evaluation_flags: int
    pse_evaluation_flags: int
    latest_equivalent_tcb_psvn: bytes  # cpu_svn(16) || pce isv_svn(2)
    latest_pse_isvsvn: int
    latest_psda_svn: bytes
    xeid: int
    gid: int
    signature: bytes  # sgx_ec256_signature_t by Intel's PIB signing key

    def __post_init__(self) -> None:
        check_uint("platform_info_blob", "sgx_epid_group_flags", self.sgx_epid_group_flags, 8)
        check_uint("platform_info_blob", "sgx_tcb_evaluation_flags", self.sgx_tcb_evaluation_flags, 16)
        check_uint("platform_info_blob", "pse_evaluation_flags", self.pse_evaluation_flags, 16)
        check_len("platform_info_blob", "latest_equivalent_tcb_psvn", self.latest_equivalent_tcb_psvn, 18)
        check_uint("platform_info_blob", "latest_pse_isvsvn", self.latest_pse_isvsvn, 16)
        check_len("platform_info_blob", "latest_psda_svn", self.latest_psda_svn, 4)
        check_uint("platform_info_blob", "xeid", self.xeid, 32)
        check_uint("platform_info_blob", "gid", self.gid, 32)
        check_len("platform_info_blob", "signature", self.signature, 64)

    @classmethod
    def empty(cls) -> PlatformInfoBlob:
        """All zeros: what the sample's msg4 carries when IAS sent no blob."""
        return cls.parse(bytes(PIB_SIZE))

    @classmethod
    def parse(cls, data: bytes) -> PlatformInfoBlob:
        r = Reader("platform_info_blob", data)
        pib = cls.read(r)
        r.end()
        return pib

    @classmethod
    def read(cls, r: Reader) -> PlatformInfoBlob:
        def be(field: str, size: int) -> int:
            return int.from_bytes(r.take(field, size), "big")

        return cls(
            sgx_epid_group_flags=be("sgx_epid_group_flags", 1),
            sgx_tcb_evaluation_flags=be("sgx_tcb_evaluation_flags", 2),
            pse_evaluation_flags=be("pse_evaluation_flags", 2),
            latest_equivalent_tcb_psvn=r.take("latest_equivalent_tcb_psvn", 18),
            latest_pse_isvsvn=be("latest_pse_isvsvn", 2),
            latest_psda_svn=r.take("latest_psda_svn", 4),
            xeid=be("xeid", 4),
            gid=be("gid", 4),
            signature=r.take("signature", 64),
        )

    @classmethod
    def parse_tlv(cls, data: bytes) -> PlatformInfoBlob:
        """Parse the TLV form (raw bytes, after hex decoding)."""
        r = Reader("platform_info_blob_tlv", data)
        tlv_type = r.u8("type")
        if tlv_type != PIB_TLV_TYPE:
            raise r.error("type", f"must be 0x{PIB_TLV_TYPE:02x}, got 0x{tlv_type:02x}", 0)
        version = r.u8("version")
        if version != PIB_TLV_VERSION:
            raise r.error("version", f"must be {PIB_TLV_VERSION}, got {version}", 1)
        size = int.from_bytes(r.take("size", 2), "big")
        if size != PIB_SIZE:
            raise r.error("size", f"must be {PIB_SIZE}, got {size}", 2)
        pib = cls.read(r)
        r.end()
        return pib

    @classmethod
    def parse_tlv_hex(cls, text: str) -> PlatformInfoBlob:
        """Parse the TLV as IAS sends it: hex text (IAS uses uppercase)."""
        if len(text) > 2 * (4 + PIB_SIZE) + 2:
            raise MalformedMessage("platform_info_blob_tlv", "<hex>", 0, f"{len(text)} hex characters is too long")
        try:
            data = bytes.fromhex(text)
        except ValueError as e:
            raise MalformedMessage("platform_info_blob_tlv", "<hex>", 0, f"not hex: {e}") from None
        return cls.parse_tlv(data)

    def to_bytes(self) -> bytes:
        return b"".join((
            self.sgx_epid_group_flags.to_bytes(1, "big"),
            self.sgx_tcb_evaluation_flags.to_bytes(2, "big"),
            self.pse_evaluation_flags.to_bytes(2, "big"),
            self.latest_equivalent_tcb_psvn,
            self.latest_pse_isvsvn.to_bytes(2, "big"),
            self.latest_psda_svn,
            self.xeid.to_bytes(4, "big"),
            self.gid.to_bytes(4, "big"),
            self.signature,
        ))

    def to_tlv(self) -> bytes:
        return bytes((PIB_TLV_TYPE, PIB_TLV_VERSION)) + PIB_SIZE.to_bytes(2, "big") + self.to_bytes()

    def to_tlv_hex(self) -> str:
        return self.to_tlv().hex().upper()

    @property
    def flag_names(self) -> dict[str, tuple[str, ...]]:
        return {
            "sgx_epid_group_flags": _names(EpidGroupFlags, self.sgx_epid_group_flags),
            "sgx_tcb_evaluation_flags": _names(TcbEvaluationFlags, self.sgx_tcb_evaluation_flags),
            "pse_evaluation_flags": _names(PseEvaluationFlags, self.pse_evaluation_flags),
        }
