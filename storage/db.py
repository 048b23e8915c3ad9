"""The SQLite database: one write connection behind a lock, readers beside it, WAL.

Every write goes through `Database.write()`, a `BEGIN IMMEDIATE` transaction that
commits on success and rolls back on any exception, so an episode change and the
messages it causes land together or not at all. Its statements run on the event loop's
thread; BEGIN and COMMIT (the fsync) on a writer thread. Short reads run on the loop's
thread; long ones (`Database.heavy`) on a reader thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)
# aiosqlite logs every statement with its parameters at DEBUG: children's names and places.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SYNCHRONOUS_MODES = ("FULL", "NORMAL", "EXTRA")
WRITER_THREAD = "whereabouts-db-writer"
T = TypeVar("T")


def to_db_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def from_db_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


Row = sqlite3.Row

# The platform update (transport, update id, time) whose command is being carried out. A
# write committed while it is set marks that update applied in the same transaction, so a
# replay after a crash knows the command's effect is already stored and does not repeat it.
APPLYING: ContextVar[tuple[str, int, datetime] | None] = ContextVar("applying", default=None)


async def write_alone(w: Tx | Database, sql: str, params: Sequence[Any] = ()) -> int:
    """The statement inside the caller's transaction, or as its own (`Database.write_one`)."""
    if isinstance(w, Database):
        return await w.write_one(sql, params)
    return (await w.execute(sql, params)).rowcount


def _undo(writer: sqlite3.Connection) -> None:
    """Never leave the connection inside a transaction: every later BEGIN would fail."""
    if writer.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            writer.execute("ROLLBACK")


def _first(rows: Iterable[Row]) -> Row | None:
    return next(iter(rows), None)


class Tx:
    """A write transaction in progress. Only storage code calls its SQL methods.

    Statements run on the event loop's thread: each takes microseconds once the transaction
    holds the write lock, whereas a round trip to a database thread waits its turn on a busy
    loop (about 1 ms at 200 commands/s), all of it with the lock held. The slow parts,
    BEGIN (which may wait for another process) and COMMIT (the fsync), go to the thread.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _first(self._conn.execute(sql, params).fetchall())

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._conn.execute(sql, params)
        if cur.lastrowid is None:
            raise RuntimeError("insert returned no row id")
        return cur.lastrowid


class Database:
    def __init__(self, path: Path | str, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None  # long reads, on its own thread
        self._quick: sqlite3.Connection | None = None  # short reads, on the loop's thread
        self._write_lock = asyncio.Lock()
        self._write_thread: ThreadPoolExecutor | None = None

    async def open(self) -> Database:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Children's records: readable by the bot's own user only (SQLite makes the -wal
            # and -shm files with the database file's permissions).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        async with aiosqlite.connect(self.path, isolation_level=None) as setup:
            await setup.execute("PRAGMA journal_mode=WAL")
            await migrate(setup)
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix=WRITER_THREAD)
        self._writer = await self._on_write_thread(self._connect_writer)
        self._reader = await self._connect()
        self._quick = sqlite3.connect(self.path, isolation_level=None)
        self._quick.row_factory = sqlite3.Row
        for pragma in self._pragmas():
            self._quick.execute(pragma)
        return self

    def _connect_writer(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. Used from the loop's thread
        # and the write thread, never both at once (the write lock).
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        for pragma in self._pragmas():
            conn.execute(pragma)
        return conn

    def _pragmas(self) -> list[str]:
        return [
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
            f"PRAGMA synchronous={self.synchronous}",
        ]

    async def _on_write_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._write_thread is None:
            raise RuntimeError("database is not open")
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn, *args)

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        for pragma in self._pragmas():
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        if self._reader is not None:
            await self._reader.close()
        if self._writer is not None:
            async with self._write_lock:
                await self._on_write_thread(self._writer.close)
        if self._write_thread is not None:
            self._write_thread.shutdown(wait=True)
        self._reader = self._writer = None
        self._write_thread = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        writer = self._writer
        if writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:
            try:
                await self._to_the_end(writer.execute, "BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                _undo(writer)  # the BEGIN went through after all
                raise
            try:
                yield Tx(writer)
            except BaseException:
                _undo(writer)
                raise
            else:
                try:
                    applying = APPLYING.get()
                    if applying is not None:
                        transport, update_id, when = applying
                        writer.execute(
                            "UPDATE inbox SET applied_at = ?"
                            " WHERE transport = ? AND update_id = ? AND applied_at IS NULL",
                            (to_db_time(when), transport, update_id),
                        )
                    await self._to_the_end(writer.execute, "COMMIT")
                except BaseException:
                    _undo(writer)
                    raise

    async def _to_the_end(self, fn: Callable[..., T], *args: Any) -> T:
        """On the writer thread, and waited for even if the caller is cancelled meanwhile: the
        lock must never pass on while a BEGIN or COMMIT is still running."""
        future = asyncio.ensure_future(self._on_write_thread(fn, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await future
            raise

    async def write_one(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement as its own transaction, in one trip to the write thread; returns the
        rows changed. For bookkeeping that stands alone (an update stored, a message marked
        sent): a command's effects go through `write()`, all in one transaction."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:  # never inside another coroutine's open transaction
            cursor = await self._on_write_thread(writer.execute, sql, params)
            return cursor.rowcount

    # Reads of a few rows by key or index (nearly all of them) run on the loop's thread: in
    # WAL they never wait for the writer, and take microseconds, where a trip to a thread
    # waits its turn on a busy loop. fetchone is for a key or LIMIT 1.
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _first(self._quick_conn().execute(sql, params).fetchall())

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._quick_conn().execute(sql, params).fetchall()

    @property
    def heavy(self) -> ThreadedReader:
        """For reads over much of the history (summaries, the weekly pack, charts): on the
        reader's own thread, so the bot goes on answering meanwhile."""
        if self._reader is None:
            raise RuntimeError("database is not open")
        return ThreadedReader(self._reader)

    def _quick_conn(self) -> sqlite3.Connection:
        if self._quick is None:
            raise RuntimeError("database is not open")
        return self._quick


class ThreadedReader:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _first(await self._conn.execute_fetchall(sql, params))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))


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
