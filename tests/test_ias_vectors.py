"""Real Attestation Verification Reports signed by Intel."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509

from conftest import flip
from sgxra.errors import (
    CertificateChainError,
    CertificateExpired,
    EvidenceMismatch,
    MalformedMessage,
    SgxRaError,
    SignatureInvalid,
    StaleEvidence,
)
from sgxra.ias.mock_pki import MockIasPki
from sgxra.verify import load_pem_chain, load_urlencoded_chain, verify_report
from sgxra.wire.ias_report import AttestationReport, QuoteStatus

V3_AT = datetime(2018, 8, 24, 0, 15, 38, 12200, tzinfo=timezone.utc)
V4_AT = datetime(2020, 5, 11, 9, 21, 15, 454051, tzinfo=timezone.utc)
V4_NONCE = "biNMqBAuTPF2hp/0fXa4P3splRkLHJf0"


class Reports:
    def __init__(self, root: Path) -> None:
        ias = root / "ias"
        self.chain = load_urlencoded_chain((ias / "signing_chain_urlencoded.txt").read_text().strip())
        self.leaf_only = load_pem_chain((ias / "signing_leaf.pem").read_bytes())
        self.v3 = (ias / "avr_v3_ok.json").read_bytes()
        self.v3_sig = (ias / "avr_v3_ok.sig.bin").read_bytes()
        self.v4 = (ias / "avr_v4_sw_hardening_needed.json").read_bytes()
        self.v4_sig = base64.b64decode((ias / "avr_v4_sw_hardening_needed.sig.b64").read_text())


@pytest.fixture(scope="module")
def reports(vectors: Path) -> Reports:
    return Reports(vectors)


def test_chain_header_is_leaf_then_intel_root(reports: Reports) -> None:
    assert len(reports.chain) == 2
    assert reports.chain[0] == reports.leaf_only[0]
    assert reports.chain[0].serial_number == 0xD107765D32A3B096


def test_v3_report_verifies_at_its_timestamp(reports: Reports) -> None:
    report = verify_report(reports.v3, reports.v3_sig, chain=reports.chain, at=V3_AT, api_version=3)
    assert report.isv_enclave_quote_status is QuoteStatus.OK
    assert report.timestamp == V3_AT and report.version == 3
    assert report.epid_pseudonym is not None and len(report.epid_pseudonym) == 128
    assert report.quote.version == 2 and report.quote.report_body.isv_svn >= 0


def test_v4_report_verifies_with_nonce_and_advisory(reports: Reports) -> None:
    report = verify_report(
        reports.v4, reports.v4_sig, chain=reports.leaf_only, at=V4_AT, api_version=4, nonce=V4_NONCE,
        max_age=timedelta(seconds=1),
    )
    assert report.status == "SW_HARDENING_NEEDED"
    assert report.advisory_ids == ("INTEL-SA-00334",) and report.nonce == V4_NONCE
    assert report.tcb_evaluation_data_number is None


@pytest.mark.parametrize("which", ["v3", "v4"])
def test_reports_expire_with_their_certificate(reports: Reports, which: str) -> None:
    body, sig = (reports.v3, reports.v3_sig) if which == "v3" else (reports.v4, reports.v4_sig)
    with pytest.raises(CertificateExpired, match="certificate expired") as info:
        verify_report(body, sig, chain=reports.chain, at=datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert "2026-11-20T09:36:58" in str(info.value)


def test_every_one_byte_change_in_the_body_fails(reports: Reports) -> None:
    for i in range(len(reports.v4)):
        with pytest.raises(SgxRaError):
            verify_report(flip(reports.v4, i), reports.v4_sig, chain=reports.chain, at=V4_AT)


def test_body_change_is_a_signature_failure(reports: Reports) -> None:
    with pytest.raises(SignatureInvalid):
        verify_report(flip(reports.v4, 100), reports.v4_sig, chain=reports.chain, at=V4_AT)


@pytest.mark.parametrize("index", [0, 100, 255])
def test_changed_signature_fails(reports: Reports, index: int) -> None:
    with pytest.raises(SignatureInvalid):
        verify_report(reports.v4, flip(reports.v4_sig, index), chain=reports.chain, at=V4_AT)


def test_different_root_fails(reports: Reports) -> None:
    other = MockIasPki.generate(V4_AT)
    with pytest.raises(CertificateChainError, match="not validly signed"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.leaf_only, at=V4_AT, root=other.root)
    # Intel's chain with a foreign root appended is refused too.
    with pytest.raises(CertificateChainError):
        verify_report(reports.v4, reports.v4_sig, chain=[*reports.leaf_only, other.root], at=V4_AT)


def test_no_chain_fails(reports: Reports) -> None:
    with pytest.raises(CertificateChainError, match="no signing certificate"):
        verify_report(reports.v4, reports.v4_sig, chain=[], at=V4_AT)


def test_request_bindings(reports: Reports) -> None:
    with pytest.raises(EvidenceMismatch, match="version 4"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=V4_AT, api_version=5)
    with pytest.raises(EvidenceMismatch, match="nonce"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=V4_AT, nonce="another")
    with pytest.raises(EvidenceMismatch, match="nonce"):
        verify_report(reports.v3, reports.v3_sig, chain=reports.chain, at=V3_AT, nonce="expected")
    body = AttestationReport.parse(reports.v4).isv_enclave_quote_body
    verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=V4_AT, quote=body + b"\0\0\0\0sig")
    with pytest.raises(EvidenceMismatch, match="different quote"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=V4_AT, quote=flip(body, 300))


def test_freshness_window(reports: Reports) -> None:
    later = V4_AT + timedelta(minutes=11)
    with pytest.raises(StaleEvidence, match="older than"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=later, max_age=timedelta(minutes=10))
    verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=later, max_age=timedelta(minutes=12))
    with pytest.raises(StaleEvidence, match="future"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=V4_AT - timedelta(hours=1))


def test_unknown_status_is_an_error() -> None:
    obj = {"id": "1", "timestamp": "2020-05-11T09:21:15.454051", "version": 4,
           "isvEnclaveQuoteStatus": "FINE_REALLY", "isvEnclaveQuoteBody": base64.b64encode(bytes(432)).decode()}
    with pytest.raises(MalformedMessage, match="unknown status 'FINE_REALLY'") as info:
        AttestationReport.parse(json.dumps(obj).encode())
    assert info.value.field == "isvEnclaveQuoteStatus"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timestamp": "2020-05-11 09:21:15"}, "timestamp"),
        ({"version": "4"}, "version"),
        ({"isvEnclaveQuoteBody": "AAAA"}, "isvEnclaveQuoteBody"),
        ({"platformInfoBlob": "1502"}, "size"),
        ({"advisoryIDs": "INTEL-SA-1"}, "advisoryIDs"),
        ({"epidPseudonym": "!!"}, "epidPseudonym"),
    ],
)
def test_malformed_report_fields_are_named(change: dict[str, object], field: str) -> None:
    obj: dict[str, object] = {"id": "1", "timestamp": "2020-05-11T09:21:15.454051", "version": 4,
                              "isvEnclaveQuoteStatus": "OK",
                              "isvEnclaveQuoteBody": base64.b64encode(bytes([2, 0]) + bytes(430)).decode()}
    AttestationReport.parse(json.dumps(obj).encode())
    with pytest.raises(MalformedMessage) as info:
        AttestationReport.parse(json.dumps(obj | change).encode())
    assert info.value.field == field


def test_naive_time_is_refused(reports: Reports) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_report(reports.v4, reports.v4_sig, chain=reports.chain, at=datetime(2020, 5, 11))


def test_embedded_root_is_intels(reports: Reports) -> None:
    from sgxra.verify import intel_ias_report_signing_root

    assert reports.chain[1] == intel_ias_report_signing_root()
    assert isinstance(reports.chain[1], x509.Certificate)
