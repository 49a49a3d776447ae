"""Local attestation structures, byte for byte as the SGX SDK lays them out (all packed, little-endian).

Sources, read with the project's code search (intel/linux-sgx; sgx_dh.h and ec_dh.cpp at 0fa8c58,
SampleCode/LocalAttestation at 4589dad / 26c4589 / 7c2e2f9): ``common/inc/sgx_report.h`` (``sgx_target_info_t`` 512 bytes,
``sgx_report_t`` 432 = body 384 + key_id 32 + mac 16), ``common/inc/sgx_dh.h``
(``sgx_dh_msg1_t`` 576 = g_a 64 + target 512; ``sgx_dh_msg2_t`` 512 = g_b 64 + report
432 + cmac 16; ``sgx_dh_msg3_t`` 452 + n = cmac 16 + {report 432, additional_prop_length
u32, additional_prop[n]}), ``sdk/tseal`` / ``sgx_tseal.h`` (``sgx_aes_gcm_data_t``) and
``SampleCode/LocalAttestation/Include/datatypes.h`` (``secure_message_t``), and from
intel/SGXDataCenterAttestationPrimitives ``sgx_ql_quote.h`` (``sgx_ql_qe_report_info_t``
960 = nonce 16 + target 512 + report 432).
"""

from __future__ import annotations

from dataclasses import dataclass

from sgxra.errors import MalformedMessage
from sgxra.wire._codec import Reader, check_len, check_uint, u16, u32
from sgxra.wire.report_body import Attributes, ReportBody

TARGET_INFO_SIZE = 512
REPORT_SIZE = 432
KEY_ID_SIZE = 32
MAC_SIZE = 16
POINT_SIZE = 64
DH_MSG1_SIZE = POINT_SIZE + TARGET_INFO_SIZE  # 576
DH_MSG2_SIZE = POINT_SIZE + REPORT_SIZE + MAC_SIZE  # 512
DH_MSG3_FIXED_SIZE = MAC_SIZE + REPORT_SIZE + 4  # 452, then additional_prop
MAX_ADDITIONAL_PROP = 64 * 1024  # the SDK allows up to UINT_MAX; nothing real sends more than a few bytes
SECURE_MESSAGE_HEADER_SIZE = 4 + 4 + 12 + 16  # session_id, payload_size, reserved (the IV), payload_tag
MAX_SECURE_PAYLOAD = 1024 * 1024
QE_REPORT_INFO_SIZE = 16 + TARGET_INFO_SIZE + REPORT_SIZE  # 960
KDF_ID_AES_CMAC = 1  # report_data[32:34] of msg2's REPORT: "AES-CMAC entropy extraction and key derivation"


@dataclass(frozen=True)
class TargetInfo:
    """sgx_target_info_t: who a REPORT is for. ``reserved1[0]`` carries CET_ATTRIBUTES (LAv2 target_spec)."""

    mr_enclave: bytes
    attributes: Attributes
    reserved1: bytes
    config_svn: int
    misc_select: int
    reserved2: bytes
    config_id: bytes
    reserved3: bytes

    _SIZES = {"mr_enclave": 32, "reserved1": 2, "reserved2": 8, "config_id": 64, "reserved3": 384}

    def __post_init__(self) -> None:
        for name, size in self._SIZES.items():
            check_len("target_info", name, getattr(self, name), size)
        check_uint("target_info", "config_svn", self.config_svn, 16)
        check_uint("target_info", "misc_select", self.misc_select, 32)

    @classmethod
    def from_report_body(cls, body: ReportBody) -> TargetInfo:
        """What the SDK's make_target_info copies from a self-report (ec_dh.cpp, LAv2 proto_spec's target_spec):
        MRENCLAVE, ATTRIBUTES, CET_ATTRIBUTES (body byte 20), CONFIGSVN, MISCSELECT and CONFIGID."""
        return cls(body.mr_enclave, body.attributes, body.reserved1[:1] + bytes(1), body.config_svn,
                   body.misc_select, bytes(8), body.config_id, bytes(384))

    @classmethod
    def parse(cls, data: bytes) -> TargetInfo:
        r = Reader("target_info", data)
        info = cls.read(r)
        r.end()
        return info

    @classmethod
    def read(cls, r: Reader) -> TargetInfo:
        return cls(
            mr_enclave=r.take("mr_enclave", 32),
            attributes=Attributes(r.u64("attributes.flags"), r.u64("attributes.xfrm")),
            reserved1=r.take("reserved1", 2), config_svn=r.u16("config_svn"), misc_select=r.u32("misc_select"),
            reserved2=r.take("reserved2", 8), config_id=r.take("config_id", 64), reserved3=r.take("reserved3", 384),
        )

    def to_bytes(self) -> bytes:
        return b"".join((self.mr_enclave, self.attributes.to_bytes(), self.reserved1, u16(self.config_svn),
                         u32(self.misc_select), self.reserved2, self.config_id, self.reserved3))


@dataclass(frozen=True)
class Report:
    """sgx_report_t: the body, the key id the MAC key was derived with, and the MAC (AES-CMAC over the body)."""

    body: ReportBody
    key_id: bytes
    mac: bytes

    def __post_init__(self) -> None:
        check_len("report", "key_id", self.key_id, KEY_ID_SIZE)
        check_len("report", "mac", self.mac, MAC_SIZE)

    @classmethod
    def parse(cls, data: bytes) -> Report:
        r = Reader("report", data)
        report = cls.read(r)
        r.end()
        return report

    @classmethod
    def read(cls, r: Reader) -> Report:
        return cls(ReportBody.read(r), r.take("key_id", KEY_ID_SIZE), r.take("mac", MAC_SIZE))

    def to_bytes(self) -> bytes:
        return self.body.to_bytes() + self.key_id + self.mac


@dataclass(frozen=True)
class DhMsg1:
    """sgx_dh_msg1_t (responder to initiator): g_a and the responder's TARGETINFO."""

    g_a: bytes
    target: TargetInfo

    def __post_init__(self) -> None:
        check_len("dh_msg1", "g_a", self.g_a, POINT_SIZE)

    @classmethod
    def parse(cls, data: bytes) -> DhMsg1:
        r = Reader("dh_msg1", data)
        msg = cls(r.take("g_a", POINT_SIZE), TargetInfo.read(r))
        r.end()
        return msg

    def to_bytes(self) -> bytes:
        return self.g_a + self.target.to_bytes()


@dataclass(frozen=True)
class DhMsg2:
    """sgx_dh_msg2_t (initiator to responder): g_b, the initiator's REPORT for the responder, CMAC-SMK over the REPORT."""

    g_b: bytes
    report: Report
    cmac: bytes

    def __post_init__(self) -> None:
        check_len("dh_msg2", "g_b", self.g_b, POINT_SIZE)
        check_len("dh_msg2", "cmac", self.cmac, MAC_SIZE)

    @classmethod
    def parse(cls, data: bytes) -> DhMsg2:
        r = Reader("dh_msg2", data)
        msg = cls(r.take("g_b", POINT_SIZE), Report.read(r), r.take("cmac", MAC_SIZE))
        r.end()
        return msg

    def to_bytes(self) -> bytes:
        return self.g_b + self.report.to_bytes() + self.cmac


@dataclass(frozen=True)
class DhMsg3:
    """sgx_dh_msg3_t (responder to initiator): CMAC-SMK over msg3_body, then msg3_body {REPORT, length, properties}."""

    cmac: bytes
    report: Report
    additional_prop: bytes = b""

    def __post_init__(self) -> None:
        check_len("dh_msg3", "cmac", self.cmac, MAC_SIZE)
        if len(self.additional_prop) > MAX_ADDITIONAL_PROP:
            raise MalformedMessage("dh_msg3", "additional_prop", DH_MSG3_FIXED_SIZE,
                                   f"longer than {MAX_ADDITIONAL_PROP} bytes")

    @classmethod
    def parse(cls, data: bytes) -> DhMsg3:
        r = Reader("dh_msg3", data)
        cmac, report = r.take("cmac", MAC_SIZE), Report.read(r)
        length = r.u32("additional_prop_length")
        if length > MAX_ADDITIONAL_PROP:
            raise r.error("additional_prop_length", f"{length} exceeds {MAX_ADDITIONAL_PROP}", r.offset - 4)
        msg = cls(cmac, report, r.take("additional_prop", length))
        r.end()
        return msg

    def body_bytes(self) -> bytes:
        """msg3_body with its properties: what the CMAC covers (436 + n bytes)."""
        return self.report.to_bytes() + u32(len(self.additional_prop)) + self.additional_prop

    def to_bytes(self) -> bytes:
        return self.cmac + self.body_bytes()


@dataclass(frozen=True)
class SecureMessage:
    """secure_message_t of the LocalAttestation sample: session_id, then sgx_aes_gcm_data_t
    {payload_size, reserved[12] (the AES-GCM IV: the message counter, u32, then zeros), payload_tag, payload}."""

    session_id: int
    iv: bytes
    tag: bytes
    payload: bytes

    def __post_init__(self) -> None:
        check_uint("secure_message", "session_id", self.session_id, 32)
        check_len("secure_message", "reserved", self.iv, 12)
        check_len("secure_message", "payload_tag", self.tag, 16)
        if len(self.payload) > MAX_SECURE_PAYLOAD:
            raise MalformedMessage("secure_message", "payload", SECURE_MESSAGE_HEADER_SIZE,
                                   f"longer than {MAX_SECURE_PAYLOAD} bytes")

    @property
    def counter(self) -> int:
        return int.from_bytes(self.iv[:4], "little")

    @classmethod
    def parse(cls, data: bytes) -> SecureMessage:
        r = Reader("secure_message", data)
        session_id, size = r.u32("session_id"), r.u32("payload_size")
        if size > MAX_SECURE_PAYLOAD:
            raise r.error("payload_size", f"{size} exceeds {MAX_SECURE_PAYLOAD}", 4)
        iv, tag = r.take("reserved", 12), r.take("payload_tag", 16)
        msg = cls(session_id, iv, tag, r.take("payload", size))
        r.end()
        return msg

    def to_bytes(self) -> bytes:
        return u32(self.session_id) + u32(len(self.payload)) + self.iv + self.tag + self.payload


@dataclass(frozen=True)
class QeReportInfo:
    """sgx_ql_qe_report_info_t: the caller's nonce and TARGETINFO in, the QvE's (or QE's) REPORT out."""

    nonce: bytes
    app_enclave_target_info: TargetInfo
    qe_report: Report

    def __post_init__(self) -> None:
        check_len("qe_report_info", "nonce", self.nonce, 16)

    @classmethod
    def parse(cls, data: bytes) -> QeReportInfo:
        r = Reader("qe_report_info", data)
        info = cls(r.take("nonce", 16), TargetInfo.read(r), Report.read(r))
        r.end()
        return info

    def to_bytes(self) -> bytes:
        return self.nonce + self.app_enclave_target_info.to_bytes() + self.qe_report.to_bytes()

