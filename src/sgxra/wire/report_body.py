"""sgx_report_body_t: the 384 bytes an enclave's report (and quote) carries."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from sgxra.wire._codec import Reader, check_len, check_uint, u64

REPORT_BODY_SIZE = 384
# The layout, field by field as errors name them: (name, size); the integers are little-endian.
_FIELDS = (
    ("cpu_svn", 16), ("misc_select", 4), ("reserved1", 12), ("isv_ext_prod_id", 16), ("attributes.flags", 8),
    ("attributes.xfrm", 8), ("mr_enclave", 32), ("reserved2", 32), ("mr_signer", 32), ("reserved3", 32),
    ("config_id", 64), ("isv_prod_id", 2), ("isv_svn", 2), ("config_svn", 2), ("reserved4", 42),
    ("isv_family_id", 16), ("report_data", 64),
)
_INTEGERS = {"misc_select": "I", "attributes.flags": "Q", "attributes.xfrm": "Q", "isv_prod_id": "H", "isv_svn": "H",
             "config_svn": "H"}
_LAYOUT = struct.Struct("<" + "".join(_INTEGERS.get(name, f"{size}s") for name, size in _FIELDS))
_SIZES = {name: size for name, size in _FIELDS if name not in _INTEGERS}  # the byte strings
_FIELD_SIZES = tuple(_SIZES.values())


class AttributeFlags(enum.IntFlag):
    """SGX_FLAGS_* bits of the attributes' flags word."""

    INITTED = 0x01
    DEBUG = 0x02
    MODE64BIT = 0x04
    PROVISION_KEY = 0x10
    EINITTOKEN_KEY = 0x20
    KSS = 0x80
    AEXNOTIFY = 0x400


@dataclass(frozen=True)
class Attributes:
    """sgx_attributes_t: flags (u64) and xfrm (u64)."""

    flags: int
    xfrm: int

    SIZE = 16

    def __post_init__(self) -> None:
        check_uint("attributes", "flags", self.flags, 64)
        check_uint("attributes", "xfrm", self.xfrm, 64)

    @property
    def debug(self) -> bool:
        return bool(self.flags & AttributeFlags.DEBUG)

    @property
    def flag_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in AttributeFlags if f.name and self.flags & f)

    def to_bytes(self) -> bytes:
        return u64(self.flags) + u64(self.xfrm)


@dataclass(frozen=True)
class ReportBody:
    """sgx_report_body_t with every field, reserved ones kept for exact round trips."""

    cpu_svn: bytes
    misc_select: int
    reserved1: bytes
    isv_ext_prod_id: bytes
    attributes: Attributes
    mr_enclave: bytes
    reserved2: bytes
    mr_signer: bytes
    reserved3: bytes
    config_id: bytes
    isv_prod_id: int
    isv_svn: int
    config_svn: int
    reserved4: bytes
    isv_family_id: bytes
    report_data: bytes

    def __post_init__(self) -> None:
        # One comparison on the usual path (a quote holds two report bodies); field by field to name a wrong one.
        sizes = (len(self.cpu_svn), len(self.reserved1), len(self.isv_ext_prod_id), len(self.mr_enclave),
                 len(self.reserved2), len(self.mr_signer), len(self.reserved3), len(self.config_id),
                 len(self.reserved4), len(self.isv_family_id), len(self.report_data))
        if sizes != _FIELD_SIZES:
            for name, size in _SIZES.items():
                check_len("report_body", name, getattr(self, name), size)
        check_uint("report_body", "misc_select", self.misc_select, 32)
        if not (0 <= self.isv_prod_id <= 0xFFFF and 0 <= self.isv_svn <= 0xFFFF and 0 <= self.config_svn <= 0xFFFF):
            for name in ("isv_prod_id", "isv_svn", "config_svn"):
                check_uint("report_body", name, getattr(self, name), 16)

    @classmethod
    def build(
        cls,
        *,
        mr_enclave: bytes,
        mr_signer: bytes,
        isv_prod_id: int = 0,
        isv_svn: int = 0,
        attributes: Attributes = Attributes(AttributeFlags.INITTED | AttributeFlags.MODE64BIT, 0x7),
        report_data: bytes = bytes(64),
        cpu_svn: bytes = bytes(16),
        misc_select: int = 0,
    ) -> ReportBody:
        """A report body with the given identity and every other field zero."""
        return cls(
            cpu_svn=cpu_svn, misc_select=misc_select, reserved1=bytes(12), isv_ext_prod_id=bytes(16),
            attributes=attributes, mr_enclave=mr_enclave, reserved2=bytes(32), mr_signer=mr_signer,
            reserved3=bytes(32), config_id=bytes(64), isv_prod_id=isv_prod_id, isv_svn=isv_svn,
            config_svn=0, reserved4=bytes(42), isv_family_id=bytes(16), report_data=report_data,
        )

    @classmethod
    def parse(cls, data: bytes) -> ReportBody:
        r = Reader("report_body", data)
        body = cls.read(r)
        r.end()
        return body

    @classmethod
    def read(cls, r: Reader) -> ReportBody:
        """Read a report body from inside a larger structure, in one unpack."""
        if r.remaining < REPORT_BODY_SIZE:  # cut short: taken field by field, so the error names the field cut off
            for name, size in _FIELDS:
                r.take(name, size)
        (cpu_svn, misc_select, reserved1, isv_ext_prod_id, flags, xfrm, mr_enclave, reserved2, mr_signer, reserved3,
         config_id, isv_prod_id, isv_svn, config_svn, reserved4, isv_family_id, report_data,
         ) = _LAYOUT.unpack(r.take("report_body", REPORT_BODY_SIZE))
        return cls(cpu_svn, misc_select, reserved1, isv_ext_prod_id, Attributes(flags, xfrm), mr_enclave, reserved2,
                   mr_signer, reserved3, config_id, isv_prod_id, isv_svn, config_svn, reserved4, isv_family_id,
                   report_data)

    def to_bytes(self) -> bytes:
        return _LAYOUT.pack(
            self.cpu_svn, self.misc_select, self.reserved1, self.isv_ext_prod_id, self.attributes.flags,
            self.attributes.xfrm, self.mr_enclave, self.reserved2, self.mr_signer, self.reserved3, self.config_id,
            self.isv_prod_id, self.isv_svn, self.config_svn, self.reserved4, self.isv_family_id, self.report_data,
        )
