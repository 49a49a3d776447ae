"""Real RA-TLS certificates from Gramine, the Intel SGX SDK and rats-tls (tests/data/ratls/README.md)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.cli.main import main
from sgxra.ratls.binding import bind_digest, pem_public_key_with_nul
from sgxra.ratls.der import load_certificate
from sgxra.ratls.evidence import GRAMINE_LEGACY_OID, INTEL_SDK_OID, Format, extract
from sgxra.verify.dcap import ec_public_key, raw_point_key, verify_p256
from sgxra.verify.pki import load_pem_chain, verify_chain
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.dcap_quote import DcapQuote
from sgxra.wire.der import read_all, read_one

DATA = Path(__file__).parent / "data" / "ratls"
CERTS = {"gramine": (True, (GRAMINE_LEGACY_OID,)), "intel-sgxsdk": (False, (INTEL_SDK_OID,)), "rats-tls": (False, ())}
AT = datetime(2024, 1, 1, tzinfo=timezone.utc)  # inside every PCK chain's validity


def _pem(name: str) -> bytes:
    return (DATA / f"{name}-cert.pem").read_bytes()


@pytest.mark.parametrize("name", CERTS)
def test_copy_is_exact(name: str) -> None:
    """Self-signature over the TBS, and each quote's signatures and PCK chain: any changed byte breaks one."""
    cert = load_certificate(_pem(name))
    top, _ = read_one(cert.der, 0, "cert", 0)
    tbs, _, signature = read_all(top.value, "cert", top.value_offset)
    tbs_der = cert.der[tbs.offset : tbs.value_offset + len(tbs.value)]
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signature.value[1:], tbs_der, ec.ECDSA(hashes.SHA256()))  # BIT STRING: skip the unused-bits byte
    evidence = extract(cert)
    quotes = [evidence.quote]
    if evidence.unused:
        quotes.append(DcapQuote.parse(cert.extension(evidence.unused[0]).value))  # type: ignore[union-attr]
    for quote in quotes:
        assert isinstance(quote, DcapQuote)
        verify_p256(raw_point_key(quote.attestation_key), quote.isv_signature, quote.signed_bytes(), "quote")
        chain = load_pem_chain(quote.pck_chain_pem.rstrip(b"\x00"), "PCK chain")
        verify_chain(chain, intel_sgx_root_ca(), at=AT)
        verify_p256(ec_public_key(chain[0], "PCK"), quote.qe.qe_report_signature, quote.qe.qe_report.to_bytes(), "QE")


@pytest.mark.parametrize("name", CERTS)
def test_real_certificates_carry_bound_dice_evidence(name: str) -> None:
    null_parameter, unused = CERTS[name]
    cert = load_certificate(_pem(name))
    assert cert.null_signature_parameter is null_parameter  # Gramine's is written by mbedTLS
    evidence = extract(cert)
    assert (evidence.format, evidence.unused) == (Format.DICE, unused)
    assert evidence.binding.bound and evidence.binding.pubkey_hash_algorithm == "sha256"
    extra = {"key_0": b"value_0\x00", "key_1": b"value_1\x00"} if name == "rats-tls" else {}
    assert {k: v for k, v in (evidence.claims or {}).items() if k != "pubkey-hash"} == extra


def test_gramine_legacy_quote_binds_the_spki() -> None:
    cert = load_certificate(_pem("gramine"))
    legacy = DcapQuote.parse(cert.extension(GRAMINE_LEGACY_OID).value)  # type: ignore[union-attr]
    assert bind_digest("spki", cert.spki, legacy.body.report_data).bound


def test_intel_sdk_legacy_quote_binds_the_claims_not_the_key() -> None:
    cert = load_certificate(_pem("intel-sgxsdk"))
    legacy = DcapQuote.parse(cert.extension(INTEL_SDK_OID).value)  # type: ignore[union-attr]
    dice = extract(cert).quote
    assert isinstance(dice, DcapQuote) and legacy.body.report_data == dice.body.report_data
    assert not bind_digest("spki", cert.spki, legacy.body.report_data).bound
    assert not bind_digest("pem-public-key", pem_public_key_with_nul(cert), legacy.body.report_data).bound


@pytest.mark.parametrize("name", CERTS)
def test_cli_inspect(name: str) -> None:
    result = CliRunner().invoke(main, ["ratls", "inspect", "--json", str(DATA / f"{name}-cert.pem")])
    assert result.exit_code == 0, result.output
    described = json.loads(result.output)
    assert described["format"] == "tcg-dice" and described["binding"]["bound"] is True
    assert described["quote"]["header"]["version"] == 3
    assert described["spki_sha256"] == hashlib.sha256(load_certificate(_pem(name)).spki).hexdigest()
    text = CliRunner().invoke(main, ["ratls", "inspect", "-"], input=_pem(name))
    assert text.exit_code == 0 and "binding.bound" in text.output


def test_cli_verify_without_collateral_says_so() -> None:
    result = CliRunner().invoke(main, ["ratls", "verify", str(DATA / "gramine-cert.pem"), "--at", "2024-01-01"])
    assert result.exit_code == 5 and "needs collateral" in result.output
