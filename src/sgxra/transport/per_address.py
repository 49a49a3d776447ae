"""The per-client-address cap both servers apply (TCP connections, HTTP requests in flight)."""

from __future__ import annotations

from collections import Counter


class PerAddress:
    """How many each address holds, at most ``limit``; an address back at zero is forgotten (memory stays
    bounded by what is in flight)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: Counter[str] = Counter()

    def take(self, address: str) -> bool:
        """One more for ``address``, unless it already holds ``limit``."""
        if self._held[address] >= self.limit:
            return False
        self._held[address] += 1
        return True

    def release(self, address: str) -> None:
        self._held[address] -= 1
        if not self._held[address]:
            del self._held[address]
