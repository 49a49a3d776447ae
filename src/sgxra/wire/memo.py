"""Bounded memos of pure parsing steps, keyed on the exact input.

One platform sends the same PCK chain in every quote and collateral repeats
the same certificates, so the result of reading an exact input (certificates
checked part by part, signed JSON parsed) is kept and reused. Only successes
are kept, keyed on content (never on ``id()``), each memo bounded; whatever
uses a result still checks it (signatures, dates, roles) every time.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_ALL: list[Memo[Any, Any]] = []


class Memo(Generic[K, V]):
    """A bounded map from an exact input to what parsing it gave; the oldest entry goes first."""

    def __init__(self, max_entries: int, largest: int | None = None) -> None:
        """``largest``: inputs longer than this are not kept (a memo holds a few real inputs, not the largest allowed)."""
        self.max_entries = max_entries
        self.largest = largest
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()
        _ALL.append(self)

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> V:
        if self.largest is not None and len(key) > self.largest:  # type: ignore[arg-type]  # sized keys only
            return value
        with self._lock:
            while len(self._data) >= self.max_entries:
                del self._data[next(iter(self._data))]
            self._data[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def clear_parse_memos() -> None:
    """Forget every remembered parse (a benchmark measuring cold work calls this between runs)."""
    for memo in _ALL:
        memo.clear()
