"""Fetching DCAP collateral from Intel's PCS (API v4) or any PCCS: same paths, same headers."""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sgxra.errors import ServiceError
from sgxra.httpfetch import MAX_RETRY_AFTER, Fetcher, HttpResponse, RetryPolicy, raise_for_status
from sgxra.pcs.key import CollateralKey, check_evaluation
from sgxra.verify.pki import load_crl
from sgxra.verify.trust import intel_sgx_root_ca
from sgxra.wire.collateral import MAX_SIGNED_JSON, Collateral, QeIdentity, TcbInfo, signed_member

INTEL_PCS_V4 = "https://api.trustedservices.intel.com/sgx/certification/v4"
MAX_CRL_ANSWER = 8 * 1024 * 1024
MAX_CHAIN_HEADER = 64 * 1024
MAX_URL = 2048
# A base URL may name either TEE's tree ("<root>/sgx/certification/v4") or just the service's root.
_TREE = re.compile(r"/(sgx|tdx)/certification/v(\d+)$")
_QE_IDENTITY_IDS = {"SGX": "QE", "TDX": "TD_QE"}


@dataclass(frozen=True)
class ServiceBase:
    """Where a PCS or PCCS keeps its SGX and TDX trees (TDX exists only from API v4 on)."""

    root: str  # scheme, host and any path prefix, without a trailing slash
    version: int

    @classmethod
    def parse(cls, url: str) -> ServiceBase:
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"PCS/PCCS base URL {url!r} is not an http(s) URL without query or fragment")
        if len(url) > MAX_URL:
            raise ValueError("PCS/PCCS base URL is too long")
        path = parts.path.rstrip("/")
        version = 4
        tree = _TREE.search(path)
        if tree:
            path, version = path[: tree.start()], int(tree.group(2))
        return cls(f"{parts.scheme}://{parts.netloc}{path}", version)

    def tree(self, tee: str) -> str:
        if tee == "TDX" and self.version < 4:
            raise ValueError(f"TDX collateral needs PCS API v4; the base URL names v{self.version}")
        return f"{self.root}/{tee.lower()}/certification/v{self.version}"


@dataclass(frozen=True)
class PcsSettings:
    """``base_url``: Intel's PCS or a PCCS, as ``.../sgx/certification/v4`` or the service's root URL.

    TDX TCB info and QE identity come from the ``/tdx/certification/v4`` tree beside
    it (or ``tdx_base_url``); PCK CRLs and the root CA CRL always from the SGX side.
    ``update`` and ``tcb_evaluation_data_number`` choose the TCB evaluation data set.
    """

    base_url: str = INTEL_PCS_V4
    root_ca_crl_url: str | None = None  # None: the PCCS's /rootcacrl, or for Intel's PCS the root's CRL point
    api_key: str | None = None
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.5
    max_retry_wait: float = MAX_RETRY_AFTER
    update: str = "standard"
    tcb_evaluation_data_number: int | None = None
    tdx_base_url: str | None = None  # the TDX tree itself, used as given, when it is not beside the SGX one

    def __post_init__(self) -> None:
        ServiceBase.parse(self.base_url)
        if self.tdx_base_url is not None:
            ServiceBase.parse(self.tdx_base_url)
        check_evaluation(self.update, self.tcb_evaluation_data_number)

    def __repr__(self) -> str:
        return f"PcsSettings(base_url={self.base_url!r})"

    def url(self, path: str, tee: str = "SGX") -> str:
        if tee == "TDX" and self.tdx_base_url is not None:
            return f"{self.tdx_base_url.strip().rstrip('/')}/{path}"
        return f"{ServiceBase.parse(self.base_url).tree(tee)}/{path}"

    def root_crl_url(self) -> str:
        if self.root_ca_crl_url:
            return self.root_ca_crl_url
        if self.url("") == INTEL_PCS_V4 + "/":
            return _distribution_point(intel_sgx_root_ca())
        return self.url("rootcacrl")

    def key(self, fmspc: bytes, ca: str, tee: str = "SGX", *, update: str | None = None,
            tcb_evaluation_data_number: int | None = None) -> CollateralKey:
        """The key for this platform; an explicit ``update`` or number replaces both settings."""
        if update is None and tcb_evaluation_data_number is None:
            update, tcb_evaluation_data_number = self.update, self.tcb_evaluation_data_number
        return CollateralKey(fmspc, ca, tee, update or "standard", tcb_evaluation_data_number)


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
    """Fetches the nine pieces of collateral for one :class:`CollateralKey`."""

    def __init__(
        self, settings: PcsSettings = PcsSettings(), *, transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        keys = [settings.api_key] if settings.api_key else []
        policy = RetryPolicy("PCS", retries=settings.retries, backoff=settings.backoff, keys=keys,
                             max_wait=settings.max_retry_wait)
        if jitter is not None:
            policy = replace(policy, jitter=jitter)
        self._fetch = Fetcher(policy, timeout=settings.timeout, transport=transport, sleep=sleep)

    def __enter__(self) -> PcsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fetch.close()

    def _get(self, url: str, what: str, limit: int) -> HttpResponse:
        response = self._fetch.request("GET", url, limit=limit)
        raise_for_status(response, "PCS", what)
        return response

    def fetch_collateral(self, fmspc: bytes, ca: str, *, tee: str = "SGX", update: str | None = None,
                         tcb_evaluation_data_number: int | None = None) -> Collateral:
        return self.fetch(self.settings.key(fmspc, ca, tee, update=update,
                                            tcb_evaluation_data_number=tcb_evaluation_data_number))

    def fetch(self, key: CollateralKey) -> Collateral:
        s, tee, evaluation = self.settings, key.tee, key.evaluation_query()
        # Every URL first: a base URL that cannot serve this TEE fails before any request.
        urls = (s.url(f"pckcrl?ca={key.ca}&encoding=der"), s.url(f"tcb?fmspc={key.fmspc.hex().upper()}&{evaluation}", tee),
                s.url(f"qe/identity?{evaluation}", tee), s.root_crl_url())
        crl = self._get(urls[0], "PCK CRL", MAX_CRL_ANSWER)
        tcb = self._get(urls[1], f"{tee} TCB info", MAX_SIGNED_JSON)
        qe = self._get(urls[2], f"{tee} QE identity", MAX_SIGNED_JSON)
        root_crl = self._get(urls[3], "root CA CRL", MAX_CRL_ANSWER)
        tcb_info, tcb_signature = signed_member(_text(tcb), "tcbInfo", "PCS TCB info answer")
        qe_identity, qe_signature = signed_member(_text(qe), "enclaveIdentity", "PCS QE identity answer")
        _check_answers(key, TcbInfo.parse(tcb_info), QeIdentity.parse(qe_identity), tcb)
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


def _check_answers(key: CollateralKey, tcb: TcbInfo, qe: QeIdentity, response: HttpResponse) -> None:
    """Refuse (before anything caches it) collateral for another platform, TEE or evaluation data set.

    Not a trust decision (verification checks signatures): a misrouted PCCS answer
    is named here instead of failing later as a puzzling verification error.
    """
    wrong = []
    if tcb.fmspc != key.fmspc:
        wrong.append(f"TCB info for FMSPC {tcb.fmspc.hex().upper()}")
    if tcb.id != key.tee:
        wrong.append(f"TCB info id {tcb.id}")
    if qe.id != _QE_IDENTITY_IDS[key.tee]:
        wrong.append(f"QE identity id {qe.id}")
    number = key.tcb_evaluation_data_number
    if number is not None and tcb.tcb_evaluation_data_number != number:
        wrong.append(f"TCB info of evaluation data number {tcb.tcb_evaluation_data_number}")
    if number is not None and qe.tcb_evaluation_data_number != number:
        wrong.append(f"QE identity of evaluation data number {qe.tcb_evaluation_data_number}")
    if wrong:
        raise ServiceError(f"PCS answered {', '.join(wrong)} to a request for {key.label()}",
                           request_id=response.request_id)


def _text(response: HttpResponse) -> str:
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError("PCS answer is not UTF-8 text", status_code=response.status) from None
