"""The real SGX v3 quote and its collateral (Intel hardware, Intel PCS)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from conftest import flip
from sgxra.errors import (
    CertificateChainError,
    CollateralExpired,
    MalformedMessage,
    SgxRaError,
    SignatureInvalid,
    VerificationError,
)
from sgxra.sim.dcap_pki import SimIntelPki, pem
from sgxra.verify.dcap import DcapVerifier, verify_dcap_quote
from sgxra.verify.pki import load_pem_chain
from sgxra.wire.collateral import Collateral, TcbStatus
from sgxra.wire.dcap_quote import CertificationData, DcapQuote
from sgxra.wire.pck_extension import PckExtension
from vectors_env import SGX_AT as AT
from vectors_env import RealSgx


@pytest.fixture(scope="module")
def quote(real_sgx: RealSgx) -> bytes:
    return real_sgx.quote


@pytest.fixture(scope="module")
def collateral(real_sgx: RealSgx) -> Collateral:
    return real_sgx.collateral


def test_real_quote_verifies_with_its_status_and_advisories(quote: bytes, collateral: Collateral) -> None:
    verdict = verify_dcap_quote(quote, collateral, at=AT)
    assert verdict.status is TcbStatus.ConfigurationAndSWHardeningNeeded
    assert verdict.advisory_ids == ("INTEL-SA-00289", "INTEL-SA-00615")
    assert verdict.qe_status is TcbStatus.UpToDate and verdict.ca_type == "processor"
    assert verdict.pck.fmspc.hex().upper() == "00A067110000"
    assert verdict.collateral_expiry == datetime.fromtimestamp(1752919278, timezone.utc)


def test_window_edges(quote: bytes, collateral: Collateral) -> None:
    for ts in (1750330571, 1752919278):
        verify_dcap_quote(quote, collateral, at=datetime.fromtimestamp(ts, timezone.utc))
    for ts in (1750330570, 1752919279):
        with pytest.raises(CollateralExpired):
            verify_dcap_quote(quote, collateral, at=datetime.fromtimestamp(ts, timezone.utc))


def test_expired_collateral_fails_clearly(quote: bytes, collateral: Collateral) -> None:
    with pytest.raises(CollateralExpired, match="TCB info is expired at 2025-10-09"):
        verify_dcap_quote(quote, collateral, at=datetime.fromtimestamp(1760000000, timezone.utc))


def test_caching_verifier_agrees_and_still_checks_time(quote: bytes, collateral: Collateral) -> None:
    verifier = DcapVerifier()
    first, second = verifier.verify(quote, collateral, at=AT), verifier.verify(quote, collateral, at=AT)
    assert first.status == second.status and first.advisory_ids == second.advisory_ids
    with pytest.raises(CollateralExpired):
        verifier.verify(quote, collateral, at=datetime.fromtimestamp(1760000000, timezone.utc))
    with pytest.raises(SignatureInvalid):
        verifier.verify(flip(quote, 100), collateral, at=AT)


def _region(quote: bytes) -> dict[str, range]:
    q = DcapQuote.parse(quote)
    sig = 436
    auth_len = len(q.qe.qe_auth_data)
    cert_start = sig + 64 + 64 + 384 + 64 + 2 + auth_len + 6
    pem = q.qe.certification_data.data
    certs = [c.encode() for c in pem.decode().split("-----END CERTIFICATE-----")[:3]]
    offsets, pos = [], 0
    for c in certs:
        offsets.append(pem.index(c.strip(), pos))
        pos = offsets[-1] + len(c.strip())
    middle = lambda i: cert_start + offsets[i] + 400  # noqa: E731 - inside the base64 of certificate i
    return {
        "signed body": range(48 + 64, 48 + 64 + 8),
        "header": range(8, 10),
        "isv signature": range(sig, sig + 4),
        "attestation key": range(sig + 64, sig + 64 + 4),
        "qe report": range(sig + 128 + 64, sig + 128 + 68),
        "qe report signature": range(sig + 128 + 384, sig + 128 + 388),
        "qe auth data": range(sig + 128 + 384 + 64 + 2, sig + 128 + 384 + 64 + 6),
        "pck leaf": range(middle(0), middle(0) + 3),
        "intermediate": range(middle(1), middle(1) + 3),
        "root": range(middle(2), middle(2) + 3),
    }


EXPECTED: dict[str, tuple[type[SgxRaError], ...]] = {
    "signed body": (SignatureInvalid,),
    "header": (SignatureInvalid,),
    "isv signature": (SignatureInvalid,),
    "attestation key": (VerificationError,),  # the QE report's binding breaks first
    "qe report": (SignatureInvalid,),
    "qe report signature": (SignatureInvalid,),
    "qe auth data": (VerificationError,),
    "pck leaf": (CertificateChainError, MalformedMessage),
    "intermediate": (CertificateChainError, MalformedMessage),
    "root": (CertificateChainError, MalformedMessage),
}


@pytest.mark.parametrize("part", sorted(EXPECTED))
def test_one_byte_change_fails(quote: bytes, collateral: Collateral, part: str) -> None:
    for index in _region(quote)[part]:
        tampered = flip(quote, index, 0x04)
        with pytest.raises(EXPECTED[part]):
            verify_dcap_quote(tampered, collateral, at=AT)


def test_qe_auth_data_change_breaks_the_binding(quote: bytes, collateral: Collateral) -> None:
    index = _region(quote)["qe auth data"][0]
    with pytest.raises(VerificationError, match="QE report data does not bind"):
        verify_dcap_quote(flip(quote, index), collateral, at=AT)


def test_embedded_root_must_be_intels(quote: bytes, collateral: Collateral) -> None:
    parsed = DcapQuote.parse(quote)
    leaf, intermediate, _ = load_pem_chain(parsed.pck_chain_pem)
    foreign = pem(leaf, intermediate, SimIntelPki(AT).root).encode()
    qe = dataclasses.replace(parsed.qe, certification_data=CertificationData(5, foreign))
    with pytest.raises(CertificateChainError, match="not the pinned root"):
        verify_dcap_quote(dataclasses.replace(parsed, qe=qe).to_bytes(), collateral, at=AT)


def test_pck_extension_of_the_real_certificate(quote: bytes) -> None:
    leaf = load_pem_chain(DcapQuote.parse(quote).pck_chain_pem)[0]
    ext = PckExtension.from_certificate(leaf)
    assert ext.tcb_components == (11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert ext.pcesvn == 13 and ext.pce_id == b"\x00\x00" and len(ext.ppid) == 16
    assert ext.cpusvn == bytes(ext.tcb_components)
    assert PckExtension.parse(ext.to_der()) == ext


def test_quote_round_trips(quote: bytes) -> None:
    parsed = DcapQuote.parse(quote)
    assert parsed.to_bytes() == quote and parsed.version == 3 and not parsed.is_tdx


def test_collateral_json_round_trips(collateral: Collateral) -> None:
    assert Collateral.from_json(collateral.to_json()) == collateral
