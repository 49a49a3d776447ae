"""Where a service provider keeps sessions between msg2 and msg3.

``get`` reads a session without removing it; ``claim`` then removes it only if it
still holds exactly what was read. The service checks msg3's MAC between the two,
so a forged msg3 cannot cancel a session, and of two authentic ones racing only
one claims it (a replayed msg3 finds nothing). Entries expire after their TTL.

In Redis the state is sealed (AES-GCM under a store key the replicas share, the
session id as associated data): whoever reads the server, a replica or a backup
learns no session key, and an altered or moved entry does not open.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sgxra.errors import StoreUnavailable, UnknownSession

KEY_PREFIX = "sgxra:session:"
STORE_KEY_ENV = "SGXRA_STORE_KEY"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SEALED_PREFIX = "s1."
MAX_SEALED_SIZE = 8192
# Delete the entry only if it still holds what was read: at most one msg3 claims a session.
_CLAIM = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class SessionStateRefused(UnknownSession):
    """A stored session does not open under any store key: tampered, moved or sealed under an unknown key."""


@dataclass(frozen=True)
class Pending:
    """A session as read: its state and what ``claim`` compares against."""

    state: str
    token: bytes | int


class SessionStore(Protocol):
    async def put(self, session_id: str, state: str, ttl: float) -> None: ...

    async def get(self, session_id: str) -> Pending | None: ...

    async def claim(self, session_id: str, pending: Pending) -> bool: ...

    async def close(self) -> None: ...


class StoreConfigError(ValueError):
    """The store key or URL is missing or not usable; the message says which."""


class StateSealer:
    """AES-256-GCM under named keys: the first seals, all open (so keys can be rotated)."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise StoreConfigError("no store key")
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise StoreConfigError(f"store key id {key_id!r}: 1..32 letters, digits, '-' or '_'")
            if len(key) != 32:
                raise StoreConfigError(f"store key {key_id!r}: must be 32 bytes (64 hex digits), got {len(key)}")
        self.key_id = next(iter(keys))
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def parse(cls, text: str, where: str) -> StateSealer:
        """``ID:HEX64`` entries separated by whitespace or commas; the first seals new sessions."""
        keys: dict[str, bytes] = {}
        for number, entry in enumerate(re.split(r"[\s,]+", text.strip()), 1):
            key_id, sep, hex_key = entry.partition(":")
            try:
                key = bytes.fromhex(hex_key) if sep else b""
            except ValueError:
                key = b""
            if not sep or len(key) != 32:
                raise StoreConfigError(f"{where}: store key {number} is not ID:64-hex-digits")  # never echo key bytes
            if key_id in keys:
                raise StoreConfigError(f"{where}: store key id {key_id!r} appears twice")
            keys[key_id] = key
        return cls(keys)

    @classmethod
    def load(cls, path: str | None) -> StateSealer:
        """From a file, else from $SGXRA_STORE_KEY."""
        if path:
            return cls.parse(Path(path).read_text(), path)
        text = os.environ.get(STORE_KEY_ENV, "")
        if not text.strip():
            raise StoreConfigError(f"a Redis session store needs a store key: --store-key-file or ${STORE_KEY_ENV}")
        return cls.parse(text, f"${STORE_KEY_ENV}")

    @staticmethod
    def _aad(session_id: str, key_id: str) -> bytes:
        return b"sgxra-session\x00" + session_id.encode() + b"\x00" + key_id.encode()

    def seal(self, session_id: str, state: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.key_id].encrypt(nonce, state.encode(), self._aad(session_id, self.key_id))
        return f"{_SEALED_PREFIX}{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, session_id: str, value: str) -> str:
        refused = SessionStateRefused(f"stored session {session_id!r} does not open: refused")
        if len(value) > MAX_SEALED_SIZE or not value.startswith(_SEALED_PREFIX):
            raise refused
        key_id, _, blob = value[len(_SEALED_PREFIX):].partition(".")
        aead = self._keys.get(key_id)
        if aead is None:
            raise SessionStateRefused(f"stored session {session_id!r} is sealed under unknown store key {key_id!r}")
        try:
            raw = base64.urlsafe_b64decode(blob.encode())
            return aead.decrypt(raw[:12], raw[12:], self._aad(session_id, key_id)).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise refused from None


class MemoryStore:
    """In-process sessions, bounded in number; expired ones are reclaimed as new ones arrive."""

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, str, int]] = {}
        self._serial = itertools.count()  # each put is distinct, so a claim matches one put only

    def __len__(self) -> int:
        return len(self._entries)

    async def put(self, session_id: str, state: str, ttl: float) -> None:
        now = self._clock()
        if len(self._entries) >= self.max_entries:
            self.reclaim(now)
        if len(self._entries) >= self.max_entries:
            raise StoreUnavailable(f"session store full ({self.max_entries} sessions pending)")
        self._entries[session_id] = (now + ttl, state, next(self._serial))

    async def get(self, session_id: str) -> Pending | None:
        entry = self._entries.get(session_id)
        if entry is None or entry[0] < self._clock():
            return None
        return Pending(entry[1], entry[2])

    async def claim(self, session_id: str, pending: Pending) -> bool:
        # No await between the check and the removal: atomic on the event loop.
        entry = self._entries.get(session_id)
        if entry is None or entry[2] != pending.token or entry[0] < self._clock():
            return False
        del self._entries[session_id]
        return True

    def reclaim(self, now: float | None = None) -> int:
        """Drop expired sessions; returns how many."""
        now = self._clock() if now is None else now
        expired = [key for key, (deadline, _, _) in self._entries.items() if deadline < now]
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
    """Sealed sessions in Redis, shared by every replica; a Lua compare-and-delete claims a session once.

    The URL may carry a password (``redis://:PASSWORD@host:6379/0``) and use TLS (``rediss://``).
    """

    def __init__(self, url: str, *, sealer: StateSealer, timeout: float = 2.0) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise StoreConfigError("Redis URL must start with redis://, rediss:// (TLS) or unix://")
        # Imported here: redis is the optional 'redis' extra, and MemoryStore users never load it.
        import redis.asyncio as aioredis
        from redis.asyncio.connection import SSLConnection
        from redis.exceptions import RedisError

        self._redis = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._error = RedisError
        self._tls_connection = SSLConnection
        self._claim = self._redis.register_script(_CLAIM)
        self.sealer = sealer

    @property
    def uses_tls(self) -> bool:
        return issubclass(self._redis.connection_pool.connection_class, self._tls_connection)

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """A Redis error (down, timed out, refused) becomes StoreUnavailable."""
        try:
            yield
        except self._error as e:
            raise StoreUnavailable(f"Redis session store unavailable: {e}") from None

    async def put(self, session_id: str, state: str, ttl: float) -> None:
        sealed = self.sealer.seal(session_id, state)
        with self._reaching():
            await self._redis.set(KEY_PREFIX + session_id, sealed, px=max(1, int(ttl * 1000)))

    async def get(self, session_id: str) -> Pending | None:
        with self._reaching():
            value = await self._redis.get(KEY_PREFIX + session_id)
        if value is None:
            return None
        raw = value if isinstance(value, bytes) else str(value).encode()
        return Pending(self.sealer.open(session_id, raw.decode(errors="replace")), raw)

    async def claim(self, session_id: str, pending: Pending) -> bool:
        with self._reaching():
            return bool(await self._claim(keys=[KEY_PREFIX + session_id], args=[pending.token]))

    async def close(self) -> None:
        await self._redis.aclose()
