"""The PEM chain in a quote's certification data is read as Intel's QVL (OpenSSL's PEM reader) reads it.

Each case rewrites the PEM inside the real quote (the ISV signature does not cover it; ``to_bytes``
recomputes the sizes). Intel's verdicts, measured with tools/intel-qvl at 1752919277:

- a vertical tab or form feed in place of a newline inside a certificate: STATUS_UNSUPPORTED_CERT_FORMAT;
- a tab, space or CR in place of that newline: accepted (OpenSSL's base64 decoder skips them);
- a vertical tab added before a newline: accepted (OpenSSL strips control bytes from line ends);
- a vertical tab in place of the newline after the BEGIN line: STATUS_UNSUPPORTED_CERT_FORMAT.
"""

from __future__ import annotations

import dataclasses

import pytest

from sgxra.errors import MalformedMessage
from sgxra.verify.dcap import verify_dcap_quote
from sgxra.wire.collateral import Collateral, TcbStatus
from sgxra.wire.dcap_quote import CertificationData, DcapQuote
from vectors_env import SGX_AT as AT
from vectors_env import RealSgx

BEGIN = b"-----BEGIN CERTIFICATE-----"


@pytest.fixture(scope="module")
def real(real_sgx: RealSgx) -> tuple[DcapQuote, Collateral]:
    return DcapQuote.parse(real_sgx.quote), real_sgx.collateral


def _with_pem(quote: DcapQuote, pem: bytes) -> bytes:
    certification = CertificationData(quote.qe.certification_data.cert_type, pem)
    return dataclasses.replace(quote, qe=dataclasses.replace(quote.qe, certification_data=certification)).to_bytes()


def _rewrite(pem: bytes, case: str) -> bytes:
    inner = pem.index(b"\n", len(BEGIN) + 1)  # the newline ending the leaf's first base64 line
    after_begin = len(BEGIN)
    return {
        "vt-for-newline": pem[:inner] + b"\x0b" + pem[inner + 1:],
        "ff-for-newline": pem[:inner] + b"\x0c" + pem[inner + 1:],
        "vt-after-begin": pem[:after_begin] + b"\x0b" + pem[after_begin + 1:],
        "tab-for-newline": pem[:inner] + b"\t" + pem[inner + 1:],
        "space-for-newline": pem[:inner] + b" " + pem[inner + 1:],
        "cr-for-newline": pem[:inner] + b"\r" + pem[inner + 1:],
        "vt-before-newline": pem[:inner] + b"\x0b" + pem[inner:],
    }[case]


@pytest.mark.parametrize("case", ["vt-for-newline", "ff-for-newline", "vt-after-begin"])
def test_what_intel_refuses_is_refused(real: tuple[DcapQuote, Collateral], case: str) -> None:
    quote, collateral = real
    with pytest.raises(MalformedMessage, match="PCK certificate chain.*(inside a PEM block|boundary line)"):
        verify_dcap_quote(_with_pem(quote, _rewrite(quote.qe.certification_data.data, case)), collateral, at=AT)


@pytest.mark.parametrize("case", ["tab-for-newline", "space-for-newline", "cr-for-newline", "vt-before-newline"])
def test_what_intel_accepts_is_accepted(real: tuple[DcapQuote, Collateral], case: str) -> None:
    quote, collateral = real
    raw = _with_pem(quote, _rewrite(quote.qe.certification_data.data, case))
    assert verify_dcap_quote(raw, collateral, at=AT).status is TcbStatus.ConfigurationAndSWHardeningNeeded
