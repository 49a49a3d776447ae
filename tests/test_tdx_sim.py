"""Simulated TDX evidence: v4/v5 quotes with the real layout, TDX collateral that sgxra's verifier reads."""

from __future__ import annotations

import json

import pytest

from dcap_env import NOW, PKI
from sgxra.errors import MalformedMessage, VerificationError
from sgxra.sim.dcap_pki import SimQeLevel, SimTcbLevel, SimTdxModule
from sgxra.sim.tdx_qe import DEFAULT_TDX_COMPONENTS, DEFAULT_TDX_FMSPC, sim_td_report
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import QeIdentity, TcbInfo, TcbStatus
from sgxra.wire.dcap_quote import BODY_TYPE_TD10, BODY_TYPE_TD15, TEE_TYPE_TDX, DcapQuote
from tdx_env import TDX_QE, tdx_level, tdx_spec


@pytest.mark.parametrize(("version", "td15", "body_type", "size"), [
    (4, False, BODY_TYPE_TD10, 584), (5, False, BODY_TYPE_TD10, 584), (5, True, BODY_TYPE_TD15, 648)])
def test_quote_layout(version: int, td15: bool, body_type: int, size: int) -> None:
    report = sim_td_report(b"\x07" * 64, td15=td15)
    raw = TDX_QE.get_quote(report, version=version)
    quote = DcapQuote.parse(raw)
    assert (quote.version, quote.header.tee_type, quote.body_type) == (version, TEE_TYPE_TDX, body_type)
    assert (quote.header.qe_svn, quote.header.pce_svn) == (0, 0)  # reserved in TDX quotes, as in real ones
    assert len(quote.body.to_bytes()) == size and quote.body == report
    # As the real v4 TDX quote in Phala-Network/dcap-qvl sample/tdx-quote.hex: version, key type 2, TEE 0x81,
    # reserved zeros, Intel's QE vendor ID.
    assert raw[:28] == bytes((version,)) + bytes.fromhex("0002008100000000000000939a7233f79c4ca9940a0db3957f0607")
    if version == 5:  # the body descriptor: type u16, size u32
        assert raw[48:54] == body_type.to_bytes(2, "little") + size.to_bytes(4, "little")
    assert quote.pck_chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert quote.qe.qe_report.isv_prod_id == 2


def test_v4_cannot_carry_a_td15_report() -> None:
    with pytest.raises(MalformedMessage, match="TD 1.0"):
        TDX_QE.get_quote(sim_td_report(td15=True), version=4)
    with pytest.raises(MalformedMessage, match="version"):
        TDX_QE.get_quote(sim_td_report(), version=3)


def test_tdx_collateral_has_intels_members_in_intels_order() -> None:
    """Member order as in Intel's TDX collateral (Phala-Network/dcap-qvl sample/tdx_quote_collateral.json)."""
    collateral = PKI.collateral(tdx_spec())
    tcb = json.loads(collateral.tcb_info)
    assert list(tcb) == ["id", "version", "issueDate", "nextUpdate", "fmspc", "pceId", "tcbType",
                         "tcbEvaluationDataNumber", "tdxModule", "tdxModuleIdentities", "tcbLevels"]
    assert (tcb["id"], tcb["version"], tcb["fmspc"]) == ("TDX", 3, DEFAULT_TDX_FMSPC.hex())
    assert list(tcb["tdxModule"]) == ["mrsigner", "attributes", "attributesMask"]
    assert list(tcb["tdxModuleIdentities"][0]) == ["id", "mrsigner", "attributes", "attributesMask", "tcbLevels"]
    assert list(tcb["tcbLevels"][0]["tcb"]) == ["sgxtcbcomponents", "pcesvn", "tdxtcbcomponents"]
    info = TcbInfo.parse(collateral.tcb_info)
    assert [m.id for m in info.tdx_module_identities] == ["TDX_03", "TDX_01"]
    identity = QeIdentity.parse(collateral.qe_identity)
    assert (identity.id, identity.isvprodid) == ("TD_QE", 2)


def test_tdx_level_needs_tdx_components() -> None:
    with pytest.raises(ValueError, match="tdx_components"):
        PKI.collateral(tdx_spec(SimTcbLevel(DEFAULT_TDX_COMPONENTS, 13, TcbStatus.UpToDate)))


@pytest.mark.parametrize("version", [4, 5])
def test_sgxra_verifies_simulated_tdx_evidence(version: int) -> None:
    raw = TDX_QE.get_quote(sim_td_report(), version=version)
    verdict = verify_dcap_quote(raw, PKI.collateral(tdx_spec()), at=NOW, root=PKI.root)
    assert verdict.status is TcbStatus.UpToDate and verdict.tdx_module_status is TcbStatus.UpToDate


def test_tee_tcb_svn_below_the_level_falls_to_the_next() -> None:
    higher = (5, 1, 3) + (0,) * 13
    collateral = PKI.collateral(tdx_spec(tdx_level(TcbStatus.UpToDate, tdx=higher),
                                         tdx_level(TcbStatus.OutOfDate, "INTEL-SA-00837")))
    verdict = verify_dcap_quote(TDX_QE.get_quote(sim_td_report()), collateral, at=NOW, root=PKI.root)
    assert verdict.status is TcbStatus.OutOfDate and verdict.advisory_ids == ("INTEL-SA-00837",)


def test_module_signer_must_match() -> None:
    collateral = PKI.collateral(tdx_spec(tdx_modules=(SimTdxModule(1, (SimQeLevel(4, TcbStatus.UpToDate),),
                                                                   mrsigner=bytes(48)),)))
    with pytest.raises(VerificationError, match="MRSIGNER_SEAM"):
        verify_dcap_quote(TDX_QE.get_quote(sim_td_report()), collateral, at=NOW, root=PKI.root)


def test_sgx_collateral_does_not_verify_a_tdx_quote() -> None:
    with pytest.raises(VerificationError):
        verify_dcap_quote(TDX_QE.get_quote(sim_td_report()), PKI.collateral(tdx_spec(tee="sgx")), at=NOW,
                          root=PKI.root)
