"""DCAP collateral: the nine-field JSON interchange form and the signed JSON it carries.

The interchange form is dcap-qvl's: ``pck_crl_issuer_chain``,
``tcb_info_issuer_chain``, ``qe_identity_issuer_chain`` (PEM), ``root_ca_crl``
and ``pck_crl`` (hex of DER), ``tcb_info`` and ``qe_identity`` (the exact
signed JSON text), ``tcb_info_signature`` and ``qe_identity_signature`` (hex of
raw r || s). TCB info and QE identity are only parsed here, never trusted.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from cryptography import x509

from sgxra.errors import MalformedMessage
from sgxra.wire._json import JsonObject
from sgxra.wire.memo import Memo

T = TypeVar("T")
MAX_COLLATERAL_JSON = 1024 * 1024
MAX_SIGNED_JSON = 512 * 1024
FIELDS = (
    "pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
    "tcb_info_signature", "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature",
)


class TcbStatus(enum.Enum):
    """A TCB status as Intel's collateral and its QVL name it."""
    UpToDate = "UpToDate"
    SWHardeningNeeded = "SWHardeningNeeded"
    ConfigurationNeeded = "ConfigurationNeeded"
    ConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
    OutOfDate = "OutOfDate"
    OutOfDateConfigurationNeeded = "OutOfDateConfigurationNeeded"
    Revoked = "Revoked"
    # Verdicts only (Intel's QVL derives them for TDX); never a level's status in collateral.
    TDRelaunchAdvised = "TDRelaunchAdvised"
    TDRelaunchAdvisedConfigurationNeeded = "TDRelaunchAdvisedConfigurationNeeded"


@dataclass(frozen=True)
class Collateral:
    """The nine pieces of DCAP collateral, as dcap-qvl and ``sgxra collateral fetch`` hold them."""
    pck_crl_issuer_chain: str
    root_ca_crl: bytes
    pck_crl: bytes
    tcb_info_issuer_chain: str
    tcb_info: str
    tcb_info_signature: bytes
    qe_identity_issuer_chain: str
    qe_identity: str
    qe_identity_signature: bytes

    @classmethod
    def from_json(cls, text: str | bytes) -> Collateral:
        obj = JsonObject("collateral", text, max_size=MAX_COLLATERAL_JSON).obj
        values: dict[str, Any] = {}
        for name in FIELDS:
            value = obj.get(name)
            if not isinstance(value, str):
                raise MalformedMessage("collateral", name, 0, "missing or not a string")
            if name in ("root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature"):
                try:
                    values[name] = bytes.fromhex(value)
                except ValueError:
                    raise MalformedMessage("collateral", name, 0, "not hex") from None
            else:
                values[name] = value
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps({
            name: value.hex() if isinstance(value := getattr(self, name), bytes) else value for name in FIELDS
        }, indent=1)


class TcbLevel(NamedTuple):
    """A NamedTuple rather than a frozen dataclass: a TCB info holds a dozen, built on every cold verification."""

    sgx_components: tuple[int, ...]
    pcesvn: int
    tdx_components: tuple[int, ...] | None
    tcb_date: str
    status: TcbStatus
    advisory_ids: tuple[str, ...]


class ModuleTcbLevel(NamedTuple):
    """A QE identity's or TDX module's TCB level: ISVSVN, status, advisories, date."""
    isvsvn: int
    status: TcbStatus
    advisory_ids: tuple[str, ...]
    tcb_date: str | None = None  # a QE identity level's tcbDate (Intel's qe_iden_tcb_level_date_tag)


@dataclass(frozen=True)
class TdxModuleIdentity:
    """A TDX module identity of a TDX TCB info: signer, attributes, levels."""
    id: str
    mrsigner: bytes
    attributes: bytes
    attributes_mask: bytes
    tcb_levels: tuple[ModuleTcbLevel, ...]


@dataclass(frozen=True)
class TcbInfo:
    """Intel's TCB info (SGX v2/v3 or TDX v3), parsed from its signed JSON text."""
    id: str  # "SGX" or "TDX"
    version: int
    issue_date: datetime
    next_update: datetime
    fmspc: bytes
    pce_id: bytes
    tcb_type: int
    tcb_evaluation_data_number: int
    tcb_levels: tuple[TcbLevel, ...]  # highest first, as Intel orders them (never the JSON order)
    tdx_module: TdxModuleIdentity | None
    tdx_module_identities: tuple[TdxModuleIdentity, ...]

    @classmethod
    def parse(cls, text: str, parsed: dict[str, Any] | None = None) -> TcbInfo:
        """From the signed JSON ``text`` (``parsed``: that text already read, by :func:`read_signed`)."""
        return _typed(_TCB_INFOS, "tcb_info", text, parsed, cls._parse)

    @classmethod
    def _parse(cls, j: JsonObject) -> TcbInfo:
        version = j.integer("version")
        if version not in (2, 3):
            raise j.error("version", f"unsupported TCB info version {version}")
        tcb_id = j.text("id") if version == 3 else "SGX"
        if tcb_id not in ("SGX", "TDX"):
            raise j.error("id", f"unknown TCB info id {tcb_id!r}")
        tcb_type = j.integer("tcbType")
        if tcb_type != 0:
            raise j.error("tcbType", f"TCB type {tcb_type} is not supported (Intel supports type 0 only)")
        levels = _ordered(j, tcb_id, [_tcb_level(j, level, i, version) for i, level in enumerate(j.items("tcbLevels"))])
        module = j.obj.get("tdxModule")
        if (module is None) == (tcb_id == "TDX") or (tcb_id == "SGX" and "tdxModuleIdentities" in j.obj):
            raise j.error("tdxModule", f"a {tcb_id} TCB info {'lacks' if module is None else 'may not carry'} it")
        return cls(
            id=tcb_id, version=version, issue_date=j.time("issueDate"), next_update=j.time("nextUpdate"),
            fmspc=j.hexbytes("fmspc", 6), pce_id=j.hexbytes("pceId", 2), tcb_type=tcb_type,
            tcb_evaluation_data_number=j.integer("tcbEvaluationDataNumber"), tcb_levels=levels,
            tdx_module=_module(j.sub(module, "tdxModule"), "") if module is not None else None,
            tdx_module_identities=tuple(
                _module(j.sub(m, f"tdxModuleIdentities[{i}]"), None)
                for i, m in enumerate(j.items("tdxModuleIdentities", required=False))
            ),
        )


@dataclass(frozen=True)
class QeIdentity:
    """Intel's QE (or TD QE) identity, parsed from its signed JSON text."""
    id: str  # "QE", "QVE" or "TD_QE"
    version: int
    issue_date: datetime
    next_update: datetime
    miscselect: int
    miscselect_mask: int
    attributes: bytes
    attributes_mask: bytes
    mrsigner: bytes
    isvprodid: int
    tcb_evaluation_data_number: int  # required, as Intel's QVL requires it
    tcb_levels: tuple[ModuleTcbLevel, ...]

    @classmethod
    def parse(cls, text: str, parsed: dict[str, Any] | None = None) -> QeIdentity:
        """From the signed JSON ``text`` (``parsed``: that text already read, by :func:`read_signed`)."""
        return _typed(_QE_IDENTITIES, "qe_identity", text, parsed, cls._parse)

    @classmethod
    def _parse(cls, j: JsonObject) -> QeIdentity:
        version = j.integer("version")
        if version != 2:
            raise j.error("version", f"unsupported QE identity version {version}")
        levels = tuple(_module_level(j.sub(level, f"tcbLevels[{i}]"), _QE_STATUSES)
                       for i, level in enumerate(j.items("tcbLevels")))
        if not levels:
            raise j.error("tcbLevels", "is empty")
        return cls(
            id=j.text("id"), version=version, issue_date=j.time("issueDate"), next_update=j.time("nextUpdate"),
            miscselect=int.from_bytes(j.hexbytes("miscselect", 4), "big"),
            miscselect_mask=int.from_bytes(j.hexbytes("miscselectMask", 4), "big"),
            attributes=j.hexbytes("attributes", 16), attributes_mask=j.hexbytes("attributesMask", 16),
            mrsigner=j.hexbytes("mrsigner", 32), isvprodid=j.integer("isvprodid"),
            tcb_evaluation_data_number=j.integer("tcbEvaluationDataNumber"), tcb_levels=levels,
        )


# Parsed signed JSON, per exact text (frozen results; collateral is re-read for each verification without a cache).
_TCB_INFOS: Memo[str, TcbInfo] = Memo(32, largest=64 * 1024)
_QE_IDENTITIES: Memo[str, QeIdentity] = Memo(32, largest=64 * 1024)
_SIGNED: Memo[str, tuple[bytes, dict[str, Any]]] = Memo(64, largest=64 * 1024)


def _typed(memo: Memo[str, T], structure: str, text: str, parsed: dict[str, Any] | None,
           read: Callable[[JsonObject], T]) -> T:
    known = memo.get(text)
    if known is None:
        known = memo.put(text, read(JsonObject(structure, text if parsed is None else parsed)))
    return known


def _status(j: JsonObject) -> TcbStatus:
    return _status_of(j.obj, j, "")


def _status_of(level: dict[str, Any], j: JsonObject, where: str) -> TcbStatus:
    try:
        return _STATUSES[level["tcbStatus"]]
    except (KeyError, TypeError):
        raise j.error(f"{where}tcbStatus", f"unknown or missing TCB status {level.get('tcbStatus')!r}") from None


_STATUSES = {s.value: s for s in TcbStatus if not s.value.startswith("TDRelaunch")}
# The statuses Intel's QVL reads in a QE identity level (it calls the identity invalid for any other).
_QE_STATUSES = frozenset({
    TcbStatus.UpToDate, TcbStatus.ConfigurationNeeded, TcbStatus.OutOfDate, TcbStatus.OutOfDateConfigurationNeeded,
    TcbStatus.Revoked,
})


def _ordered(j: JsonObject, tcb_id: str, levels: list[TcbLevel]) -> tuple[TcbLevel, ...]:
    """Levels highest first, as Intel's QVL keeps them (a set ordered by SGX component SVNs, then
    PCESVN, then for TDX the TDX component SVNs); two levels equal under that order are refused, as Intel does."""
    def key(level: TcbLevel) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
        return level.sgx_components, level.pcesvn, (level.tdx_components or ()) if tcb_id == "TDX" else ()

    if not levels:
        raise j.error("tcbLevels", "is empty")
    ordered = sorted(levels, key=key, reverse=True)
    keys = [key(level) for level in ordered]
    for higher, lower in zip(keys, keys[1:], strict=False):
        if higher == lower:
            raise j.error("tcbLevels", f"duplicated TCB level (SVNs {list(lower[0])}, PCESVN {lower[1]})")
    return tuple(ordered)


def _advisories(j: JsonObject) -> tuple[str, ...]:
    return _advisories_of(j.obj, j, "")


def _advisories_of(level: dict[str, Any], j: JsonObject, where: str) -> tuple[str, ...]:
    ids = level.get("advisoryIDs", ())
    if not isinstance(ids, (list, tuple)) or not _INT_OR_STR[str].issuperset(map(type, ids)):
        raise j.error(f"{where}advisoryIDs", "must be a list of strings")
    return tuple(ids)


def _tcb_level(j: JsonObject, level: Any, index: int, version: int) -> TcbLevel:
    """One TCB level, read straight from the dict (error paths name the member; the usual path stays lean)."""
    tcb = level.get("tcb") if isinstance(level, dict) else None
    if not isinstance(tcb, dict):
        raise j.error(f"tcbLevels[{index}].tcb", "missing or not a JSON object")
    if version == 2:
        sgx = tuple(JsonObject(j.structure, tcb, f"{j.path}tcbLevels[{index}].tcb.").integer(f"sgxtcbcomp{i:02d}svn")
                    for i in range(1, 17))
        tdx = None
    else:
        sgx = _svns(j, tcb.get("sgxtcbcomponents"), index, "sgxtcbcomponents")
        tdx = _svns(j, tcb["tdxtcbcomponents"], index, "tdxtcbcomponents") if "tdxtcbcomponents" in tcb else None
    pcesvn, date = tcb.get("pcesvn"), level.get("tcbDate")
    if type(pcesvn) is not int or not 0 <= pcesvn <= 0xFFFF:
        raise j.error(f"tcbLevels[{index}].tcb.pcesvn", "missing or not a PCESVN (0..65535)")
    if not isinstance(date, str):
        raise j.error(f"tcbLevels[{index}].tcbDate", "missing or not a string")
    raw_status = level.get("tcbStatus")
    status = _STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    ids = level.get("advisoryIDs", ())
    if status is None or not (isinstance(ids, list) and _INT_OR_STR[str].issuperset(map(type, ids))):
        where = f"tcbLevels[{index}]."  # the error path names the member
        return TcbLevel(sgx, pcesvn, tdx, date, _status_of(level, j, where), _advisories_of(level, j, where))
    return TcbLevel(sgx, pcesvn, tdx, date, status, tuple(ids))


def _svns(j: JsonObject, items: Any, index: int, name: str) -> tuple[int, ...]:
    """16 component SVNs, checked in bulk: a TCB info holds hundreds of them."""
    try:
        svns = tuple([item["svn"] for item in items])
    except (TypeError, KeyError):
        raise j.error(f"tcbLevels[{index}].tcb.{name}", "must be a list of objects with an svn") from None
    if len(svns) != 16 or not _INT_OR_STR[int].issuperset(map(type, svns)) or min(svns) < 0 or max(svns) > 255:
        raise j.error(f"tcbLevels[{index}].tcb.{name}", "must list 16 SVNs, each 0..255")
    return svns


_INT_OR_STR = {int: frozenset({int}), str: frozenset({str})}  # exactly these types (a bool is no SVN)


def _module_level(j: JsonObject, allowed: frozenset[TcbStatus] | None = None) -> ModuleTcbLevel:
    """A QE identity's or TDX module's level; read straight from the dict, through JsonObject only to name an error."""
    level = j.obj
    raw_status, tcb, date, ids = level.get("tcbStatus"), level.get("tcb"), level.get("tcbDate"), level.get("advisoryIDs", ())
    status = _STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    isvsvn = tcb.get("isvsvn") if isinstance(tcb, dict) else None
    if (status is not None and (allowed is None or status in allowed) and type(isvsvn) is int and isvsvn >= 0
            and isinstance(ids, list) and _INT_OR_STR[str].issuperset(map(type, ids))):
        return ModuleTcbLevel(isvsvn, status, tuple(ids), date if isinstance(date, str) else None)
    status = _status(j)
    if allowed is not None and status not in allowed:
        raise j.error("tcbStatus", f"{status.value} is not a valid status here (Intel's QVL refuses it)")
    date = j.obj.get("tcbDate")
    return ModuleTcbLevel(j.sub(j.obj.get("tcb"), "tcb").integer("isvsvn"), status, _advisories(j),
                          date if isinstance(date, str) else None)


def _module(j: JsonObject, default_id: str | None) -> TdxModuleIdentity:
    levels = tuple(_module_level(j.sub(x, f"tcbLevels[{i}]")) for i, x in enumerate(j.items("tcbLevels", required=False)))
    return TdxModuleIdentity(
        id=j.text("id") if default_id is None else default_id, mrsigner=j.hexbytes("mrsigner", 48),
        attributes=j.hexbytes("attributes", 8), attributes_mask=j.hexbytes("attributesMask", 8), tcb_levels=levels,
    )


def read_signed(text: str, structure: str) -> tuple[bytes, dict[str, Any]]:
    """What Intel's signature over a TCB info or QE identity covers, and the object read from it.

    Intel's QVL parses the signed JSON and verifies the signature over its
    compact re-serialisation (members in their order, no whitespace, escapes
    decoded), so whitespace that PCCS or a proxy adds does not matter while a
    reordered or repeated member does. Repeated members are refused here
    (Python would keep only the last one; Intel's signature check fails).
    Remembered per text; the object is only read, never changed.
    """
    known = _SIGNED.get(text)
    if known is not None:
        return known
    if len(text) > MAX_SIGNED_JSON:
        raise MalformedMessage(structure, "<json>", 0, f"larger than {MAX_SIGNED_JSON} bytes")
    obj = _loads(text, structure, None)
    compact = _compact(obj, structure)
    # Text that already is its compact form has no repeated member (the form has none); any other
    # text is read again, refusing repeats.
    if compact != text:
        obj = _loads(text, structure, _unique_members)
        compact = _compact(obj, structure)
    try:
        signed = compact.encode()
    except UnicodeEncodeError:
        raise MalformedMessage(structure, "<json>", 0, "a string holds a lone surrogate (not UTF-8)") from None
    return _SIGNED.put(text, (signed, obj))


def signed_bytes(text: str, structure: str) -> bytes:
    """What Intel's signature over a TCB info or QE identity covers (see :func:`read_signed`)."""
    return read_signed(text, structure)[0]


def _loads(text: str, structure: str, hook: Callable[[list[tuple[str, Any]]], dict[str, Any]] | None) -> dict[str, Any]:
    try:
        obj = json.loads(text, object_pairs_hook=hook, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise MalformedMessage(structure, "<json>", 0, f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise MalformedMessage(structure, "<json>", 0, "not a JSON object")
    return obj


# No circular-reference bookkeeping: the object comes from json.loads, which makes no cycles (a quarter faster).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _compact(obj: dict[str, Any], structure: str) -> str:
    try:
        return _COMPACT.encode(obj)
    except (ValueError, RecursionError) as e:
        raise MalformedMessage(structure, "<json>", 0, f"cannot be re-serialised: {e}") from None


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a member is repeated")
    return members


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def signed_member(body: str, member: str, structure: str) -> tuple[str, bytes]:
    """The exact text of ``member`` and the hex ``signature`` from a PCS answer.

    PCS signs the member's bytes as sent (``{"tcbInfo":{...},"signature":"..."}``),
    so the text is cut out of the body, never re-serialised.
    """
    if len(body) > MAX_SIGNED_JSON:
        raise MalformedMessage(structure, "<body>", 0, "too large")
    decoder = json.JSONDecoder()
    spans: dict[str, tuple[int, int]] = {}
    values: dict[str, Any] = {}
    try:
        pos = _skip_ws(body, 0)
        if body[pos : pos + 1] != "{":
            raise ValueError("not a JSON object")
        pos = _skip_ws(body, pos + 1)
        while body[pos : pos + 1] != "}":
            key, pos = decoder.raw_decode(body, pos)
            pos = _skip_ws(body, pos)
            if body[pos : pos + 1] != ":":
                raise ValueError("expected ':'")
            start = _skip_ws(body, pos + 1)
            values[key], pos = decoder.raw_decode(body, start)
            spans[key] = (start, pos)
            pos = _skip_ws(body, pos)
            if body[pos : pos + 1] == ",":
                pos = _skip_ws(body, pos + 1)
    except (ValueError, IndexError) as e:
        raise MalformedMessage(structure, "<body>", 0, f"not a JSON object: {e}") from None
    if member not in spans or not isinstance(values[member], dict):
        raise MalformedMessage(structure, member, 0, "missing or not an object")
    signature = values.get("signature")
    if not isinstance(signature, str):
        raise MalformedMessage(structure, "signature", 0, "missing or not a string")
    try:
        raw_signature = bytes.fromhex(signature)
    except ValueError:
        raise MalformedMessage(structure, "signature", 0, "not hex") from None
    start, end = spans[member]
    return body[start:end], raw_signature


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def earliest_next_update(collateral: Collateral) -> datetime:
    """When this collateral first needs refreshing (no verification: for scheduling only)."""
    times = [TcbInfo.parse(collateral.tcb_info).next_update, QeIdentity.parse(collateral.qe_identity).next_update]
    for der in (collateral.root_ca_crl, collateral.pck_crl):
        try:
            next_update = x509.load_der_x509_crl(der).next_update_utc
        except (ValueError, x509.InvalidVersion):
            raise MalformedMessage("collateral", "crl", 0, "not a DER CRL") from None
        if next_update is not None:
            times.append(next_update)
    return min(times)
