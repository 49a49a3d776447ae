"""Every TCB status and every failure, on purpose, with the simulated Intel PKI."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from dcap_env import NOW, PKI, QE, level, quote, spec
from sgxra.errors import (
    CertificateChainError,
    CertificateRevoked,
    CollateralExpired,
    SignatureInvalid,
    VerificationError,
)
from sgxra.sim.dcap_pki import SimQeLevel
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbStatus

HIGHER = (12, 12, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def verify(collateral: Collateral, raw: bytes | None = None) -> object:
    return verify_dcap_quote(raw or quote(), collateral, at=NOW, root=PKI.root)


@pytest.mark.parametrize("status", [s for s in TcbStatus if not s.value.startswith("TDRelaunch")])
def test_each_tcb_status(status: TcbStatus) -> None:
    collateral = PKI.collateral(spec(level(TcbStatus.UpToDate, components=HIGHER), level(status, "INTEL-SA-00001")))
    verdict = verify_dcap_quote(quote(), collateral, at=NOW, root=PKI.root)
    assert verdict.status is status and verdict.platform_status is status
    assert verdict.advisory_ids == ("INTEL-SA-00001",)


def test_first_matching_level_wins_and_pcesvn_counts() -> None:
    collateral = PKI.collateral(spec(
        level(TcbStatus.UpToDate, pcesvn=14),  # the platform's PCESVN is 13
        level(TcbStatus.SWHardeningNeeded, "INTEL-SA-00615"),
        level(TcbStatus.OutOfDate, "INTEL-SA-00828", components=(1,) * 16),
    ))
    verdict = verify_dcap_quote(quote(), collateral, at=NOW, root=PKI.root)
    assert verdict.status is TcbStatus.SWHardeningNeeded and verdict.advisory_ids == ("INTEL-SA-00615",)


def test_qe_out_of_date_converges_with_the_platform() -> None:
    old_qe = SimEcdsaQuotingEnclave(PKI, qe_svn=6)
    collateral = PKI.collateral(spec(level(TcbStatus.ConfigurationNeeded, "INTEL-SA-00289")))
    verdict = verify_dcap_quote(quote(old_qe), collateral, at=NOW, root=PKI.root)
    assert verdict.qe_status is TcbStatus.OutOfDate
    assert verdict.status is TcbStatus.OutOfDateConfigurationNeeded
    assert verdict.advisory_ids == ("INTEL-SA-00289", "INTEL-SA-00615")


def test_revoked_qe_level_makes_the_quote_revoked() -> None:
    collateral = PKI.collateral(spec(qe_levels=(SimQeLevel(1, TcbStatus.Revoked),)))
    assert verify_dcap_quote(quote(), collateral, at=NOW, root=PKI.root).status is TcbStatus.Revoked


def test_platform_ca_quotes_verify() -> None:
    qe = SimEcdsaQuotingEnclave(PKI, ca="platform")
    verdict = verify_dcap_quote(quote(qe), PKI.collateral(spec(ca="platform")), at=NOW, root=PKI.root)
    assert verdict.ca_type == "platform" and verdict.status is TcbStatus.UpToDate


def test_pck_crl_of_the_other_ca_is_refused() -> None:
    with pytest.raises(CertificateChainError, match="PCK CRL is not from the CA"):
        verify(PKI.collateral(spec(ca="platform")))  # the platform CA's CRL cannot vouch for a processor-CA PCK


def test_revoked_pck_certificate() -> None:
    collateral = PKI.collateral(spec(revoked_pck_serials=[QE.pck_certificate.serial_number]))
    with pytest.raises(CertificateRevoked, match="PCK certificate"):
        verify(collateral)


def test_revoked_intermediate() -> None:
    collateral = PKI.collateral(spec(revoked_ca_serials=[PKI.cas["processor"].serial_number]))
    with pytest.raises(CertificateRevoked, match="PCK CA"):
        verify(collateral)


def test_revoked_tcb_signing_certificate() -> None:
    collateral = PKI.collateral(spec(revoked_ca_serials=[PKI.tcb_signing.serial_number]))
    with pytest.raises(CertificateRevoked, match="TCB info signing"):
        verify(collateral)


def test_expired_tcb_info() -> None:
    collateral = PKI.collateral(spec(issued=NOW - timedelta(days=40)))
    with pytest.raises(CollateralExpired, match="expired"):
        verify(collateral)


def test_not_yet_valid_collateral() -> None:
    with pytest.raises(CollateralExpired):
        verify(PKI.collateral(spec(issued=NOW + timedelta(hours=1))))


def test_qe_identity_mismatch() -> None:
    with pytest.raises(VerificationError, match="QE identity mismatch: MRSIGNER"):
        verify(PKI.collateral(spec(qe_mrsigner=b"\x01" * 32)))
    with pytest.raises(VerificationError, match="QE identity mismatch: product id"):
        verify(PKI.collateral(spec(qe_prod_id=7)))


def test_qe_below_every_level() -> None:
    with pytest.raises(VerificationError, match="QE TCB not supported"):
        verify(PKI.collateral(spec(qe_levels=(SimQeLevel(99, TcbStatus.UpToDate),))))


def test_wrong_fmspc() -> None:
    collateral = PKI.collateral(spec(fmspc=bytes.fromhex("00A067110000")))
    with pytest.raises(VerificationError, match="FMSPC mismatch"):
        verify(collateral)


def test_unsupported_tcb_level() -> None:
    with pytest.raises(VerificationError, match="TCB level not supported"):
        verify(PKI.collateral(spec(level(TcbStatus.UpToDate, components=HIGHER))))


def test_tampered_tcb_info_signature() -> None:
    good = PKI.collateral(spec())
    bent = dataclasses.replace(good, tcb_info=good.tcb_info.replace('"UpToDate"', '"SWHardeningNeeded"'))
    with pytest.raises(SignatureInvalid, match="TCB info signature"):
        verify(bent)


def test_quote_signed_by_another_attestation_key_is_refused() -> None:
    other = SimEcdsaQuotingEnclave(PKI)
    raw = bytearray(quote(other))
    mine = quote()
    raw[436:436 + 64] = mine[436:436 + 64]  # a genuine signature, but by QE's key, not other's
    with pytest.raises(SignatureInvalid, match="quote signature"):
        verify(PKI.collateral(spec()), bytes(raw))
