"""sgx_quote_t: the EPID quote (versions 1 and 2) as the quoting enclave emits it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sgxra.errors import MalformedMessage
from sgxra.wire._codec import Reader, check_len, check_uint, u16, u32
from sgxra.wire.report_body import REPORT_BODY_SIZE, ReportBody

QUOTE_HEADER_SIZE = 48
# What IAS echoes as isvEnclaveQuoteBody: header and report body, no signature.
QUOTE_BODY_SIZE = QUOTE_HEADER_SIZE + REPORT_BODY_SIZE
# Real EPID signatures are under 1 KiB plus the SigRL proofs; 64 KiB bounds any honest quote.
MAX_SIGNATURE_SIZE = 64 * 1024


class QuoteSignType(enum.IntEnum):
    """EPID signature kind: unlinkable or linkable (name-based)."""
    UNLINKABLE = 0
    LINKABLE = 1


@dataclass(frozen=True)
class EpidQuote:
    """An EPID quote (version 1 or 2): header, report body and signature."""
    version: int
    sign_type: QuoteSignType
    epid_group_id: bytes
    qe_svn: int
    pce_svn: int
    xeid: int
    basename: bytes
    report_body: ReportBody
    signature: bytes

    VERSIONS = (1, 2)

    def __post_init__(self) -> None:
        if self.version not in self.VERSIONS:
            raise MalformedMessage("quote", "version", 0, f"EPID quote version must be 1 or 2, got {self.version}")
        check_len("quote", "epid_group_id", self.epid_group_id, 4)
        check_len("quote", "basename", self.basename, 32)
        check_uint("quote", "qe_svn", self.qe_svn, 16)
        check_uint("quote", "pce_svn", self.pce_svn, 16)
        check_uint("quote", "xeid", self.xeid, 32)
        if len(self.signature) > MAX_SIGNATURE_SIZE:
            raise MalformedMessage("quote", "signature", QUOTE_BODY_SIZE + 4, "signature too large")

    @property
    def gid(self) -> int:
        """The EPID group id as the u32 IAS expects (read little-endian)."""
        return int.from_bytes(self.epid_group_id, "little")

    @classmethod
    def parse(cls, data: bytes) -> EpidQuote:
        r = Reader("quote", data)
        version = r.u16("version")
        if version not in cls.VERSIONS:
            raise r.error("version", f"EPID quote version must be 1 or 2, got {version}", 0)
        sign_type = r.u16("sign_type")
        if sign_type not in (0, 1):
            raise r.error("sign_type", f"must be 0 (unlinkable) or 1 (linkable), got {sign_type}", 2)
        epid_group_id = r.take("epid_group_id", 4)
        qe_svn = r.u16("qe_svn")
        pce_svn = r.u16("pce_svn")
        xeid = r.u32("xeid")
        basename = r.take("basename", 32)
        report_body = ReportBody.read(r)
        size = r.u32("signature_len")
        if size > MAX_SIGNATURE_SIZE:
            raise r.error("signature_len", f"{size} exceeds the limit of {MAX_SIGNATURE_SIZE}", r.offset - 4)
        signature = r.take("signature", size)
        r.end()
        return cls(version, QuoteSignType(sign_type), epid_group_id, qe_svn, pce_svn, xeid, basename,
                   report_body, signature)

    def body_bytes(self) -> bytes:
        """The first 432 bytes: the part the signature covers and IAS echoes."""
        return b"".join((
            u16(self.version), u16(self.sign_type), self.epid_group_id, u16(self.qe_svn),
            u16(self.pce_svn), u32(self.xeid), self.basename, self.report_body.to_bytes(),
        ))

    def to_bytes(self) -> bytes:
        return self.body_bytes() + u32(len(self.signature)) + self.signature
