"""Real IAS API v2 reports (no ``version`` field), signed by Intel in June 2018."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from conftest import flip
from sgxra.cli.main import main
from sgxra.errors import EvidenceMismatch, MalformedMessage, SignatureInvalid
from sgxra.verify import load_urlencoded_chain, verify_report
from sgxra.verify.trust import intel_ias_report_signing_root
from sgxra.wire.ias_report import AttestationReport, QuoteStatus

DATA = Path(__file__).parent / "data" / "ias_v2"
OK_AT = datetime(2018, 6, 12, 17, 10, 19, 129261, tzinfo=timezone.utc)
GOODA_AT = datetime(2018, 6, 30, 3, 57, 5, 869148, tzinfo=timezone.utc)


def load(name: str) -> tuple[bytes, bytes]:
    return (DATA / f"avr_v2_{name}.json").read_bytes(), base64.b64decode((DATA / f"avr_v2_{name}.sig.b64").read_text())


@pytest.fixture(scope="module")
def chain(vectors: Path) -> list[x509.Certificate]:
    return list(load_urlencoded_chain((vectors / "ias" / "signing_chain_urlencoded.txt").read_text().strip()))


def test_v2_report_without_a_required_version_is_accepted_as_version_2(chain: list[x509.Certificate]) -> None:
    body, sig = load("ok")
    assert b'"version"' not in body
    report = verify_report(body, sig, chain=chain, at=OK_AT)
    assert report.version == 2 and not report.declares_version
    assert report.status == "OK" and report.to_json_dict()["version"] == 2
    assert report.quote.version == 2 and report.quote.gid == 0x00000ADA


def test_v2_group_out_of_date_report_carries_its_platform_info_blob(chain: list[x509.Certificate]) -> None:
    body, sig = load("gooda")
    report = verify_report(body, sig, chain=chain, at=GOODA_AT)
    assert report.isv_enclave_quote_status is QuoteStatus.GROUP_OUT_OF_DATE and report.version == 2
    assert report.platform_info_blob is not None and report.platform_info_blob.gid == 0x00000ADA
    assert report.advisory_ids == () and report.epid_pseudonym is None


@pytest.mark.parametrize("required", [2, 3, 4, 5])
def test_v2_report_is_a_version_mismatch_when_a_version_is_required(chain: list[x509.Certificate], required: int) -> None:
    body, sig = load("ok")
    with pytest.raises(EvidenceMismatch, match=f"no version field .*API version used \\({required}\\)"):
        verify_report(body, sig, chain=chain, at=OK_AT, api_version=required)


def test_v2_signature_is_intels_and_covers_every_byte(chain: list[x509.Certificate]) -> None:
    body, sig = load("ok")
    assert chain[1] == intel_ias_report_signing_root()
    with pytest.raises(SignatureInvalid):
        verify_report(flip(body, 40), sig, chain=chain, at=OK_AT)
    with pytest.raises(SignatureInvalid):
        verify_report(body, flip(sig, 7), chain=chain, at=OK_AT)


def test_v3_report_still_verifies_as_version_3(vectors: Path, chain: list[x509.Certificate]) -> None:
    body = (vectors / "ias" / "avr_v3_ok.json").read_bytes()
    sig = (vectors / "ias" / "avr_v3_ok.sig.bin").read_bytes()
    at = datetime(2018, 8, 24, 0, 15, 38, 12200, tzinfo=timezone.utc)
    report = verify_report(body, sig, chain=chain, at=at, api_version=3)
    assert report.version == 3 and report.declares_version
    with pytest.raises(EvidenceMismatch, match="version 3 is not"):
        verify_report(body, sig, chain=chain, at=at, api_version=4)


@pytest.mark.parametrize("value", [None, "3", 3.0, True])
def test_a_version_field_that_is_present_must_be_an_integer(value: object) -> None:
    obj = json.loads(load("ok")[0])
    with pytest.raises(MalformedMessage) as info:
        AttestationReport.parse(json.dumps(obj | {"version": value}).encode())
    assert info.value.field == "version"


def test_verify_report_command_on_a_v2_report(vectors: Path) -> None:
    args = ["verify-report", str(DATA / "avr_v2_ok.json"), "--signature", str(DATA / "avr_v2_ok.sig.b64"),
            "--chain", str(vectors / "ias" / "signing_chain_urlencoded.txt"), "--at", "2018-06-12T17:10:20Z"]
    ok = CliRunner().invoke(main, [*args, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["version"] == 2 and json.loads(ok.output)["status"] == "OK"
    pinned = CliRunner().invoke(main, [*args, "--api-version", "3"])
    assert pinned.exit_code == 10 and "no version field" in pinned.output
