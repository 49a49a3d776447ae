"""`sgxra demo dcap`: the DCAP walkthrough's steps, and `sgxra demo` as a group."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from sgxra.cli import demo_dcap
from sgxra.cli.exit_codes import EXPIRED
from sgxra.cli.main import main
from sgxra.errors import CollateralExpired


def test_walkthrough_shows_every_step() -> None:
    lines: list[str] = []
    assert demo_dcap.run_dcap_demo(lines.append)
    text = "\n".join(lines)
    for step in ("1. Caching service: sgxra pccs (LAZY)", "2. Relying party", "3. Workload", "4. Untrusted verification",
                 "5. Trusted verification", "6. Policy verdict", "7. Secret provisioning"):
        assert step in text
    assert "DCAP quote version 3, SGX" in text and "status UpToDate, TEE SGX, simulated root: True" in text
    assert "caching service: 4 items fetched from the PCS mock" in text  # PCK CRL, TCB info, QE identity, root CRL
    assert "trusted quote verification (QvE) [SIMULATED" in text
    assert text.count("Info: App: Verification completed successfully.") == 2  # untrusted and trusted agree
    assert "policy: accepted" in text and "policy: refused (debug:" in text
    assert "verdict: Trusted" in text and repr(demo_dcap.SECRET.decode()) in text


def test_a_failed_trusted_verification_fails_the_walkthrough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_dcap, "trusted_verification", lambda *args: False)
    assert not demo_dcap.run_dcap_demo(lambda line: None)


def test_demo_is_a_group_whose_plain_form_is_the_first_demo() -> None:
    listed = CliRunner().invoke(main, ["demo", "--help"])
    assert listed.exit_code == 0 and "dcap" in listed.output
    plain = CliRunner().invoke(main, ["demo"])
    assert plain.exit_code == 0 and "3. A production enclave asks for its secret" in plain.output
    assert "More walkthroughs: `sgxra demo dcap`" in plain.output and "`sgxra demo local`" in plain.output
    assert "2. Relying party" not in plain.output
    run = subprocess.run([sys.executable, "-m", "sgxra", "demo", "dcap"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "SIMULATION MODE" in run.stdout and "secret unsealed inside the enclave" in run.stdout


def test_a_walkthrough_error_is_one_line_and_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def expired(echo: object) -> bool:
        raise CollateralExpired("TCB info expired")

    monkeypatch.setattr(demo_dcap, "run_dcap_demo", expired)
    result = CliRunner().invoke(main, ["demo", "dcap"])
    assert result.exit_code == EXPIRED and result.stderr == "error: CollateralExpired: TCB info expired\n"
