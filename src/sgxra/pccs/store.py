"""Where a PCCS keeps its items and platform registrations: SQLite (one file) or PostgreSQL (replicas).

Both speak the same SQL; the schema is created on first use. Items are
replaced whole (upsert), so two replicas refreshing the same item at once
leave one consistent copy.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.parse
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from sgxra.errors import StoreUnavailable
from sgxra.pccs.items import Item

_COLUMNS = "kind, key, variant, body, chain, issued, next_update, fetched_at, number, meta"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS pccs_items (kind TEXT NOT NULL, key TEXT NOT NULL, variant TEXT NOT NULL,"
    " body {blob} NOT NULL, chain TEXT NOT NULL, issued BIGINT NOT NULL, next_update BIGINT NOT NULL,"
    " fetched_at BIGINT NOT NULL, number BIGINT, meta TEXT NOT NULL, PRIMARY KEY (kind, key, variant))",
    "CREATE TABLE IF NOT EXISTS pccs_platforms (qe_id TEXT NOT NULL, pce_id TEXT NOT NULL, body TEXT NOT NULL,"
    " registered_at BIGINT NOT NULL, PRIMARY KEY (qe_id, pce_id))",
)
_UPSERT = (
    f"INSERT INTO pccs_items ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (kind, key, variant) DO UPDATE SET body = excluded.body, chain = excluded.chain,"
    " issued = excluded.issued, next_update = excluded.next_update, fetched_at = excluded.fetched_at,"
    " number = excluded.number, meta = excluded.meta"
)


class Store(Protocol):
    def get(self, kind: str, key: str, variant: str) -> Item | None: ...
    def find_number(self, kind: str, key: str, number: int) -> Item | None: ...
    def variants(self, kind: str, key: str) -> list[Item]: ...
    def put(self, item: Item) -> None: ...
    def items(self) -> list[Item]: ...
    def register(self, qe_id: str, pce_id: str, body: dict[str, Any], now: int) -> None: ...
    def platforms(self, *, take: bool) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


def _item(row: Sequence[Any]) -> Item:
    kind, key, variant, body, chain, issued, next_update, fetched_at, number, meta = row
    return Item(kind, key, variant, bytes(body), chain, int(issued), int(next_update), int(fetched_at),
                None if number is None else int(number), meta)


def _row(item: Item) -> tuple[Any, ...]:
    return (item.kind, item.key, item.variant, item.body, item.chain, item.issued, item.next_update,
            item.fetched_at, item.number, item.meta)


class SqlStore:
    """The SQL both databases share; subclasses open ``_db`` (a DB-API connection) and name their dialect."""

    placeholder = "?"
    name: str  # for messages
    _errors: type[Exception]  # the driver's error base, reported as StoreUnavailable
    _db: Any

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one connection, used by one thread at a time

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                with closing(self._db.cursor()) as cursor:
                    cursor.execute(sql.replace("?", self.placeholder), tuple(params))
                    return list(cursor.fetchall()) if cursor.description else []
            except self._errors as e:
                raise StoreUnavailable(f"{self.name} store: {e}") from e

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, kind: str, key: str, variant: str) -> Item | None:
        rows = self._run(f"SELECT {_COLUMNS} FROM pccs_items WHERE kind = ? AND key = ? AND variant = ?",
                         (kind, key, variant))
        return _item(rows[0]) if rows else None

    def find_number(self, kind: str, key: str, number: int) -> Item | None:
        rows = self._run(f"SELECT {_COLUMNS} FROM pccs_items WHERE kind = ? AND key = ? AND number = ?"
                         " ORDER BY next_update DESC LIMIT 1", (kind, key, number))
        return _item(rows[0]) if rows else None

    def variants(self, kind: str, key: str) -> list[Item]:
        rows = self._run(f"SELECT {_COLUMNS} FROM pccs_items WHERE kind = ? AND key = ? ORDER BY variant", (kind, key))
        return [_item(row) for row in rows]

    def put(self, item: Item) -> None:
        self._run(_UPSERT, _row(item))

    def items(self) -> list[Item]:
        return [_item(row) for row in self._run(f"SELECT {_COLUMNS} FROM pccs_items ORDER BY kind, key, variant")]

    def register(self, qe_id: str, pce_id: str, body: dict[str, Any], now: int) -> None:
        self._run("INSERT INTO pccs_platforms (qe_id, pce_id, body, registered_at) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (qe_id, pce_id) DO UPDATE SET body = excluded.body, registered_at = excluded.registered_at",
                  (qe_id, pce_id, json.dumps(body), now))

    def platforms(self, *, take: bool) -> list[dict[str, Any]]:
        """Registered platforms, oldest first; ``take`` also removes them (the OFFLINE hand-over to an admin
        tool) in the same statement, so a platform registering again meanwhile stays queued, never lost."""
        rows = self._run("DELETE FROM pccs_platforms RETURNING registered_at, qe_id, body" if take
                         else "SELECT registered_at, qe_id, body FROM pccs_platforms")
        return [json.loads(body) for _, _, body in sorted(rows, key=lambda row: (row[0], row[1]))]


class SqliteStore(SqlStore):
    name, _errors = "SQLite", sqlite3.Error

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")  # the CLI's import may write while a server reads
        for statement in _SCHEMA:
            self._db.execute(statement.format(blob="BLOB"))


class PostgresStore(SqlStore):
    """PostgreSQL through psycopg 3 (the ``pccs`` extra), for several replicas on one database."""

    placeholder, name = "%s", "PostgreSQL"

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError:
            raise StoreUnavailable("a PostgreSQL store needs psycopg: pip install 'sgxra[pccs]'") from None
        self._errors = psycopg.Error
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
            with self._db.cursor() as cursor:
                # Replicas starting together must not race to create the tables.
                cursor.execute("SELECT pg_advisory_lock(7013)")
                try:
                    for statement in _SCHEMA:
                        cursor.execute(statement.format(blob="BYTEA"))
                finally:
                    cursor.execute("SELECT pg_advisory_unlock(7013)")
        except psycopg.Error as e:
            raise StoreUnavailable(f"PostgreSQL store {_redacted(url)}: {e}") from e


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def open_store(url: str) -> Store:
    """``postgresql://...`` (or ``postgres://``), ``sqlite:///path``, or a plain file path (SQLite)."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SqliteStore(url[len("sqlite:///"):])
    if "://" in url:
        raise StoreUnavailable(f"unknown database URL scheme in {_redacted(url)!r}: use postgresql://, sqlite:/// or a path")
    return SqliteStore(url)
