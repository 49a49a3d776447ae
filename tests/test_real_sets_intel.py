"""Every real set of tests/data/real (SGX and TDX) judged by sgxra and by Intel's QVL: the same verdict.

Each set is verified at its manifest's ``at`` (inside its collateral window) and one second after its window
ends (every part of the collateral valid through window[1], Intel's nextUpdate being inclusive). The verdict is
the TCB status, or a refusal; both must match Intel's, set by set. Skipped where Intel's QVL does not run.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from differential import Verdict, sgxra_verdict
from intel_qvl_runner import intel_verdict, unavailable_reason
from mutations import REAL_DIR, Case, base_case
from sgxra.verify.trust import intel_sgx_root_ca

MANIFEST = json.loads((REAL_DIR / "manifest.json").read_text())


def _case(name: str, when: str) -> Case:
    entry = MANIFEST[name]
    at = int(entry["at"]) if when == "at" else int(entry["window"][1]) + 1
    return base_case(f"real.{name}", when, (REAL_DIR / entry["quote"]).read_bytes(),
                     (REAL_DIR / entry["collateral"]).read_text(), at, intel_sgx_root_ca())


def _same(ours: Verdict, intel: Verdict) -> bool:
    return ours.status == intel.status and not ours.crash


def test_manifest_lists_every_file_in_the_folder_once() -> None:
    """No quote in the folder escapes the test, every listed file exists, no two files hold the same bytes."""
    listed = {e[k] for e in MANIFEST.values() for k in ("quote", "collateral")}
    present = [p for p in REAL_DIR.iterdir() if p.suffix in (".bin", ".json") and p.name != "manifest.json"]
    assert listed == {p.name for p in present}
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in present]
    assert len(set(digests)) == len(digests)
    assert all(hashlib.sha256((REAL_DIR / e["quote"]).read_bytes()).hexdigest() == e["sha256"] for e in MANIFEST.values())
    assert any(name.startswith("tdx_") for name in MANIFEST) and any(name.startswith("sgx_") for name in MANIFEST)


@pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or "")
@pytest.mark.parametrize("when", ["at", "after-window"])
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_same_verdict_as_intel(name: str, when: str) -> None:
    case = _case(name, when)
    ours, intel = sgxra_verdict(case), intel_verdict(case)
    assert _same(ours, intel), f"{name} at {case.at}: sgxra {ours}; Intel {intel}"
    if when == "after-window":
        assert intel.status is None, f"{name}: Intel accepts after the window ends: {intel}"
