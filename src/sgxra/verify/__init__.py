"""Cryptographic checks of evidence against trust anchors at an explicit time. No fetching."""

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

# Imported on first use: `sgxra.verify.pki` alone does not load the IAS report verifier.
_EXPORTS = {
    "verify_report": "sgxra.verify.ias",
    "load_pem_chain": "sgxra.verify.pki",
    "load_urlencoded_chain": "sgxra.verify.pki",
    "verify_chain": "sgxra.verify.pki",
    "intel_ias_report_signing_root": "sgxra.verify.trust",
    "intel_sgx_root_ca": "sgxra.verify.trust",
}

if TYPE_CHECKING:
    from sgxra.verify.ias import verify_report
    from sgxra.verify.pki import load_pem_chain, load_urlencoded_chain, verify_chain
    from sgxra.verify.trust import intel_ias_report_signing_root, intel_sgx_root_ca
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = [
    "intel_ias_report_signing_root",
    "intel_sgx_root_ca",
    "load_pem_chain",
    "load_urlencoded_chain",
    "verify_chain",
    "verify_report",
]
