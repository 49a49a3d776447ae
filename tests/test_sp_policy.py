"""Statuses a policy file may opt into, and an empty expected nonce means none (issue 11, point 4).

That no file may accept a revoked status is tested with the policy file reader (test_policy_file.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgxra.errors import EvidenceMismatch
from sgxra.validate.policy_file import parse_policy
from sgxra.verify import verify_report
from test_ias_vectors import V3_AT, V4_AT, V4_NONCE, Reports


def test_a_policy_file_may_accept_other_statuses() -> None:
    statuses = ["OK", "UpToDate", "GROUP_OUT_OF_DATE", "SWHardeningNeeded", "OutOfDate"]
    assert parse_policy({"accepted_statuses": statuses}).policy.accepted_statuses == frozenset(statuses)


def test_an_empty_nonce_means_none_expected_not_any(vectors: Path) -> None:
    reports = Reports(vectors)
    # A report that echoes a nonce does not pass where none was sent...
    with pytest.raises(EvidenceMismatch, match="nonce"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.leaf_only, at=V4_AT, nonce="")
    # ...nor with another nonce; it passes with its own, and a report without one passes with "".
    with pytest.raises(EvidenceMismatch, match="nonce"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.leaf_only, at=V4_AT, nonce=V4_NONCE[:-1])
    assert verify_report(reports.v4, reports.v4_sig, chain=reports.leaf_only, at=V4_AT, nonce=V4_NONCE).nonce == V4_NONCE
    assert verify_report(reports.v3, reports.v3_sig, chain=reports.chain, at=V3_AT, nonce="").nonce is None
