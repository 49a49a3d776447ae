"""DCAP (ECDSA) quotes: version 3 (SGX), 4 (SGX and TDX) and 5 (TDX), with their signature data.

Layout (all little-endian)::

    header 48: version u16, att_key_type u16 (2 = ECDSA P-256), tee_type u32
               (v3: reserved, 0), qe_svn u16, pce_svn u16, qe_vendor_id 16, user_data 20
    v5 only:   body_type u16 (1 SGX, 2 TD 1.0, 3 TD 1.5), body_size u32
    body:      SGX report body 384, or TD report 584 / 648
    sig_data_len u32, then
      isv_signature 64 (r || s, big-endian, over everything before sig_data_len)
      attestation_key 64 (x || y, big-endian)
      v3:    qe_report 384, qe_report_signature 64, qe_auth_data (u16 size + data),
             certification data (type u16, size u32, data)
      v4/v5: certification data of type 6 whose data is the v3 tail above
    trailing:  anything after the signature data (real TDX quotes arrive zero-padded
               to a fixed buffer, e.g. 8000 bytes); no signature covers it and it is
               never interpreted, only kept so that ``to_bytes()`` gives back the input
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509

from sgxra.errors import MalformedMessage
from sgxra.wire._codec import Reader, check_len, u16, u32
from sgxra.wire.certificates import checked_pem_chain
from sgxra.wire.report_body import REPORT_BODY_SIZE, ReportBody
from sgxra.wire.td_report import TD10_SIZE, TD15_SIZE, TdReport

HEADER_SIZE = 48
ATT_KEY_TYPE_ECDSA_P256 = 2
TEE_TYPE_SGX = 0x00000000
TEE_TYPE_TDX = 0x00000081
INTEL_QE_VENDOR_ID = bytes.fromhex("939A7233F79C4CA9940A0DB3957F0607")
CERT_TYPE_PCK_CHAIN = 5
CERT_TYPE_QE_REPORT = 6
# Intel's names for the certification data types (the quote format's QE certification data).
CERT_TYPE_NAMES = {
    1: "PPID in clear text", 2: "PPID encrypted with RSA-2048-OAEP", 3: "PPID encrypted with RSA-3072-OAEP",
    4: "PCK certificate in clear text", 5: "PCK certificate chain (PEM)", 6: "QE report certification data",
    7: "platform manifest",
}
BODY_TYPE_SGX, BODY_TYPE_TD10, BODY_TYPE_TD15 = 1, 2, 3
_BODY_SIZES = {BODY_TYPE_SGX: REPORT_BODY_SIZE, BODY_TYPE_TD10: TD10_SIZE, BODY_TYPE_TD15: TD15_SIZE}
MAX_CERT_DATA = 64 * 1024
MAX_SIG_DATA = 128 * 1024
MAX_TRAILING = 1024 * 1024  # padding seen in practice fills a buffer of a few kilobytes
STRUCT = "dcap_quote"


@dataclass(frozen=True)
class QuoteHeader:
    version: int
    att_key_type: int
    tee_type: int
    qe_svn: int
    pce_svn: int
    qe_vendor_id: bytes
    user_data: bytes

    def __post_init__(self) -> None:
        check_len(STRUCT, "qe_vendor_id", self.qe_vendor_id, 16)
        check_len(STRUCT, "user_data", self.user_data, 20)

    def to_bytes(self) -> bytes:
        return (u16(self.version) + u16(self.att_key_type) + u32(self.tee_type) + u16(self.qe_svn)
                + u16(self.pce_svn) + self.qe_vendor_id + self.user_data)


@dataclass(frozen=True)
class CertificationData:
    cert_type: int
    data: bytes

    @classmethod
    def read(cls, r: Reader, field: str) -> CertificationData:
        cert_type = r.u16(f"{field}.type")
        size = r.u32(f"{field}.size")
        if size > MAX_CERT_DATA:
            raise r.error(f"{field}.size", f"{size} exceeds {MAX_CERT_DATA}", r.offset - 4)
        return cls(cert_type, r.take(f"{field}.data", size))

    def to_bytes(self) -> bytes:
        return u16(self.cert_type) + u32(len(self.data)) + self.data


@dataclass(frozen=True)
class QeReportCertificationData:
    """The QE's report, signed by the PCK key, and the PCK certification data."""

    qe_report: ReportBody
    qe_report_signature: bytes
    qe_auth_data: bytes
    certification_data: CertificationData

    def __post_init__(self) -> None:
        check_len(STRUCT, "qe_report_signature", self.qe_report_signature, 64)
        if len(self.qe_auth_data) > 0xFFFF:
            raise MalformedMessage(STRUCT, "qe_auth_data", 0, "longer than a u16 size allows")

    @classmethod
    def read(cls, r: Reader) -> QeReportCertificationData:
        start = r.offset
        qe_report = ReportBody.read(r)
        report_bytes = r.data[start : r.offset]
        signature = r.take("qe_report_signature", 64)
        auth = r.take("qe_auth_data", r.u16("qe_auth_data.size"))
        return _with_bytes(cls(qe_report, signature, auth, CertificationData.read(r, "certification_data")), report_bytes)

    def qe_report_bytes(self) -> bytes:
        """What the QE report signature covers: the report's bytes as received (as built, when built in code)."""
        return _bytes_as_read(self) or self.qe_report.to_bytes()

    def to_bytes(self) -> bytes:
        return (self.qe_report.to_bytes() + self.qe_report_signature + u16(len(self.qe_auth_data))
                + self.qe_auth_data + self.certification_data.to_bytes())


@dataclass(frozen=True)
class DcapQuote:
    """A DCAP quote (v3 SGX, v4 SGX or TDX, v5 TDX): header, report or TD body, signature data, PCK chain."""
    header: QuoteHeader
    body_type: int
    body: ReportBody | TdReport
    isv_signature: bytes
    attestation_key: bytes
    qe: QeReportCertificationData
    trailing: bytes = field(default=b"", repr=False)  # unsigned bytes after the signature data

    def __post_init__(self) -> None:
        check_len(STRUCT, "isv_signature", self.isv_signature, 64)
        check_len(STRUCT, "attestation_key", self.attestation_key, 64)
        if len(self.trailing) > MAX_TRAILING:
            raise MalformedMessage(STRUCT, "<trailing>", 0, f"{len(self.trailing)} bytes exceeds {MAX_TRAILING}")

    @property
    def version(self) -> int:
        return self.header.version

    @property
    def is_tdx(self) -> bool:
        return self.header.tee_type == TEE_TYPE_TDX

    @property
    def pck_chain_pem(self) -> bytes:
        """The PEM PCK chain, every certificate in it checked to be well formed (see ``wire.certificates``)."""
        self.pck_chain()
        return self.qe.certification_data.data

    def pck_chain(self) -> tuple[x509.Certificate, ...]:
        """The PCK certificates the quote carries, leaf first; refused when the quote carries none."""
        cert = self.qe.certification_data
        if cert.cert_type != CERT_TYPE_PCK_CHAIN:
            name = CERT_TYPE_NAMES.get(cert.cert_type, "unknown type")
            raise MalformedMessage(
                STRUCT, "certification_data.type", 0,
                f"type {cert.cert_type} ({name}) is not a PCK certificate chain (type 5): this quote does not "
                "carry the PCK certificates that verification needs",
            )
        return checked_pem_chain(cert.data, "PCK certificate chain")

    @classmethod
    def parse(cls, data: bytes) -> DcapQuote:
        r = Reader(STRUCT, data)
        version = r.u16("version")
        if version not in (3, 4, 5):
            raise r.error("version", f"DCAP quote version must be 3, 4 or 5, got {version}", 0)
        att_key_type = r.u16("att_key_type")
        if att_key_type != ATT_KEY_TYPE_ECDSA_P256:
            raise r.error("att_key_type", f"only ECDSA P-256 (2) is supported, got {att_key_type}", 2)
        tee_type = r.u32("tee_type")
        if tee_type not in (TEE_TYPE_SGX, TEE_TYPE_TDX) or (version == 3 and tee_type != TEE_TYPE_SGX):
            raise r.error("tee_type", f"0x{tee_type:x} is not valid in a version {version} quote", 4)
        header = QuoteHeader(version, att_key_type, tee_type, r.u16("qe_svn"), r.u16("pce_svn"),
                             r.take("qe_vendor_id", 16), r.take("user_data", 20))
        body_type = cls._body_type(r, version, tee_type)
        body: ReportBody | TdReport = (
            ReportBody.read(r) if body_type == BODY_TYPE_SGX else TdReport.read(r, _BODY_SIZES[body_type])
        )
        sig_start = r.offset + 4
        sig_len = r.u32("sig_data_len")
        if sig_len > MAX_SIG_DATA:
            raise r.error("sig_data_len", f"{sig_len} exceeds {MAX_SIG_DATA}", sig_start - 4)
        if sig_len > r.remaining:
            raise r.error("sig_data_len", f"{sig_len} exceeds the {r.remaining} bytes that follow", sig_start - 4)
        s = Reader(STRUCT, data[: sig_start + sig_len])  # the signature data must fill exactly sig_data_len
        s.offset = sig_start
        isv_signature = s.take("isv_signature", 64)
        attestation_key = s.take("attestation_key", 64)
        if version == 3:
            qe = QeReportCertificationData.read(s)
        else:
            outer = CertificationData.read(s, "qe_certification_data")
            if outer.cert_type != CERT_TYPE_QE_REPORT:
                raise s.error("qe_certification_data.type", f"must be 6, got {outer.cert_type}", s.offset - len(outer.data) - 6)
            inner = Reader(STRUCT + ".qe_certification_data", outer.data)
            qe = QeReportCertificationData.read(inner)
            inner.end()
        s.end()
        r.offset = s.offset
        trailing = r.rest("<trailing>")
        if len(trailing) > MAX_TRAILING:
            raise r.error("<trailing>", f"{len(trailing)} bytes after the signature data exceeds {MAX_TRAILING}", s.offset)
        quote = cls(header, body_type, body, isv_signature, attestation_key, qe, trailing)
        return _with_bytes(quote, r.data[: sig_start - 4])

    @staticmethod
    def _body_type(r: Reader, version: int, tee_type: int) -> int:
        if version < 5:
            return BODY_TYPE_TD10 if tee_type == TEE_TYPE_TDX else BODY_TYPE_SGX
        body_type = r.u16("body_type")
        if body_type not in _BODY_SIZES:
            raise r.error("body_type", f"unknown body type {body_type}", HEADER_SIZE)
        size = r.u32("body_size")
        if size != _BODY_SIZES[body_type]:
            raise r.error("body_size", f"body type {body_type} is {_BODY_SIZES[body_type]} bytes, not {size}", HEADER_SIZE + 2)
        return body_type

    def signed_bytes(self) -> bytes:
        """What the ISV signature covers: header and body (with v5's body descriptor), as received."""
        as_read = _bytes_as_read(self)
        if as_read:
            return as_read
        descriptor = u16(self.body_type) + u32(len(self.body.to_bytes())) if self.version == 5 else b""
        return self.header.to_bytes() + descriptor + self.body.to_bytes()

    def to_bytes(self) -> bytes:
        qe = self.qe.to_bytes()
        tail = qe if self.version == 3 else CertificationData(CERT_TYPE_QE_REPORT, qe).to_bytes()
        sig_data = self.isv_signature + self.attestation_key + tail
        return self.signed_bytes() + u32(len(sig_data)) + sig_data + self.trailing


# A parsed quote keeps the exact bytes its signatures cover, so they are sliced rather than re-serialised. They sit
# outside the dataclass fields (not compared, not shown, not copied by dataclasses.replace, which builds anew).
_AS_READ = "_bytes_as_read"
Q = TypeVar("Q", DcapQuote, QeReportCertificationData)


def _with_bytes(value: Q, data: bytes) -> Q:
    object.__setattr__(value, _AS_READ, data)
    return value


def _bytes_as_read(value: DcapQuote | QeReportCertificationData) -> bytes | None:
    data: bytes | None = value.__dict__.get(_AS_READ)
    return data
