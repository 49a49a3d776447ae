"""The SGX extension (OID 1.2.840.113741.1.13.1) of Intel's PCK certificates."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from cryptography import x509

from sgxra.errors import MalformedMessage
from sgxra.wire import der
from sgxra.wire.certificates import PYCA_ERRORS

SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
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
            ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID))
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
        outer = der.read_all(data, STRUCT)
        if len(outer) != 1:
            raise MalformedMessage(STRUCT, "<der>", 0, "expected one SEQUENCE")
        members = _members(der.expect(outer[0], der.SEQUENCE, STRUCT, "<root>"), outer[0].value_offset)
        tcb = _members(der.expect(_need(members, _TCB), der.SEQUENCE, STRUCT, "tcb"), _need(members, _TCB).value_offset)
        components = tuple(
            der.decode_uint(der.expect(_need(tcb, f"{_TCB}.{i}"), der.INTEGER, STRUCT, f"tcb.comp{i:02d}"),
                            STRUCT, f"tcb.comp{i:02d}", 0)
            for i in range(1, 17)
        )
        pcesvn = der.decode_uint(der.expect(_need(tcb, _PCESVN), der.INTEGER, STRUCT, "tcb.pcesvn"), STRUCT, "pcesvn", 0)
        sgx_type = der.decode_uint(der.expect(_need(members, _SGX_TYPE), der.ENUMERATED, STRUCT, "sgx_type"),
                                   STRUCT, "sgx_type", 0)
        if sgx_type not in SgxType._value2member_map_:
            raise MalformedMessage(STRUCT, "sgx_type", 0, f"unknown SGX type {sgx_type}")
        instance = _optional(members, _INSTANCE)
        config = _optional(members, _CONFIG)
        return cls(
            ppid=_octets(members, _PPID, "ppid", 16),
            tcb_components=components,
            pcesvn=pcesvn,
            cpusvn=_octets(tcb, _CPUSVN, "cpusvn", 16),
            pce_id=_octets(members, _PCEID, "pce_id", 2),
            fmspc=_octets(members, _FMSPC, "fmspc", 6),
            sgx_type=SgxType(sgx_type),
            platform_instance_id=der.expect(instance, der.OCTET_STRING, STRUCT, "platform_instance_id") if instance else None,
            configuration=_configuration(config) if config else None,
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


def _members(body: bytes, base: int) -> dict[bytes, der.Tlv]:
    """SEQUENCE { SEQUENCE { OID, value } ... } as a dict from the OID's DER content to the value.

    Keyed by raw OID bytes, read in one pass: decoding every OID to text made
    this the slowest step of DCAP verification.
    """
    found: dict[bytes, der.Tlv] = {}
    pos = 0
    while pos < len(body):
        item, pos = der.read_one(body, pos, STRUCT, base)
        inner = der.expect(item, der.SEQUENCE, STRUCT, "<member>")
        oid_tlv, split = der.read_one(inner, 0, STRUCT, item.value_offset)
        value, end = der.read_one(inner, split, STRUCT, item.value_offset)
        if end != len(inner):
            raise MalformedMessage(STRUCT, "<member>", item.offset, "expected only OID and value")
        oid = der.expect(oid_tlv, der.OID, STRUCT, "<oid>")
        if oid in found:
            raise MalformedMessage(STRUCT, der.decode_oid(oid, STRUCT, oid_tlv.offset), item.offset, "appears twice")
        found[oid] = value
    return found


@cache
def _oid_key(dotted: str) -> bytes:
    return der.read_all(der.encode_oid(dotted), STRUCT)[0].value


def _need(members: dict[bytes, der.Tlv], oid: str) -> der.Tlv:
    tlv = members.get(_oid_key(oid))
    if tlv is None:
        raise MalformedMessage(STRUCT, oid, 0, "is missing")
    return tlv


def _optional(members: dict[bytes, der.Tlv], oid: str) -> der.Tlv | None:
    return members.get(_oid_key(oid))


def _octets(members: dict[bytes, der.Tlv], oid: str, field: str, size: int) -> bytes:
    tlv = _need(members, oid)
    value = der.expect(tlv, der.OCTET_STRING, STRUCT, field)
    if len(value) != size:
        raise MalformedMessage(STRUCT, field, tlv.offset, f"must be {size} bytes, got {len(value)}")
    return value


def _configuration(tlv: der.Tlv) -> PlatformConfiguration:
    flags: dict[str, bool | None] = dict.fromkeys(_CONFIG_FLAGS.values())
    members = _members(der.expect(tlv, der.SEQUENCE, STRUCT, "configuration"), tlv.value_offset)
    for oid, name in _CONFIG_FLAGS.items():
        value = _optional(members, oid)
        if value is not None:
            flags[name] = der.expect(value, der.BOOLEAN, STRUCT, oid) != b"\x00"
    return PlatformConfiguration(**flags)
