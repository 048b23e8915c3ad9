"""The SQLite database: one write connection behind a lock, readers beside it, WAL.

Every write goes through `Database.write()`: its statements land together or not at all
(a savepoint), so an episode change and the messages it causes are stored as one, and it
returns once they are on disk. Writes that arrive together share one `BEGIN IMMEDIATE` …
`COMMIT` (group commit): one fsync for the batch, with synchronous=FULL kept. Statements
run on the event loop's thread; COMMIT (the fsync) on a writer thread. Short reads run on
the loop's thread; long ones (`Database.heavy`) on a reader thread.

`Database("postgresql://…")` is the PostgreSQL engine instead (storage/db_postgres.py), with
this API and `synchronous_commit=on` (its docstring compares the two engines' durability).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

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
    if not text.endswith("Z"):
        raise ValueError(f"not a stored UTC time: {text!r}")
    return datetime.fromisoformat(text)  # 50 times faster than strptime; reads of many rows


def from_db_time_set(text: str) -> datetime:
    """A time column that is never NULL."""
    when = from_db_time(text)
    assert when is not None
    return when


class Row(Protocol):
    """A result row, by position or by column name: sqlite3.Row, or the PostgreSQL engine's
    (storage/db_postgres.py)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def keys(self) -> list[str]: ...
    def __len__(self) -> int: ...


class Changed(Protocol):
    """What `Tx.execute` returns: how many rows the statement changed."""

    @property
    def rowcount(self) -> int: ...


def is_server_url(target: object) -> bool:
    """A database named by URL (`postgresql://…`) rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Reader(Protocol):
    """Where a query reads from: the database, a write in progress, or the reader thread."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


# The platform update (transport, update id, time) whose command is being carried out. A
# write committed while it is set marks that update applied in the same transaction, so a
# replay after a crash knows the command's effect is already stored and does not repeat it.
APPLYING: ContextVar[tuple[str, int, datetime] | None] = ContextVar("applying", default=None)
# The write the current task is inside (a `Database.write()` body), if any. A task started
# inside one inherits it, so it counts only while `active`.
_WRITING: ContextVar[_Inside | None] = ContextVar("writing", default=None)


async def write_alone(w: Tx | Database, sql: str, params: Sequence[Any] = ()) -> int:
    """The statement inside the caller's transaction, or as its own (`Database.write_one`)."""
    if isinstance(w, Database):
        return await w.write_one(sql, params)
    return (await w.execute(sql, params)).rowcount


def _undo(writer: sqlite3.Connection) -> None:
    """Never leave the connection inside a transaction: every later BEGIN would fail."""
    with contextlib.suppress(sqlite3.Error):  # ProgrammingError too: closed meanwhile
        if writer.in_transaction:
            writer.execute("ROLLBACK")


@dataclass
class _Batch:
    """Writes done in the open transaction, each waiting for its COMMIT."""

    done: asyncio.Future[None]
    members: int = 0


class OnDisk:
    """Awaitable, as often as needed, until a write is committed; raises if its commit failed.
    Cancelling the awaiting task leaves the commit (shared with other writes) alone."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self._done = done

    def __await__(self) -> Generator[Any, None, None]:
        return asyncio.shield(self._done).__await__()


def _lost() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("the transaction was rolled back; nothing of it was stored")


def _settle(batch: _Batch, error: Exception | None) -> None:
    if batch.done.done():
        return
    if error is None:
        batch.done.set_result(None)
    else:
        batch.done.set_exception(error)


def _begin_waiting(writer: sqlite3.Connection) -> None:
    """BEGIN that waits up to 5 s for another process's write to finish."""
    _waiting_for_others(writer, "BEGIN IMMEDIATE")


def _waiting_for_others(writer: sqlite3.Connection, sql: str) -> None:
    """On the writer thread: a statement that may wait up to 5 s for other connections (the
    writer's busy_timeout is 0, for BEGIN on the loop's thread)."""
    writer.execute("PRAGMA busy_timeout=5000")
    try:
        _to_the_last_row(writer, sql)
    finally:
        writer.execute("PRAGMA busy_timeout=0")


def _as_exception(error: BaseException | None) -> Exception:
    return error if isinstance(error, Exception) else _lost()


@dataclass
class _Inside:
    """The write the current task is inside; its reads go through the writer meanwhile."""

    writer: sqlite3.Connection
    active: bool = True


def _not_inside_a_write() -> None:
    inside = _WRITING.get()
    if inside is not None and inside.active:
        raise RuntimeError("a write inside a write would wait for itself: use its Tx")


def _mark_applied(writer: sqlite3.Connection) -> None:
    applying = APPLYING.get()
    if applying is None:
        return
    transport, update_id, when = applying
    # An upsert: the update's own row may still be on its way to disk (see
    # bot/telegram_inbox.py), or lost with a failed commit; then this keeps it.
    writer.execute(
        "INSERT INTO inbox (transport, update_id, received_at, applied_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (transport, update_id)"
        " DO UPDATE SET applied_at = excluded.applied_at WHERE inbox.applied_at IS NULL",
        (transport, update_id, to_db_time(when), to_db_time(when)),
    )


def _to_the_last_row(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Run a statement to its end; returns the rows changed. A statement left with rows to
    read stays in progress, and then no SAVEPOINT or COMMIT can run on the connection."""
    cursor = conn.execute(sql, params)
    cursor.fetchall()
    return cursor.rowcount


def _first(rows: Iterable[Row]) -> Row | None:
    return next(iter(rows), None)


class Tx:
    """A write in progress. Only storage code calls its SQL methods.

    Statements run on the event loop's thread: each takes microseconds once the write holds
    the lock, whereas a round trip to a database thread waits its turn on a busy loop (about
    1 ms at 200 commands/s), all of it with the lock held. Only a BEGIN that must wait for
    another process, and COMMIT (the fsync), go to the writer thread.
    """

    # Whether other instances may write the same database at once (PostgreSQL): then claims
    # of due work lock what they take (storage/claims.py). SQLite has one process.
    several_instances = False

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Changed:
        """Run to its end (rows a caller did not read would keep the statement in progress,
        and then no SAVEPOINT or COMMIT could run); `rowcount` and `lastrowid` stay."""
        cursor = self._conn.execute(sql, params)
        cursor.fetchall()
        return cursor

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


class DatabaseUnusable(Exception):
    """The database file can't be used as it is: damaged, not a database, or not writable.
    The message names the file and what to do; nothing was changed in it."""


def unusable(path: Path, exc: BaseException) -> DatabaseUnusable:
    """What SQLite's (or the file system's) refusal means for the person who runs the bot."""
    detail = str(exc) or type(exc).__name__
    lowered = detail.lower()
    if "readonly" in lowered or "read-only" in lowered or isinstance(exc, PermissionError):
        return DatabaseUnusable(
            f"{path} can't be written ({detail}). Check the file's owner and permissions and "
            f"those of its folder: SQLite also writes {path.name}-wal and {path.name}-shm there."
        )
    if "unable to open" in lowered:
        return DatabaseUnusable(
            f"{path} can't be opened ({detail}). Check that its folder exists and is writable."
        )
    return DatabaseUnusable(
        f"{path} is damaged or not a Whereabouts database ({detail}). Nothing was changed. "
        "Stop the bot and restore the latest backup (copy it into place); "
        f"`whereabouts check --db {path}` lists what is wrong."
    )


class Database:
    """The SQLite engine; `Database("postgresql://…")` gives the PostgreSQL one
    (storage/db_postgres.py), with the same API."""

    def __new__(cls, path: Path | str, synchronous: str = "FULL") -> Database:
        if cls is Database and is_server_url(path):
            from storage.db_postgres import PostgresDatabase

            return super().__new__(PostgresDatabase)
        return super().__new__(cls)

    def __init__(self, path: Path | str, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None  # long reads, on its own thread
        self._quick: sqlite3.Connection | None = None  # short reads, on the loop's thread
        self._write_lock = asyncio.Lock()  # who may run statements on the writer now
        self._write_thread: ThreadPoolExecutor | None = None
        self._batch: _Batch | None = None  # the open transaction: writes awaiting COMMIT
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0  # COMMITs done; fewer than writes under load (group commit)

    async def open(self) -> Database:
        """Open (creating and migrating it); a damaged or unwritable file is refused with a
        DatabaseUnusable that says what to do, after a quick check of every page."""
        try:
            await self._prepare()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise unusable(self.path, exc) from None
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix=WRITER_THREAD)
        self._writer = await self._on_write_thread(self._connect_writer)
        self._reader = await self._connect()
        self._quick = sqlite3.connect(self.path, isolation_level=None)
        self._quick.row_factory = sqlite3.Row
        for pragma in self._pragmas():
            self._quick.execute(pragma)
        return self

    async def _prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Children's records: readable by the bot's own user only (SQLite makes the -wal
            # and -shm files with the database file's permissions).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        async with aiosqlite.connect(self.path, isolation_level=None) as setup:
            await setup.execute("PRAGMA journal_mode=WAL")
            # Damaged pages would otherwise surface mid-command, at night: refuse at the start.
            problems = [row[0] for row in await setup.execute_fetchall("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(str(p) for p in problems[:3]))
            await migrate(setup)

    def _connect_writer(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. Used from the loop's thread
        # and the write thread, never both at once (the write lock).
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        for pragma in self._pragmas():
            conn.execute(pragma)
        # BEGIN is tried on the loop's thread without waiting; only a BEGIN that finds
        # another process writing waits (`_begin_waiting`, on the writer thread).
        conn.execute("PRAGMA busy_timeout=0")
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
            while True:  # writes that joined a batch are stored first, however they queued
                await self._committed_all()
                async with self._write_lock:
                    if self._batch is None:
                        _undo(self._writer)
                        await self._on_write_thread(self._writer.close)
                        break
                    if self._committer is None or self._committer.done():
                        self._committer = asyncio.create_task(self._commit_batches())
        if self._write_thread is not None:
            self._write_thread.shutdown(wait=True)
        self._reader = self._writer = None
        self._write_thread = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def write(self, alone: bool = False) -> AsyncIterator[Tx]:
        """A transaction: all of the body's statements are stored, or none. Returns once they
        are on disk. Concurrent writes share one COMMIT (group commit), so under load the
        fsync is paid once per batch rather than once per command, and the lock is held only
        while statements run. `alone`: on PostgreSQL, a transaction of its own, for a claim
        that takes a lock shared with other instances (storage/db_postgres.py); here, with
        one process and one writer, nothing can wait across instances, so it joins a batch."""
        writer = self._writer_conn()
        _not_inside_a_write()
        failed: BaseException | None = None
        async with self._write_lock:
            batch = await self._join_batch(writer)
            inside = _Inside(writer)
            token = _WRITING.set(inside)
            try:
                writer.execute("SAVEPOINT one_write")
                yield Tx(writer)
                _mark_applied(writer)
                writer.execute("RELEASE one_write")
            except BaseException as exc:
                self._undo_one(writer, batch)
                failed = exc
            else:
                self._joined(batch)
            finally:
                inside.active = False
                _WRITING.reset(token)
        if failed is None:
            await OnDisk(batch.done)  # a caller cancelled now still has its write stored
            return
        if isinstance(failed, Exception) and batch.members:
            # The body may have refused on what writes batched before it did: if their
            # COMMIT fails, that is the answer, not the refusal.
            try:
                await OnDisk(batch.done)
            except Exception as lost:
                raise lost from failed
        raise failed

    async def write_one(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement as its own write; returns the rows changed. For bookkeeping that
        stands alone (an update stored, a message marked sent): a command's effects go
        through `write()`, all in one transaction. Returns once it is on disk."""
        changed, on_disk = await self.write_one_soon(sql, params)
        await on_disk
        return changed

    async def write_one_soon(self, sql: str, params: Sequence[Any] = ()) -> tuple[int, OnDisk]:
        """`write_one`, returning as soon as the statement has run: the rows changed, and what
        to await for it to be on disk. Later writes see it (they join the same transaction or
        a later one); readers outside a write see it once it is committed."""
        writer = self._writer_conn()
        _not_inside_a_write()
        async with self._write_lock:  # never inside another coroutine's unfinished write
            batch = await self._join_batch(writer)
            try:
                changed = _to_the_last_row(writer, sql, params)  # a failure undoes itself
            except BaseException:
                self._undo_one(writer, batch, savepoint=False)
                raise
            self._joined(batch)
        return changed, OnDisk(batch.done)

    async def outside_transaction(self, sql: str) -> None:
        """A statement that cannot run inside a transaction (a WAL checkpoint), on the writer
        thread once the writes waiting for their COMMIT have it."""
        writer = self._writer_conn()
        while True:
            if self._batch is not None and (self._committer is None or self._committer.done()):
                self._committer = asyncio.create_task(self._commit_batches())
            await self._committed_all()
            async with self._write_lock:
                if self._batch is None:
                    await self._to_the_end(_waiting_for_others, writer, sql)
                    return

    async def _committed_all(self) -> None:
        while self._committer is not None and not self._committer.done():
            with contextlib.suppress(Exception):
                await self._committer

    def _writer_conn(self) -> sqlite3.Connection:
        if self._writer is None:
            raise RuntimeError("database is not open")
        return self._writer

    async def _join_batch(self, writer: sqlite3.Connection) -> _Batch:
        """The transaction now open for writes to join; BEGIN one if there is none. Called
        with the write lock held."""
        if self._batch is not None:
            return self._batch
        try:
            # Takes microseconds unless another process holds the write lock (busy_timeout
            # is 0 on this connection): then wait for it on the writer thread.
            writer.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # extended codes too
                raise
            try:
                await self._to_the_end(_begin_waiting, writer)
            except asyncio.CancelledError:
                _undo(writer)  # the BEGIN went through after all
                raise
        self._batch = _Batch(asyncio.get_running_loop().create_future())
        return self._batch

    def _undo_one(self, writer: sqlite3.Connection, batch: _Batch, savepoint: bool = True) -> None:
        """A write that failed: undo its statements and leave the batch's others be. An error
        that ended the whole transaction (disk full, I/O), or a savepoint that cannot be
        undone, fails every write in the batch."""
        whole = not writer.in_transaction or batch.members == 0
        if not whole and savepoint:
            try:
                writer.execute("ROLLBACK TO one_write")
                writer.execute("RELEASE one_write")
            except sqlite3.Error:
                whole = True
        if whole:
            _undo(writer)  # nothing of the batch to keep, or nothing can be kept
            self._batch = None
            if batch.members:
                _settle(batch, _lost())

    def _joined(self, batch: _Batch) -> None:
        batch.members += 1
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_batches())

    async def _commit_batches(self) -> None:
        """COMMIT whatever has joined, batch after batch. It waits its turn for the lock, so
        writes already waiting for it join the batch first."""
        while self._batch is not None:
            async with self._write_lock:
                batch, self._batch = self._batch, None
                if batch is None:
                    return
                try:
                    await self._commit(batch)
                finally:
                    _settle(batch, _lost())  # if nothing settled it: never leave a writer waiting

    async def _commit(self, batch: _Batch) -> None:
        writer = self._writer_conn()
        commit = asyncio.ensure_future(self._on_write_thread(writer.execute, "COMMIT"))
        try:
            await asyncio.shield(commit)
        except asyncio.CancelledError:
            # Shutting down: the lock must not pass on while the COMMIT runs; say how it ended.
            while not commit.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({commit})
            error = None if commit.cancelled() else commit.exception()
            _settle(batch, _as_exception(error) if error or writer.in_transaction else None)
            _undo(writer)
            raise
        except Exception as exc:
            _undo(writer)
            _settle(batch, exc)
        else:
            self.commits += 1
            _settle(batch, None)

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

    # Reads of a few rows by key or index (nearly all of them) run on the loop's thread: in
    # WAL they never wait for the writer, and take microseconds, where a trip to a thread
    # waits its turn on a busy loop. fetchone is for a key or LIMIT 1.
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _first(self._quick_conn().execute(sql, params).fetchall())

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._quick_conn().execute(sql, params).fetchall()

    @property
    def heavy(self) -> Reader:
        """For reads over much of the history (summaries, the weekly pack, charts): on the
        reader's own thread, so the bot goes on answering meanwhile."""
        if self._reader is None:
            raise RuntimeError("database is not open")
        return ThreadedReader(self._reader)

    def _quick_conn(self) -> sqlite3.Connection:
        if self._quick is None:
            raise RuntimeError("database is not open")
        # Inside a write, read what it and the writes batched before it have done: the
        # reader sees only what is committed, and their COMMIT is still to come.
        inside = _WRITING.get()
        return inside.writer if inside is not None and inside.active else self._quick


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
