"""An SQLite cache of collateral keyed by FMSPC and PCK CA type, refreshed before it goes stale."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sgxra.wire.collateral import Collateral, earliest_next_update

Fetch = Callable[[bytes, str], Collateral]


class CollateralCache:
    """``get`` answers from SQLite until ``refresh_margin`` before the earliest nextUpdate, then fetches."""

    def __init__(self, path: Path | str, fetch: Fetch, *, refresh_margin: timedelta = timedelta(hours=1)) -> None:
        self.fetch = fetch
        self.refresh_margin = refresh_margin
        self.hits = 0
        self.fetches = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS collateral (fmspc TEXT, ca TEXT, body TEXT NOT NULL,"
            " refresh_at TEXT NOT NULL, PRIMARY KEY (fmspc, ca))"
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def get(self, fmspc: bytes, ca: str, *, now: datetime) -> Collateral:
        key = (fmspc.hex().upper(), ca)
        with self._lock:
            row = self._db.execute("SELECT body, refresh_at FROM collateral WHERE fmspc = ? AND ca = ?", key).fetchone()
            if row is not None and now < datetime.fromisoformat(row[1]):
                self.hits += 1
                return Collateral.from_json(row[0])
            collateral = self.fetch(fmspc, ca)
            self.fetches += 1
            refresh_at = earliest_next_update(collateral) - self.refresh_margin
            self._db.execute(
                "INSERT OR REPLACE INTO collateral (fmspc, ca, body, refresh_at) VALUES (?, ?, ?, ?)",
                (*key, collateral.to_json(), refresh_at.isoformat()),
            )
            self._db.commit()
            return collateral
