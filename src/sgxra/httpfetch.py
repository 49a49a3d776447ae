"""Outgoing HTTP for attestation services (IAS, PCS, PCCS): bounded, retried, typed.

Retries 429 and 503 answers and connection errors (timeouts included) with
doubling, jittered backoff, honouring Retry-After (seconds or an HTTP date) up
to a maximum wait; rotates subscription keys on 401; never reads more than a
caller-given number of bytes.
"""

from __future__ import annotations

import email.utils
import random
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from sgxra.errors import (
    ServiceAuthError,
    ServiceBadRequest,
    ServiceError,
    ServiceNotFound,
    ServiceUnavailable,
)

MAX_RETRY_AFTER = 30.0
RETRIED_STATUSES = (429, 503)
# httpcore scans every pooled connection on each request: a small pool is much cheaper under load.
POOL_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


class RateLimited(ServiceUnavailable):
    """The service kept answering 429 (too many requests), or asked us to wait longer than we may."""


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP answer as the fetcher read it (body bounded by the caller's limit)."""
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def request_id(self) -> str | None:
        return self.headers.get("request-id")


@dataclass(frozen=True)
class RetryPolicy:
    """How a service is asked again: retries, backoff, subscription keys, Retry-After cap."""
    service: str  # "IAS", "PCS": named in every error
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    key_header: str = "Ocp-Apim-Subscription-Key"
    keys: Sequence[str] = ()  # tried in order while the answer is 401
    max_wait: float = MAX_RETRY_AFTER  # never sleep longer; a longer Retry-After ends the retries
    jitter: Callable[[], float] = random.random  # in [0, 1): spreads the retries of many clients
    clock: Callable[[], float] = time.time  # for Retry-After given as an HTTP date

    def delay(self, attempt: int, response: HttpResponse | None) -> float | None:
        """Seconds to wait before retry ``attempt`` (1, 2, ...), or None when the service asks for too long."""
        told = retry_after(response, self.clock()) if response else None
        if told is not None:
            # Never earlier than the service said; jitter only ever adds.
            wait = told + self.jitter() * self.backoff
            return min(wait, self.max_wait) if told <= self.max_wait else None
        # Half to one and a half times the doubling backoff: the same mean, spread out.
        return float(min(self.backoff * 2 ** (attempt - 1) * (0.5 + self.jitter()), self.max_wait))

    def header_sets(self) -> list[dict[str, str]]:
        return [{self.key_header: k} for k in self.keys] or [{}]

    def unreachable(self, error: Exception) -> ServiceUnavailable:
        kind = "timed out" if isinstance(error, (httpx.TimeoutException, TimeoutError)) else "unreachable"
        return ServiceUnavailable(f"{self.service} {kind}: {type(error).__name__}: {error}")

    def too_large(self, limit: int) -> ServiceError:
        return ServiceError(f"{self.service} answer exceeds {limit} bytes")


class RetryRun:
    """One request's retry and key decisions under a policy, free of I/O: shared by the sync and async fetchers.

    Each attempt tries the subscription keys in order while the answer is 401; a retry starts again at the first.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempt = 0
        self.last: HttpResponse | None = None
        self.failure: ServiceError | None = None
        self._keys = policy.header_sets()
        self._key = 0  # which of them the next request carries

    @property
    def headers(self) -> dict[str, str]:
        """The subscription key header of the next request."""
        return self._keys[self._key]

    def next_wait(self) -> float | None:
        """Seconds to wait before the next request (0 before the first and before the next key), None when none is left."""
        if self._key:
            return 0.0
        attempt, self.attempt = self.attempt, self.attempt + 1
        if attempt == 0:
            return 0.0
        if attempt > self.policy.retries:
            return None
        return self.policy.delay(attempt, self.last)  # None: asked to wait longer than we may

    def failed(self, error: Exception) -> None:
        self.last, self.failure, self._key = None, self.policy.unreachable(error), 0

    def answered(self, response: HttpResponse) -> bool:
        """Whether ``response`` is final (not a 401 with a key left to try, nor a 429 or 503 to retry)."""
        self.last = response
        if response.status == 401 and self._key + 1 < len(self._keys):
            self._key += 1
            return False
        self._key = 0
        return response.status not in RETRIED_STATUSES

    def outcome(self) -> HttpResponse:
        """After the last attempt: the final 429 or 503 (the caller's status check reports it), or the failure."""
        if self.last is not None:
            return self.last
        raise self.failure or ServiceUnavailable(f"{self.policy.service} unreachable")


def retry_after(response: HttpResponse, now: float) -> float | None:
    """The Retry-After header in seconds from ``now`` (delta-seconds or an HTTP date), None if absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value or len(value) > 64:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates say GMT; one without a zone is not an HTTP date
        return None
    return max(0.0, when.timestamp() - now)


def _bounded(chunks: Iterator[bytes], limit: int, policy: RetryPolicy) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise policy.too_large(limit)
    return bytes(body)


class Fetcher:
    """Synchronous requests under a :class:`RetryPolicy`."""

    def __init__(
        self, policy: RetryPolicy, *, timeout: float, transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self._http = httpx.Client(timeout=timeout, transport=transport, limits=POOL_LIMITS)
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, url: str, *, limit: int, json: Any = None) -> HttpResponse:
        checked_url(url, self.policy.service)
        run = RetryRun(self.policy)
        while (wait := run.next_wait()) is not None:
            if wait:
                self._sleep(wait)
            try:
                with self._http.stream(method, url, json=json, headers=run.headers) as r:
                    response = HttpResponse(r.status_code, r.headers, _bounded(r.iter_bytes(), limit, self.policy))
            except httpx.TransportError as e:
                run.failed(e)
                continue
            except httpx.InvalidURL as e:  # what split_url lets through and httpx refuses (a control character)
                raise ServiceError(f"{self.policy.service}: not an http(s) URL: {e}") from None
            if run.answered(response):
                return response
        return run.outcome()


class InvalidUrl(ValueError):
    def __init__(self, url: str) -> None:
        super().__init__(f"not an http(s) URL: {url[:100]!r}")


def split_url(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and request target (path and query) of an http(s) URL; else :class:`InvalidUrl`."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number in range, a broken IPv6 literal
        raise InvalidUrl(url) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not (url.isascii() and url.isprintable()) \
            or " " in url:
        raise InvalidUrl(url)  # a URL is printable ASCII without spaces (one would split the request line)
    return parts.scheme, parts.hostname, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def checked_url(url: str, service: str) -> None:
    """Refuse, before any attempt, a URL neither fetcher can ask: retrying it could never help."""
    try:
        split_url(url)
    except InvalidUrl as e:
        raise ServiceError(f"{service}: {e}") from None


def raise_for_status(response: HttpResponse, service: str, what: str) -> None:
    """Turn anything but 200 into the typed error that says what the service answered."""
    status, rid = response.status, response.request_id
    if status == 200:
        return
    text = response.body[:200].decode("utf-8", "replace").strip()
    detail = f"{service} refused the {what} request" + (f": {text}" if text else "")
    if status == 400:
        raise ServiceBadRequest(detail, status_code=status, request_id=rid)
    if status == 401:
        raise ServiceAuthError(f"{service} refused every subscription key", status_code=status, request_id=rid)
    if status == 404:
        raise ServiceNotFound(detail, status_code=status, request_id=rid)
    if status in (500, 502, 503):  # 502: a PCCS that could not reach PCS
        raise ServiceUnavailable(f"{service} failed the {what} request", status_code=status, request_id=rid)
    if status == 429:
        wait = response.headers.get("retry-after")
        raise RateLimited(f"{service} rate-limited the {what} request" + (f" (Retry-After: {wait[:64]})" if wait else ""),
                          status_code=status, request_id=rid)
    raise ServiceError(f"{service} gave an unexpected answer to the {what} request", status_code=status, request_id=rid)
