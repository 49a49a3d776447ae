"""The collateral cache under faults: per-key locks, stale-but-valid service, a typed error past validity."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from dcap_env import NOW, PKI, spec
from servers import ServerThread
from sgxra.errors import ServiceNotFound, ServiceUnavailable
from sgxra.mockfaults import TransportFaults
from sgxra.pcs import CachedCollateralExpired, CollateralCache, CollateralKey, PcsClient, PcsSettings
from sgxra.pcs.mock import Evaluations, MockPcs, create_app
from sgxra.sim.dcap_qe import DEFAULT_FMSPC
from sgxra.wire.collateral import Collateral, TcbInfo

VALIDITY = timedelta(hours=3)
MARGIN = timedelta(hours=1)
A = CollateralKey(bytes.fromhex("00906EA10000"), "processor")
B = CollateralKey(bytes.fromhex("00A067110000"), "processor")
C = CollateralKey(bytes.fromhex("00A065510000"), "platform")
WAIT = 10.0  # only a bound on a hung test: nothing here asserts on time


def bundle(key: CollateralKey) -> Collateral:
    PKI.now = NOW
    return PKI.collateral(spec(fmspc=key.fmspc, ca=key.ca, validity=VALIDITY))


class GatedFetch:
    """Fetches instantly, except for keys in ``gated``: those wait until ``release`` is set."""

    def __init__(self, *gated: CollateralKey) -> None:
        self.gated = set(gated)
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls: list[CollateralKey] = []
        self.failure: Exception | None = None

    def __call__(self, key: CollateralKey) -> Collateral:
        self.calls.append(key)
        if self.failure is not None:
            raise self.failure
        if key in self.gated:
            self.started.set()
            if not self.release.wait(WAIT):
                raise RuntimeError("the test never released the gated fetch")
        return bundle(key)


def in_thread(call: Callable[[], Collateral]) -> tuple[threading.Thread, list[Collateral]]:
    results: list[Collateral] = []
    thread = threading.Thread(target=lambda: results.append(call()))
    thread.start()
    return thread, results


def test_a_slow_fetch_for_one_key_does_not_block_others(tmp_path: Path) -> None:
    fetch = GatedFetch(A)
    cache = CollateralCache(tmp_path / "c.sqlite", fetch, refresh_margin=MARGIN)
    cached_b = cache.get(B, now=NOW)
    slow, results = in_thread(lambda: cache.get(A, now=NOW))
    assert fetch.started.wait(WAIT)
    # A's fetch is still held: a hit for B and a miss for C are answered meanwhile.
    assert cache.get(B, now=NOW) == cached_b
    assert TcbInfo.parse(cache.get(C, now=NOW).tcb_info).fmspc == C.fmspc
    assert slow.is_alive() and not fetch.release.is_set() and results == []
    fetch.release.set()
    slow.join(WAIT)
    assert TcbInfo.parse(results[0].tcb_info).fmspc == A.fmspc
    assert fetch.calls == [B, A, C] and (cache.fetches, cache.hits) == (3, 1)
    assert cache._key_lock._locks == {}  # idle keys are forgotten


def test_a_refresh_in_progress_does_not_hold_up_the_still_valid_copy(tmp_path: Path) -> None:
    fetch = GatedFetch()
    cache = CollateralCache(tmp_path / "c.sqlite", fetch, refresh_margin=MARGIN)
    first = cache.get(A, now=NOW)
    fetch.gated.add(A)
    due = NOW + VALIDITY - MARGIN / 2  # past the refresh point, still valid
    refreshing, results = in_thread(lambda: cache.get(A, now=due))
    assert fetch.started.wait(WAIT)
    assert cache.get(A, now=due) == first  # served at once, not after the refresh
    fetch.release.set()
    refreshing.join(WAIT)
    assert results and fetch.calls == [A, A]


def test_a_failed_refresh_serves_the_valid_copy_then_fails_typed(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    fetch = GatedFetch()
    cache = CollateralCache(tmp_path / "c.sqlite", fetch, refresh_margin=MARGIN)
    first = cache.get(A, now=NOW)
    fetch.failure = ServiceUnavailable("PCS failed the TCB info request", status_code=503)
    with caplog.at_level(logging.WARNING, logger="sgxra.pcs.cache"):
        assert cache.get(A, now=NOW + VALIDITY - timedelta(minutes=1)) == first
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "SGX FMSPC 00906EA10000 processor CA update=standard" in record.getMessage()
    assert "ServiceUnavailable: PCS failed the TCB info request (HTTP 503)" in record.getMessage()
    with pytest.raises(CachedCollateralExpired, match="00906EA10000.*expired at") as raised:
        cache.get(A, now=NOW + VALIDITY)
    assert raised.value.__cause__ is fetch.failure
    # Nothing cached: the fetch's own error, unchanged.
    with pytest.raises(ServiceUnavailable) as first_fetch:
        cache.get(B, now=NOW)
    assert type(first_fetch.value) is ServiceUnavailable


def test_a_failed_refresh_is_not_retried_on_every_request(tmp_path: Path) -> None:
    fetch = GatedFetch()
    cache = CollateralCache(tmp_path / "c.sqlite", fetch, refresh_margin=MARGIN,
                            retry_failed_after=timedelta(minutes=1))
    first = cache.get(A, now=NOW)
    due = NOW + VALIDITY - MARGIN / 2
    fetch.failure = ServiceUnavailable("PCS down")
    assert cache.get(A, now=due) == first and len(fetch.calls) == 2
    assert cache.get(A, now=due + timedelta(seconds=59)) == first and len(fetch.calls) == 2
    fetch.failure = None
    cache.get(A, now=due + timedelta(minutes=1))
    assert len(fetch.calls) == 3 and cache._failed_until == {}  # tried again once the minute passed


def test_every_part_of_the_key_is_its_own_entry(tmp_path: Path) -> None:
    fetch = GatedFetch()
    cache = CollateralCache(tmp_path / "c.sqlite", fetch)
    keys = [A, CollateralKey(A.fmspc, "platform"), CollateralKey(A.fmspc, "processor", "TDX"),
            CollateralKey(A.fmspc, "processor", update="early"),
            CollateralKey(A.fmspc, "processor", tcb_evaluation_data_number=17)]
    for key in keys * 2:
        cache.get(key, now=NOW)
    assert fetch.calls == keys and cache.hits == len(keys)
    reopened = CollateralCache(tmp_path / "c.sqlite", fetch)
    for key in keys:
        reopened.get(key, now=NOW)
    assert reopened.fetches == 0


def test_pcs_outage_over_http(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mock = MockPcs(PKI, {DEFAULT_FMSPC: spec(validity=VALIDITY)}, lambda: NOW)
    settings = PcsSettings(retries=1, backoff=0.01, timeout=5)
    with ServerThread(create_app(mock)) as server, PcsClient(replace(settings, base_url=server.url),
                                                             sleep=lambda _: None) as pcs:
        cache = CollateralCache(tmp_path / "c.sqlite", pcs.fetch, refresh_margin=MARGIN)
        first = cache.get(A, now=NOW)
        mock.faults = TransportFaults(unavailable=1000)
        with caplog.at_level(logging.WARNING, logger="sgxra.pcs.cache"):
            assert cache.get(A, now=NOW + timedelta(hours=2, minutes=30)) == first
        assert "refreshing collateral for SGX FMSPC 00906EA10000" in caplog.text and "HTTP 503" in caplog.text
        with pytest.raises(CachedCollateralExpired, match="HTTP 503"):
            cache.get(A, now=NOW + VALIDITY)
        # PCS back, the data set gone: a 404 refresh is a failure like any other.
        mock.faults = TransportFaults()
        mock.evaluations = Evaluations(standard=18, early=18, available={18})
        numbered = CollateralKey(A.fmspc, "processor", tcb_evaluation_data_number=17)
        with pytest.raises(ServiceNotFound):
            cache.get(numbered, now=NOW)
        assert TcbInfo.parse(cache.get(A, now=NOW + VALIDITY).tcb_info).tcb_evaluation_data_number == 18
