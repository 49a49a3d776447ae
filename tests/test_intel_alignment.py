"""Rules aligned with Intel's QVL after the differential tests found sgxra looser (DIFF-FINDINGS.md L1, L9).

On the real SGX quote and its collateral (../shared/vectors/dcap) at its pinned time, changed only where the
rule looks: Intel refuses each refused case here (tests/test_diff_intel_qvl.py runs the same cases through it).
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography import x509

from mutations import _crl_unused_bits
from sgxra.errors import CertificateChainError, MalformedMessage
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.verify.pki import load_crl
from sgxra.wire.collateral import Collateral
from vectors_env import SGX_AT as AT
from vectors_env import RealSgx

STATUS = "ConfigurationAndSWHardeningNeeded"


@pytest.fixture(scope="module")
def real(real_sgx: RealSgx) -> tuple[bytes, Collateral]:
    return real_sgx.quote, real_sgx.collateral


def _verify(real: tuple[bytes, Collateral], **changes: object) -> str:
    quote, collateral = real
    return verify_dcap_quote(quote, dataclasses.replace(collateral, **changes), at=AT).status.value


def test_crl_signature_bit_string_with_unused_bits_is_refused(real: tuple[bytes, Collateral]) -> None:
    """L9: the unused-bits count of the PCK CRL's signature BIT STRING set to 1; signed bytes and signature
    unchanged (pyca reads the same signature and it verifies). DER requires 0; Intel:
    STATUS_SGX_CRL_INVALID_SIGNATURE. (The root CA CRL's signature ends in a set bit, so pyca refuses that one.)"""
    field, der = "pck_crl", real[1].pck_crl
    changed = _crl_unused_bits(der)
    assert x509.load_der_x509_crl(changed).signature == x509.load_der_x509_crl(der).signature
    with pytest.raises(MalformedMessage, match="signatureValue.*1 unused bits"):
        load_crl(changed, field)
    with pytest.raises(MalformedMessage, match="1 unused bits"):
        _verify(real, **{field: changed})
    assert _verify(real) == STATUS


@pytest.mark.parametrize("field", ["tcb_info_issuer_chain", "qe_identity_issuer_chain"])
def test_tcb_signing_chain_is_the_signer_and_the_root(real: tuple[bytes, Collateral], field: str) -> None:
    """L1: Intel takes exactly [TCB signing certificate, root], in either order (chain without the root:
    STATUS_UNSUPPORTED_CERT_FORMAT; reversed: accepted)."""
    pems = [p + "-----END CERTIFICATE-----\n" for p in getattr(real[1], field).split("-----END CERTIFICATE-----")[:-1]]
    assert len(pems) == 2
    with pytest.raises(CertificateChainError, match="must be the TCB signing certificate and the root"):
        _verify(real, **{field: pems[0]})
    with pytest.raises(CertificateChainError, match="must be the TCB signing certificate and the root"):
        _verify(real, **{field: pems[1]})
    with pytest.raises(CertificateChainError, match="not issued directly by the root"):
        _verify(real, **{field: pems[0] + pems[0] + pems[1]})
    assert _verify(real, **{field: pems[1] + pems[0]}) == STATUS
