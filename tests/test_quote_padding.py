"""Quotes as real platforms hand them over: padded after the signature data.

TDX quotes usually arrive in a fixed buffer (8,000 bytes is common) with zeros
after the signature data. Nothing signs those bytes and nothing reads them;
the quote keeps them only so that it serialises back to exactly its input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from sgxra.cli.inputs import decode_text
from sgxra.cli.main import main
from sgxra.errors import MalformedMessage
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbStatus
from sgxra.wire.dcap_quote import MAX_SIG_DATA, MAX_TRAILING, DcapQuote
from vectors_env import SGX_AT as AT
from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, RealSgx

DATA = Path(__file__).parent / "data"
QVL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "intel-qvl"
SIG_LEN_AT = 48 + 384  # a v3 quote's sig_data_len field
PADDINGS = {
    "zeros-to-8000": lambda q: q + bytes(8000 - len(q)),
    "non-zero-trailing": lambda q: q + b"\xde\xad\xbe\xef" * 16 + b"\x01",
}


@pytest.fixture(scope="module")
def real(real_sgx: RealSgx) -> tuple[bytes, Collateral]:
    return real_sgx.quote, real_sgx.collateral


@pytest.mark.parametrize("padding", PADDINGS)
def test_padded_real_quote_parses_round_trips_and_verifies(real: tuple[bytes, Collateral], padding: str) -> None:
    quote, collateral = real
    padded = PADDINGS[padding](quote)
    parsed = DcapQuote.parse(padded)
    assert len(parsed.trailing) == len(padded) - len(quote) and parsed.to_bytes() == padded
    assert parsed.signed_bytes() == DcapQuote.parse(quote).signed_bytes()
    verdict = verify_dcap_quote(padded, collateral, at=AT)
    assert verdict.status is TcbStatus.ConfigurationAndSWHardeningNeeded
    assert verdict.advisory_ids == ("INTEL-SA-00289", "INTEL-SA-00615")


@pytest.mark.parametrize("padding", PADDINGS)
def test_intel_qvl_judges_the_padded_quote_the_same(real: tuple[bytes, Collateral], padding: str,
                                                    tmp_path: Path) -> None:
    if not (QVL / "AttestationApp").exists():
        pytest.skip(f"Intel's QVL is not present at {QVL}")
    quote, collateral = real
    path = tmp_path / "padded.bin"
    path.write_bytes(PADDINGS[padding](quote))
    out = subprocess.run(
        [sys.executable, "qvl-verify.py", str(path), str(SGX_COLLATERAL), str(SGX_AT_UNIX), "./AttestationApp"],
        cwd=QVL, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    intel = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    ours = verify_dcap_quote(path.read_bytes(), collateral, at=AT)
    assert intel["status"] == ours.status.value == "ConfigurationAndSWHardeningNeeded"
    assert intel["trailing_bytes"] == len(DcapQuote.parse(path.read_bytes()).trailing)


def test_intel_qvl_judges_the_real_padded_tdx_quote_the_same() -> None:
    if not (QVL / "AttestationApp").exists():
        pytest.skip(f"Intel's QVL is not present at {QVL}")
    out = subprocess.run(
        [sys.executable, "qvl-verify.py", str(DATA / "real" / "tdx_v4_b0c06f_dcapqvl.bin"),
         str(DATA / "real" / "tdx_v4_b0c06f_dcapqvl.collateral.json"), "1752919234", "./AttestationApp"],
        cwd=QVL, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    intel = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    ours = verify_dcap_quote((DATA / "real" / "tdx_v4_b0c06f_dcapqvl.bin").read_bytes(),
                             Collateral.from_json((DATA / "real" / "tdx_v4_b0c06f_dcapqvl.collateral.json").read_text()),
                             at=datetime.fromtimestamp(1752919234, timezone.utc))
    assert intel["status"] == ours.status.value == "UpToDate" and intel["trailing_bytes"] == 70


def test_real_padded_tdx_quote_verifies() -> None:
    """A TDX quote from real hardware, published zero-padded (provenance in tests/data/README.md)."""
    raw = (DATA / "real" / "tdx_v4_b0c06f_dcapqvl.bin").read_bytes()
    parsed = DcapQuote.parse(raw)
    assert parsed.is_tdx and len(raw) == 5006 and parsed.trailing == bytes(70) and parsed.to_bytes() == raw
    collateral = Collateral.from_json((DATA / "real" / "tdx_v4_b0c06f_dcapqvl.collateral.json").read_text())
    verdict = verify_dcap_quote(raw, collateral, at=datetime.fromtimestamp(1752919234, timezone.utc))
    assert verdict.status is TcbStatus.UpToDate and verdict.tdx_module_status is TcbStatus.UpToDate
    assert verdict.pck.fmspc.hex().upper() == "B0C06F000000" and verdict.ca_type == "platform"


def test_real_padded_tdx_quote_in_hex_as_published() -> None:
    raw = decode_text((DATA / "tdx_v4_padded_quote_2024.hex").read_bytes(), "quote")
    parsed = DcapQuote.parse(raw)
    assert parsed.version == 4 and parsed.is_tdx and parsed.trailing == bytes(70) and parsed.to_bytes() == raw


def test_sig_data_len_is_still_bounded_and_exact(real: tuple[bytes, Collateral]) -> None:
    quote = real[0]
    declared = int.from_bytes(quote[SIG_LEN_AT : SIG_LEN_AT + 4], "little")

    def with_len(size: int, data: bytes = quote) -> bytes:
        return data[:SIG_LEN_AT] + size.to_bytes(4, "little") + data[SIG_LEN_AT + 4 :]

    with pytest.raises(MalformedMessage, match=f"{declared + 1} exceeds the {declared} bytes that follow"):
        DcapQuote.parse(with_len(declared + 1))
    with pytest.raises(MalformedMessage, match=f"exceeds {MAX_SIG_DATA}"):
        DcapQuote.parse(with_len(MAX_SIG_DATA + 1, quote + bytes(MAX_SIG_DATA)))
    # The signature data must fill sig_data_len exactly, padding or not: a short length cuts into the chain.
    with pytest.raises(MalformedMessage, match="certification_data.data"):
        DcapQuote.parse(with_len(declared - 1, quote + bytes(100)))
    # A longer length swallowing padding leaves bytes inside the signature data that nothing accounts for.
    with pytest.raises(MalformedMessage, match="unexpected trailing bytes"):
        DcapQuote.parse(with_len(declared + 4, quote + bytes(100)))
    with pytest.raises(MalformedMessage, match="after the signature data exceeds"):
        DcapQuote.parse(quote + bytes(MAX_TRAILING + 1))


def test_inspect_shows_the_padding(real: tuple[bytes, Collateral], tmp_path: Path) -> None:
    path = tmp_path / "padded.bin"
    path.write_bytes(PADDINGS["zeros-to-8000"](real[0]))
    result = CliRunner().invoke(main, ["inspect", "quote", str(path), "--json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.output)
    assert obj["trailing_bytes"] == 8000 - 4600 and obj["trailing_all_zero"] is True
    text = CliRunner().invoke(main, ["inspect", "quote", f"@{path}"]).output
    assert "quote.trailing_bytes" in text and "= 3400" in text
