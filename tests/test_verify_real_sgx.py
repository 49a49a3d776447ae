"""One call and one policy on the real SGX quote (../shared/vectors/dcap) at its pinned time.

Expected (vectors README, and Intel's QVL): ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and
INTEL-SA-00615. The supplemental data is checked field by field at the offsets of Intel's header.
"""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

import sgxra
from sgxra.cli.main import main
from sgxra.errors import CollateralExpired
from sgxra.pcs.key import CollateralKey
from sgxra.validate.policy_file import parse_policy
from sgxra.verify.result import DcapResult
from sgxra.wire.collateral import Collateral
from vectors_env import SGX_AT as AT
from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, SGX_QUOTE

MR_ENCLAVE = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
STATUS = "ConfigurationAndSWHardeningNeeded"
ADVISORIES = ["INTEL-SA-00289", "INTEL-SA-00615"]
# Intel's root key id (SHA-384 of the SGX Root CA's public key point), as Intel's QVL prints it in real
# supplemental data, e.g. the "[Supplemental Data]" output in the README of acompany-develop's Humane-RAFW
# TDX framework (root_key_id -> 46e403bd...).
INTEL_ROOT_KEY_ID = ("46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5"
                     "dcf58eef31463613de1570d516200993")


@pytest.fixture(scope="module")
def files(vectors: Path) -> tuple[Path, Path]:  # through `vectors`: skipped where they are absent
    return SGX_QUOTE, SGX_COLLATERAL


@pytest.fixture(scope="module")
def result(files: tuple[Path, Path]) -> DcapResult:
    quote, collateral = files
    out = sgxra.verify(quote.read_bytes(), collateral=Collateral.from_json(collateral.read_text()), at=AT)
    assert isinstance(out, DcapResult)
    return out


def _policy_file(tmp_path: Path, advisories: list[str]) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(f'mr_enclaves = ["{MR_ENCLAVE}"]\naccepted_statuses = ["UpToDate", "{STATUS}"]\n'
                    f"accepted_advisories = {json.dumps(advisories)}\n")
    return path


def _cli(files: tuple[Path, Path], *extra: str) -> tuple[int, str]:
    quote, collateral = files
    run = CliRunner().invoke(main, ["verify", str(quote), "--collateral", str(collateral), "--at", str(SGX_AT_UNIX),
                                    *extra])
    return run.exit_code, run.output


def test_policy_with_its_mrenclave_status_and_advisories_accepts(files: tuple[Path, Path], tmp_path: Path) -> None:
    code, out = _cli(files, "--policy", str(_policy_file(tmp_path, ADVISORIES)))
    assert code == 0, out
    assert "policy: accepted" in out and STATUS in out


def test_without_the_advisories_the_policy_refuses_naming_them(files: tuple[Path, Path], tmp_path: Path) -> None:
    code, out = _cli(files, "--policy", str(_policy_file(tmp_path, [])))
    assert code == 6, out
    assert "policy: REFUSED" in out and "not accepted: INTEL-SA-00289, INTEL-SA-00615" in out


def test_json_prints_the_whole_result_with_every_violation_whatever_the_verdict(
        files: tuple[Path, Path], tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('mr_enclaves = ["' + "00" * 32 + '"]\n')
    code, out = _cli(files, "--policy", str(policy), "--json")
    assert code == 6
    printed = json.loads(out)
    assert printed["status"] == STATUS and printed["advisory_ids"] == ADVISORIES
    rules = [v["rule"] for v in printed["policy"]["violations"]]
    assert rules == ["mr_enclave", "status", "advisories"] and printed["policy"]["accepted"] is False


def test_library_one_call_applies_the_policy(files: tuple[Path, Path]) -> None:
    quote, collateral = files
    policy = parse_policy({"mr_enclaves": [MR_ENCLAVE], "accepted_statuses": [STATUS],
                           "accepted_advisories": ADVISORIES[:1]}).policy
    judged = sgxra.verify(quote.read_bytes(), collateral=Collateral.from_json(collateral.read_text()), at=AT,
                          policy=policy)
    assert not judged.accepted and judged.policy is not None
    assert [str(v) for v in judged.policy.violations] == ["advisories: not accepted: INTEL-SA-00615"]


def test_result_is_frozen_and_serializes(result: DcapResult) -> None:
    with pytest.raises(AttributeError):
        result.simulated = True  # type: ignore[misc]
    plain = json.loads(result.to_json())
    assert plain == result.to_dict()
    assert plain["tee"] == "SGX" and plain["simulated"] is False and plain["fmspc"] == "00a067110000"
    assert plain["body"]["mr_enclave"] == MR_ENCLAVE and plain["tcb_date"] == "2024-03-13T00:00:00Z"
    assert plain["root_key_id"] == INTEL_ROOT_KEY_ID and plain["pck_ca"] == "processor"
    assert plain["earliest_expiration_date"] == "2025-07-19T10:01:18Z"  # the README's window end
    assert plain["latest_issue_date"] == "2025-06-19T10:56:11Z"  # the README's window start
    assert plain["verified_at"] == "2025-07-19T10:01:17Z"
    assert plain["collateral_issued"] == "2025-06-19T10:01:18Z"  # the QE identity's issueDate, the oldest


def test_supplemental_data_field_by_field(result: DcapResult) -> None:
    data = result.to_supplemental()
    # Offsets of sgx_ql_qv_supplemental_t (QuoteVerification/QvE/Include/sgx_qve_def.h, Intel DCAP a46ee8a),
    # computed with gcc from the header: /work/shared/research/ATTESTATION-NOTES.md section 2.2.
    assert len(data) == 536
    u16 = lambda off: struct.unpack_from("<H", data, off)[0]  # noqa: E731
    u32 = lambda off: struct.unpack_from("<I", data, off)[0]  # noqa: E731
    i64 = lambda off: struct.unpack_from("<q", data, off)[0]  # noqa: E731
    v = result.verdict
    assert (u16(0), u16(2)) == (3, 3)  # version: major, minor
    assert data[4:8] == bytes(4)  # padding
    assert i64(8) == int(v.dates.earliest_issue.timestamp())  # earliest_issue_date
    assert i64(16) == 1750330571  # latest_issue_date: the README's window start
    assert i64(24) == 1752919278  # earliest_expiration_date: the README's window end
    assert i64(32) == int(datetime(2024, 3, 13, tzinfo=timezone.utc).timestamp())  # tcb_level_date_tag
    assert u32(40) == v.pck_crl_number == 1  # pck_crl_num
    assert u32(44) == v.root_ca_crl_number == 1  # root_ca_crl_num
    assert u32(48) == 17  # tcb_eval_ref_num
    assert data[52:100].hex() == INTEL_ROOT_KEY_ID  # root_key_id
    assert data[100:116] == v.pck.ppid  # pck_ppid
    assert data[116:132] == v.pck.cpusvn  # tcb_cpusvn
    assert u16(132) == v.pck.pcesvn == 13  # tcb_pce_isvsvn
    assert data[134:136] == v.pck.pce_id  # pce_id
    assert u32(136) == 0  # tee_type: SGX
    assert data[140] == 0  # sgx_type: Standard
    assert data[141:157] == bytes(16)  # platform_instance_id: a Processor CA PCK has none
    assert data[157:160] == bytes(3)  # padding
    assert (u32(160), u32(164), u32(168)) == (2, 2, 2)  # dynamic_platform, cached_keys, smt_enabled: undefined
    assert data[172:492].rstrip(b"\x00") == b"INTEL-SA-00289,INTEL-SA-00615"  # sa_list, NUL-terminated
    assert data[492:496] == bytes(4)  # padding
    qe = v.qe_identity_dates
    assert (i64(496), i64(504), i64(512)) == (int(qe.earliest_issue.timestamp()), int(qe.latest_issue.timestamp()),
                                              int(qe.earliest_expiration.timestamp()))  # qe_iden_* dates
    assert i64(520) == int(datetime(2024, 3, 13, tzinfo=timezone.utc).timestamp())  # qe_iden_tcb_level_date_tag
    assert u32(528) == 17  # qe_iden_tcb_eval_ref_num
    assert u32(532) == 0  # qe_iden_status: OK (UpToDate)


def test_fetcher_is_asked_for_the_quotes_key_and_the_async_twin_agrees(files: tuple[Path, Path]) -> None:
    quote, collateral_file = files
    asked: list[CollateralKey] = []

    def fetch(key: CollateralKey) -> Collateral:
        asked.append(key)
        return Collateral.from_json(collateral_file.read_text())

    result = asyncio.run(sgxra.averify(quote.read_bytes(), fetcher=fetch, at=AT))
    assert asked == [CollateralKey(bytes.fromhex("00a067110000"), "processor", "SGX")]
    assert result.status == STATUS


def test_collateral_past_its_window_is_an_error_with_its_exit_code(files: tuple[Path, Path]) -> None:
    quote, collateral = files
    with pytest.raises(CollateralExpired):
        sgxra.verify(quote.read_bytes(), collateral=Collateral.from_json(collateral.read_text()),
                     at=datetime.fromtimestamp(1752919279, timezone.utc))
    run = CliRunner().invoke(main, ["verify", str(quote), "--collateral", str(collateral), "--at", "1752919279",
                                    "--json"])
    assert run.exit_code == 9 and json.loads(run.output)["error"]["type"] == "CollateralExpired"
