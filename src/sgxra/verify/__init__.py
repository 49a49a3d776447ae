"""Cryptographic checks of evidence against trust anchors at an explicit time. No fetching."""

from sgxra.verify.ias import verify_report
from sgxra.verify.pki import load_pem_chain, load_urlencoded_chain, verify_chain
from sgxra.verify.trust import intel_ias_report_signing_root, intel_sgx_root_ca

__all__ = [
    "intel_ias_report_signing_root",
    "intel_sgx_root_ca",
    "load_pem_chain",
    "load_urlencoded_chain",
    "verify_chain",
    "verify_report",
]
