"""Intel's own Quote Verification Library as the judge of differential tests.

Runs ``qvl-verify.py`` (Intel's AttestationApp behind a small harness) from
``<project root>/../shared/tools/intel-qvl``; tests that need it skip, with
the reason, when that folder is absent (a fresh clone has no ``../shared``)
or when the program cannot run on this machine.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sgxra.wire.collateral import Collateral

QVL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "tools" / "intel-qvl"
STEPS = ("PCK certificate chain", "TCB info", "QeIdentity", "Quote")
TIMEOUT = 120


@dataclass(frozen=True)
class QvlVerdict:
    """Intel's verdict: a TCB status name (sgxra's names) or "Rejected", and each step's raw status."""

    status: str
    steps: dict[str, str]
    raw: str


@functools.cache
def unavailable_reason() -> str | None:
    """Why Intel's QVL cannot judge here, or None when it can."""
    app, script = QVL_DIR / "AttestationApp", QVL_DIR / "qvl-verify.py"
    if not (app.is_file() and script.is_file()):
        return f"Intel's QVL is not at {QVL_DIR} (it comes with the project's shared tools)"
    try:
        probe = subprocess.run([str(app), "--help"], cwd=QVL_DIR, capture_output=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"Intel's QVL at {QVL_DIR} cannot run: {e}"
    if probe.returncode != 0 or b"--trustedRootCaCert" not in probe.stdout:
        return f"Intel's QVL at {QVL_DIR} cannot run: exit {probe.returncode}, {probe.stderr[:200]!r}"
    return None


def require_qvl() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def qvl_verify(quote: bytes, collateral: Collateral, at: datetime, root: x509.Certificate) -> QvlVerdict:
    """Intel's verdict on ``quote`` with ``collateral`` at ``at``, trusting only ``root``."""
    require_qvl()
    with tempfile.TemporaryDirectory(prefix="sgxra-qvl-") as tmp:
        folder = Path(tmp)
        (folder / "quote.bin").write_bytes(quote)
        (folder / "collateral.json").write_text(collateral.to_json())
        (folder / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
        run = subprocess.run(
            [sys.executable, "qvl-verify.py", str(folder / "quote.bin"), str(folder / "collateral.json"),
             str(int(at.timestamp())), "./AttestationApp", "--root-ca", str(folder / "root.pem")],
            cwd=QVL_DIR, capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )
    try:
        result = json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"qvl-verify.py printed no verdict (exit {run.returncode}): {run.stderr[-500:]}")
    if result.get("status") == "Error" or any(step not in result.get("steps", {}) for step in STEPS):
        pytest.fail(f"qvl-verify.py could not judge: {result.get('error')} {result.get('raw', '')[-500:]}")
    return QvlVerdict(result["status"], result["steps"], result["raw"])
