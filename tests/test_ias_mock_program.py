"""`sgxra ias-mock` as a program, and its TOML configuration."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cryptography import x509

from ias_env import now
from loopback import free_port
from sgxra.ias import IasClient, IasSettings, IasVerifier
from sgxra.ias.mock_config import MockConfigError, MockIasConfig
from sgxra.sim import EnclaveIdentity, SimPlatform, SimQuotingEnclave
from sgxra.wire import QuoteSignType

TOML = """
subscription_keys = ["k1"]

[[platform]]
seed = "toml platform"
gid = "00001234"
status = "SW_HARDENING_NEEDED"
advisories = ["INTEL-SA-00334"]

[[group]]
gid = 4660
sigrl = "AAEC"
"""


def test_toml_config_parses() -> None:
    config = MockIasConfig.from_dict(tomllib.loads(TOML))
    assert config.subscription_keys == ("k1",)
    assert config.platforms[0].gid == 0x1234 and config.platforms[0].advisories == ("INTEL-SA-00334",)
    assert config.groups[0].gid == 0x1234 and config.groups[0].sigrl == b"\x00\x01\x02"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"subscription_keys": []}, "subscription_keys"),
        ({"platform": [{"seed": ""}]}, r"platform\[0\].seed"),
        ({"platform": [{"seed": "a", "status": "FINE"}]}, r"platform\[0\].status"),
        ({"platform": [{"seed": "a", "gid": "zz"}]}, r"platform\[0\].gid"),
        ({"group": [{"gid": 1, "sigrl": "!"}]}, r"group\[0\].sigrl"),
        ({"faults": {"unavailable": -1}}, "faults.unavailable"),
    ],
)
def test_toml_errors_name_the_entry(data: dict[str, object], message: str) -> None:
    with pytest.raises(MockConfigError, match=message):
        MockIasConfig.from_dict(data)


def test_ias_mock_program_serves_and_exports_its_root(tmp_path: Path) -> None:
    config = tmp_path / "mock.toml"
    config.write_text(TOML)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sgxra", "ias-mock", "--config", str(config), "--state-dir", str(tmp_path / "state"),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("SIMULATED IAS")
        export = next(line for line in lines if line.startswith("export SGXRA_IAS_ROOT="))
        root = x509.load_pem_x509_certificate(Path(export.split("=", 1)[1].strip()).read_bytes())
        assert "SIMULATED" in root.subject.rfc4514_string()
        settings = IasSettings(base_url=f"http://127.0.0.1:{port}", primary_key="k1", retries=8, backoff=0.05)
        platform = SimPlatform.from_seed(b"toml platform", 0x1234)
        quote = SimQuotingEnclave(platform).get_quote(EnclaveIdentity().report_body(bytes(64)),
                                                      QuoteSignType.UNLINKABLE, bytes(16))
        with IasClient(settings) as client:  # its retries wait for the server to listen
            sigrl = client.get_sigrl(0x1234)
            evidence = IasVerifier(client, clock=now, root=root).verify_quote(quote)
        assert sigrl == b"\x00\x01\x02"
        assert evidence.status == "SW_HARDENING_NEEDED" and evidence.advisory_ids == ("INTEL-SA-00334",)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
