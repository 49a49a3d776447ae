"""Every certificate in DCAP collateral must hold the role it plays, not merely chain to the root.

Forgeries are built with the simulated PKI: a PCK leaf's key (which every
platform holds) must not be able to sign a TCB info or a QE identity, and a
CRL must come from the CA it is for. The CRL issuer chain is judged on its
merits (found by name and signature), as Intel's QVL does.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dcap_env import NOW, PKI, QE, level, quote, spec
from sgxra.errors import CertificateChainError, SignatureInvalid, VerificationError
from sgxra.sim.dcap_pki import SimQeLevel, pem, raw_signature
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.verify.pki import load_pem_chain
from sgxra.wire.collateral import Collateral, TcbStatus
from sgxra.wire.dcap_quote import DcapQuote
from vectors_env import SGX_AT as REAL_AT
from vectors_env import RealSgx

PCK_CHAIN = pem(QE.pck_certificate, PKI.cas["processor"], PKI.root)


def _certificate(cn: str, issuer: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
                 ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=True,
                          encipher_only=False, decipher_only=False)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(usage, critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert, key


def _resign(collateral: Collateral, what: str, text: str, key: ec.EllipticCurvePrivateKey, chain: str) -> Collateral:
    return dataclasses.replace(collateral, **{what: text, f"{what}_signature": raw_signature(key, text.encode()),
                                              f"{what}_issuer_chain": chain})


def _verify(collateral: Collateral, raw: bytes | None = None) -> TcbStatus:
    return verify_dcap_quote(raw or quote(), collateral, at=NOW, root=PKI.root).status


def test_tcb_info_signed_by_a_pck_leaf_is_refused() -> None:
    honest = PKI.collateral(spec(level(TcbStatus.OutOfDate, "INTEL-SA-00828")))
    assert _verify(honest) is TcbStatus.OutOfDate
    forged_text = honest.tcb_info.replace('"OutOfDate"', '"UpToDate"')
    forged = _resign(honest, "tcb_info", forged_text, QE.pck_key, PCK_CHAIN)
    with pytest.raises(CertificateChainError, match="TCB info signer .* not issued directly by the root"):
        _verify(forged)


def test_qe_identity_signed_by_a_pck_leaf_is_refused() -> None:
    old_qe = SimEcdsaQuotingEnclave(PKI, qe_svn=0)
    honest = PKI.collateral(spec())
    with pytest.raises(VerificationError, match="QE TCB not supported"):
        _verify(honest, quote(old_qe))
    forged_spec = spec(qe_levels=(SimQeLevel(0, TcbStatus.UpToDate),))
    forged = _resign(honest, "qe_identity", PKI.qe_identity_json(forged_spec), QE.pck_key, PCK_CHAIN)
    with pytest.raises(CertificateChainError, match="QE identity signer"):
        _verify(forged, quote(old_qe))


def test_tcb_signer_under_a_pck_ca_is_refused_despite_its_name() -> None:
    signer, key = _certificate("Intel SGX TCB Signing", PKI.cas["processor"], PKI.ca_keys["processor"])
    honest = PKI.collateral(spec())
    forged = _resign(honest, "tcb_info", honest.tcb_info, key, pem(signer, PKI.cas["processor"], PKI.root))
    with pytest.raises(CertificateChainError, match="not issued directly by the root"):
        _verify(forged)


def test_tcb_signer_must_carry_intels_tcb_signing_name() -> None:
    signer, key = _certificate("Intel SGX Something Else", PKI.root, PKI.root_key)
    honest = PKI.collateral(spec())
    forged = _resign(honest, "qe_identity", honest.qe_identity, key, pem(signer, PKI.root))
    with pytest.raises(CertificateChainError, match="not Intel's TCB signing certificate"):
        _verify(forged)


def test_pck_crl_signed_by_the_wrong_ca_is_refused() -> None:
    honest = PKI.collateral(spec())
    # The platform CA signs a CRL that names the processor CA as its issuer.
    platform_crl = PKI.crl(PKI.cas["processor"], PKI.ca_keys["platform"], [], NOW, timedelta(days=30))
    with pytest.raises(SignatureInvalid, match="PCK CRL: no certificate in its issuer chain"):
        _verify(dataclasses.replace(honest, pck_crl=platform_crl))
    # The TCB signing certificate is under the root and may sign, but is not a CA: it cannot issue the PCK CRL.
    tcb_crl = PKI.crl(PKI.tcb_signing, PKI.tcb_key, [], NOW, timedelta(days=30))
    with pytest.raises(CertificateChainError, match="not allowed to sign CRLs|not a CA"):
        _verify(dataclasses.replace(honest, pck_crl=tcb_crl, pck_crl_issuer_chain=pem(PKI.tcb_signing, PKI.root)))


def test_pck_crl_issuer_must_be_the_ca_named_by_the_pck() -> None:
    # A genuine CRL of another CA under the root (issuer found by name and signature) does not vouch for this PCK.
    honest = PKI.collateral(spec())
    other_ca, other_key = _certificate("Intel SGX PCK Processor CA 2", PKI.root, PKI.root_key, ca=True)
    other_crl = PKI.crl(other_ca, other_key, [], NOW, timedelta(days=30))
    with pytest.raises(CertificateChainError, match="PCK CRL is not from the CA that issued"):
        _verify(dataclasses.replace(honest, pck_crl=other_crl, pck_crl_issuer_chain=pem(other_ca, PKI.root)))


def test_root_ca_crl_must_be_signed_by_the_root() -> None:
    honest = PKI.collateral(spec())
    by_ca = PKI.crl(PKI.root, PKI.ca_keys["processor"], [], NOW, timedelta(days=30))
    with pytest.raises(SignatureInvalid, match="root CA CRL"):
        _verify(dataclasses.replace(honest, root_ca_crl=by_ca))
    named_ca = PKI.crl(PKI.cas["processor"], PKI.ca_keys["processor"], [], NOW, timedelta(days=30))
    with pytest.raises(SignatureInvalid, match="root CA CRL is issued by"):
        _verify(dataclasses.replace(honest, root_ca_crl=named_ca))


@pytest.mark.parametrize("order", ["ca-root", "root-ca", "leaf-ca-root", "other-ca-first"])
def test_crl_issuer_chain_is_judged_by_name_and_signature_not_position(order: str) -> None:
    honest = PKI.collateral(spec())
    processor, platform = PKI.cas["processor"], PKI.cas["platform"]
    chains = {
        "ca-root": pem(processor, PKI.root), "root-ca": pem(PKI.root, processor),
        "leaf-ca-root": pem(QE.pck_certificate, processor, PKI.root),
        "other-ca-first": pem(platform, processor, PKI.root),
    }
    assert _verify(dataclasses.replace(honest, pck_crl_issuer_chain=chains[order])) is TcbStatus.UpToDate


def test_crl_issuer_chain_without_the_issuer_is_refused() -> None:
    honest = PKI.collateral(spec())
    with pytest.raises(SignatureInvalid, match="PCK CRL: no certificate"):
        _verify(dataclasses.replace(honest, pck_crl_issuer_chain=pem(QE.pck_certificate, PKI.root)))


def test_real_collateral_with_the_whole_pck_chain_as_crl_issuer_chain(real_sgx: RealSgx) -> None:
    """Intel's QVL accepts this set (it checks the PCK CRL against the PCK CA): ConfigurationAndSWHardeningNeeded."""
    raw = real_sgx.quote
    data = json.loads(real_sgx.collateral_text)
    leaf, ca, root = load_pem_chain(DcapQuote.parse(raw).pck_chain_pem)
    data["pck_crl_issuer_chain"] = pem(leaf, ca, root)
    verdict = verify_dcap_quote(raw, Collateral.from_json(json.dumps(data)), at=REAL_AT)
    assert verdict.status is TcbStatus.ConfigurationAndSWHardeningNeeded
    assert verdict.advisory_ids == ("INTEL-SA-00289", "INTEL-SA-00615")


def test_an_impostor_of_the_crl_issuer_does_not_hide_the_genuine_one() -> None:
    # An expired certificate with the PCK CA's name and key, listed first: its path fails, so the genuine
    # PCK CA after it is used; alone, it is refused.
    ca, key = PKI.cas["processor"], PKI.ca_keys["processor"]
    impostor = (
        x509.CertificateBuilder().subject_name(ca.subject).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW - timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    honest = PKI.collateral(spec())
    both = dataclasses.replace(honest, pck_crl_issuer_chain=pem(impostor, ca, PKI.root))
    assert _verify(both) is TcbStatus.UpToDate
    with pytest.raises(CertificateChainError, match="expired"):
        _verify(dataclasses.replace(honest, pck_crl_issuer_chain=pem(impostor, PKI.root)))
