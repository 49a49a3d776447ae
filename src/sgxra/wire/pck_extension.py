"""The SGX extension (OID 1.2.840.113741.1.13.1) of Intel's PCK certificates."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from cryptography import x509

from sgxra.errors import MalformedMessage
from sgxra.wire import der
from sgxra.wire.certificates import PYCA_ERRORS
from sgxra.wire.memo import Memo

SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
_SGX_OID = x509.ObjectIdentifier(SGX_EXTENSION_OID)
STRUCT = "pck_sgx_extension"
_PPID, _TCB, _PCEID, _FMSPC, _SGX_TYPE, _INSTANCE, _CONFIG = (f"{SGX_EXTENSION_OID}.{i}" for i in range(1, 8))
_PCESVN, _CPUSVN = f"{_TCB}.17", f"{_TCB}.18"
_CONFIG_FLAGS = {f"{_CONFIG}.1": "dynamic_platform", f"{_CONFIG}.2": "cached_keys", f"{_CONFIG}.3": "smt_enabled"}


class SgxType(enum.IntEnum):
    """The PCK certificate's SGX type."""
    Standard = 0
    Scalable = 1
    ScalableWithIntegrity = 2


@dataclass(frozen=True)
class PlatformConfiguration:
    """A Platform CA PCK's configuration flags (None: not stated)."""
    dynamic_platform: bool | None
    cached_keys: bool | None
    smt_enabled: bool | None


@dataclass(frozen=True)
class PckExtension:
    """The SGX extension of a PCK certificate: PPID, TCB, PCE-ID, FMSPC, type, instance."""
    ppid: bytes
    tcb_components: tuple[int, ...]  # the 16 SGX TCB component SVNs
    pcesvn: int
    cpusvn: bytes
    pce_id: bytes
    fmspc: bytes
    sgx_type: SgxType
    platform_instance_id: bytes | None = None
    configuration: PlatformConfiguration | None = None

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> PckExtension:
        try:
            ext = cert.extensions.get_extension_for_oid(_SGX_OID)
        except x509.ExtensionNotFound:
            raise MalformedMessage(STRUCT, "<extension>", 0, "PCK certificate has no SGX extension") from None
        except PYCA_ERRORS as e:  # another extension is malformed or repeated
            raise MalformedMessage(STRUCT, "<extensions>", 0, f"PCK certificate extensions: {type(e).__name__}: {e}") from None
        value = ext.value
        if not isinstance(value, x509.UnrecognizedExtension):
            raise MalformedMessage(STRUCT, "<extension>", 0, "unexpected extension type")
        return cls.parse(value.value)

    @classmethod
    def parse(cls, data: bytes) -> PckExtension:
        """Read in one pass over ``data``, by offsets (no copies, OIDs compared as their DER bytes);
        remembered per input (a platform's PCK certificate comes with each of its quotes)."""
        known = _PARSED.get(data)
        return known if known is not None else _PARSED.put(data, cls._parse(data))

    @classmethod
    def _parse(cls, data: bytes) -> PckExtension:
        tag, start, end = der.span(data, 0, len(data), STRUCT)
        if end != len(data):
            raise MalformedMessage(STRUCT, "<der>", end, "expected one SEQUENCE")
        members = _members(data, tag, start, end, "<root>")
        tcb_tag, tcb_start, tcb_end = _need(members, _TCB)
        canonical = _canonical_components(data, tcb_tag, tcb_start, tcb_end)
        if canonical is not None:
            components, tcb = canonical
        else:
            tcb = _members(data, tcb_tag, tcb_start, tcb_end, "tcb")
            components = tuple(_uint(data, _need(tcb, oid), INTEGER, field) for oid, field in _COMPONENTS)
        pcesvn = _uint(data, _need(tcb, _PCESVN), INTEGER, "pcesvn")
        sgx_type = _uint(data, _need(members, _SGX_TYPE), der.ENUMERATED, "sgx_type")
        if sgx_type not in SgxType._value2member_map_:
            raise MalformedMessage(STRUCT, "sgx_type", 0, f"unknown SGX type {sgx_type}")
        instance = members.get(_KEYS[_INSTANCE])
        config = members.get(_KEYS[_CONFIG])
        return cls(
            ppid=_octets(data, members, _PPID, "ppid", 16),
            tcb_components=components,
            pcesvn=pcesvn,
            cpusvn=_octets(data, tcb, _CPUSVN, "cpusvn", 16),
            pce_id=_octets(data, members, _PCEID, "pce_id", 2),
            fmspc=_octets(data, members, _FMSPC, "fmspc", 6),
            sgx_type=SgxType(sgx_type),
            platform_instance_id=_value(data, instance, der.OCTET_STRING, "platform_instance_id") if instance else None,
            configuration=_configuration(data, config) if config else None,
        )

    def to_der(self) -> bytes:
        """DER of the extension's value, as a PCK certificate carries it."""
        def member(oid: str, value: bytes) -> bytes:
            return der.sequence(der.encode_oid(oid), value)

        tcb = [member(f"{_TCB}.{i + 1}", der.encode_uint(der.INTEGER, svn)) for i, svn in enumerate(self.tcb_components)]
        tcb += [member(_PCESVN, der.encode_uint(der.INTEGER, self.pcesvn)),
                member(_CPUSVN, der.encode(der.OCTET_STRING, self.cpusvn))]
        items = [
            member(_PPID, der.encode(der.OCTET_STRING, self.ppid)),
            member(_TCB, der.sequence(*tcb)),
            member(_PCEID, der.encode(der.OCTET_STRING, self.pce_id)),
            member(_FMSPC, der.encode(der.OCTET_STRING, self.fmspc)),
            member(_SGX_TYPE, der.encode_uint(der.ENUMERATED, self.sgx_type)),
        ]
        if self.platform_instance_id is not None:
            items.append(member(_INSTANCE, der.encode(der.OCTET_STRING, self.platform_instance_id)))
        return der.sequence(*items)


Span = der.Span
_PARSED: Memo[bytes, PckExtension] = Memo(128)
INTEGER = der.INTEGER


def _members(data: bytes, tag: int, start: int, end: int, field: str) -> dict[bytes, Span]:
    """SEQUENCE { SEQUENCE { OID, value } ... } as a dict from the OID's DER content to the value's span.

    Keyed by raw OID bytes, read in one pass over offsets: decoding every OID
    to text, or copying each TLV, made this the slowest step of DCAP verification.
    """
    if tag != der.SEQUENCE:
        raise MalformedMessage(STRUCT, field, start, f"expected DER tag 0x{der.SEQUENCE:02x}, got 0x{tag:02x}")
    found: dict[bytes, Span] = {}
    pos = start
    while pos < end:
        item_tag, item_start, item_end = der.span(data, pos, end, STRUCT)
        if item_tag != der.SEQUENCE:
            raise MalformedMessage(STRUCT, "<member>", pos, f"expected DER tag 0x30, got 0x{item_tag:02x}")
        oid_tag, oid_start, oid_end = der.span(data, item_start, item_end, STRUCT)
        if oid_tag != der.OID:
            raise MalformedMessage(STRUCT, "<oid>", item_start, f"expected DER tag 0x06, got 0x{oid_tag:02x}")
        value = der.span(data, oid_end, item_end, STRUCT)
        if value[2] != item_end:
            raise MalformedMessage(STRUCT, "<member>", pos, "expected only OID and value")
        oid = data[oid_start:oid_end]
        if oid in found:
            raise MalformedMessage(STRUCT, der.decode_oid(oid, STRUCT, item_start), pos, "appears twice")
        found[oid] = value
        pos = item_end
    return found


def _oid_key(dotted: str) -> bytes:
    return der.read_all(der.encode_oid(dotted), STRUCT)[0].value


_COMPONENTS = tuple((f"{_TCB}.{i}", f"tcb.comp{i:02d}") for i in range(1, 17))  # OID, field name
_KEYS = {oid: _oid_key(oid) for oid in (
    _PPID, _TCB, _PCEID, _FMSPC, _SGX_TYPE, _INSTANCE, _CONFIG, _PCESVN, _CPUSVN, *(c for c, _ in _COMPONENTS),
    *_CONFIG_FLAGS)}


def _component_pattern(oid: bytes) -> bytes:
    """One TCB component member, SEQUENCE { OID, INTEGER 0..255 }, in its only DER encodings."""
    oid = re.escape(oid)
    return rb"\x30(?:\x10\x06\x0b" + oid + rb"\x02\x01([\x00-\x7f])|\x11\x06\x0b" + oid + rb"\x02\x02\x00([\x80-\xff]))"


# Intel's PCK certificates list the 16 components first, in order, each SVN a byte: matched in one step,
# they need no member-by-member walk. Any other form (order, sizes, a repeat) is read by _members.
_COMPONENT_KEYS = tuple(_KEYS[oid] for oid, _ in _COMPONENTS)
_CANONICAL_COMPONENTS = re.compile(b"".join(_component_pattern(key) for key in _COMPONENT_KEYS))


def _canonical_components(data: bytes, tag: int, start: int, end: int) -> tuple[tuple[int, ...], dict[bytes, Span]] | None:
    """The 16 component SVNs and the TCB's other members, when the components are in Intel's canonical form;
    None otherwise (the caller then reads every member by :func:`_members`, which names any defect)."""
    found = _CANONICAL_COMPONENTS.match(data, start, end) if tag == der.SEQUENCE else None
    if found is None:
        return None
    try:
        rest = _members(data, tag, found.end(), end, "tcb")
    except MalformedMessage:
        return None  # the member walk names the first defect, as it does for any other form
    if any(key in rest for key in _COMPONENT_KEYS):  # a component repeated: the member walk names it
        return None
    groups = found.groups()
    return tuple((one or two)[0] for one, two in zip(groups[::2], groups[1::2], strict=True)), rest


def _need(members: dict[bytes, Span], oid: str) -> Span:
    span = members.get(_KEYS[oid])
    if span is None:
        raise MalformedMessage(STRUCT, oid, 0, "is missing")
    return span


def _value(data: bytes, span: Span, tag: int, field: str) -> bytes:
    if span[0] != tag:
        raise MalformedMessage(STRUCT, field, span[1], f"expected DER tag 0x{tag:02x}, got 0x{span[0]:02x}")
    return data[span[1] : span[2]]


def _uint(data: bytes, span: Span, tag: int, field: str) -> int:
    return der.decode_uint(_value(data, span, tag, field), STRUCT, field, span[1])


def _octets(data: bytes, members: dict[bytes, Span], oid: str, field: str, size: int) -> bytes:
    span = _need(members, oid)
    value = _value(data, span, der.OCTET_STRING, field)
    if len(value) != size:
        raise MalformedMessage(STRUCT, field, span[1], f"must be {size} bytes, got {len(value)}")
    return value


def _configuration(data: bytes, span: Span) -> PlatformConfiguration:
    flags: dict[str, bool | None] = dict.fromkeys(_CONFIG_FLAGS.values())
    members = _members(data, span[0], span[1], span[2], "configuration")
    for oid, name in _CONFIG_FLAGS.items():
        value = members.get(_KEYS[oid])
        if value is not None:
            flags[name] = _value(data, value, der.BOOLEAN, oid) != b"\x00"
    return PlatformConfiguration(**flags)
