from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import flip
from sgxra.cli.main import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture
def ias(vectors: Path) -> Path:
    return vectors / "ias"


def test_v4_report_json_at_its_timestamp(ias: Path) -> None:
    code, out = run("verify-report", str(ias / "avr_v4_sw_hardening_needed.json"),
                    "--signature", str(ias / "avr_v4_sw_hardening_needed.sig.b64"),
                    "--chain", str(ias / "signing_chain_urlencoded.txt"),
                    "--api-version", "4", "--at", "2020-05-11T09:21:16Z", "--json")
    assert code == 0, out
    obj = json.loads(out)
    assert obj["status"] == "SW_HARDENING_NEEDED" and obj["advisoryIDs"] == ["INTEL-SA-00334"]
    assert obj["nonce"] == "biNMqBAuTPF2hp/0fXa4P3splRkLHJf0" and obj["version"] == 4


def test_v3_report_with_raw_signature_and_unix_time(ias: Path) -> None:
    code, out = run("verify-report", str(ias / "avr_v3_ok.json"), "--signature", str(ias / "avr_v3_ok.sig.bin"),
                    "--chain", str(ias / "signing_leaf.pem"), "--at", "1535069739", "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "OK"


def test_expired_at_default_now_and_at_2026_12_01(ias: Path) -> None:
    args = ["verify-report", str(ias / "avr_v3_ok.json"), "--signature", str(ias / "avr_v3_ok.sig.bin"),
            "--chain", str(ias / "signing_leaf.pem")]
    code, out = run(*args, "--at", "2026-12-01")
    assert code == 9 and "certificate expired" in out
    code, out = run(*args)  # now: after 2026-11-20, the leaf has expired
    assert code == 9 and "CertificateExpired" in out


def test_distinct_codes_per_failure(ias: Path, tmp_path: Path) -> None:
    body = ias / "avr_v3_ok.json"
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(flip(body.read_bytes(), 50))
    common = ["--signature", str(ias / "avr_v3_ok.sig.bin"), "--at", "1535069739"]
    assert run("verify-report", str(tampered), *common, "--chain", str(ias / "signing_leaf.pem"))[0] == 7
    assert run("verify-report", str(body), *common, "--chain", str(ias / "signing_leaf.pem"),
               "--api-version", "4")[0] == 10
    code, out = run("verify-report", str(body), *common)
    assert code == 8 and "give --chain" in out
    bad_chain = tmp_path / "chain.pem"
    bad_chain.write_text("not a certificate")
    assert run("verify-report", str(body), *common, "--chain", str(bad_chain))[0] == 3
    assert run("verify-report", str(body), "--signature", str(ias / "avr_v3_ok.sig.bin"),
               "--chain", str(ias / "signing_leaf.pem"), "--at", "yesterday")[0] == 3
