"""Quotes whose certification data is not a PEM chain: inspect shows them, verification names the reason.

Real platforms may send the PPID (clear or RSA-encrypted) instead of the PCK
chain, leaving the verifier to fetch the certificate; a damaged quote may hold
anything. The quote is still well formed and ``inspect`` shows what is there;
verification, which needs the chain in the quote, refuses it with a typed error.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import IDENTITY, SPID
from dcap_env import NOW, PKI, spec
from sgxra import crypto
from sgxra.cli.main import main
from sgxra.pcs.verifier import DcapQuoteVerifier
from sgxra.protocol import ClientSession, ServiceProviderSession, SpConfig, complete_with
from sgxra.sim import SAMPLE_SP_PRIVATE_KEY_LE, SimEnclave
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.validate import Policy
from sgxra.verify.dcap import DcapVerifier
from sgxra.wire.dcap_quote import CertificationData, DcapQuote
from sgxra.wire.msg4_auth import ReasonCode
from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, RealSgx

DATA = Path(__file__).parent / "data"
PPID_RSA3072 = os.urandom(384) + bytes(16) + (13).to_bytes(2, "little") + bytes(2)  # PPID, CPUSVN, PCESVN, PCE-ID
CASES = {
    "ppid-rsa-3072": (CertificationData(3, PPID_RSA3072), "type 3 (PPID encrypted with RSA-3072-OAEP) is not a PCK"),
    "ppid-clear": (CertificationData(1, os.urandom(16)), "type 1 (PPID in clear text) is not a PCK"),
    "unknown-type": (CertificationData(99, b"\x01\x02"), "type 99 (unknown type) is not a PCK"),
    "chain-of-garbage": (CertificationData(5, b"not a certificate\x00"), "not PEM certificates"),
    "empty-chain": (CertificationData(5, b""), "not PEM certificates"),
    "pem-of-garbage": (CertificationData(5, b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                       "not PEM certificates"),
}


def with_certification(raw: bytes, cert: CertificationData) -> bytes:
    quote = DcapQuote.parse(raw)
    return dataclasses.replace(quote, qe=dataclasses.replace(quote.qe, certification_data=cert)).to_bytes()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(params=["sgx-v3", "tdx-v4-padded"])
def real(request: pytest.FixtureRequest, real_sgx: RealSgx) -> tuple[bytes, Path, str]:
    """A real quote, its collateral and a time at which that collateral is valid."""
    if request.param == "sgx-v3":
        return real_sgx.quote, SGX_COLLATERAL, str(SGX_AT_UNIX)
    return ((DATA / "real" / "tdx_v4_b0c06f_dcapqvl.bin").read_bytes(), DATA / "real" / "tdx_v4_b0c06f_dcapqvl.collateral.json",
            "1752919234")


@pytest.mark.parametrize("case", CASES)
def test_inspect_shows_it_and_verification_names_the_reason(case: str, real: tuple[bytes, Path, str],
                                                             tmp_path: Path) -> None:
    raw, collateral, at = real
    cert, reason = CASES[case]
    path = tmp_path / "quote.bin"
    path.write_bytes(with_certification(raw, cert))

    code, out = run("inspect", "quote", str(path), "--json")
    assert code == 0, out
    shown = json.loads(out)["certification_data"]
    assert shown["type"] == cert.cert_type and shown["size"] == len(cert.data) and shown["data"] == cert.data.hex()
    assert reason in shown["unusable"] and "pck" not in shown

    code, out = run("verify-quote", str(path), "--collateral", str(collateral), "--at", at)
    assert code == 3 and "MalformedMessage" in out and reason in out, out
    assert "Traceback" not in out


def test_inspect_of_the_real_chain_lists_it(real: tuple[bytes, Path, str], tmp_path: Path) -> None:
    path = tmp_path / "quote.bin"
    path.write_bytes(real[0])
    shown = json.loads(run("inspect", "quote", str(path), "--json")[1])["certification_data"]
    assert shown["type"] == 5 and len(shown["certificates"]) == 3 and "CN=Intel SGX Root CA" in shown["certificates"][2]
    assert shown["pck"]["fmspc"] in ("00a067110000", "b0c06f000000") and "unusable" not in shown


class PpidQe(SimEcdsaQuotingEnclave):
    """A QE that sends its encrypted PPID instead of the PCK chain, as platforms relying on a PCCS may."""

    def get_quote(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return with_certification(super().get_quote(*args, **kwargs), CASES["ppid-rsa-3072"][0])


def test_service_provider_answers_not_genuine() -> None:
    config = SpConfig(signing_key=crypto.private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE), spid=SPID,
                      policy=Policy(mr_signers=frozenset({IDENTITY.mr_signer}), allow_simulated=True))
    client, sp = ClientSession(SimEnclave(PpidQe(PKI), IDENTITY)), ServiceProviderSession(config)
    collateral = PKI.collateral(spec())
    verifier = DcapQuoteVerifier(lambda key: collateral, clock=lambda: NOW, verifier=DcapVerifier(PKI.root))
    sp.receive_msg0_msg1(client.start())
    outcome = complete_with(sp, client.receive_msg2(sp.send_msg2()), verifier)
    assert outcome.reason_code is ReasonCode.NOT_GENUINE and not outcome.trusted
    assert "type 3 (PPID encrypted with RSA-3072-OAEP)" in outcome.reason
