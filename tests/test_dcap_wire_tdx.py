"""Quote v4/v5 and TDX: layouts round-trip, TDX TCB and module matching."""

from __future__ import annotations

import json

import pytest

from sgxra.errors import MalformedMessage, VerificationError
from sgxra.verify import tcb
from sgxra.wire.collateral import TcbInfo, TcbStatus
from sgxra.wire.dcap_quote import (
    BODY_TYPE_SGX,
    BODY_TYPE_TD10,
    BODY_TYPE_TD15,
    INTEL_QE_VENDOR_ID,
    TEE_TYPE_SGX,
    TEE_TYPE_TDX,
    CertificationData,
    DcapQuote,
    QeReportCertificationData,
    QuoteHeader,
)
from sgxra.wire.report_body import ReportBody
from sgxra.wire.td_report import TD10_SIZE, TdReport

MODULE_SIGNER = bytes(range(48))


def td_report(tee_tcb_svn: bytes, *, td15: bool = False) -> TdReport:
    sizes = {"tee_tcb_svn": 16, "mr_seam": 48, "mr_signer_seam": 48, "seam_attributes": 8, "td_attributes": 8,
             "xfam": 8, "mr_td": 48, "mr_config_id": 48, "mr_owner": 48, "mr_owner_config": 48, "rtmr0": 48,
             "rtmr1": 48, "rtmr2": 48, "rtmr3": 48, "report_data": 64}
    fields = {name: bytes([i]) * size for i, (name, size) in enumerate(sizes.items())}
    fields |= {"tee_tcb_svn": tee_tcb_svn, "mr_signer_seam": MODULE_SIGNER, "seam_attributes": bytes(8)}
    if td15:
        fields |= {"tee_tcb_svn2": b"\x01" * 16, "mr_servicetd": b"\x02" * 48}
    return TdReport(**fields)


def quote(version: int, tee: int, body_type: int, body: ReportBody | TdReport) -> DcapQuote:
    header = QuoteHeader(version, 2, tee, 1, 2, INTEL_QE_VENDOR_ID, bytes(20))
    qe = QeReportCertificationData(ReportBody.build(mr_enclave=bytes(32), mr_signer=bytes(32)), b"s" * 64, b"auth",
                                   CertificationData(5, b"-----BEGIN CERTIFICATE-----"))
    return DcapQuote(header, body_type, body, b"i" * 64, b"k" * 64, qe)


@pytest.mark.parametrize(
    ("version", "tee", "body_type", "body"),
    [
        (3, TEE_TYPE_SGX, BODY_TYPE_SGX, ReportBody.build(mr_enclave=b"e" * 32, mr_signer=b"s" * 32)),
        (4, TEE_TYPE_SGX, BODY_TYPE_SGX, ReportBody.build(mr_enclave=b"e" * 32, mr_signer=b"s" * 32)),
        (4, TEE_TYPE_TDX, BODY_TYPE_TD10, td_report(bytes(16))),
        (5, TEE_TYPE_TDX, BODY_TYPE_TD10, td_report(bytes(16))),
        (5, TEE_TYPE_TDX, BODY_TYPE_TD15, td_report(bytes(16), td15=True)),
    ],
)
def test_quote_layouts_round_trip(version: int, tee: int, body_type: int, body: ReportBody | TdReport) -> None:
    q = quote(version, tee, body_type, body)
    raw = q.to_bytes()
    parsed = DcapQuote.parse(raw)
    assert parsed == q and parsed.to_bytes() == raw
    if version >= 4:  # the QE data sits inside certification data of type 6
        assert int.from_bytes(raw[len(q.signed_bytes()) + 4 + 128 : len(q.signed_bytes()) + 4 + 130], "little") == 6
    if version == 5:
        assert int.from_bytes(raw[48:50], "little") == body_type
    for cut in (0, 47, 100, len(raw) - 1):
        with pytest.raises(MalformedMessage):
            DcapQuote.parse(raw[:cut])
    padded = DcapQuote.parse(raw + b"\x00")  # bytes after the signature data are kept, never interpreted
    assert padded.trailing == b"\x00" and padded.to_bytes() == raw + b"\x00"


def test_v3_tdx_and_bad_sizes_are_refused() -> None:
    raw = quote(4, TEE_TYPE_TDX, BODY_TYPE_TD10, td_report(bytes(16))).to_bytes()
    with pytest.raises(MalformedMessage, match="tee_type"):
        DcapQuote.parse(b"\x03\x00" + raw[2:])
    v5 = bytearray(quote(5, TEE_TYPE_TDX, BODY_TYPE_TD10, td_report(bytes(16))).to_bytes())
    v5[50:54] = (TD10_SIZE + 1).to_bytes(4, "little")
    with pytest.raises(MalformedMessage, match="body_size"):
        DcapQuote.parse(bytes(v5))


def tdx_tcb_info(module_version_levels: bool) -> TcbInfo:
    level = {"tcb": {"sgxtcbcomponents": [{"svn": 2}] * 16, "pcesvn": 10,
                     "tdxtcbcomponents": [{"svn": 3}] * 16},
             "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "UpToDate"}
    older = {"tcb": {"sgxtcbcomponents": [{"svn": 2}] * 16, "pcesvn": 10,
                     "tdxtcbcomponents": [{"svn": 1}] * 16},
             "tcbDate": "2023-01-01T00:00:00Z", "tcbStatus": "OutOfDate", "advisoryIDs": ["INTEL-SA-00837"]}
    module = {"mrsigner": MODULE_SIGNER.hex(), "attributes": "00" * 8, "attributesMask": "FF" * 8}
    obj = {
        "id": "TDX", "version": 3, "issueDate": "2025-01-01T00:00:00Z", "nextUpdate": "2025-02-01T00:00:00Z",
        "fmspc": "00806F050000", "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 17,
        "tdxModule": module, "tcbLevels": [level, older],
        "tdxModuleIdentities": [module | {"id": "TDX_01", "tcbLevels": [
            {"tcb": {"isvsvn": 4}, "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "UpToDate"},
            {"tcb": {"isvsvn": 2}, "tcbDate": "2023-01-01T00:00:00Z", "tcbStatus": "OutOfDate",
             "advisoryIDs": ["INTEL-SA-00999"]},
        ]}] if module_version_levels else [],
    }
    return TcbInfo.parse(json.dumps(obj))


def test_tdx_levels_compare_the_tee_tcb_svn() -> None:
    info = tdx_tcb_info(False)
    _, up = tcb.match_tdx_levels(info, [2] * 16, 10, bytes([3] * 16))
    assert up.status is TcbStatus.UpToDate
    _, old = tcb.match_tdx_levels(info, [2] * 16, 10, bytes([3] * 15 + [2]))
    assert old.status is TcbStatus.OutOfDate and old.advisory_ids == ("INTEL-SA-00837",)
    with pytest.raises(VerificationError, match="TCB level not supported"):
        tcb.match_tdx_levels(info, [2] * 16, 10, bytes(16))


def test_tdx_module_version_0_checks_signer_only() -> None:
    info = tdx_tcb_info(False)
    assert tcb.match_tdx_module(info, td_report(bytes([3, 0] + [3] * 14))) is None
    other = td_report(bytes(16))
    with pytest.raises(VerificationError, match="MRSIGNER_SEAM"):
        tcb.match_tdx_module(info, TdReport(**{**other.__dict__, "mr_signer_seam": b"\x09" * 48}))


def test_tdx_module_version_1_has_its_own_levels() -> None:
    info = tdx_tcb_info(True)
    current = tcb.match_tdx_module(info, td_report(bytes([5, 1] + [3] * 14)))
    assert current is not None and current.status is TcbStatus.UpToDate
    stale = tcb.match_tdx_module(info, td_report(bytes([3, 1] + [3] * 14)))
    assert stale is not None and stale.status is TcbStatus.OutOfDate
    assert tcb.converge(TcbStatus.UpToDate, stale.status) is TcbStatus.OutOfDate
    with pytest.raises(VerificationError, match="TDX_02"):
        tcb.match_tdx_module(info, td_report(bytes([5, 2] + [3] * 14)))
    # From module version 1 the first two TEE TCB SVN bytes belong to the module, not to the level match.
    assert tcb.match_tdx_levels(info, [2] * 16, 10, bytes([0, 1] + [3] * 14))[1].status is TcbStatus.UpToDate


def test_converge_rules() -> None:
    S = TcbStatus
    assert tcb.converge(S.ConfigurationAndSWHardeningNeeded, S.OutOfDate) is S.OutOfDateConfigurationNeeded
    assert tcb.converge(S.SWHardeningNeeded, S.OutOfDate) is S.OutOfDate
    assert tcb.converge(S.OutOfDate, S.UpToDate) is S.OutOfDate
    assert tcb.converge(S.UpToDate, S.Revoked) is S.Revoked
