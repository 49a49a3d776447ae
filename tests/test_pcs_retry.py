"""429 and 503 from PCS/PCCS: Retry-After (seconds or an HTTP date) within a maximum wait, jitter on every backoff."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from dcap_env import NOW, PKI, spec
from servers import ServerThread
from sgxra.errors import ServiceUnavailable
from sgxra.httpfetch import HttpResponse, RateLimited, RetryPolicy, retry_after
from sgxra.mockfaults import TransportFaults
from sgxra.pcs import CollateralKey, PcsClient, PcsSettings
from sgxra.pcs.mock import MockPcs, create_app
from sgxra.sim.dcap_qe import DEFAULT_FMSPC

KEY = CollateralKey(DEFAULT_FMSPC, "processor")
CLOCK = 1_800_000_000.0


def answer(status: int, retry: str | None = None) -> HttpResponse:
    return HttpResponse(status, {"retry-after": retry} if retry else {}, b"")


def policy(jitter: float = 0.25, max_wait: float = 30.0) -> RetryPolicy:
    return RetryPolicy("PCS", backoff=2.0, max_wait=max_wait, jitter=lambda: jitter, clock=lambda: CLOCK)


def test_retry_after_seconds_and_http_dates() -> None:
    at = datetime.fromtimestamp(CLOCK, timezone.utc)
    assert retry_after(answer(429, "7"), CLOCK) == 7.0
    assert retry_after(answer(429, format_datetime(at + timedelta(seconds=12), usegmt=True)), CLOCK) == 12.0
    assert retry_after(answer(429, format_datetime(at - timedelta(hours=1), usegmt=True)), CLOCK) == 0.0
    for unreadable in ("soon", "-3", "1.5", "Sun, 06 Nov 1994 08:49:37", "9" * 100):
        assert retry_after(answer(429, unreadable), CLOCK) is None, unreadable
    assert retry_after(answer(429), CLOCK) is None


def test_delays_never_precede_retry_after_and_are_jittered() -> None:
    # Told 7 s: 7 s plus jitter times the backoff (2 s), never less than the service asked.
    assert policy(0.25).delay(1, answer(429, "7")) == 7.5
    assert policy(0.0).delay(3, answer(503, "7")) == 7.0
    # Asked to wait longer than we may: no retry at all.
    assert policy(max_wait=5).delay(1, answer(429, "7")) is None
    # Without Retry-After: the doubling backoff, spread over half to one and a half times it.
    assert [policy(0.25).delay(n, answer(429)) for n in (1, 2, 3)] == [1.5, 3.0, 6.0]
    assert [policy(0.75).delay(n, None) for n in (1, 2, 3)] == [2.5, 5.0, 10.0]
    assert policy(0.99, max_wait=5).delay(4, None) == 5.0


class Mock:
    def __init__(self) -> None:
        self.pcs = MockPcs(PKI, {DEFAULT_FMSPC: spec()}, lambda: NOW)
        self.sleeps: list[float] = []

    def client(self, url: str, *, retries: int = 3, max_wait: float = 30.0) -> PcsClient:
        settings = PcsSettings(base_url=url, retries=retries, backoff=0.5, max_retry_wait=max_wait, timeout=5)
        return PcsClient(settings, sleep=self.sleeps.append, jitter=lambda: 0.5)


def test_429_is_retried_after_retry_after_over_http() -> None:
    mock = Mock()
    with ServerThread(create_app(mock.pcs)) as server, mock.client(server.url) as pcs:
        mock.pcs.faults = TransportFaults(too_many=2, retry_after="4")
        pcs.fetch(KEY)
        assert mock.sleeps == [4.25, 4.25] and mock.pcs.requests["pckcrl"] == 3
        mock.sleeps.clear()
        mock.pcs.faults = TransportFaults(too_many=1)  # no Retry-After: jittered backoff
        pcs.fetch(KEY)
        assert mock.sleeps == [0.5]


def test_429_beyond_the_maximum_wait_or_retries_is_reported() -> None:
    mock = Mock()
    with ServerThread(create_app(mock.pcs)) as server:
        with mock.client(server.url, max_wait=60) as pcs:
            mock.pcs.faults = TransportFaults(too_many=1, retry_after="3600")
            with pytest.raises(RateLimited, match=r"rate-limited the PCK CRL request \(Retry-After: 3600\).*HTTP 429"):
                pcs.fetch(KEY)
            assert mock.sleeps == [] and mock.pcs.requests["pckcrl"] == 1
        with mock.client(server.url, retries=2) as pcs:
            mock.pcs.faults = TransportFaults(too_many=10, retry_after="1")
            with pytest.raises(ServiceUnavailable, match="rate-limited"):
                pcs.fetch(KEY)
            assert mock.sleeps == [1.25, 1.25] and mock.pcs.requests["pckcrl"] == 4


def test_503_backoff_is_jittered() -> None:
    mock = Mock()
    with ServerThread(create_app(mock.pcs)) as server, mock.client(server.url) as pcs:
        mock.pcs.faults = TransportFaults(unavailable=3)
        pcs.fetch(KEY)
    assert mock.sleeps == [0.5, 1.0, 2.0]
