"""Signed JSON that is its own compact form is signed as it stands, and only then.

``read_signed`` skips re-serialising a TCB info or QE identity when it can prove the text is the compact form
Intel's QVL signs (``collateral._signs_itself``). Held here against the reference -- json.loads refusing repeated
members, then the compact re-serialisation -- over real texts rewritten token by token: repeats, whitespace,
escapes, floats, -0, negative numbers, strings with ':', '-', spaces or unicode, unknown members. The lean TCB and
module level passes are held against the level-by-level readers they fall back to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dcap_env import NOW, PKI, level, quote, spec
from sgxra.errors import MalformedMessage
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire import collateral
from sgxra.wire._json import JsonObject
from sgxra.wire.collateral import Collateral, QeIdentity, TcbInfo, TcbStatus, read_signed
from sgxra.wire.memo import clear_parse_memos
from signed_json_reference import compact_form, signed_bytes

REAL = Path(__file__).parent / "data" / "real"


def _texts() -> dict[str, tuple[str, str]]:
    """(label, text): compact texts without spaces (simulated) and with them (real PCS TCB infos, SGX and TDX)."""
    sim = PKI.collateral(spec(level(TcbStatus.UpToDate), level(TcbStatus.OutOfDate, "INTEL-SA-00615", pcesvn=12)))
    sgx = Collateral.from_json((REAL / "sgx_v3_00606a000000_ata.collateral.json").read_text())
    tdx = Collateral.from_json((REAL / "tdx_v4_00806f050000_ata.collateral.json").read_text())
    return {
        "sim TCB info": ("TCB info", sim.tcb_info), "sim QE identity": ("QE identity", sim.qe_identity),
        "real SGX TCB info": ("TCB info", sgx.tcb_info), "real QE identity": ("QE identity", sgx.qe_identity),
        "real TDX TCB info": ("TCB info", tdx.tcb_info), "real TD QE identity": ("QE identity", tdx.qe_identity),
    }


TEXTS = _texts()
KINDS: dict[str, collateral.SignedKind] = {"TCB info": TcbInfo, "QE identity": QeIdentity}


def _read(text: str, label: str) -> bytes | None:
    clear_parse_memos()
    try:
        return read_signed(text, label, KINDS[label])[0]
    except MalformedMessage:
        return None


# --- The writer: a parsed object written back compact, with edits at chosen tokens ---------------------------

EXTRA = ['":x"', "-0", "-1", "1.5", "1e2", '{"a":1,"a":2}', '{"a":1}', "[1,-1]", '"a b:c-d"', "{}", "true", "null"]
EDITS = ["space", "tab", "repeat", "repeat-other", "escape", "slash", "float", "exponent", "minus-zero", "negative",
         "colon", "dash", "inner-space", "unicode", "surrogate", *(f"extra:{value}" for value in EXTRA)]


def _write(value: Any, edits: dict[int, str], at: list[int]) -> str:
    index = at[0]
    at[0] += 1
    edit = edits.get(index, "")
    if isinstance(value, dict):
        members = [f"{_write(k, edits, at)}:{_write(v, edits, at)}" for k, v in value.items()]
        if edit == "repeat" and members:
            members.append(members[0])  # the first member once more, the same value
        elif edit == "repeat-other" and members:
            members.insert(1, members[0].split(":", 1)[0] + ":0")  # the first member's name, another value
        elif edit.startswith("extra:"):
            members.append(f'"unread{index}":{edit[6:]}')
        out = "{" + ",".join(members) + "}"
    elif isinstance(value, list):
        out = "[" + ",".join(_write(item, edits, at) for item in value) + "]"
    elif isinstance(value, bool) or value is None:
        out = json.dumps(value)
    elif isinstance(value, int):
        out = {"float": f"{value}.0", "exponent": f"{value}e0", "minus-zero": "-0", "negative": f"-{value}"}.get(
            edit, str(value))
    else:
        assert isinstance(value, str)
        text = {"colon": ":" + value, "dash": value + "-", "inner-space": value + " x", "unicode": value + "é\u2028\x7f😀",
                "surrogate": value + "\ud800"}.get(edit, value)
        out = json.dumps(text, ensure_ascii=False)
        if edit == "escape" and value:
            out = f'"\\u{ord(value[0]):04x}' + out[2:]
        elif edit == "slash":
            out = out[:-1] + '\\/"'
    return {"space": " " + out, "tab": out + "\t"}.get(edit, out)


def _written(obj: Any, edits: dict[int, str]) -> str:
    return _write(obj, edits, [0])


def _tokens(obj: Any) -> int:
    at = [0]
    _write(obj, {}, at)
    return at[0]


@pytest.mark.parametrize("name", list(TEXTS))
def test_the_writer_reproduces_each_text_and_its_compact_form_is_signed_as_it_stands(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    label, text = TEXTS[name]
    assert _written(json.loads(text), {}) == text
    expected = signed_bytes(text)
    assert expected == text.encode()
    clear_parse_memos()
    assert collateral._signs_itself(text, KINDS[label]) == json.loads(text)

    def no_compact(*_: object) -> str:
        raise AssertionError("re-serialised")
    monkeypatch.setattr(collateral, "_compact", no_compact)
    assert _read(text, label) == expected
    typed = TcbInfo.parse(text) if label == "TCB info" else QeIdentity.parse(text)  # remembered by read_signed
    clear_parse_memos()
    assert typed == (TcbInfo.parse(text) if label == "TCB info" else QeIdentity.parse(text))


def test_verification_signs_compact_collateral_as_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verifier says what each signed JSON text is, so compact collateral takes the short way."""
    def no_compact(*_: object) -> str:
        raise AssertionError("re-serialised")
    monkeypatch.setattr(collateral, "_compact", no_compact)
    clear_parse_memos()
    assert verify_dcap_quote(quote(), PKI.collateral(spec()), at=NOW, root=PKI.root).status is TcbStatus.UpToDate


@given(st.sampled_from(list(TEXTS)), st.data())
def test_signed_bytes_are_the_reference_whatever_the_text(name: str, data: st.DataObject) -> None:
    label, text = TEXTS[name]
    obj = json.loads(text)
    edits = data.draw(st.dictionaries(st.integers(0, _tokens(obj) - 1), st.sampled_from(EDITS), max_size=3))
    bent = _written(obj, edits)
    expected = signed_bytes(bent)
    clear_parse_memos()
    if collateral._signs_itself(bent, KINDS[label]) is not None:  # taken as its own compact form: it must be that
        assert compact_form(bent) == bent
    assert _read(bent, label) == expected


# Edits that make the text differ from its compact form, at a token the typed reading reads, and at one it does not.
NOT_COMPACT = {
    "repeated top member": ('"version":3,', '"version":3,"version":3,'),
    "repeated member, another value": ('"tcbType":0,', '"tcbType":0,"tcbType":1,'),
    "repeated svn in a component": ('{"svn":', '{"svn":1,"svn":'),
    "repeated member in a level": ('"tcbStatus":', '"tcbStatus":"Revoked","tcbStatus":'),
    "space between tokens": ('"version":3', '"version": 3'),
    "tab between tokens": ('"version":3', '"version":\t3'),
    "escaped slash": ('"SGX"', '"SG\\/X"'),
    "unicode escape": ('"SGX"', '"\\u0053GX"'),
    "minus zero svn": ('{"svn":0}', '{"svn":-0}'),
    "float in an unread member": ('"version":3,', '"version":3,"x":1.50,'),
    "minus zero in an unread member": ('"version":3,', '"version":3,"x":-0,'),
    "repeat inside an unread member": ('"version":3,', '"version":3,"x":{"a":1,"a":1},'),
}


@pytest.mark.parametrize("edit", list(NOT_COMPACT))
@pytest.mark.parametrize("name", ["sim TCB info", "real SGX TCB info"])
def test_text_that_is_not_its_compact_form_takes_the_reference_way(name: str, edit: str) -> None:
    label, text = TEXTS[name]
    old, new = NOT_COMPACT[edit]
    assert old in text
    bent = text.replace(old, new, 1)
    clear_parse_memos()
    assert collateral._signs_itself(bent, KINDS[label]) is None
    assert _read(bent, label) == signed_bytes(bent) != bent.encode()


@pytest.mark.parametrize("advisory", ["INTEL-SA:00615", ":INTEL", "-INTEL-", "INTEL SA 00615", "INTEL-SA-0061é\u2028"])
@pytest.mark.parametrize("name", ["sim TCB info", "real SGX TCB info", "real QE identity"])
def test_colons_dashes_spaces_and_unicode_in_read_strings_keep_the_text_as_it_stands(name: str, advisory: str) -> None:
    label, text = TEXTS[name]
    assert '"INTEL-SA-00615"' in text
    bent = text.replace('"INTEL-SA-00615"', json.dumps(advisory, ensure_ascii=False))
    clear_parse_memos()
    assert collateral._signs_itself(bent, KINDS[label]) is not None
    assert _read(bent, label) == signed_bytes(bent) == bent.encode()


# --- Lean level passes against the level-by-level readers ------------------------------------------------------

_ODD = st.sampled_from([-1, 256, 65536, True, False, 1.0, "1", None, [], {}, [1], [{"svn": 1}] * 15, [{"svn": 1}] * 16,
                        [{"svn": 1}] * 17, ["x", 1], "TDRelaunchAdvised", "SWHardeningNeeded", "Revoked"])
_SVNS = st.lists(st.integers(0, 255), min_size=16, max_size=16).map(lambda svns: [{"svn": s} for s in svns])
_IDS = st.lists(st.sampled_from(["INTEL-SA-00615", "x"]), max_size=3)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position inside ``value`` (dict members and list items), outermost first."""
    inner = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [p for key, item in inner for p in [(*path, key), *_paths(item, (*path, key))]]


def _bent(draw: st.DrawFn, level: dict[str, Any]) -> Any:
    """A valid level, or one changed in one place: a member dropped or a value swapped for an odd one."""
    if not draw(st.integers(0, 2)):
        return level
    kinds: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}  # positions alike but for list indices, drawn alike
    for path in _paths(level):
        kinds.setdefault(tuple("*" if isinstance(key, int) else key for key in path), []).append(path)
    path = draw(st.sampled_from(draw(st.sampled_from(list(kinds.values())))))
    parent = level
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(_ODD)
    return level


@st.composite
def _tcb_level(draw: st.DrawFn) -> Any:
    tcb: dict[str, Any] = {"sgxtcbcomponents": draw(_SVNS), "pcesvn": draw(st.integers(0, 0xFFFF))}
    if draw(st.booleans()):
        tcb["tdxtcbcomponents"] = draw(_SVNS)
    level = {"tcb": tcb, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": draw(st.sampled_from(list(collateral._STATUSES)))}
    if draw(st.booleans()):
        level["advisoryIDs"] = draw(_IDS)
    return _bent(draw, level)


@st.composite
def _module_level(draw: st.DrawFn) -> Any:
    level = {"tcb": {"isvsvn": draw(st.integers(0, 20))}, "tcbStatus": draw(st.sampled_from(list(collateral._STATUSES)))}
    if draw(st.booleans()):
        level["tcbDate"] = "2024-03-13T00:00:00Z"
    if draw(st.booleans()):
        level["advisoryIDs"] = draw(_IDS)
    return _bent(draw, level)


def _outcome(read: Any) -> Any:
    try:
        return read()
    except MalformedMessage as e:
        return str(e)


def _level(**changes: Any) -> dict[str, Any]:
    tcb = {"sgxtcbcomponents": [{"svn": 1}] * 16, "pcesvn": 1} | changes.pop("tcb", {})
    return {"tcb": tcb, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"} | changes


@settings(max_examples=1000)  # cheap examples; a change that matters is one among many places
@given(st.lists(_tcb_level(), max_size=3))
@example([_level()])
@example([_level(tcb={"pcesvn": -1})])
@example([_level(tcb={"pcesvn": 65536})])
@example([_level(tcb={"sgxtcbcomponents": [{"svn": True}] * 16})])
@example([_level(tcb={"sgxtcbcomponents": [{"svn": 1}] * 15})])
@example([_level(tcb={"tdxtcbcomponents": [{"svn": 256}] * 16})])
@example([_level(advisoryIDs=["INTEL-SA-00615", 1])])
@example([_level(advisoryIDs="INTEL-SA-00615")])
def test_lean_tcb_levels_read_as_level_by_level(items: list[Any]) -> None:
    j = JsonObject("tcb_info", {"tcbLevels": items})
    lean = _outcome(lambda: collateral._tcb_levels(j, items, 3))
    assert lean == _outcome(lambda: [collateral._tcb_level(j, level, i, 3) for i, level in enumerate(items)])
    if isinstance(lean, list):
        assert all(type(level) is collateral.TcbLevel for level in lean)


@settings(max_examples=1000)
@given(st.lists(_module_level(), max_size=3), st.booleans())
@example([{"tcb": {"isvsvn": 1}, "tcbStatus": "SWHardeningNeeded"}], True)
@example([{"tcb": {"isvsvn": -1}, "tcbStatus": "UpToDate"}], False)
@example([{"tcb": {"isvsvn": 1}, "tcbStatus": "UpToDate", "advisoryIDs": [None]}], False)
def test_lean_module_levels_read_as_level_by_level(items: list[Any], qe: bool) -> None:
    allowed = collateral._QE_STATUSES if qe else None
    j = JsonObject("qe_identity", {"tcbLevels": items})
    lean = _outcome(lambda: collateral._module_levels(j, allowed))
    assert lean == _outcome(lambda: tuple(
        collateral._module_level(j.sub(level, f"tcbLevels[{i}]"), allowed) for i, level in enumerate(items)))
    if isinstance(lean, tuple):
        assert all(type(level) is collateral.ModuleTcbLevel for level in lean)


# --- The collateral JSON --------------------------------------------------------------------------------------

def test_collateral_round_trips_and_names_the_field_it_refuses() -> None:
    good = PKI.collateral(spec())
    assert Collateral.from_json(good.to_json()) == good
    fields = json.loads(good.to_json())
    for name, value, reason in [("tcb_info", None, "missing or not a string"), ("pck_crl", 7, "missing or not a string"),
                                ("qe_identity_signature", "zz", "not hex"), ("root_ca_crl", "0", "not hex")]:
        with pytest.raises(MalformedMessage, match=f"{name}.*{reason}"):
            Collateral.from_json(json.dumps({**fields, name: value}))
    with pytest.raises(MalformedMessage, match="pck_crl_issuer_chain.*missing"):
        Collateral.from_json(json.dumps({k: v for k, v in fields.items() if k != "pck_crl_issuer_chain"}))
