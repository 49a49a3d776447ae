"""Intel's pinned trust anchors, embedded in the package and checked on load."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sgxra.errors import CertificateChainError
from sgxra.wire.certificates import trust_certificate

# SHA-256 of the DER, as published with the roots (see shared vectors' README).
IAS_REPORT_SIGNING_ROOT_SHA256 = "7b42e41ec43b91db834a065de4f98a13c44d695570e839cfa8921e584e40735d"
SGX_ROOT_CA_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _load_pinned(name: str, sha256: str) -> x509.Certificate:
    cert = x509.load_pem_x509_certificate((files("sgxra.verify") / "roots" / name).read_bytes())
    if fingerprint(cert) != sha256:
        raise CertificateChainError(f"embedded root {name} does not match its pinned fingerprint")
    return trust_certificate(cert)


@cache
def intel_ias_report_signing_root() -> x509.Certificate:
    """Intel SGX Attestation Report Signing CA (RSA-3072, valid to 2049)."""
    return _load_pinned("Intel_SGX_Attestation_RootCA.pem", IAS_REPORT_SIGNING_ROOT_SHA256)


@cache
def intel_sgx_root_ca() -> x509.Certificate:
    """Intel SGX Root CA for DCAP (P-256, valid to 2049)."""
    return _load_pinned("Intel_SGX_Provisioning_Certification_RootCA.pem", SGX_ROOT_CA_SHA256)
