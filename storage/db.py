"""The SQLite database: one write connection behind a lock, one read connection, WAL.

Every write goes through `Database.write()`, a `BEGIN IMMEDIATE` transaction that
commits on success and rolls back on any exception, so an episode change and the
messages it causes land together or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)
# aiosqlite logs every statement with its parameters at DEBUG: children's names and places.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SYNCHRONOUS_MODES = ("FULL", "NORMAL", "EXTRA")


def to_db_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def from_db_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


Row = aiosqlite.Row

# The platform update (transport, update id, time) whose command is being carried out. A
# write committed while it is set marks that update applied in the same transaction, so a
# replay after a crash knows the command's effect is already stored and does not repeat it.
APPLYING: ContextVar[tuple[str, int, datetime] | None] = ContextVar("applying", default=None)


async def write_alone(w: Tx | Database, sql: str, params: Sequence[Any] = ()) -> int:
    """The statement inside the caller's transaction, or as its own (`Database.write_one`)."""
    if isinstance(w, Database):
        return await w.write_one(sql, params)
    return (await w.execute(sql, params)).rowcount


def _first(rows: Iterable[Row]) -> Row | None:
    return next(iter(rows), None)


class Tx:
    """A write transaction in progress. Only storage code calls its SQL methods."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        return await self._conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _first(await self._conn.execute_fetchall(sql, params))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await self._conn.execute(sql, params)
        if cur.lastrowid is None:
            raise RuntimeError("insert returned no row id")
        return cur.lastrowid


class Database:
    def __init__(self, path: Path | str, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> Database:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Children's records: readable by the bot's own user only (SQLite makes the -wal
            # and -shm files with the database file's permissions).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._writer = await self._connect()
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await migrate(self._writer)
        self._reader = await self._connect()
        return self

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute(f"PRAGMA synchronous={self.synchronous}")
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        if self._writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            else:
                try:
                    applying = APPLYING.get()
                    if applying is not None:
                        transport, update_id, when = applying
                        await self._writer.execute(
                            "UPDATE inbox SET applied_at = ?"
                            " WHERE transport = ? AND update_id = ? AND applied_at IS NULL",
                            (to_db_time(when), transport, update_id),
                        )
                    await self._writer.execute("COMMIT")
                except BaseException:
                    # never leave the connection inside a transaction: every later
                    # BEGIN would fail
                    with contextlib.suppress(sqlite3.Error):
                        await self._writer.execute("ROLLBACK")
                    raise

    # One round trip to the connection's thread each (a cursor's execute, fetch and close
    # would be three). fetchone is for a key or LIMIT 1: it reads every row the query gives.
    async def write_one(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement as its own transaction, in one round trip; returns the rows changed.
        For bookkeeping that stands alone (an update stored, a message marked sent): a
        command's effects go through `write()`, all in one transaction."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:  # never inside another coroutine's open transaction
            cursor = await self._writer.execute(sql, params)
            return cursor.rowcount

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _first(await self._read_conn().execute_fetchall(sql, params))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._read_conn().execute_fetchall(sql, params))

    def _read_conn(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader


def migration_scripts() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every numbered file in storage/migrations, in order."""
    scripts = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            scripts.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(scripts)


async def migrate(conn: aiosqlite.Connection, up_to: int | None = None) -> list[int]:
    """Apply every migration newer than the file's recorded version, each in its own transaction."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    current = row[0] if row else 0
    applied = []
    for version, name, sql in migration_scripts():
        if version <= current or (up_to is not None and version > up_to):
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_sql(sql):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, to_db_time(datetime.now(UTC))),
            )
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        log.info("applied migration %s", name)
        applied.append(version)
    return applied


def split_sql(script: str) -> list[str]:
    """Split a migration into statements; a trigger body's inner ';' stays with its trigger."""
    statements: list[str] = []
    buffer: list[str] = []
    for line in script.splitlines():
        line = line.split(" --", 1)[0].rstrip()  # trailing comments (no strings hold " --")
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        buffer.append(line)
        text = "\n".join(buffer)
        if stripped.endswith(";") and _complete(text):
            statements.append(text)
            buffer = []
    if buffer:
        statements.append("\n".join(buffer))
    return statements


def _complete(text: str) -> bool:
    upper = text.upper()
    if "CREATE TRIGGER" in upper:
        return upper.rstrip().endswith("END;")
    return True
