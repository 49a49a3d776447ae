from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sgxra.cli.main import main


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_inspect_msg3_json_uses_sdk_field_names(sample_session: dict[str, Any]) -> None:
    result = run("inspect", "msg3", sample_session["msg3_hex"], "--json")
    assert result.exit_code == 0, result.output
    obj = json.loads(result.output)
    body = obj["quote"]["report_body"]
    assert obj["g_a"] == sample_session["msg0_msg1_hex"][8:136]
    assert body["mr_signer"] == "bd71c6380ef77c5417e8b2d1ce2d4b6504b9f418e5049342440cfff2443d95bd"
    assert body["isv_prod_id"] == 0 and body["isv_svn"] == 1 and body["attributes"]["debug"] is True
    assert obj["quote"]["epid_group_id"] == "e00a0000" and obj["quote"]["version"] == 2
    assert set(body) >= {"mr_enclave", "mr_signer", "isv_prod_id", "isv_svn", "attributes", "report_data", "cpu_svn"}


def test_inspect_text_lists_fields_like_the_sample(sample_session: dict[str, Any]) -> None:
    result = run("inspect", "msg0msg1", sample_session["msg0_msg1_hex"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert any(line.startswith("msg0msg1.gid") and line.endswith("= e00a0000") for line in lines)
    assert any(line.startswith("msg0msg1.extended_epid_group_id") and line.endswith("= 0") for line in lines)


def test_inspect_every_kind_from_a_file(sample_session: dict[str, Any], tmp_path: Path) -> None:
    msg3 = bytes.fromhex(sample_session["msg3_hex"])
    files = {
        "msg2": sample_session["msg2_hex"].encode(),
        "msg4": bytes.fromhex(sample_session["msg4_hex"]),  # raw bytes, not hex
        "quote": msg3[336:].hex().encode() + b"\n",
        "report-body": msg3[336 + 48 : 336 + 432],
        "pib": ("1502" + "0065" + "00" * 101).encode(),
    }
    for kind, content in files.items():
        path = tmp_path / kind
        path.write_bytes(content)
        result = run("inspect", kind, f"@{path}", "--json")
        assert result.exit_code == 0, (kind, result.output)
        assert json.loads(result.output)


def test_inspect_msg2_json(sample_session: dict[str, Any]) -> None:
    obj = json.loads(run("inspect", "msg2", sample_session["msg2_hex"], "--json").output)
    assert obj["spid"] == "928a6b0e3cddad56eb3badaa3b63f71f"
    assert obj["kdf_id"] == 1 and obj["quote_type"] == "UNLINKABLE" and obj["sig_rl_size"] == 0


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("inspect", "msg2", "00ff"), 3, "field 'g_b'"),
        (("inspect", "msg2", "zz"), 3, "not hex at offset 0"),
        (("inspect", "msg2", "abc"), 3, "odd number"),
        (("inspect", "msg2", "@/nonexistent/file"), 1, "No such file"),
        (("inspect", "nonsense", "00"), 2, "Invalid value"),
    ],
)
def test_inspect_errors_are_clear(args: tuple[str, ...], code: int, text: str) -> None:
    result = run(*args)
    assert result.exit_code == code
    assert text in result.output


def test_demo_shows_a_trust_and_a_refusal() -> None:
    result = subprocess.run([sys.executable, "-m", "sgxra", "demo"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "verdict: Trusted (reason NONE, msg4 authenticated)" in out
    assert "secret unsealed inside the enclave: 'the database password" in out
    assert "verdict: NotTrusted (reason POLICY, msg4 authenticated)" in out and "no secret was sent" in out
    assert "enclave runs in debug mode" in out
