"""The simulated PKI has the profile of Intel's real certificates and CRLs, and stays marked as simulated."""

from __future__ import annotations

import json
import re

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from dcap_env import PKI, QE, spec
from sgxra.sim.dcap_pki import ORG
from sgxra.verify.trust import intel_sgx_root_ca
from vectors_env import RealSgx

PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def profile(cert: x509.Certificate) -> tuple[object, ...]:
    """What Intel's verifier reads of a certificate's shape: name attributes, extensions, their criticality."""
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    limits = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    return (
        [a.oid for a in cert.subject], [a.oid for a in cert.issuer], cert.version,
        cert.signature_algorithm_oid, [(e.oid, e.critical) for e in cert.extensions],
        (usage.digital_signature, usage.content_commitment, usage.key_cert_sign, usage.crl_sign),
        (limits.ca, limits.path_length), len(cert.serial_number.to_bytes(21, "big").lstrip(b"\0")) <= 20,
    )


def crl_profile(der: bytes) -> tuple[object, ...]:
    crl = x509.load_der_x509_crl(der)
    return ([a.oid for a in crl.issuer], crl.signature_algorithm_oid, [(e.oid, e.critical) for e in crl.extensions],
            crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)


@pytest.fixture(scope="module")
def real(real_sgx: RealSgx) -> tuple[list[x509.Certificate], dict[str, object]]:
    chain = [x509.load_pem_x509_certificate(p) for p in PEM.findall(real_sgx.quote)]
    return chain, json.loads(real_sgx.collateral_text)


def test_certificates_have_intels_profile(real: tuple[list[x509.Certificate], dict[str, object]]) -> None:
    (pck, ca, root), collateral = real
    tcb_signing = x509.load_pem_x509_certificate(PEM.findall(str(collateral["tcb_info_issuer_chain"]).encode())[0])
    ours = {"pck": QE.pck_certificate, "ca": PKI.cas["processor"], "root": PKI.root, "tcb": PKI.tcb_signing}
    for name, intel in {"pck": pck, "ca": ca, "root": root, "tcb": tcb_signing}.items():
        assert profile(ours[name]) == profile(intel), name
    for ours_cert, issuer in ((QE.pck_certificate, PKI.cas["processor"]), (PKI.cas["processor"], PKI.root),
                              (PKI.root, PKI.root)):
        aki = ours_cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki == issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def test_crls_have_intels_profile(real: tuple[list[x509.Certificate], dict[str, object]]) -> None:
    _, collateral = real
    ours = PKI.collateral(spec())
    assert crl_profile(ours.pck_crl) == crl_profile(bytes.fromhex(str(collateral["pck_crl"])))
    assert crl_profile(ours.root_ca_crl) == crl_profile(bytes.fromhex(str(collateral["root_ca_crl"])))


def test_simulation_stays_marked() -> None:
    for cert in (PKI.root, *PKI.cas.values(), PKI.tcb_signing, QE.pck_certificate):
        assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert all(str(name.value).startswith("https://pcs.sgxra-simulation.invalid/")
                   for point in points for name in point.full_name or ())
    assert PKI.root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value != "Intel SGX Root CA"
    assert PKI.root.public_key() != intel_sgx_root_ca().public_key()
