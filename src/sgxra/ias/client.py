"""A client for the Intel Attestation Service API (v3, v4, v5), sync and async.

It fetches; it does not judge. Hand ``IasReportResponse`` to
``sgxra.verify.ias.verify_report`` (``IasVerifier`` does both).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509

from sgxra.asynchttp import H11Fetcher
from sgxra.errors import (
    MalformedMessage,
    ServiceError,
)
from sgxra.httpfetch import Fetcher, HttpResponse, RetryPolicy, raise_for_status
from sgxra.verify.pki import load_urlencoded_chain
from sgxra.wire.ias_report import MAX_REPORT_SIZE
from sgxra.wire.messages import MAX_QUOTE_SIZE, MAX_SIGRL_SIZE

DEV_BASE_URL = "https://api.trustedservices.intel.com/sgx/dev"
PROD_BASE_URL = "https://api.trustedservices.intel.com/sgx"
API_VERSIONS = (3, 4, 5)
MAX_NONCE_LENGTH = 32
MAX_SIGRL_RESPONSE = MAX_SIGRL_SIZE * 4 // 3 + 16  # base64 of the largest SigRL we accept
MAX_HEADER_ADVISORIES = 256
MAX_ADVISORY_URL = 2048
_ADVISORY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class IasSettings:
    base_url: str = DEV_BASE_URL
    api_version: int = 5
    primary_key: str | None = None
    secondary_key: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry; doubles each time

    def __post_init__(self) -> None:
        if self.api_version not in API_VERSIONS:
            raise ValueError(f"IAS API version must be one of {API_VERSIONS}, got {self.api_version}")
        if not self.primary_key and not self.secondary_key:
            raise ValueError("an IAS subscription key is required")
        if self.retries < 0 or self.timeout <= 0 or self.backoff < 0:
            raise ValueError("retries, timeout and backoff must be non-negative (timeout positive)")

    def __repr__(self) -> str:  # subscription keys never reach logs
        return f"IasSettings(base_url={self.base_url!r}, api_version={self.api_version}, keys=<redacted>)"

    @property
    def keys(self) -> list[str]:
        return [k for k in (self.primary_key, self.secondary_key) if k]

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/attestation/v{self.api_version}/{path}"


@dataclass(frozen=True)
class IasReportResponse:
    """What IAS answered to a report request, unverified."""

    body: bytes
    signature: bytes
    chain: tuple[x509.Certificate, ...]
    request_id: str | None
    api_version: int
    nonce: str | None
    # The Advisory-IDs and Advisory-URL headers: where API v3 sends advisories (v4 and v5 put them in
    # the body). Headers are NOT covered by the report signature; see ``evidence_from_report``.
    header_advisory_ids: tuple[str, ...] = ()
    header_advisory_url: str | None = None


def _report_request(quote: bytes, nonce: str | None, pse_manifest: bytes | None) -> dict[str, Any]:
    if len(quote) > MAX_QUOTE_SIZE:
        raise MalformedMessage("ias_request", "isvEnclaveQuote", 0, f"quote exceeds {MAX_QUOTE_SIZE} bytes")
    payload: dict[str, Any] = {"isvEnclaveQuote": base64.b64encode(quote).decode()}
    if nonce is not None:
        if not 0 < len(nonce) <= MAX_NONCE_LENGTH:
            raise MalformedMessage("ias_request", "nonce", 0, f"must be 1..{MAX_NONCE_LENGTH} characters")
        payload["nonce"] = nonce
    if pse_manifest is not None:
        payload["pseManifest"] = base64.b64encode(pse_manifest).decode()
    return payload


def _sigrl_from(response: HttpResponse) -> bytes:
    raise_for_status(response, "IAS", "SigRL")
    text = response.body.strip()
    if not text:
        return b""
    try:
        sigrl = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("IAS SigRL answer is not base64", status_code=200, request_id=response.request_id) from None
    if len(sigrl) > MAX_SIGRL_SIZE:
        raise ServiceError("IAS SigRL exceeds the size limit", status_code=200, request_id=response.request_id)
    return sigrl


def _report_from(response: HttpResponse, settings: IasSettings, nonce: str | None) -> IasReportResponse:
    raise_for_status(response, "IAS", "report")
    rid = response.request_id
    signature_b64 = response.headers.get("x-iasreport-signature")
    chain_header = response.headers.get("x-iasreport-signing-certificate")
    if not signature_b64 or not chain_header:
        raise ServiceError("IAS report lacks its signature or certificate header", status_code=200, request_id=rid)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("IAS report signature header is not base64", status_code=200, request_id=rid) from None
    try:
        chain = _chain_from_header(chain_header)
    except MalformedMessage as e:
        raise ServiceError(f"IAS sent an unreadable signing certificate header: {e}", status_code=200,
                           request_id=rid) from None
    ids, url = _header_advisories(response)
    return IasReportResponse(response.body, signature, chain, rid, settings.api_version, nonce, ids, url)


@functools.lru_cache(maxsize=8)
def _chain_from_header(header: str) -> tuple[x509.Certificate, ...]:
    """IAS sends the same chain with every report: parse each exact header value once (bounded; errors not kept)."""
    return tuple(load_urlencoded_chain(header, "X-IASReport-Signing-Certificate"))


def _header_advisories(response: HttpResponse) -> tuple[tuple[str, ...], str | None]:
    """The advisories IAS sent as headers (comma-separated IDs); unreadable ones fail closed."""
    text = response.headers.get("advisory-ids", "")
    ids = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    if len(ids) > MAX_HEADER_ADVISORIES or not all(_ADVISORY_ID.fullmatch(a) for a in ids):
        raise ServiceError("IAS sent an unreadable Advisory-IDs header", status_code=200, request_id=response.request_id)
    url = response.headers.get("advisory-url") or None
    if url is not None and len(url) > MAX_ADVISORY_URL:
        raise ServiceError("IAS sent an oversized Advisory-URL header", status_code=200, request_id=response.request_id)
    return ids, url


def _policy(settings: IasSettings) -> RetryPolicy:
    return RetryPolicy("IAS", retries=settings.retries, backoff=settings.backoff, keys=settings.keys)


class IasClient:
    """Synchronous IAS client."""

    def __init__(
        self,
        settings: IasSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._fetch = Fetcher(_policy(settings), timeout=settings.timeout, transport=transport, sleep=sleep)

    def __enter__(self) -> IasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fetch.close()

    def get_sigrl(self, gid: int) -> bytes:
        """The SigRL of EPID group ``gid`` (empty when the group has none)."""
        return _sigrl_from(self._fetch.request("GET", self.settings.url(f"sigrl/{gid:08x}"), limit=MAX_SIGRL_RESPONSE))

    def get_report(self, quote: bytes, *, nonce: str | None = None, pse_manifest: bytes | None = None) -> IasReportResponse:
        payload = _report_request(quote, nonce, pse_manifest)
        response = self._fetch.request("POST", self.settings.url("report"), json=payload, limit=MAX_REPORT_SIZE)
        return _report_from(response, self.settings, nonce)


class AsyncIasClient:
    """Asynchronous IAS client with the same behaviour as :class:`IasClient`, on the event loop (h11).

    ``ssl_context`` replaces the default one (system CAs, host name checked), e.g. to trust a private CA.
    """

    def __init__(
        self, settings: IasSettings, *, ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._fetch = H11Fetcher(_policy(settings), timeout=settings.timeout, ssl_context=ssl_context, sleep=sleep)

    @property
    def connections_opened(self) -> int:
        """Connections made to IAS so far (keep-alive keeps this low)."""
        return self._fetch.pool.opened

    async def __aenter__(self) -> AsyncIasClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._fetch.aclose()

    async def get_sigrl(self, gid: int) -> bytes:
        url = self.settings.url(f"sigrl/{gid:08x}")
        return _sigrl_from(await self._fetch.request("GET", url, limit=MAX_SIGRL_RESPONSE))

    async def get_report(
        self, quote: bytes, *, nonce: str | None = None, pse_manifest: bytes | None = None
    ) -> IasReportResponse:
        payload = _report_request(quote, nonce, pse_manifest)
        response = await self._fetch.request("POST", self.settings.url("report"), json=payload, limit=MAX_REPORT_SIZE)
        return _report_from(response, self.settings, nonce)
