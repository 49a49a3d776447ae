"""Fetching DCAP collateral from Intel's PCS (API v4) or any PCCS: same paths, same headers."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sgxra.errors import ServiceError
from sgxra.httpfetch import Fetcher, HttpResponse, RetryPolicy, raise_for_status
from sgxra.verify.pki import load_crl
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.collateral import MAX_SIGNED_JSON, Collateral, signed_member

INTEL_PCS_V4 = "https://api.trustedservices.intel.com/sgx/certification/v4"
MAX_CRL_ANSWER = 8 * 1024 * 1024
MAX_CHAIN_HEADER = 64 * 1024
CA_TYPES = ("processor", "platform")


@dataclass(frozen=True)
class PcsSettings:
    base_url: str = INTEL_PCS_V4
    root_ca_crl_url: str | None = None  # None: the PCCS's /rootcacrl, or for Intel's PCS the root's CRL point
    api_key: str | None = None
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.5

    def __repr__(self) -> str:
        return f"PcsSettings(base_url={self.base_url!r})"

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path}"

    def root_crl_url(self) -> str:
        if self.root_ca_crl_url:
            return self.root_ca_crl_url
        if self.base_url.rstrip("/") == INTEL_PCS_V4:
            return _distribution_point(intel_sgx_root_ca())
        return self.url("rootcacrl")


def _distribution_point(cert: x509.Certificate) -> str:
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                return str(name.value)
    raise ServiceError("the root certificate names no CRL distribution point")


def _chain_header(response: HttpResponse, *names: str) -> str:
    for name in names:
        value = response.headers.get(name)
        if value:
            if len(value) > MAX_CHAIN_HEADER:
                raise ServiceError(f"PCS issuer chain header {name} is too large")
            return urllib.parse.unquote(value)
    raise ServiceError(f"PCS answer lacks the issuer chain header {names[0]}", status_code=response.status,
                       request_id=response.request_id)


def _crl_der(response: HttpResponse, what: str) -> bytes:
    """CRLs arrive as DER, PEM or hex of DER (PCCS); keep DER."""
    crl = load_crl(response.body, what)
    return crl.public_bytes(serialization.Encoding.DER)


class PcsClient:
    """Fetches the nine pieces of collateral for one FMSPC and PCK CA type."""

    def __init__(
        self, settings: PcsSettings = PcsSettings(), *, transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        keys = [settings.api_key] if settings.api_key else []
        policy = RetryPolicy("PCS", retries=settings.retries, backoff=settings.backoff, keys=keys)
        self._fetch = Fetcher(policy, timeout=settings.timeout, transport=transport, sleep=sleep)

    def __enter__(self) -> PcsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fetch.close()

    def _get(self, url: str, what: str, limit: int) -> HttpResponse:
        response = self._fetch.request("GET", url, limit=limit)
        raise_for_status(response, "PCS", what)
        return response

    def fetch_collateral(self, fmspc: bytes, ca: str) -> Collateral:
        if ca not in CA_TYPES or len(fmspc) != 6:
            raise ValueError(f"need a 6-byte FMSPC and a CA type in {CA_TYPES}")
        s = self.settings
        crl = self._get(s.url(f"pckcrl?ca={ca}&encoding=der"), "PCK CRL", MAX_CRL_ANSWER)
        tcb = self._get(s.url(f"tcb?fmspc={fmspc.hex().upper()}"), "TCB info", MAX_SIGNED_JSON)
        qe = self._get(s.url("qe/identity"), "QE identity", MAX_SIGNED_JSON)
        root_crl = self._get(s.root_crl_url(), "root CA CRL", MAX_CRL_ANSWER)
        tcb_info, tcb_signature = signed_member(_text(tcb), "tcbInfo", "PCS TCB info answer")
        qe_identity, qe_signature = signed_member(_text(qe), "enclaveIdentity", "PCS QE identity answer")
        return Collateral(
            pck_crl_issuer_chain=_chain_header(crl, "SGX-PCK-CRL-Issuer-Chain"),
            root_ca_crl=_crl_der(root_crl, "root CA CRL"),
            pck_crl=_crl_der(crl, "PCK CRL"),
            tcb_info_issuer_chain=_chain_header(tcb, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"),
            tcb_info=tcb_info,
            tcb_info_signature=tcb_signature,
            qe_identity_issuer_chain=_chain_header(qe, "SGX-Enclave-Identity-Issuer-Chain"),
            qe_identity=qe_identity,
            qe_identity_signature=qe_signature,
        )


def _text(response: HttpResponse) -> str:
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError("PCS answer is not UTF-8 text", status_code=response.status) from None
