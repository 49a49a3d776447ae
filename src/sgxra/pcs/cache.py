"""An SQLite cache of collateral per :class:`CollateralKey`, refreshed before it goes stale.

Each key has its own lock, so a slow fetch for one platform never holds up
answers for another; a fresh entry is served without taking any key lock.
When a refresh fails, the cached collateral is served (with a warning) for as
long as it is still valid, and the refresh is next tried ``retry_failed_after``
later rather than on every request; past validity, :class:`CachedCollateralExpired`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

from sgxra.errors import ServiceUnavailable, SgxRaError
from sgxra.pcs.key import CollateralKey
from sgxra.wire.collateral import MAX_COLLATERAL_JSON, Collateral, earliest_next_update
from sgxra.wire.memo import Memo

Fetch = Callable[[CollateralKey], Collateral]
# Cached collateral as read, per exact stored text: a hit re-reads the row (other processes may share the
# file) but not the JSON (~70 us a hit on real collateral); the collateral is frozen and checked where it is used.
_READ: Memo[str, Collateral] = Memo(16, largest=MAX_COLLATERAL_JSON)
K = TypeVar("K")
log = logging.getLogger(__name__)


class CachedCollateralExpired(ServiceUnavailable):
    """Refreshing collateral failed and the cached copy is past its validity: nothing usable remains."""


@dataclass
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class KeyLocks(Generic[K]):
    """One lock per key, forgotten when nobody holds or waits for it (quotes may name any number of keys)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[K, _KeyLock] = {}

    @contextmanager
    def __call__(self, key: K, *, wait: bool) -> Iterator[bool]:
        """This key's lock (True), or False at once when it is busy and ``wait`` is false."""
        with self._guard:
            held = self._locks.setdefault(key, _KeyLock())
            held.users += 1
        try:
            acquired = held.lock.acquire(blocking=wait)
            try:
                yield acquired
            finally:
                if acquired:
                    held.lock.release()
        finally:
            with self._guard:
                held.users -= 1
                if held.users == 0:
                    del self._locks[key]


@dataclass(frozen=True)
class _Entry:
    body: str
    refresh_at: datetime
    valid_until: datetime


class CollateralCache:
    """``get`` answers from SQLite until ``refresh_margin`` before the earliest nextUpdate, then fetches."""

    def __init__(self, path: Path | str, fetch: Fetch, *, refresh_margin: timedelta = timedelta(hours=1),
                 retry_failed_after: timedelta = timedelta(minutes=1)) -> None:
        self.fetch = fetch
        self.refresh_margin = refresh_margin
        self.retry_failed_after = retry_failed_after
        self._failed_until: dict[CollateralKey, datetime] = {}  # keys with a cached copy whose refresh just failed
        self.hits = 0
        self.fetches = 0
        self._db_lock = threading.Lock()  # held only around SQLite calls, never around a fetch
        self._guard = threading.Lock()  # guards the counters and _failed_until
        self._key_lock = KeyLocks[CollateralKey]()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS collateral_v2 (tee TEXT, fmspc TEXT, ca TEXT, evaluation TEXT,"
            " body TEXT NOT NULL, refresh_at TEXT NOT NULL, valid_until TEXT NOT NULL,"
            " PRIMARY KEY (tee, fmspc, ca, evaluation))"
        )
        self._db.commit()

    def close(self) -> None:
        with self._db_lock:
            self._db.close()

    def get(self, key: CollateralKey, *, now: datetime) -> Collateral:
        entry = self._read(key)
        if entry is not None and now < entry.refresh_at:
            return self._hit(entry)
        usable = entry is not None and now < entry.valid_until
        if usable and entry is not None and now < self._failed_until.get(key, now):
            return self._hit(entry)  # a refresh failed a moment ago: do not ask again on every request
        # While another thread refreshes a still-valid entry, serve it rather than wait.
        with self._key_lock(key, wait=not usable) as held:
            if not held and entry is not None:
                return self._hit(entry)
            entry = self._read(key)  # another thread may have refreshed it while we waited
            if entry is not None and now < entry.refresh_at:
                return self._hit(entry)
            try:
                collateral = self.fetch(key)
            except SgxRaError as error:
                if entry is None:
                    raise
                if now >= entry.valid_until:
                    raise CachedCollateralExpired(
                        f"refreshing collateral for {key.label()} failed ({error}) and the cached copy expired at "
                        f"{entry.valid_until.isoformat()}") from error
                log.warning("refreshing collateral for %s failed (%s: %s); serving the cached copy, valid until %s",
                            key.label(), type(error).__name__, error, entry.valid_until.isoformat())
                with self._guard:
                    self._failed_until[key] = now + self.retry_failed_after
                return self._hit(entry)
            self._store(key, collateral)
            with self._guard:
                self._failed_until.pop(key, None)
            return collateral

    def _hit(self, entry: _Entry) -> Collateral:
        with self._guard:
            self.hits += 1
        known = _READ.get(entry.body)
        return known if known is not None else _READ.put(entry.body, Collateral.from_json(entry.body))

    def _read(self, key: CollateralKey) -> _Entry | None:
        with self._db_lock:
            row = self._db.execute(
                "SELECT body, refresh_at, valid_until FROM collateral_v2"
                " WHERE tee = ? AND fmspc = ? AND ca = ? AND evaluation = ?", _columns(key)).fetchone()
        if row is None:
            return None
        return _Entry(row[0], datetime.fromisoformat(row[1]), datetime.fromisoformat(row[2]))

    def _store(self, key: CollateralKey, collateral: Collateral) -> None:
        valid_until = earliest_next_update(collateral)
        with self._db_lock:
            self.fetches += 1
            self._db.execute(
                "INSERT OR REPLACE INTO collateral_v2 (tee, fmspc, ca, evaluation, body, refresh_at, valid_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*_columns(key), collateral.to_json(), (valid_until - self.refresh_margin).isoformat(),
                 valid_until.isoformat()),
            )
            self._db.commit()


def _columns(key: CollateralKey) -> tuple[str, str, str, str]:
    return key.tee, key.fmspc.hex().upper(), key.ca, key.evaluation_query()
