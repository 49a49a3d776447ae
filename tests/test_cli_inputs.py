"""Evidence as users have it: raw bytes, hex or base64, from a file, @FILE, standard input or inline.

The rule (``sgxra.cli.inputs``): input with any byte that is not printable
ASCII or whitespace is raw; other input is hex when it is hex digits only (or
starts with 0x), else padded base64; anything else is an error naming the
first character that is not hex. Every command that reads a quote or a report
applies it the same way.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dcap_env import NOW, PKI, spec
from dcap_env import quote as sim_quote
from servers import ServerThread
from sgxra.cli.inputs import QUOTE, decode_text, read_input
from sgxra.cli.main import main
from sgxra.errors import MalformedMessage
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from sgxra.wire.collateral import Collateral
from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, RealSgx


def wrapped(text: bytes, width: int) -> bytes:
    return b"\n".join(text[i : i + width] for i in range(0, len(text), width)) + b"\n"


FORMS: dict[str, Callable[[bytes], bytes]] = {
    "raw": lambda b: b,
    "hex": lambda b: b.hex().encode() + b"\n",
    "hex-0x-upper-wrapped": lambda b: b"0x" + wrapped(b.hex().upper().encode(), 64),
    "hex-spaced": lambda b: b" ".join(b[i : i + 4].hex().encode() for i in range(0, len(b), 4)),
    "base64-wrapped": base64.encodebytes,
    "base64-urlsafe": base64.urlsafe_b64encode,
}
WHERE = ("file", "@file", "stdin", "inline")


def cases(forms: list[str]) -> list[tuple[str, str]]:
    """Every form from everywhere, but raw bytes inline (a command-line argument cannot hold them)."""
    return [(form, where) for form in forms for where in WHERE if (form, where) != ("raw", "inline")]


def source(form: str, where: str, data: bytes, tmp_path: Path) -> tuple[str, bytes | None]:
    """The command-line argument and standard input for ``data`` in this form."""
    encoded = FORMS[form](data)
    if where == "inline":
        return encoded.decode(), None
    if where == "stdin":
        return "-", encoded
    path = tmp_path / f"input.{form}"
    path.write_bytes(encoded)
    return (f"@{path}" if where == "@file" else str(path)), None


def run(args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, input=stdin)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def real_quote(real_sgx: RealSgx) -> bytes:
    return real_sgx.quote


# -- the rule itself -----------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_every_form_gives_the_same_bytes(form: str, real_quote: bytes, tmp_path: Path) -> None:
    path = tmp_path / "q"
    path.write_bytes(FORMS[form](real_quote))
    assert read_input(str(path), "quote", QUOTE) == read_input(f"@{path}", "quote", QUOTE) == real_quote


def test_raw_binary_is_never_read_as_text(real_quote: bytes, tmp_path: Path) -> None:
    # A quote whose certification data is printable still starts with 03 00: raw.
    for raw in (real_quote, bytes([2, 0]) + b"A" * 60, bytes([4, 0, 2, 0, 0x81]) + bytes(3)):
        path = tmp_path / "raw.bin"
        path.write_bytes(raw)
        assert read_input(str(path), "quote", QUOTE) == raw


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"0x030002zz", "not hex at offset 8 \\('z'\\)"),
        (b"  0x0300\n02g0", "not hex at offset 11 \\('g'\\)"),
        (b"030002000000g0", "not hex at offset 12 \\('g'\\), and not base64: 14 characters is not a multiple of 4"),
        (b"0300:0200", "not hex at offset 4 \\(':'\\), and not base64: characters outside the base64 alphabet"),
        (b"hello world", "not hex at offset 0 \\('h'\\), and not base64"),
        (b"AwACAA", "not a multiple of 4 \\(base64 must be padded\\)"),
        (b"030", "odd number of hex digits \\(3\\)"),
    ],
)
def test_text_that_is_neither_is_an_error_naming_the_position(text: bytes, match: str) -> None:
    with pytest.raises(MalformedMessage, match=match):
        decode_text(text, "quote", QUOTE)


def test_mistyped_hex_that_happens_to_be_base64_is_refused_by_shape(real_quote: bytes) -> None:
    bad = (real_quote.hex()[:17] + "z" + real_quote.hex()[18:]).encode()
    assert len(bad) % 4 == 0  # valid base64 characters, valid length: only the shape check stands in the way
    with pytest.raises(MalformedMessage, match="not hex at offset 17 \\('z'\\), and read as base64 it is not a quote"):
        decode_text(bad, "quote", QUOTE)


def test_help_documents_the_rule() -> None:
    for command in (["inspect"], ["verify-quote"], ["verify-report"], ["collateral", "fetch"]):
        code, out = run([*command, "--help"])
        assert code == 0 and "printable ASCII" in out and "base64" in out and "@FILE" in out, command


# -- each command, each form ---------------------------------------------------


@pytest.mark.parametrize(("form", "where"), cases(list(FORMS)))
def test_inspect(form: str, where: str, real_quote: bytes, tmp_path: Path) -> None:
    given = source(form, where, real_quote, tmp_path)
    code, out = run(["inspect", "quote", given[0], "--json"], given[1])
    assert code == 0, out
    assert json.loads(out)["header"]["version"] == 3


@pytest.mark.parametrize(("form", "where"), cases(list(FORMS)))
def test_verify_quote(form: str, where: str, real_quote: bytes, tmp_path: Path) -> None:
    given = source(form, where, real_quote, tmp_path)
    code, out = run(["verify-quote", given[0], "--collateral", str(SGX_COLLATERAL), "--at", str(SGX_AT_UNIX), "--json"],
                    given[1])
    assert code == 0, out
    assert json.loads(out)["status"] == "ConfigurationAndSWHardeningNeeded"


@pytest.fixture(scope="module")
def pcs_url() -> Iterator[str]:
    with ServerThread(create_app(MockPcs(PKI, {DEFAULT_FMSPC: spec()}, lambda: NOW))) as server:
        yield server.url + "/sgx/certification/v4"


@pytest.mark.parametrize(("form", "where"), cases(["raw", "hex-0x-upper-wrapped", "base64-wrapped"]))
def test_collateral_fetch(form: str, where: str, pcs_url: str, tmp_path: Path) -> None:
    given = source(form, where, sim_quote(), tmp_path)
    code, out = run(["collateral", "fetch", given[0], "--pccs", pcs_url], given[1])
    assert code == 0, out
    assert Collateral.from_json(out).tcb_info


@pytest.fixture(scope="module")
def report(vectors: Path) -> dict[str, bytes]:
    ias = vectors / "ias"
    body = (ias / "avr_v4_sw_hardening_needed.json").read_bytes()
    quote_body = base64.b64decode(json.loads(body)["isvEnclaveQuoteBody"])
    return {"body": body, "signature": base64.b64decode((ias / "avr_v4_sw_hardening_needed.sig.b64").read_bytes()),
            "quote": quote_body + bytes(4), "chain": str(ias / "signing_chain_urlencoded.txt").encode()}


@pytest.mark.parametrize(("form", "where"), cases(["raw", "hex", "hex-0x-upper-wrapped", "base64-wrapped",
                                                   "base64-urlsafe"]))
@pytest.mark.parametrize("what", ["body", "signature", "quote"])
def test_verify_report(what: str, form: str, where: str, report: dict[str, bytes], tmp_path: Path) -> None:
    given = source(form, where, report[what], tmp_path)
    files = {}
    for name in ("body", "signature", "quote"):
        files[name] = tmp_path / f"{name}.given"
        files[name].write_bytes(report[name])
    args = {name: str(path) for name, path in files.items()} | {what: given[0]}
    code, out = run(["verify-report", args["body"], "--signature", args["signature"], "--quote", args["quote"],
                     "--chain", report["chain"].decode(), "--at", "2020-05-11T09:21:16Z", "--json"], given[1])
    assert code == 0, out
    assert json.loads(out)["status"] == "SW_HARDENING_NEEDED"


def test_verify_report_takes_the_report_json_inline(report: dict[str, bytes], tmp_path: Path) -> None:
    signature = tmp_path / "sig"
    signature.write_bytes(report["signature"])
    code, out = run(["verify-report", report["body"].decode(), "--signature", str(signature),
                     "--chain", report["chain"].decode(), "--at", "2020-05-11T09:21:16Z"])
    assert code == 0 and "SW_HARDENING_NEEDED" in out, out


def test_verify_report_refuses_a_different_quote_in_any_form(report: dict[str, bytes], tmp_path: Path) -> None:
    body, signature = tmp_path / "body.json", tmp_path / "sig"
    body.write_bytes(report["body"])
    signature.write_bytes(report["signature"])
    other = bytearray(report["quote"])
    other[100] ^= 1
    code, out = run(["verify-report", str(body), "--signature", str(signature), "--quote", base64.b64encode(other).decode(),
                     "--chain", report["chain"].decode(), "--at", "2020-05-11T09:21:16Z"])
    assert code == 10 and "different quote" in out


# -- errors are the same everywhere ---------------------------------------------


def test_bad_hex_is_an_error_in_every_command(real_quote: bytes, report: dict[str, bytes], pcs_url: str,
                                               tmp_path: Path) -> None:
    bad = real_quote.hex()[:17] + "z" + real_quote.hex()[18:]
    path = tmp_path / "bad.hex"
    path.write_text(bad)
    body, signature = tmp_path / "body.json", tmp_path / "sig"
    body.write_bytes(report["body"])
    signature.write_bytes(report["signature"])
    bad_body = report["body"].hex()[:17] + "z" + report["body"].hex()[18:]
    report_args = ["--chain", report["chain"].decode(), "--at", "2020-05-11T09:21:16Z"]
    commands = [
        (["inspect", "quote", str(path)], bad),
        (["verify-quote", str(path), "--collateral", str(SGX_COLLATERAL)], bad),
        (["collateral", "fetch", str(path), "--pccs", pcs_url], bad),
        (["verify-report", str(body), "--signature", str(signature), "--quote", "-", *report_args], bad),
        (["verify-report", "-", "--signature", str(signature), *report_args], bad_body),
    ]
    for command, stdin in commands:
        code, out = run(command, stdin.encode())
        assert code == 3 and "not hex at offset 17 ('z')" in out, (command, out)
    code, out = run(["inspect", "quote", "0x0300zz"])
    assert code == 3 and "not hex at offset 6 ('z')" in out


def test_only_one_input_from_standard_input(report: dict[str, bytes]) -> None:
    code, out = run(["verify-report", "-", "--signature", "-", "--chain", report["chain"].decode()], report["body"])
    assert code == 2 and "only one input" in out


@pytest.mark.parametrize("kind", ["msg0msg1", "msg2", "msg3", "msg4"])
def test_inspect_messages_in_base64_and_mistyped_hex(kind: str, sample_session: dict[str, Any]) -> None:
    raw = bytes.fromhex(sample_session[f"{kind.replace('msg0msg1', 'msg0_msg1')}_hex"])
    code, out = run(["inspect", kind, base64.b64encode(raw).decode(), "--json"])
    assert code == 0, out
    typo = raw.hex()[:9] + "x" + raw.hex()[10:]
    code, out = run(["inspect", kind, typo + "00" * (-len(typo) % 4 // 2)])  # a length base64 would accept
    assert code == 3 and "not hex at offset 9 ('x')" in out, out
