"""A client for the Intel Attestation Service API (v3, v4, v5), sync and async.

It fetches; it does not judge. Hand ``IasReportResponse`` to
``sgxra.verify.ias.verify_report`` (``IasVerifier`` does both).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509

from sgxra.errors import (
    MalformedMessage,
    ServiceAuthError,
    ServiceBadRequest,
    ServiceError,
    ServiceNotFound,
    ServiceUnavailable,
)
from sgxra.verify.pki import load_urlencoded_chain
from sgxra.wire.ias_report import MAX_REPORT_SIZE
from sgxra.wire.messages import MAX_QUOTE_SIZE, MAX_SIGRL_SIZE

DEV_BASE_URL = "https://api.trustedservices.intel.com/sgx/dev"
PROD_BASE_URL = "https://api.trustedservices.intel.com/sgx"
API_VERSIONS = (3, 4, 5)
MAX_NONCE_LENGTH = 32
MAX_SIGRL_RESPONSE = MAX_SIGRL_SIZE * 4 // 3 + 16  # base64 of the largest SigRL we accept
MAX_RETRY_AFTER = 30.0


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


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def request_id(self) -> str | None:
        return self.headers.get("request-id")


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


def _raise_for_status(response: _Response, what: str) -> None:
    status, rid = response.status, response.request_id
    if status == 200:
        return
    text = response.body[:200].decode("utf-8", "replace").strip()
    detail = f"IAS refused the {what} request" + (f": {text}" if text else "")
    if status == 400:
        raise ServiceBadRequest(detail + " (invalid evidence or request)", status_code=status, request_id=rid)
    if status == 401:
        raise ServiceAuthError("IAS refused every subscription key", status_code=status, request_id=rid)
    if status == 404:
        raise ServiceNotFound(detail, status_code=status, request_id=rid)
    if status in (500, 503):
        raise ServiceUnavailable(f"IAS failed the {what} request", status_code=status, request_id=rid)
    raise ServiceError(f"IAS gave an unexpected answer to the {what} request", status_code=status, request_id=rid)


def _sigrl_from(response: _Response) -> bytes:
    _raise_for_status(response, "SigRL")
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


def _report_from(response: _Response, settings: IasSettings, nonce: str | None) -> IasReportResponse:
    _raise_for_status(response, "report")
    rid = response.request_id
    signature_b64 = response.headers.get("x-iasreport-signature")
    chain_header = response.headers.get("x-iasreport-signing-certificate")
    if not signature_b64 or not chain_header:
        raise ServiceError("IAS report lacks its signature or certificate header", status_code=200, request_id=rid)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("IAS report signature header is not base64", status_code=200, request_id=rid) from None
    chain = tuple(load_urlencoded_chain(chain_header, "X-IASReport-Signing-Certificate"))
    return IasReportResponse(response.body, signature, chain, rid, settings.api_version, nonce)


class _Retrying:
    """The retry and key-rotation rules both clients share."""

    def __init__(self, settings: IasSettings) -> None:
        self.settings = settings

    def delay(self, attempt: int, response: _Response | None) -> float:
        retry_after = response.headers.get("retry-after") if response else None
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), MAX_RETRY_AFTER)
        return float(self.settings.backoff * 2 ** (attempt - 1))

    @staticmethod
    def should_retry(response: _Response) -> bool:
        return response.status == 503

    @staticmethod
    def unreachable(error: httpx.TransportError) -> ServiceUnavailable:
        kind = "timed out" if isinstance(error, httpx.TimeoutException) else "unreachable"
        return ServiceUnavailable(f"IAS {kind}: {type(error).__name__}: {error}")


def _headers(key: str) -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": key, "Accept": "application/json"}


class IasClient(_Retrying):
    """Synchronous IAS client."""

    def __init__(
        self,
        settings: IasSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings)
        self._http = httpx.Client(timeout=settings.timeout, transport=transport)
        self._sleep = sleep

    def __enter__(self) -> IasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_sigrl(self, gid: int) -> bytes:
        """The SigRL of EPID group ``gid`` (empty when the group has none)."""
        return _sigrl_from(self._send("GET", self.settings.url(f"sigrl/{gid:08x}"), None, MAX_SIGRL_RESPONSE))

    def get_report(self, quote: bytes, *, nonce: str | None = None, pse_manifest: bytes | None = None) -> IasReportResponse:
        payload = _report_request(quote, nonce, pse_manifest)
        response = self._send("POST", self.settings.url("report"), payload, MAX_REPORT_SIZE)
        return _report_from(response, self.settings, nonce)

    def _send(self, method: str, url: str, payload: dict[str, Any] | None, limit: int) -> _Response:
        last: _Response | None = None
        failure: ServiceError | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                self._sleep(self.delay(attempt, last))
            try:
                last = self._with_keys(method, url, payload, limit)
            except httpx.TransportError as e:
                last, failure = None, self.unreachable(e)
                continue
            if not self.should_retry(last):
                return last
        if last is not None:
            return last  # the final 503, reported by the caller's status check
        raise failure or ServiceUnavailable("IAS unreachable")

    def _with_keys(self, method: str, url: str, payload: dict[str, Any] | None, limit: int) -> _Response:
        response: _Response | None = None
        for key in self.settings.keys:
            with self._http.stream(method, url, json=payload, headers=_headers(key)) as r:
                response = _Response(r.status_code, r.headers, _read_bounded(r.iter_bytes(), limit))
            if response.status != 401:
                break
        if response is None:
            raise ServiceAuthError("no IAS subscription key configured")
        return response


class AsyncIasClient(_Retrying):
    """Asynchronous IAS client with the same behaviour as :class:`IasClient`."""

    def __init__(self, settings: IasSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self._http = httpx.AsyncClient(timeout=settings.timeout, transport=transport)

    async def __aenter__(self) -> AsyncIasClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_sigrl(self, gid: int) -> bytes:
        return _sigrl_from(await self._send("GET", self.settings.url(f"sigrl/{gid:08x}"), None, MAX_SIGRL_RESPONSE))

    async def get_report(
        self, quote: bytes, *, nonce: str | None = None, pse_manifest: bytes | None = None
    ) -> IasReportResponse:
        payload = _report_request(quote, nonce, pse_manifest)
        response = await self._send("POST", self.settings.url("report"), payload, MAX_REPORT_SIZE)
        return _report_from(response, self.settings, nonce)

    async def _send(self, method: str, url: str, payload: dict[str, Any] | None, limit: int) -> _Response:
        last: _Response | None = None
        failure: ServiceError | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                await asyncio.sleep(self.delay(attempt, last))
            try:
                last = await self._with_keys(method, url, payload, limit)
            except httpx.TransportError as e:
                last, failure = None, self.unreachable(e)
                continue
            if not self.should_retry(last):
                return last
        if last is not None:
            return last
        raise failure or ServiceUnavailable("IAS unreachable")

    async def _with_keys(self, method: str, url: str, payload: dict[str, Any] | None, limit: int) -> _Response:
        response: _Response | None = None
        for key in self.settings.keys:
            async with self._http.stream(method, url, json=payload, headers=_headers(key)) as r:
                body = bytearray()
                async for chunk in r.aiter_bytes():
                    body += chunk
                    _check_limit(len(body), limit)
                response = _Response(r.status_code, r.headers, bytes(body))
            if response.status != 401:
                break
        if response is None:
            raise ServiceAuthError("no IAS subscription key configured")
        return response


def _check_limit(size: int, limit: int) -> None:
    if size > limit:
        raise ServiceError(f"IAS answer exceeds {limit} bytes")


def _read_bounded(chunks: Any, limit: int) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        _check_limit(len(body), limit)
    return bytes(body)
