"""Fetching DCAP collateral from Intel's PCS (API v4) or any PCCS: same paths, same headers."""

from __future__ import annotations

import json
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
from sgxra.wire.pck_extension import PckExtension

INTEL_PCS_V4 = "https://api.trustedservices.intel.com/sgx/certification/v4"
MAX_CRL_ANSWER = 8 * 1024 * 1024
MAX_CHAIN_HEADER = 64 * 1024
MAX_PCK_CERTS_ANSWER = 1024 * 1024
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


def escaped_pem(pem: str) -> str:
    """PEM as PCS sends it URL-escaped: issuer chain headers (read back by :func:`_chain_header`) and pckcerts' certs."""
    return urllib.parse.quote(pem, safe="")


def signed_answer(member: str, text: str, signature: bytes) -> str:
    """TCB info or an identity as PCS sends it, the signed text kept byte for byte (:func:`signed_member` cuts it out)."""
    return '{"' + member + '":' + text + ',"signature":"' + signature.hex() + '"}'


def pck_tcbm(extension: PckExtension) -> str:
    """A PCK certificate's TCB level as PCS names it: CPUSVN || PCESVN (little-endian), upper-case hex."""
    return (extension.cpusvn + extension.pcesvn.to_bytes(2, "little")).hex().upper()


def pck_ca_type(cert: x509.Certificate) -> str:
    """Which PCK CA issued a PCK certificate, as PCS names it (SGX-PCK-Certificate-CA-Type)."""
    return "platform" if "Platform" in cert.issuer.rfc4514_string() else "processor"


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
        s.url(f"tcb?fmspc={key.fmspc.hex().upper()}&{evaluation}", tee)
        s.root_crl_url()
        pck_crl, pck_crl_chain = self.fetch_pck_crl(key.ca)
        tcb = self.fetch_tcb_info(key)
        qe = self.fetch_qe_identity(tee, evaluation)
        root_crl = self.fetch_root_ca_crl()
        _check_answers(key, TcbInfo.parse(tcb.text), QeIdentity.parse(qe.text), tcb.request_id)
        return Collateral(
            pck_crl_issuer_chain=pck_crl_chain,
            root_ca_crl=root_crl,
            pck_crl=pck_crl,
            tcb_info_issuer_chain=tcb.chain,
            tcb_info=tcb.text,
            tcb_info_signature=tcb.signature,
            qe_identity_issuer_chain=qe.chain,
            qe_identity=qe.text,
            qe_identity_signature=qe.signature,
        )

    # One piece at a time: what a PCCS fetches on a miss.

    def fetch_pck_crl(self, ca: str) -> tuple[bytes, str]:
        """The PCK CRL of CA ``ca`` as DER, and its issuer chain (PEM)."""
        crl = self._get(self.settings.url(f"pckcrl?ca={ca}&encoding=der"), "PCK CRL", MAX_CRL_ANSWER)
        return _crl_der(crl, "PCK CRL"), _chain_header(crl, "SGX-PCK-CRL-Issuer-Chain")

    def fetch_root_ca_crl(self) -> bytes:
        return _crl_der(self._get(self.settings.root_crl_url(), "root CA CRL", MAX_CRL_ANSWER), "root CA CRL")

    def fetch_tcb_info(self, key: CollateralKey) -> SignedAnswer:
        path = f"tcb?fmspc={key.fmspc.hex().upper()}&{key.evaluation_query()}"
        return self._signed(path, key.tee, "tcbInfo", f"{key.tee} TCB info", "TCB info",
                            ("TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"))

    def fetch_qe_identity(self, tee: str, evaluation: str) -> SignedAnswer:
        """``evaluation``: the query naming the TCB evaluation data set (``update=...`` or a number)."""
        return self._signed(f"qe/identity?{evaluation}", tee, "enclaveIdentity", f"{tee} QE identity", "QE identity",
                            ("SGX-Enclave-Identity-Issuer-Chain",))

    def fetch_qve_identity(self, evaluation: str) -> SignedAnswer:
        return self._signed(f"qve/identity?{evaluation}", "SGX", "enclaveIdentity", "QvE identity", "QvE identity",
                            ("SGX-Enclave-Identity-Issuer-Chain",))

    def fetch_pck_certs(self, encrypted_ppid: str, pceid: str) -> PckCerts:
        """Every TCB level's PCK certificate of one platform (PCS ``pckcerts``), as PCS answers them."""
        response = self._get(self.settings.url(f"pckcerts?encrypted_ppid={encrypted_ppid}&pceid={pceid}"),
                             "PCK certificates", MAX_PCK_CERTS_ANSWER)
        listing = _pck_cert_list(_text(response))
        fmspc = response.headers.get("SGX-FMSPC", "")
        ca = response.headers.get("SGX-PCK-Certificate-CA-Type", "").lower()
        if not re.fullmatch(r"[0-9A-Fa-f]{12}", fmspc) or ca not in ("processor", "platform"):
            raise ServiceError("PCS PCK certificates answer lacks a valid SGX-FMSPC or SGX-PCK-Certificate-CA-Type "
                               "header", request_id=response.request_id)
        return PckCerts(listing, _chain_header(response, "SGX-PCK-Certificate-Issuer-Chain"), fmspc.upper(), ca)

    def _signed(self, path: str, tee: str, member: str, what: str, answer: str, headers: tuple[str, ...]) -> SignedAnswer:
        response = self._get(self.settings.url(path, tee), what, MAX_SIGNED_JSON)
        text, signature = signed_member(_text(response), member, f"PCS {answer} answer")
        return SignedAnswer(text, signature, _chain_header(response, *headers), response.request_id)


@dataclass(frozen=True)
class PckCerts:
    """``certs``: (TCBm hex, PEM) for each TCB level PCS has a certificate for."""

    certs: list[tuple[str, str]]
    chain: str
    fmspc: str
    ca: str


def _pck_cert_list(text: str) -> list[tuple[str, str]]:
    """PCS lists ``{"tcb": {...}, "tcbm": hex, "cert": PEM (URL-escaped) | "Not available"}``."""
    try:
        entries = json.loads(text)
    except ValueError:
        raise ServiceError("PCS PCK certificates answer is not JSON") from None
    if not isinstance(entries, list):
        raise ServiceError("PCS PCK certificates answer is not a JSON list")
    certs = []
    for entry in entries:
        tcbm, cert = (entry.get("tcbm"), entry.get("cert")) if isinstance(entry, dict) else (None, None)
        if not isinstance(tcbm, str) or not re.fullmatch(r"[0-9A-Fa-f]{36}", tcbm) or not isinstance(cert, str):
            raise ServiceError("PCS PCK certificates answer holds an entry without a 36-hex-digit tcbm and a cert")
        if cert != "Not available":
            certs.append((tcbm.upper(), urllib.parse.unquote(cert)))
    return certs


@dataclass(frozen=True)
class SignedAnswer:
    """TCB info or an enclave identity: the exact signed JSON text, its signature and issuer chain (PEM)."""

    text: str
    signature: bytes
    chain: str
    request_id: str | None


def _check_answers(key: CollateralKey, tcb: TcbInfo, qe: QeIdentity, request_id: str | None) -> None:
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
                           request_id=request_id)


def _text(response: HttpResponse) -> str:
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError("PCS answer is not UTF-8 text", status_code=response.status) from None
