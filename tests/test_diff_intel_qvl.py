"""Differential test against Intel's Quote Verification Library (../shared/tools/intel-qvl).

The rule: sgxra never accepts what Intel refuses, and when both accept it reports
Intel's TCB status. Cases are those of test_diff_dcap_qvl (a seeded sample of
mutations of every real set, every quote region, collateral field and time
boundary, and re-signed simulated evidence); `make diff-intel` (bench/diff_intel.py)
runs every byte flip of the quote and many more collateral mutations.

Where sgxra is deliberately stricter, differential.DELIBERATELY_STRICTER lists
each case with its reason; a stricter case without one fails, as does any looser
case. Open findings (DIFF-FINDINGS.md) are xfail(strict) tests, one per finding.
The simulated cases run only when Intel accepts the simulated baseline (else they
are left out with the reason). Skipped where Intel's QVL does not run.
"""

from __future__ import annotations

import pytest

from differential import (
    AGREE,
    DELIBERATELY_STRICTER,
    KNOWN_LOOSER_INTEL,
    Comparison,
    compare,
    expect_findings,
    matching,
    open_findings,
    real_cases,
    reason_for,
)
from intel_qvl_runner import intel_verdict, unavailable_reason
from mutations import Case
from sim_evidence import SimWorld, sim_cases

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or "")


def intel_cases() -> tuple[list[Case], str | None]:
    """The cases, and why the simulated ones are left out (None when they are in)."""
    sim = sim_cases(SimWorld())
    baseline = intel_verdict(sim[0])
    if baseline.status is None:
        return real_cases(), f"Intel's QVL refuses the simulated baseline: {baseline}"
    return real_cases() + sim, None


@pytest.fixture(scope="module")
def result() -> tuple[Comparison, str | None]:
    cases, sim_left_out = intel_cases()
    return compare(cases, "Intel QVL", intel_verdict, DELIBERATELY_STRICTER, workers=2), sim_left_out


def _rows(rows: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f"{c.id}: sgxra {o}; Intel {t}" for c, o, t, _ in rows)


def test_genuine_evidence_agrees(result: tuple[Comparison, str | None]) -> None:
    """Every real set as it is: same verdict as the reference, or refused for a documented reason."""
    comparison, _ = result
    baselines = [row for row in comparison.rows if row[0].name == "baseline" and row[0].source.startswith("real.")]
    both = [row for row in baselines if row[1].status is not None and row[1].status == row[2].status]
    assert both and all(row[3] == AGREE or reason_for(row[0], row[1], DELIBERATELY_STRICTER) or
                        matching([row], KNOWN_LOOSER_INTEL) for row in baselines), _rows(baselines)


def test_never_looser_than_intel(result: tuple[Comparison, str | None]) -> None:
    comparison, _ = result
    looser = comparison.unexpected_looser(KNOWN_LOOSER_INTEL)
    assert not looser, _rows(looser)


def test_stricter_only_where_documented(result: tuple[Comparison, str | None]) -> None:
    comparison, _ = result
    assert not comparison.undocumented_stricter, _rows(comparison.undocumented_stricter)


@pytest.mark.parametrize("pattern", open_findings(KNOWN_LOOSER_INTEL))
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="open finding (DIFF-FINDINGS.md): remove it from the "
                   "table in tests/differential.py once this passes")
def test_open_finding(result: tuple[Comparison, str | None], pattern: str) -> None:
    comparison, sim_left_out = result
    if sim_left_out and pattern.startswith("sim:"):
        pytest.skip(sim_left_out)
    expect_findings(comparison, pattern)
