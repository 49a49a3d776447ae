"""The [tdx] policy table on simulated TDX quotes (every key accepted and refused) and on real TDX quotes."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sgxra
from dcap_env import NOW, PKI
from sgxra.cli.main import main
from sgxra.sim.tdx_qe import DEFAULT_TEE_TCB_SVN, sim_td_report
from sgxra.validate.policy_file import TDX_KEYS, PolicyFileError, parse_policy
from sgxra.verify.result import DcapResult
from sgxra.wire.collateral import Collateral
from sgxra.wire.td_report import TdReport
from tdx_env import TDX_QE, tdx_spec

COLLATERAL = PKI.collateral(tdx_spec())
# Every measurement distinct, so a rule on one key cannot pass by another's value.
REPORT = dataclasses.replace(
    sim_td_report(b"\x07" * 64, rtmrs=(b"\x10" * 48, b"\x11" * 48, b"\x12" * 48, b"\x13" * 48)),
    mr_config_id=b"\x20" * 48, mr_owner=b"\x21" * 48, mr_owner_config=b"\x22" * 48,
)
MEASUREMENT_KEYS = [k for k in TDX_KEYS if k != "min_tee_tcb_svn"]


def _verify(report: TdReport, policy: dict[str, Any], version: int = 4) -> DcapResult:
    quote = TDX_QE.get_quote(report, version=version)
    data = {"allow_simulated": True, "tdx": {"mr_td": [report.mr_td.hex()]} | policy.pop("tdx", {})} | policy
    result = sgxra.verify(quote, collateral=COLLATERAL, at=NOW, root=PKI.root, policy=parse_policy(data).policy)
    assert isinstance(result, DcapResult) and result.tee == "TDX" and result.simulated
    return result


def _rules(result: DcapResult) -> list[str]:
    assert result.policy is not None
    return [v.rule for v in result.policy.violations]


@pytest.mark.parametrize("key", MEASUREMENT_KEYS)
def test_each_tdx_measurement_accepts_its_value_and_refuses_another(key: str) -> None:
    value: bytes = getattr(REPORT, key)
    accepted = _verify(REPORT, {"tdx": {key: [value.hex(), "ff" * 48]}})
    assert accepted.accepted, accepted.policy
    refused = _verify(REPORT, {"tdx": {key: ["ff" * 48]}})
    assert _rules(refused) == [f"tdx.{key}"]
    assert value.hex() in str(refused.policy.violations[0])  # type: ignore[union-attr]


def test_min_tee_tcb_svn_is_compared_component_by_component() -> None:
    svn = bytearray(DEFAULT_TEE_TCB_SVN)
    assert _verify(REPORT, {"tdx": {"min_tee_tcb_svn": bytes(svn).hex()}}).accepted
    higher = bytearray(svn)
    higher[2] += 1  # one component above the TD's, the others equal
    refused = _verify(REPORT, {"tdx": {"min_tee_tcb_svn": bytes(higher).hex()}})
    assert _rules(refused) == ["tdx.min_tee_tcb_svn"] and "component(s) [2]" in str(refused.policy.violations[0])  # type: ignore[union-attr]


def test_debug_td_refused_unless_allowed() -> None:
    debug = dataclasses.replace(REPORT, td_attributes=b"\x01" + bytes(7))
    assert _rules(_verify(debug, {})) == ["debug"]
    assert _verify(debug, {"allow_debug": True}).accepted


def test_tdx_policy_on_a_v5_td15_quote() -> None:
    report = sim_td_report(b"\x05" * 64, td15=True)
    assert _verify(report, {}, version=5).accepted
    assert _rules(_verify(report, {"tdx": {"mr_td": ["00" * 48]}}, version=5)) == ["tdx.mr_td"]


def test_a_td_needs_tdx_rules_naming_a_td_measurement() -> None:
    quote = TDX_QE.get_quote(REPORT, version=4)
    sgx_only = parse_policy({"mr_enclaves": ["00" * 32], "allow_simulated": True}).policy
    result = sgxra.verify(quote, collateral=COLLATERAL, at=NOW, root=PKI.root, policy=sgx_only)
    assert [v.rule for v in result.policy.violations] == ["identity"]  # type: ignore[union-attr]
    module_only = parse_policy({"tdx": {"mr_seam": [REPORT.mr_seam.hex()]}, "allow_simulated": True}).policy
    result = sgxra.verify(quote, collateral=COLLATERAL, at=NOW, root=PKI.root, policy=module_only)
    assert [v.rule for v in result.policy.violations] == ["identity"]  # type: ignore[union-attr]


def test_simulated_td_refused_by_default() -> None:
    quote = TDX_QE.get_quote(REPORT, version=4)
    policy = parse_policy({"tdx": {"mr_td": [REPORT.mr_td.hex()]}}).policy
    result = sgxra.verify(quote, collateral=COLLATERAL, at=NOW, root=PKI.root, policy=policy)
    assert [v.rule for v in result.policy.violations] == ["simulated"]  # type: ignore[union-attr]


def test_tdx_table_errors_name_the_key_and_list_the_valid_ones() -> None:
    with pytest.raises(PolicyFileError) as raised:
        parse_policy({"tdx": {"mrtd": ["00" * 48], "rtmr0": ["abc"], "min_tee_tcb_svn": "00"}})
    errors = raised.value.errors
    assert len(errors) == 3
    assert errors[0].startswith("tdx.mrtd: unknown key; valid keys are mr_td, rtmr0")
    assert "tdx.rtmr0: 'abc' is not 48 bytes of hex" in errors and any("tdx.min_tee_tcb_svn" in e for e in errors)


# Real TDX quotes: the dcap-qvl sample (v4, TD 1.0) and two more real sets (tests/data/real/PROVENANCE.md).
DATA = Path(__file__).parent / "data"
REAL = [
    (DATA / "real" / "tdx_v4_b0c06f_dcapqvl.bin", DATA / "dcap-qvl" / "tdx_quote_collateral.json", 1752000000),
    (DATA / "real" / "tdx_v5_td15_90c06f_gotdxguest.bin", DATA / "real" / "tdx_v5_td15_90c06f_gotdxguest.collateral.json",
     1789052566),
    (DATA / "real" / "tdx_v4_00806f050000_ata.bin", DATA / "real" / "tdx_v4_00806f050000_ata.collateral.json",
     1789139978),
]


def _real(quote: Path) -> bytes:
    raw = quote.read_bytes()
    if quote.name == "tdx_v4_b0c06f_dcapqvl.bin":  # 70 zero bytes after the signature data, which Intel ignores
        raw = raw[: 636 + int.from_bytes(raw[632:636], "little")]
    return raw


@pytest.mark.parametrize(("quote", "collateral", "at"), REAL, ids=lambda v: getattr(v, "name", str(v)))
def test_real_td_accepted_by_its_measurements_and_refused_by_others(quote: Path, collateral: Path, at: int) -> None:
    when = datetime.fromtimestamp(at, timezone.utc)
    result = sgxra.verify(_real(quote), collateral=Collateral.from_json(collateral.read_text()), at=when)
    assert isinstance(result, DcapResult) and not result.simulated and result.status == "UpToDate"
    body = result.body
    assert isinstance(body, TdReport)
    table = {"mr_td": [body.mr_td.hex()], "rtmr0": [body.rtmr0.hex()], "rtmr3": [body.rtmr3.hex()],
             "mr_seam": [body.mr_seam.hex()], "min_tee_tcb_svn": body.tee_tcb_svn.hex()}
    policy = parse_policy({"tdx": table, "min_tcb_evaluation_data_number": result.tcb_evaluation_data_number}).policy
    assert policy.check(result) == []
    wrong = parse_policy({"tdx": table | {"rtmr1": ["00" * 48]}}).policy
    assert [v.rule for v in wrong.check(result)] == ["tdx.rtmr1"]
    plain = json.loads(result.to_json())
    assert plain["tee"] == "TDX" and plain["tee_type"] == 0x81 and plain["body"]["mr_td"] == body.mr_td.hex()


def test_real_td_through_the_cli_with_a_policy_file(tmp_path: Path) -> None:
    quote, collateral, at = REAL[1]
    body = sgxra.verify(quote.read_bytes(), collateral=Collateral.from_json(collateral.read_text()),
                        at=datetime.fromtimestamp(at, timezone.utc)).body
    assert isinstance(body, TdReport)
    policy = tmp_path / "td.toml"
    policy.write_text(f'[tdx]\nmr_td = ["{body.mr_td.hex()}"]\n')
    run = CliRunner().invoke(main, ["verify", str(quote), "--collateral", str(collateral), "--at", str(at),
                                    "--policy", str(policy)])
    assert run.exit_code == 0 and "policy: accepted" in run.output
    policy.write_text('[tdx]\nmr_td = ["' + "00" * 48 + '"]\n')
    run = CliRunner().invoke(main, ["verify", str(quote), "--collateral", str(collateral), "--at", str(at),
                                    "--policy", str(policy)])
    assert run.exit_code == 6 and "tdx.mr_td" in run.output


def test_the_readme_td_policy_accepts_the_real_td_it_names_and_refuses_it_a_day_later() -> None:
    import re
    import tomllib

    block = re.search(r"```toml\n(.*?)```", (Path(__file__).parent.parent / "README.md").read_text(), re.S)
    assert block is not None
    policy = parse_policy(tomllib.loads(block.group(1))).policy
    quote, collateral, at = REAL[1]
    when = datetime.fromtimestamp(at, timezone.utc)
    result = sgxra.verify(quote.read_bytes(), collateral=Collateral.from_json(collateral.read_text()), at=when,
                          policy=policy)
    assert result.accepted, result.policy
    later = sgxra.verify(quote.read_bytes(), collateral=Collateral.from_json(collateral.read_text()),
                         at=result.collateral_issued + timedelta(days=1, seconds=1), policy=policy)
    assert [v.rule for v in later.policy.violations] == ["collateral_age"]  # type: ignore[union-attr]


def test_supplemental_data_of_a_real_td_on_a_platform_ca_pck() -> None:
    import struct

    quote, collateral, at = REAL[1]
    result = sgxra.verify(quote.read_bytes(), collateral=Collateral.from_json(collateral.read_text()),
                          at=datetime.fromtimestamp(at, timezone.utc))
    assert isinstance(result, DcapResult)
    data, pck = result.to_supplemental(), result.verdict.pck
    # Offsets: sgx_ql_qv_supplemental_t, ATTESTATION-NOTES.md section 2.2 (gcc on Intel's sgx_qve_def.h).
    assert struct.unpack_from("<I", data, 136)[0] == 0x81  # tee_type: TDX
    assert data[140] == pck.sgx_type  # sgx_type
    assert data[141:157] == pck.platform_instance_id == bytes.fromhex("056d0350250988808a9d09103f3e54d5")
    assert struct.unpack_from("<III", data, 160) == (1, 1, 1)  # dynamic_platform, cached_keys, smt_enabled: true
    assert struct.unpack_from("<I", data, 48)[0] == result.tcb_evaluation_data_number  # tcb_eval_ref_num
    assert data[172] == 0  # sa_list: an UpToDate level with no advisory is the empty string
    plain = result.to_dict()
    assert (plain["dynamic_platform"], plain["cached_keys"], plain["smt_enabled"]) == (True, True, True)
    assert plain["tee_tcb_svn"] == result.body.tee_tcb_svn.hex() and plain["pck_ca"] == "platform"  # type: ignore[union-attr]


def test_a_td_result_as_a_token_carries_trust_authority_tdx_claims() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from sgxra.verify.token import verify_token

    result = _verify(REPORT, {"policy_id": "td-policy"})
    key = ec.generate_private_key(ec.SECP384R1())
    claims = verify_token(result.to_token(key, at=NOW), key.public_key(), at=NOW)
    assert claims["attester_type"] == "TDX" and claims["attester_tcb_status"] == "UpToDate"
    assert claims["attester_tcb_date"] == "2024-03-13T00:00:00Z" and claims["sgxra_simulated"] is True
    assert claims["tdx_mrtd"] == REPORT.mr_td.hex() and claims["tdx_rtmr2"] == REPORT.rtmr2.hex()
    assert claims["tdx_mrconfigid"] == REPORT.mr_config_id.hex() and claims["tdx_is_debuggable"] is False
    assert claims["policy_ids_matched"] == [{"id": "td-policy", "version": "1"}]
    assert not any(name.startswith("sgx_") for name in claims)
