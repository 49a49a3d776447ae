"""Platform rules on the simulated PKI, at times on both sides of each boundary: platform_grace_period,
max_collateral_age, min_tcb_evaluation_data_number; advisories accepted, rejected and "*"; KSS fields."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import sgxra
from dcap_env import NOW, PKI, QE, level, quote, spec
from sgxra.sim.dcap_pki import SimTcbLevel
from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.validate.policy_file import parse_policy
from sgxra.verify.result import DcapResult
from sgxra.wire.collateral import TcbStatus
from sgxra.wire.quote import QuoteSignType
from tdx_env import TDX_QE, tdx_level, tdx_spec

MR_ENCLAVE = EnclaveIdentity().report_body(bytes(64)).mr_enclave.hex()
TCB_DATE = datetime(2026, 11, 20, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def _check(collateral_spec: Any, at: datetime, policy: dict[str, Any], evidence: bytes | None = None) -> list[str]:
    data = {"mr_enclaves": [MR_ENCLAVE], "allow_simulated": True} | policy
    result = sgxra.verify(evidence or quote(), collateral=PKI.collateral(collateral_spec), at=at, root=PKI.root,
                          policy=parse_policy(data).policy)
    assert isinstance(result, DcapResult) and result.policy is not None
    return [str(v) for v in result.policy.violations]


# An OutOfDate level dated 2026-11-20; grace 10 days ends 2026-11-30T00:00:00Z (collateral issued at NOW,
# 2026-11-27T12:00Z, valid 30 days, so verification itself succeeds on both sides).
OUT_OF_DATE = spec(SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.OutOfDate, ("INTEL-SA-00001",),
                               tcb_date="2026-11-20T00:00:00Z"), issued=NOW)
GRACE = {"platform_grace_period": 10 * 86400, "accepted_advisories": ["INTEL-SA-00001"]}


def test_out_of_date_platform_accepted_until_the_end_of_its_grace_period() -> None:
    end = TCB_DATE + timedelta(days=10)
    assert _check(OUT_OF_DATE, end, GRACE) == []
    refused = _check(OUT_OF_DATE, end + SECOND, GRACE)
    assert refused == [f"status: OutOfDate is not accepted (grace period ended {end.isoformat()})"]


def test_a_grace_period_bounds_out_of_date_even_where_it_is_listed() -> None:
    # Intel's appraisal policies list OutOfDate and bound it with platform_grace_period.
    listed = GRACE | {"accepted_statuses": ["UpToDate", "OutOfDate"]}
    end = TCB_DATE + timedelta(days=10)
    assert _check(OUT_OF_DATE, end, listed) == []
    assert _check(OUT_OF_DATE, end + SECOND, listed) == [
        f"status: OutOfDate is not accepted (grace period ended {end.isoformat()})"]
    unbounded = {"accepted_statuses": ["UpToDate", "OutOfDate"], "accepted_advisories": ["INTEL-SA-00001"]}
    assert _check(OUT_OF_DATE, end + SECOND, unbounded) == []


def test_without_a_grace_period_out_of_date_is_refused_at_once() -> None:
    assert _check(OUT_OF_DATE, NOW, {"accepted_advisories": ["INTEL-SA-00001"]}) == [
        "status: OutOfDate is not accepted"]


def test_grace_turns_out_of_date_configuration_needed_into_configuration_needed() -> None:
    collateral = dataclasses.replace(OUT_OF_DATE, tcb_levels=[SimTcbLevel(
        DEFAULT_COMPONENTS, 13, TcbStatus.OutOfDateConfigurationNeeded, tcb_date="2026-11-20T00:00:00Z")])
    assert _check(collateral, NOW, GRACE) == ["status: OutOfDateConfigurationNeeded is not accepted"]
    accepting = GRACE | {"accepted_statuses": ["UpToDate", "ConfigurationNeeded"]}
    assert _check(collateral, NOW, accepting) == []


def test_grace_period_on_a_td() -> None:
    collateral = tdx_spec(dataclasses.replace(tdx_level(TcbStatus.OutOfDate), tcb_date="2026-11-20T00:00:00Z"))
    from sgxra.sim.tdx_qe import sim_td_report

    report = sim_td_report()
    evidence = TDX_QE.get_quote(report, version=4)
    policy = {"tdx": {"mr_td": [report.mr_td.hex()]}, "platform_grace_period": 10 * 86400}
    end = TCB_DATE + timedelta(days=10)
    assert _check(collateral, end, policy, evidence) == []
    assert _check(collateral, end + SECOND, policy, evidence)[0].startswith("status: OutOfDate is not accepted")


def test_max_collateral_age_counts_from_the_collateral_issue_date() -> None:
    collateral = spec(issued=NOW)
    result = sgxra.verify(quote(), collateral=PKI.collateral(collateral), at=NOW, root=PKI.root)
    assert result.collateral_issued == NOW
    age = {"max_collateral_age": 3 * 86400}
    assert _check(collateral, NOW + timedelta(days=3), age) == []
    refused = _check(collateral, NOW + timedelta(days=3) + SECOND, age)
    assert len(refused) == 1 and refused[0].startswith("collateral_age: collateral issued 2026-11-27T12:00:00+00:00")


def test_min_tcb_evaluation_data_number_on_both_sides() -> None:
    # The simulated TCB info and QE identity carry number 17; a TCB info of 16 makes the result 16 (the smaller).
    assert _check(spec(issued=NOW), NOW, {"min_tcb_evaluation_data_number": 17}) == []
    assert _check(spec(issued=NOW), NOW, {"min_tcb_evaluation_data_number": 18}) == [
        "tcb_evaluation_data_number: 17 is below the minimum 18"]
    older = spec(issued=NOW, extra={"tcb_info": {"tcbEvaluationDataNumber": 16}})
    assert _check(older, NOW, {"min_tcb_evaluation_data_number": 17}) == [
        "tcb_evaluation_data_number: 16 is below the minimum 17"]


def test_rejected_advisories_win_over_any() -> None:
    collateral = spec(level(TcbStatus.SWHardeningNeeded, "INTEL-SA-00002", "INTEL-SA-00003"), issued=NOW)
    statuses = {"accepted_statuses": ["UpToDate", "SWHardeningNeeded"]}
    assert _check(collateral, NOW, statuses | {"accepted_advisories": ["*"]}) == []
    assert _check(collateral, NOW, statuses | {"accepted_advisories": ["*"],
                                               "rejected_advisories": ["INTEL-SA-00003"]}) == [
        "advisories: rejected: INTEL-SA-00003"]
    assert _check(collateral, NOW, statuses | {"accepted_advisories": ["INTEL-SA-00002"]}) == [
        "advisories: not accepted: INTEL-SA-00003"]


@pytest.mark.parametrize(("key", "field", "size"), [
    ("isv_ext_prod_id", "isv_ext_prod_id", 16), ("isv_family_id", "isv_family_id", 16), ("config_id", "config_id", 64)])
def test_kss_fields_must_match(key: str, field: str, size: int) -> None:
    body = dataclasses.replace(EnclaveIdentity().report_body(bytes(64)), **{field: b"\x5a" * size})
    evidence = QE.get_quote(body, QuoteSignType.UNLINKABLE, bytes(16))
    assert _check(spec(issued=NOW), NOW, {key: "5a" * size}, evidence) == []
    assert _check(spec(issued=NOW), NOW, {key: "00" * size}, evidence) == [
        f"{field}: {'5a' * size} is not the required {'00' * size}"]


def test_min_config_svn() -> None:
    body = dataclasses.replace(EnclaveIdentity().report_body(bytes(64)), config_svn=4)
    evidence = QE.get_quote(body, QuoteSignType.UNLINKABLE, bytes(16))
    assert _check(spec(issued=NOW), NOW, {"min_config_svn": 4}, evidence) == []
    assert _check(spec(issued=NOW), NOW, {"min_config_svn": 5}, evidence) == ["config_svn: 4 is below the minimum 5"]


def test_a_tcb_date_that_is_no_time_is_malformed_collateral() -> None:
    from sgxra.errors import MalformedMessage

    collateral = spec(SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.UpToDate, tcb_date="last tuesday"), issued=NOW)
    with pytest.raises(MalformedMessage, match="tcbDate"):
        sgxra.verify(quote(), collateral=PKI.collateral(collateral), at=NOW, root=PKI.root)
