"""Where a service provider keeps sessions between msg2 and msg3.

``take`` removes what it returns, so a msg3 can finish a session once only
(a replayed msg3 finds nothing). Entries expire after their TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from sgxra.errors import StoreUnavailable

KEY_PREFIX = "sgxra:session:"


class SessionStore(Protocol):
    async def put(self, session_id: str, state: str, ttl: float) -> None: ...

    async def take(self, session_id: str) -> str | None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process sessions, bounded in number; expired ones are reclaimed as new ones arrive."""

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def put(self, session_id: str, state: str, ttl: float) -> None:
        now = self._clock()
        if len(self._entries) >= self.max_entries:
            self.reclaim(now)
        if len(self._entries) >= self.max_entries:
            raise StoreUnavailable(f"session store full ({self.max_entries} sessions pending)")
        self._entries[session_id] = (now + ttl, state)

    async def take(self, session_id: str) -> str | None:
        entry = self._entries.pop(session_id, None)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def reclaim(self, now: float | None = None) -> int:
        """Drop expired sessions; returns how many."""
        now = self._clock() if now is None else now
        expired = [key for key, (deadline, _) in self._entries.items() if deadline < now]
        for key in expired:
            del self._entries[key]
        return len(expired)

    async def reclaim_every(self, interval: float) -> None:
        """Reclaim expired sessions forever (cancel to stop): memory stays bounded even when idle."""
        while True:
            await asyncio.sleep(interval)
            self.reclaim()

    async def close(self) -> None:
        self._entries.clear()


class RedisStore:
    """Sessions in Redis, shared by every replica; GETDEL makes taking a session atomic."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        # Imported here: redis is the optional 'redis' extra, and MemoryStore users never load it.
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        self._redis = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._error = RedisError

    async def put(self, session_id: str, state: str, ttl: float) -> None:
        try:
            await self._redis.set(KEY_PREFIX + session_id, state, px=max(1, int(ttl * 1000)))
        except self._error as e:
            raise StoreUnavailable(f"Redis session store unavailable: {e}") from None

    async def take(self, session_id: str) -> str | None:
        try:
            value = await self._redis.getdel(KEY_PREFIX + session_id)
        except self._error as e:
            raise StoreUnavailable(f"Redis session store unavailable: {e}") from None
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def close(self) -> None:
        await self._redis.aclose()
