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
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import chain
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
_HEX_FIELDS = tuple(FIELDS.index(name) for name in ("root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature"))


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
        values: list[Any] = list(map(obj.get, FIELDS))
        if not _STRS.issuperset(map(type, values)):  # json.loads makes exact strs: the type is the check
            name = next(name for name, value in zip(FIELDS, values, strict=True) if type(value) is not str)
            raise MalformedMessage("collateral", name, 0, "missing or not a string")
        for index in _HEX_FIELDS:
            try:
                values[index] = bytes.fromhex(values[index])
            except ValueError:
                raise MalformedMessage("collateral", FIELDS[index], 0, "not hex") from None
        return cls(*values)

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
        levels = _ordered(j, tcb_id, _tcb_levels(j, j.items("tcbLevels"), version))
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
        levels = _module_levels(j, _QE_STATUSES)
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


SignedKind = type[TcbInfo] | type[QeIdentity]  # what a signed JSON text is, for its typed reading

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
    if not levels:
        raise j.error("tcbLevels", "is empty")
    key = _SGX_ORDER if tcb_id == "SGX" else _tdx_order
    ordered = sorted(levels, key=key, reverse=True)
    keys = list(map(key, ordered))
    if any(map(operator.eq, keys, keys[1:])):  # equal keys sort next to each other
        lower = next(lower for higher, lower in zip(ordered, ordered[1:], strict=False) if key(higher) == key(lower))
        raise j.error("tcbLevels", f"duplicated TCB level (SVNs {list(lower.sgx_components)}, PCESVN {lower.pcesvn})")
    return tuple(ordered)


_SGX_ORDER = operator.itemgetter(0, 1)  # (sgx_components, pcesvn) of a TcbLevel


def _tdx_order(level: TcbLevel) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
    return level.sgx_components, level.pcesvn, level.tdx_components or ()


def _advisories(j: JsonObject) -> tuple[str, ...]:
    return _advisories_of(j.obj, j, "")


def _advisories_of(level: dict[str, Any], j: JsonObject, where: str) -> tuple[str, ...]:
    ids = level.get("advisoryIDs", ())
    if not isinstance(ids, (list, tuple)) or not _STRS.issuperset(map(type, ids)):
        raise j.error(f"{where}advisoryIDs", "must be a list of strings")
    return tuple(ids)


def _tcb_levels(j: JsonObject, items: list[Any], version: int) -> list[TcbLevel]:
    """Every TCB level. The usual (v3) levels are read in one lean pass, their SVNs and advisory IDs then checked
    all together; whatever that pass does not take is read again level by level by :func:`_tcb_level`, the
    reference, whose errors name the member."""
    if version == 3:
        levels: list[TcbLevel] = []
        svns: list[int] = []
        try:
            for level in items:
                tcb = level["tcb"]
                sgx = tuple(map(_SVN, tcb["sgxtcbcomponents"]))
                tdx = tuple(map(_SVN, tcb["tdxtcbcomponents"])) if "tdxtcbcomponents" in tcb else None
                pcesvn, date, ids = tcb["pcesvn"], level["tcbDate"], level.get("advisoryIDs", _NO_IDS)
                if (len(sgx) != 16 or (tdx is not None and len(tdx) != 16) or type(pcesvn) is not int
                        or not 0 <= pcesvn <= 0xFFFF or type(date) is not str or type(ids) is not list):
                    break
                svns += sgx if tdx is None else sgx + tdx
                levels.append(_new_level((sgx, pcesvn, tdx, date, _STATUSES[level["tcbStatus"]], tuple(ids))))
            else:
                if (_INTS.issuperset(map(type, svns)) and _fits_bytes(svns)
                        and _STRS.issuperset(map(type, chain.from_iterable(map(_IDS_OF, levels))))):
                    return levels
        except (KeyError, TypeError):
            pass
    return [_tcb_level(j, level, i, version) for i, level in enumerate(items)]


_SVN = operator.itemgetter("svn")
_TDX_OF, _DATE_OF, _IDS_OF = operator.itemgetter(2), operator.itemgetter(3), operator.itemgetter(5)  # of a TcbLevel
# NamedTuples built as tuples: the same objects without the generated __new__ (a Python call per level).
_new_level = partial(tuple.__new__, TcbLevel)
_new_module_level = partial(tuple.__new__, ModuleTcbLevel)
_NO_IDS: list[str] = []  # the advisory IDs of a level that lists none (only read, never changed)
_INTS, _STRS = frozenset({int}), frozenset({str})  # exactly these types (a bool is no SVN)


def _fits_bytes(values: list[int]) -> bool:
    try:
        bytes(values)
    except ValueError:
        return False
    return True


def _tcb_level(j: JsonObject, level: Any, index: int, version: int) -> TcbLevel:
    """One TCB level, every check in turn (the reference of :func:`_tcb_levels`; errors name the member)."""
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
    where = f"tcbLevels[{index}]."
    return TcbLevel(sgx, pcesvn, tdx, date, _status_of(level, j, where), _advisories_of(level, j, where))


def _svns(j: JsonObject, items: Any, index: int, name: str) -> tuple[int, ...]:
    """16 component SVNs."""
    try:
        svns = tuple([item["svn"] for item in items])
    except (TypeError, KeyError):
        raise j.error(f"tcbLevels[{index}].tcb.{name}", "must be a list of objects with an svn") from None
    if len(svns) != 16 or not _INTS.issuperset(map(type, svns)) or min(svns) < 0 or max(svns) > 255:
        raise j.error(f"tcbLevels[{index}].tcb.{name}", "must list 16 SVNs, each 0..255")
    return svns


def _module_levels(j: JsonObject, allowed: frozenset[TcbStatus] | None) -> tuple[ModuleTcbLevel, ...]:
    """The levels of a QE identity (``allowed``: the statuses Intel's QVL reads there; the levels are required) or
    of a TDX module (optional levels, any status). Read in one lean pass; whatever that pass does not take is read
    again level by level by :func:`_module_level`, the reference, whose errors name the member."""
    items = j.items("tcbLevels", required=allowed is not None)
    levels: list[ModuleTcbLevel] = []
    try:
        for level in items:
            isvsvn, status = level["tcb"]["isvsvn"], _STATUSES[level["tcbStatus"]]
            date, ids = level.get("tcbDate"), level.get("advisoryIDs", _NO_IDS)
            if (type(isvsvn) is not int or isvsvn < 0 or (allowed is not None and status not in allowed)
                    or type(ids) is not list):
                break
            levels.append(_new_module_level((isvsvn, status, tuple(ids), date if isinstance(date, str) else None)))
        else:
            if _STRS.issuperset(map(type, chain.from_iterable(map(_MODULE_IDS_OF, levels)))):
                return tuple(levels)
    except (KeyError, TypeError):
        pass
    return tuple(_module_level(j.sub(level, f"tcbLevels[{i}]"), allowed) for i, level in enumerate(items))


_MODULE_IDS_OF = operator.itemgetter(2)  # the advisory IDs of a ModuleTcbLevel


def _module_level(j: JsonObject, allowed: frozenset[TcbStatus] | None = None) -> ModuleTcbLevel:
    """A QE identity's or TDX module's level, every check in turn (the reference of :func:`_module_levels`)."""
    status = _status(j)
    if allowed is not None and status not in allowed:
        raise j.error("tcbStatus", f"{status.value} is not a valid status here (Intel's QVL refuses it)")
    date = j.obj.get("tcbDate")
    return ModuleTcbLevel(j.sub(j.obj.get("tcb"), "tcb").integer("isvsvn"), status, _advisories(j),
                          date if isinstance(date, str) else None)


def _module(j: JsonObject, default_id: str | None) -> TdxModuleIdentity:
    levels = _module_levels(j, None)
    return TdxModuleIdentity(
        id=j.text("id") if default_id is None else default_id, mrsigner=j.hexbytes("mrsigner", 48),
        attributes=j.hexbytes("attributes", 8), attributes_mask=j.hexbytes("attributesMask", 8), tcb_levels=levels,
    )


def read_signed(text: str, structure: str, kind: SignedKind | None = None) -> tuple[bytes, dict[str, Any]]:
    """What Intel's signature over a TCB info or QE identity covers, and the object read from it.

    Intel's QVL parses the signed JSON and verifies the signature over its
    compact re-serialisation (members in their order, no whitespace, escapes
    decoded), so whitespace that PCCS or a proxy adds does not matter while a
    reordered or repeated member does. Repeated members are refused here
    (Python would keep only the last one; Intel's signature check fails).
    Remembered per text; the object is only read, never changed. With ``kind`` (what the text is: TcbInfo or
    QeIdentity), text that provably is its own compact form (see :func:`_signs_itself`) is signed as it stands,
    and its typed reading remembered; ``structure`` only names it in errors.
    """
    known = _SIGNED.get(text)
    if known is not None:
        return known
    if len(text) > MAX_SIGNED_JSON:
        raise MalformedMessage(structure, "<json>", 0, f"larger than {MAX_SIGNED_JSON} bytes")
    obj = _signs_itself(text, kind) if kind is not None else None
    if obj is not None:
        return _SIGNED.put(text, (_utf8(text, structure), obj))
    obj = _loads(text, structure, None)
    compact = _compact(obj, structure)
    # Text that already is its compact form has no repeated member (the form has none); any other
    # text is read again, refusing repeats.
    if compact != text:
        obj = _loads(text, structure, _unique_members)
        compact = _compact(obj, structure)
    return _SIGNED.put(text, (_utf8(compact, structure), obj))


def _utf8(text: str, structure: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise MalformedMessage(structure, "<json>", 0, "a string holds a lone surrogate (not UTF-8)") from None


def _signs_itself(text: str, kind: SignedKind) -> dict[str, Any] | None:
    """The object read from ``text`` when ``text`` provably is its own compact form, else None (then
    :func:`read_signed` re-serialises it, the reference).

    Why the proof holds. Take text T with no backslash, tab, CR or LF, one JSON object. With no backslash each '"'
    opens or closes a string, so the text outside strings is known, and a string is its own content (json.loads
    refuses raw control characters; the encoder escapes only '"', backslash and control characters). If outside the
    strings there is (1) no space, (2) no '-' (no negative number, so no -0) and no float, NaN or Infinity (the
    decoder's hooks stop at the first), each token re-serialises to itself (a non-negative JSON integer has no
    leading zero; true/false/null are themselves) between T's own ',' and ':'. The compact form then equals T
    unless an object repeats a member (json.loads keeps one), which counting rules out: outside strings the ':'
    are one per member written (K), and the typed reading gives M, the members of the distinct objects it read
    (len(); a component list it read as 16 objects each holding an svn counts 16 at first, all their members when
    that falls short). Each object holds its members written less its repeats, so M <= K - D with D all repeats;
    M == W for any W >= K forces D == 0.
    When T holds a space (PCS names components "Early Microcode Update"), the text outside strings is T split at
    '"', every other piece, and W = K its ':'. Without a space, counting in all of T is cheaper: the strings the
    typed reading kept (verbatim, distinct) hold at most all the ':' and '-' inside strings, so W = T.count(':')
    less their ':' is at least K, and T.count('-') == their '-' leaves no '-' outside strings.
    Anything else (unread members, -0, an escape, whitespace between tokens) takes the reference way.
    """
    seen = _SEEN[kind]
    if "\\" in text or "\n" in text or "\r" in text or "\t" in text:
        return None
    try:
        obj, end = _PLAIN_JSON.raw_decode(text)
        if end != len(text) or not isinstance(obj, dict):
            return None
        members, strings, components = seen(text, obj)
    except (ValueError, RecursionError, MalformedMessage, KeyError, TypeError):
        return None  # the reference way reads it again and says what is wrong, if anything
    if " " in text:  # in strings (PCS names components "Early Microcode Update") or between tokens
        outside = "".join(text.split('"')[::2])
        if " " in outside or "-" in outside:
            return None
        written = outside.count(":")
    else:
        read = "".join(strings)
        if text.count("-") != read.count("-"):
            return None
        written = text.count(":") - read.count(":")
    if members != written:  # components with more than their svn (PCS adds category and type): count them all
        members += sum(map(len, chain.from_iterable(components))) - 16 * len(components)
    return obj if members == written else None


class _Seen(NamedTuple):
    """What a typed reading read of a signed JSON object (see :func:`_signs_itself`)."""
    members: int  # of the distinct objects read, a component list counted as its 16 objects of one member
    strings: list[str]  # the strings read, each a distinct string of the text
    components: list[list[dict[str, Any]]]  # the component lists read (their objects may hold more members)


def _tcb_info_seen(text: str, obj: dict[str, Any]) -> _Seen:
    info = TcbInfo.parse(text, obj)
    levels = obj["tcbLevels"]
    tcbs = list(map(_TCB, levels))
    components = [] if info.version == 2 else list(map(_SGX_COMPONENTS, tcbs))
    if any(map(_TDX_OF, info.tcb_levels)):  # levels with TDX components too
        components += [tcb["tdxtcbcomponents"] for tcb in tcbs if "tdxtcbcomponents" in tcb]
    members = len(obj) + sum(map(len, levels)) + sum(map(len, tcbs)) + 16 * len(components)
    strings = [obj["issueDate"], obj["nextUpdate"], *map(_DATE_OF, info.tcb_levels),
               *chain.from_iterable(map(_IDS_OF, info.tcb_levels))]
    modules = list(zip(obj.get("tdxModuleIdentities", []), info.tdx_module_identities, strict=True))
    if info.tdx_module is not None:
        modules.append((obj["tdxModule"], info.tdx_module))
    for module, typed in modules:
        members += len(module) + _module_levels_seen(module.get("tcbLevels", []), typed.tcb_levels, strings)
    return _Seen(members, strings, components)


def _qe_identity_seen(text: str, obj: dict[str, Any]) -> _Seen:
    identity = QeIdentity.parse(text, obj)
    strings = [obj["issueDate"], obj["nextUpdate"]]
    return _Seen(len(obj) + _module_levels_seen(obj["tcbLevels"], identity.tcb_levels, strings), strings, [])


def _module_levels_seen(levels: list[dict[str, Any]], typed: tuple[ModuleTcbLevel, ...], strings: list[str]) -> int:
    strings += [level.tcb_date for level in typed if level.tcb_date is not None]
    strings += chain.from_iterable(level.advisory_ids for level in typed)
    return sum(map(len, levels)) + sum(map(len, map(_TCB, levels)))


_TCB, _SGX_COMPONENTS = operator.itemgetter("tcb"), operator.itemgetter("sgxtcbcomponents")
_SEEN: dict[SignedKind, Callable[[str, dict[str, Any]], _Seen]] = {TcbInfo: _tcb_info_seen, QeIdentity: _qe_identity_seen}


def signed_bytes(text: str, structure: str, kind: SignedKind | None = None) -> bytes:
    """What Intel's signature over a TCB info or QE identity covers (see :func:`read_signed`)."""
    return read_signed(text, structure, kind)[0]


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


# A float, NaN or Infinity stops the reading (ValueError): not a token that is surely its own re-serialisation.
_PLAIN_JSON = json.JSONDecoder(parse_float=_no_constant, parse_constant=_no_constant)


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
