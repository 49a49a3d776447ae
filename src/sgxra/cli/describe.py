"""Structures as JSON-ready dicts with the SDK's field names (bytes as lowercase hex)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from sgxra.cli.inputs import QUOTE, Shape
from sgxra.errors import MalformedMessage
from sgxra.wire import (
    EpidQuote,
    Msg0Msg1,
    Msg2,
    Msg3,
    Msg4,
    PlatformInfoBlob,
    ReportBody,
)
from sgxra.wire.any_quote import parse_quote
from sgxra.wire.dcap_quote import CERT_TYPE_NAMES, DcapQuote
from sgxra.wire.pck_extension import PckExtension
from sgxra.wire.platform_info import PIB_SIZE, PIB_TLV_TYPE
from sgxra.wire.report_body import Attributes


def to_json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Attributes):
        return {"flags": value.flags, "xfrm": value.xfrm, "flag_names": list(value.flag_names), "debug": value.debug}
    if isinstance(value, PlatformInfoBlob):
        plain = {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return plain | {"flag_names": {k: list(v) for k, v in value.flag_names.items()}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _quote(data: bytes) -> dict[str, Any]:
    """An EPID quote, or a DCAP quote with its report body and PCK certificate's SGX extension."""
    quote = parse_quote(data)
    if isinstance(quote, EpidQuote):
        described: dict[str, Any] = to_json_value(quote)
        described["signature_len"] = len(quote.signature)
        return described
    qe = quote.qe
    return {
        "header": to_json_value(quote.header),
        "report_body" if isinstance(quote.body, ReportBody) else "td_report": to_json_value(quote.body),
        "isv_signature": quote.isv_signature.hex(),
        "attestation_key": quote.attestation_key.hex(),
        "qe_report": to_json_value(qe.qe_report),
        "qe_report_signature": qe.qe_report_signature.hex(),
        "qe_auth_data": qe.qe_auth_data.hex(),
        "certification_data": _certification_data(quote),
        "trailing_bytes": len(quote.trailing),  # after the signature data: unsigned, never interpreted
        "trailing_all_zero": not quote.trailing.strip(b"\x00"),
    }


def _certification_data(quote: DcapQuote) -> dict[str, Any]:
    """What the quote carries to identify its PCK: the chain and its SGX extension, or else the raw data.

    Shown whatever it holds (another type, or a chain that does not parse):
    inspecting never needs the certificates to be well formed.
    """
    cert = quote.qe.certification_data
    described: dict[str, Any] = {
        "type": cert.cert_type, "type_name": CERT_TYPE_NAMES.get(cert.cert_type, "unknown"), "size": len(cert.data),
    }
    try:
        chain = quote.pck_chain()
        described["certificates"] = [c.subject.rfc4514_string() for c in chain]
        described["pck"] = to_json_value(PckExtension.from_certificate(chain[0])) if chain else None
    except MalformedMessage as e:
        described |= {"unusable": str(e), "data": cert.data.hex()}
    return described


def _msg0msg1(data: bytes) -> dict[str, Any]:
    msg = Msg0Msg1.parse(data)
    return {"extended_epid_group_id": msg.msg0.extended_epid_group_id, **to_json_value(msg.msg1)}


def _msg2(data: bytes) -> dict[str, Any]:
    msg = Msg2.parse(data)
    described: dict[str, Any] = to_json_value(msg)
    described["sig_rl_size"] = len(msg.sig_rl)
    return described


def _msg3(data: bytes) -> dict[str, Any]:
    msg = Msg3.parse(data)
    return {"mac": msg.mac.hex(), "g_a": msg.g_a.hex(), "ps_sec_prop": msg.ps_sec_prop.hex(), "quote": _quote(msg.quote)}


def _msg4(data: bytes) -> dict[str, Any]:
    msg = Msg4.parse(data)
    return {"status": msg.status.name, "status_code": int(msg.status),
            "platform_info_blob": to_json_value(msg.platform_info_blob)}


def _pib(data: bytes) -> dict[str, Any]:
    """The TLV as IAS sends it, or the bare 101-byte blob."""
    if len(data) == PIB_SIZE:
        pib = PlatformInfoBlob.parse(data)
    elif data[:1] == bytes((PIB_TLV_TYPE,)):
        pib = PlatformInfoBlob.parse_tlv(data)
    else:
        raise MalformedMessage("platform_info_blob", "<input>", 0,
                               f"expected {PIB_SIZE} bytes or a TLV starting with 0x{PIB_TLV_TYPE:02x}")
    described: dict[str, Any] = to_json_value(pib)
    return described


def _report_body(data: bytes) -> dict[str, Any]:
    described: dict[str, Any] = to_json_value(ReportBody.parse(data))
    return described


DESCRIBERS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "msg0msg1": _msg0msg1,
    "msg2": _msg2,
    "msg3": _msg3,
    "msg4": _msg4,
    "quote": _quote,
    "report-body": _report_body,
    "pib": _pib,
}


def _u32_at(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


# What each kind looks like, so that its base64 is told from mistyped hex (see cli.inputs).
SHAPES: dict[str, Shape] = {
    "msg0msg1": Shape("msg0||msg1 (72 bytes)", lambda b: len(b) == 72),
    "msg2": Shape("msg2 (168 bytes and its SigRL)", lambda b: len(b) >= 168 and len(b) - 168 == _u32_at(b, 164)),
    "msg3": Shape("msg3 (336 bytes, then a quote)", lambda b: QUOTE.fits(b[336:])),
    "msg4": Shape("msg4 (105 bytes)", lambda b: len(b) == 4 + PIB_SIZE),
    "quote": QUOTE,
    "report-body": Shape("a report body (384 bytes)", lambda b: len(b) == 384),
    "pib": Shape("a platform info blob (101 bytes, or 105 as a TLV)", lambda b: len(b) in (PIB_SIZE, PIB_SIZE + 4)),
}


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Dotted name / value pairs, for the sample-style text listing."""
    if isinstance(obj, dict):
        rows: list[tuple[str, str]] = []
        for key, value in obj.items():
            rows += flatten(value, f"{prefix}.{key}" if prefix else key)
        return rows
    if isinstance(obj, (list, tuple)):
        return [(prefix, ", ".join(map(str, obj)) or "-")]
    return [(prefix, str(obj))]
