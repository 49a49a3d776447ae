"""A client nobody here wrote: dcap-qvl's get_collateral against `sgxra pccs serve` (offline, real collateral).

The store is filled with `sgxra pccs import` of real Intel collateral; dcap-qvl fetches it over HTTP with its
own URLs and headers, and both dcap-qvl's verdict and Intel's QVL (on what dcap-qvl got) are Intel's published
verdict for the quote at a time inside the collateral's window.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from intel_qvl import qvl_verify, unavailable_reason
from loopback import free_port
from pccs_env import DCAP_QVL_DATA, wait_until_serving
from sgxra.cli.main import main
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.collateral import Collateral, TcbStatus
from vectors_env import DCAP, SGX_AT, SGX_AT_UNIX, SGX_COLLATERAL, SGX_QUOTE

dcap_qvl = pytest.importorskip("dcap_qvl", reason="dcap-qvl (the dev extra) is not installed")
TDX_QUOTE = DCAP_QVL_DATA.parent / "real" / "tdx_v4_b0c06f_dcapqvl.bin"
TDX_COLLATERAL = DCAP_QVL_DATA / "tdx_quote_collateral.json"  # dcap-qvl's own JSON form
TDX_AT = 1752000000  # inside the TDX set's window (SGX_AT_UNIX is inside the SGX set's)

pytestmark = pytest.mark.skipif(not DCAP.is_dir(), reason=f"the real DCAP vectors are not at {DCAP}")


@dataclass(frozen=True)
class Served:
    url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`sgxra pccs import` of the real collateral (and the SGX quote's PCK certificate), then `sgxra pccs serve`."""
    db = tmp_path_factory.mktemp("pccs") / "pccs.sqlite"
    imported = CliRunner().invoke(main, ["pccs", "import", str(SGX_COLLATERAL), str(TDX_COLLATERAL), str(SGX_QUOTE),
                                         "--db", str(db)])
    assert imported.exit_code == 0, imported.output
    assert "stored tcb SGX/00A067110000 (standard)" in imported.output
    assert "stored tcb TDX/B0C06F000000 (standard)" in imported.output
    port = free_port()
    command = [sys.executable, "-m", "sgxra", "pccs", "serve", "--mode", "offline", "--db", str(db), "--port", str(port)]
    with (db.parent / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, process)
        yield Served(url)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get_collateral(url: str, quote: bytes) -> object:
    async def fetch() -> object:
        return await dcap_qvl.get_collateral(url, quote)
    return asyncio.run(fetch())


@pytest.mark.parametrize(("quote_file", "at", "status", "advisories"), [
    (SGX_QUOTE, SGX_AT_UNIX, "ConfigurationAndSWHardeningNeeded", ["INTEL-SA-00289", "INTEL-SA-00615"]),
    (TDX_QUOTE, TDX_AT, "UpToDate", []),
], ids=["sgx", "tdx"])
def test_dcap_qvl_fetches_from_the_offline_pccs_and_gets_intels_verdict(
        server: Served, quote_file: Path, at: int, status: str, advisories: list[str]) -> None:
    quote = quote_file.read_bytes()
    fetched = _get_collateral(server.url, quote)
    report = dcap_qvl.verify(quote, fetched, at)
    assert (report.status, sorted(report.advisory_ids)) == (status, advisories)
    # Intel's own QVL, on exactly what dcap-qvl fetched, says the same (of the quote without dcap-qvl's sample padding).
    ours = Collateral.from_json(fetched.to_json())  # type: ignore[attr-defined]
    quote = quote[: 636 + int.from_bytes(quote[632:636], "little")] if quote_file == TDX_QUOTE else quote
    assert verify_dcap_quote(quote, ours, at=datetime.fromtimestamp(at, timezone.utc)).status is TcbStatus[status]
    if unavailable_reason() is None:
        intel = qvl_verify(quote, ours, datetime.fromtimestamp(at, timezone.utc), intel_sgx_root_ca())
        assert intel.status == status


def test_collateral_is_what_was_imported(server: Served) -> None:
    fetched = _get_collateral(server.url, SGX_QUOTE.read_bytes())
    assert Collateral.from_json(fetched.to_json()) == Collateral.from_json(SGX_COLLATERAL.read_text())  # type: ignore[attr-defined]


def test_expired_items_are_served_with_a_warning(server: Served) -> None:
    """The real collateral's window closed in 2025: served all the same (offline), and saying so."""
    answer = httpx.get(f"{server.url}/sgx/certification/v4/tcb?fmspc=00A067110000")
    assert answer.status_code == 200
    assert answer.headers["SGXRA-Collateral-Expired"] == "2025-07-19T10:56:11+00:00"
    assert "expired" in answer.headers["Warning"] and answer.headers["Cache-Control"] == "max-age=0"


def test_sgxra_collateral_fetch_reads_the_pccs(server: Served, tmp_path: Path) -> None:
    out = tmp_path / "collateral.json"
    fetched = CliRunner().invoke(main, ["collateral", "fetch", str(SGX_QUOTE), "--pccs", server.url, "-o", str(out)])
    assert fetched.exit_code == 0, fetched.output
    verdict = verify_dcap_quote(SGX_QUOTE.read_bytes(), Collateral.from_json(out.read_text()), at=SGX_AT)
    assert verdict.status is TcbStatus.ConfigurationAndSWHardeningNeeded


def test_the_imported_pck_certificate_is_served_for_the_quotes_platform(server: Served) -> None:
    params = {"qeid": "3987622EE6968A54977C8626EF471235", "cpusvn": "0B0B0202FF0100000000000000000000",
              "pcesvn": "0D00", "pceid": "0000", "encrypted_ppid": "0" * 768}
    answer = httpx.get(f"{server.url}/sgx/certification/v4/pckcert", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["SGX-TCBm"] == "0B0B0202FF01000000000000000000000D00"
    assert (answer.headers["SGX-FMSPC"], answer.headers["SGX-PCK-Certificate-CA-Type"]) == ("00A067110000", "processor")
    assert answer.text.startswith("-----BEGIN CERTIFICATE-----")
    # A higher raw TCB is given the highest certificate it meets; a lower one none (offline: say how to get it).
    higher = httpx.get(f"{server.url}/sgx/certification/v4/pckcert", params=params | {"pcesvn": "0F00"})
    assert higher.headers["SGX-TCBm"] == "0B0B0202FF01000000000000000000000D00"
    lower = httpx.get(f"{server.url}/sgx/certification/v4/pckcert", params=params | {"pcesvn": "0100"})
    assert lower.status_code == 404 and "sgxra pccs import" in json.loads(lower.text)["remedy"]


def test_crls_and_chains_come_as_intels_pccs_sends_them(server: Served) -> None:
    imported = Collateral.from_json(SGX_COLLATERAL.read_text())
    v4, v3 = f"{server.url}/sgx/certification/v4", f"{server.url}/sgx/certification/v3"
    hexed = httpx.get(f"{v4}/pckcrl", params={"ca": "processor"})
    assert hexed.content == imported.pck_crl.hex().encode()  # hex of the DER, as Intel's PCCS
    assert urllib.parse.unquote(hexed.headers["SGX-PCK-CRL-Issuer-Chain"]) == imported.pck_crl_issuer_chain
    der = httpx.get(f"{v3}/pckcrl", params={"ca": "PROCESSOR", "encoding": "der"})
    assert der.content == imported.pck_crl and der.headers["content-type"] == "application/pkix-crl"
    assert httpx.get(f"{v4}/rootcacrl").content == imported.root_ca_crl.hex().encode()
    root_cdp = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
    assert httpx.get(f"{v4}/crl", params={"uri": root_cdp}).content == imported.root_ca_crl
    pck_cdp = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der"
    assert httpx.get(f"{v4}/crl", params={"uri": pck_cdp}).content == imported.pck_crl
    tcb_v4 = httpx.get(f"{v4}/tcb", params={"fmspc": "00a067110000"})
    tcb_v3 = httpx.get(f"{v3}/tcb", params={"fmspc": "00A067110000"})
    assert tcb_v4.content == tcb_v3.content
    assert "TCB-Info-Issuer-Chain" in tcb_v4.headers and "SGX-TCB-Info-Issuer-Chain" not in tcb_v4.headers
    assert urllib.parse.unquote(tcb_v3.headers["SGX-TCB-Info-Issuer-Chain"]) == imported.tcb_info_issuer_chain
    by_number = httpx.get(f"{v4}/tcb", params={"fmspc": "00A067110000", "tcbEvaluationDataNumber": "17"})
    assert by_number.content == tcb_v4.content
    assert httpx.get(f"{v4}/tcb", params={"fmspc": "00A067110000", "tcbEvaluationDataNumber": "16"}).status_code == 404


@pytest.mark.parametrize(("quote", "at", "status"), [(SGX_QUOTE, SGX_AT_UNIX, "ConfigurationAndSWHardeningNeeded"),
                                                     (TDX_QUOTE, TDX_AT, "UpToDate")])
def test_sgxra_verify_reads_the_pccs(server: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     quote: Path, at: int, status: str) -> None:
    """The one-call command against the caching service: `sgxra verify --pccs`, SGX and TDX."""
    monkeypatch.setenv("SGXRA_CACHE_DIR", str(tmp_path))
    verified = CliRunner().invoke(main, ["verify", str(quote), "--pccs", server.url, "--at", str(at), "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["status"] == status
