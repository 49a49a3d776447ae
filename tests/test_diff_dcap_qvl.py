"""Differential test against dcap-qvl: sgxra never accepts what dcap-qvl refuses.

Cases (tests/mutations.py, tests/sim_evidence.py): the real SGX quote and its
collateral (../shared/vectors/dcap, at 1752919277, plus any set under
tests/data/real) with a seeded sample of mutations of every quote region, every
collateral field and every time boundary; and simulated evidence re-signed after
semantic changes. Each case is verified by both; sgxra is LOOSER when it accepts
what dcap-qvl refuses or reports another TCB status, STRICTER when it refuses
what dcap-qvl accepts. Stricter cases are allowed only where
differential.DELIBERATELY_STRICTER gives the reason; looser cases only where
Intel's QVL sides with sgxra (differential.INTEL_SIDES_WITH_SGXRA). Open findings
(DIFF-FINDINGS.md) are xfail(strict) tests, one per finding, until fixed.
Counts: bench/README.md, "Differential tests".
"""

from __future__ import annotations

import pytest

from differential import (
    AGREE,
    DELIBERATELY_STRICTER,
    INTEL_SIDES_WITH_SGXRA,
    KNOWN_CRASHES,
    KNOWN_LOOSER_DCAP_QVL,
    Comparison,
    compare,
    dcap_qvl_verdict,
    expect_findings,
    matching,
    open_findings,
    real_cases,
    reason_for,
)
from sim_evidence import SimWorld, sim_cases

dcap_qvl = pytest.importorskip("dcap_qvl", reason="dcap-qvl is not installed (pip install -e '.[dev]' brings it)")


@pytest.fixture(scope="module")
def result() -> Comparison:
    return compare(real_cases() + sim_cases(SimWorld()), "dcap-qvl", dcap_qvl_verdict, DELIBERATELY_STRICTER)


def _rows(rows: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f"{c.id}: sgxra {o}; reference {t}" for c, o, t, _ in rows)


def test_genuine_evidence_agrees(result: Comparison) -> None:
    """Every real set as it is: same verdict as the reference, or refused for a documented reason."""
    baselines = [row for row in result.rows if row[0].name == "baseline" and row[0].source.startswith("real.")]
    both = [row for row in baselines if row[1].status is not None and row[1].status == row[2].status]
    assert both and all(row[3] == AGREE or reason_for(row[0], row[1], DELIBERATELY_STRICTER) or
                        matching([row], INTEL_SIDES_WITH_SGXRA | KNOWN_LOOSER_DCAP_QVL) for row in baselines), _rows(baselines)


def test_never_looser(result: Comparison) -> None:
    looser = result.unexpected_looser(INTEL_SIDES_WITH_SGXRA, KNOWN_LOOSER_DCAP_QVL)
    assert not looser, _rows(looser)


def test_stricter_only_where_documented(result: Comparison) -> None:
    assert not result.undocumented_stricter, _rows(result.undocumented_stricter)


def test_no_foreign_exceptions(result: Comparison) -> None:
    crashes = [row for row in result.crashes if not matching([row], KNOWN_CRASHES)]
    assert not crashes, _rows(crashes)


@pytest.mark.parametrize("pattern", open_findings(KNOWN_LOOSER_DCAP_QVL, KNOWN_CRASHES))
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="open finding (DIFF-FINDINGS.md): remove it from the "
                   "table in tests/differential.py once this passes")
def test_open_finding(result: Comparison, pattern: str) -> None:
    expect_findings(result, pattern)
