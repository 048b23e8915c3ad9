"""The PostgreSQL engine: `Database("postgresql://…")`, with the SQLite engine's API.

One write connection behind a lock, as on SQLite: every `write()` is a savepoint in the
transaction now open, and writes that arrive together share its COMMIT (group commit), so
the commit's wait for the disk is paid once per batch. Reads outside a write, short or
heavy, go to a pool of autocommit connections (psycopg-pool) and never wait for the writer;
reads inside a write go through the writer and see what it and its batch have done.
`APPLYING` marks an inbound update applied in the same transaction, as on SQLite.

Durability: on SQLite, WAL with `synchronous=FULL` (a commit is on disk before `write()`
returns, power loss included); on PostgreSQL, `synchronous_commit=on` on every connection
(the commit's WAL record is flushed to disk before COMMIT returns), with the server's
`fsync=on` left as it is. `WHEREABOUTS_SYNCHRONOUS=NORMAL`, which on SQLite may lose the
last commits at a power cut but never corrupts, is `synchronous_commit=off` here, its
PostgreSQL equivalent; FULL and EXTRA are `on`.

Statements are SQLite's dialect translated in storage/db_dialect.py; times stay the same
UTC text, so they order and compare as on SQLite, and rows are read by position or by
column name like sqlite3.Row. Several instances may share one database: the claims of due
work (storage/claims.py) take rows with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.adapt import Dumper, Loader
from psycopg.pq import TransactionStatus
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool

from storage import db_dialect
from storage.db import (
    APPLYING,
    Database,
    DatabaseUnusable,
    OnDisk,
    Reader,
    Row,
    Tx,
    _Batch,
    _not_inside_a_write,
    _settle,
    to_db_time,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Every instance migrating at once takes turns on this (pg_advisory_xact_lock's key).
MIGRATION_LOCK = 0x57484552_45414255  # "WHEREABU"
_PG_WRITING: ContextVar[_Inside | None] = ContextVar("pg_writing", default=None)


class PgRow:
    """A row by position or by column name (case-insensitive), like sqlite3.Row."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._values = tuple(values)

    def __getitem__(self, key: int | str, /) -> Any:
        if isinstance(key, str):
            index = self._names.get(key)
            if index is None:
                index = self._names.get(key.lower())
                if index is None:
                    raise IndexError(f"no such column: {key}")
            return self._values[index]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PgRow):
            return self._names == other._names and self._values == other._values
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: AsyncCursor[Any]) -> RowMaker[PgRow]:
    names = {(col.name or str(i)): i for i, col in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(names, values)

    return make


class _UnknownDumper(Dumper):
    """Integers and booleans go as untyped text, so the server reads them as the column
    they meet (an id compared with a text column, 1 for true in an INTEGER flag), as
    SQLite does, rather than refusing a bigint = text comparison."""

    oid = 0

    def dump(self, obj: Any) -> bytes:
        if isinstance(obj, bool):
            return b"1" if obj else b"0"
        return str(int(obj)).encode()


class _NumericLoader(Loader):
    """SUM and AVG give numeric: an int when whole, else a float (as SQLite gives them)."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


def _adapt(conn: AsyncConnection[Any]) -> None:
    conn.adapters.register_dumper(int, _UnknownDumper)
    conn.adapters.register_dumper(bool, _UnknownDumper)
    conn.adapters.register_loader("numeric", _NumericLoader)


def _params(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(params)


@dataclass
class _Result:
    """What `PgTx.execute` gives back: the rows changed (and any rows it returned)."""

    rowcount: int
    rows: list[PgRow]
    lastrowid: int | None = None

    def fetchall(self) -> list[PgRow]:
        return self.rows


@dataclass
class _Inside:
    conn: AsyncConnection[Any]
    active: bool = True


async def _through(work: Awaitable[T]) -> T:
    """To its end even if the caller is cancelled meanwhile: the writer must never be left
    in the middle of a statement, or the next one would find it busy."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is the answer
        raise


async def _run(conn: AsyncConnection[Any], sql: str, params: Sequence[Any] = ()) -> _Result:
    try:
        async with conn.cursor(row_factory=_row_factory) as cur:
            await cur.execute(db_dialect.query(sql), _params(params))
            rows = await cur.fetchall() if cur.description is not None else []
            return _Result(cur.rowcount, rows)
    except (psycopg.errors.IntegrityError, psycopg.errors.RaiseException) as exc:
        # One exception for a refused change on either engine (a constraint, the timeline's
        # append-only trigger): what callers and tests catch is sqlite3's.
        raise sqlite3.IntegrityError(exc.diag.message_primary or str(exc)) from exc


async def _script(conn: AsyncConnection[Any], sql: str) -> None:
    await conn.execute(sql.encode())  # no parameters: several statements in one


class PgTx(Tx):
    """A write in progress on PostgreSQL: its statements run on the writer connection."""

    several_instances = True

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._pg = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        return await _through(_run(self._pg, sql, params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async def many() -> None:
            async with self._pg.cursor() as cur:
                await cur.executemany(db_dialect.query(sql), [_params(r) for r in rows])

        await _through(many())

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = (await self.execute(sql, params)).rows
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list((await self.execute(sql, params)).rows)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        rows = (await self.execute(db_dialect.returning_id(sql), params)).rows
        if not rows:
            raise RuntimeError("insert returned no row id")
        return int(rows[0][0])


class PoolReader:
    """Reads on a connection of the pool: outside any write, they see what is committed."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self._pool = pool

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._pool.connection() as conn:
            return list((await _run(conn, sql, params)).rows)


def _lost() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("the transaction was rolled back; nothing of it was stored")


class PostgresDatabase(Database):
    """`Database` on a PostgreSQL server (see the module's docstring)."""

    def __init__(self, path: Any, synchronous: str = "FULL", pool_size: int = 4) -> None:
        super().__init__("postgresql", synchronous)
        # The whole URL, password and all, even from a value that prints without it
        # (config.settings.DatabaseUrl).
        self.url = str.__str__(path) if isinstance(path, str) else str(path)
        self.synchronous_commit = "off" if self.synchronous == "NORMAL" else "on"
        self.pool_size = pool_size
        self._pg_writer: AsyncConnection[Any] | None = None
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None

    def __repr__(self) -> str:
        return f"PostgresDatabase({_safe_url(self.url)!r})"

    async def _connect_pg(self) -> AsyncConnection[Any]:
        conn = await AsyncConnection.connect(self.url, autocommit=True)
        await self._configure(conn)
        return conn

    async def _configure(self, conn: AsyncConnection[Any]) -> None:
        _adapt(conn)
        await conn.execute(f"SET synchronous_commit = {self.synchronous_commit}")
        await conn.execute("SET TIME ZONE 'UTC'")

    async def open(self) -> PostgresDatabase:
        try:
            setup = await self._connect_pg()
        except psycopg.OperationalError as exc:
            raise DatabaseUnusable(
                f"{_safe_url(self.url)} can't be reached ({str(exc).strip()[:300]}). Check "
                "that the server is running and the URL's host, port, user and database."
            ) from None
        try:
            await migrate_postgres(setup)
        finally:
            await setup.close()
        self._pg_writer = await self._connect_pg()
        self._pool = AsyncConnectionPool(
            self.url,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=self.pool_size,
            configure=self._configure,
            open=False,
            name="whereabouts-readers",
        )
        await self._pool.open(wait=True)
        return self

    async def close(self) -> None:
        if self._pg_writer is not None:
            while True:  # writes that joined a batch are stored first
                await self._committed_all()
                async with self._write_lock:
                    if self._batch is None:
                        await self._rollback(self._pg_writer)
                        await self._pg_writer.close()
                        break
                    if self._committer is None or self._committer.done():
                        self._committer = asyncio.create_task(self._commit_batches())
            self._pg_writer = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def __aenter__(self) -> PostgresDatabase:
        return await self.open()

    # ---- writes ------------------------------------------------------------------------

    @asynccontextmanager
    async def write(self, alone: bool = False) -> AsyncIterator[Tx]:
        """`alone`: a transaction of its own, begun after the batch now open has committed,
        joined by nothing, committed before the lock passes on. For the claims that take an
        advisory lock shared by every instance (storage/claims.py, the inbox's): inside a
        batch the lock would be waited for while the batch holds row locks from the writes
        before it, and another instance holding the lock could be waiting for one of those
        rows: a deadlock, which PostgreSQL breaks by failing a whole batch (seen in the
        two-instance crash loop). Alone, the lock is the transaction's first wait."""
        _not_inside()
        failed: BaseException | None = None
        if alone:
            await self._turn_with_no_batch_open()
        else:
            await self._write_lock.acquire()
        try:
            batch = await self._pg_join()
            conn = self._conn()
            inside = _Inside(conn)
            token = _PG_WRITING.set(inside)
            try:
                await _through(_script(conn, "SAVEPOINT one_write"))
                yield PgTx(conn)
                await _through(_mark_applied(conn))
                await _through(_script(conn, "RELEASE one_write"))
            except BaseException as exc:
                await self._pg_undo(conn, batch)
                failed = exc
            else:
                if alone:
                    self._batch = None
                    batch.members += 1
                    await self._commit(batch)
                else:
                    self._joined(batch)
            finally:
                inside.active = False
                _PG_WRITING.reset(token)
        finally:
            self._write_lock.release()
        if failed is None:
            await OnDisk(batch.done)
            return
        if isinstance(failed, Exception) and batch.members:
            try:
                await OnDisk(batch.done)
            except Exception as lost:
                raise lost from failed
        raise failed

    async def _turn_with_no_batch_open(self) -> None:
        """The write lock, with no batch open: one that is, is committed first, here (its
        writers are waiting for that anyway; waiting for the committer instead could wait
        for ever under load, each batch followed by the next)."""
        await self._write_lock.acquire()
        try:
            if self._batch is not None:
                batch, self._batch = self._batch, None
                try:
                    await self._commit(batch)
                finally:
                    _settle(batch, _lost())  # as the committer does: never leave one waiting
        except BaseException:
            self._write_lock.release()
            raise

    async def write_one_soon(self, sql: str, params: Sequence[Any] = ()) -> tuple[int, OnDisk]:
        _not_inside()
        async with self._write_lock:
            batch = await self._pg_join()
            conn = self._conn()
            try:
                # A failed statement ends a PostgreSQL transaction: its own savepoint keeps
                # the batch's other writes.
                await _through(_script(conn, "SAVEPOINT one_write"))
                changed = (await _through(_run(conn, sql, params))).rowcount
                await _through(_script(conn, "RELEASE one_write"))
            except BaseException:
                await self._pg_undo(conn, batch)
                raise
            self._joined(batch)
        return changed, OnDisk(batch.done)

    async def outside_transaction(self, sql: str) -> None:
        """SQLite's WAL checkpoint has nothing to do here; anything else runs on its own."""
        if sql.lstrip().upper().startswith("PRAGMA"):
            return
        async with self._readers().connection() as conn:
            await _run(conn, sql)

    def _conn(self) -> AsyncConnection[Any]:
        if self._pg_writer is None:
            raise RuntimeError("database is not open")
        return self._pg_writer

    async def _pg_join(self) -> _Batch:
        if self._batch is not None:
            return self._batch
        conn = self._conn()
        if conn.broken or conn.closed:  # the server restarted, or the network dropped
            log.warning("the database connection was lost; connecting again")
            self._pg_writer = conn = await self._connect_pg()
        try:
            await _through(_script(conn, "BEGIN"))
        except asyncio.CancelledError:
            await self._rollback(conn)  # the BEGIN went through all the same
            raise
        self._batch = _Batch(asyncio.get_running_loop().create_future())
        return self._batch

    async def _rollback(self, conn: AsyncConnection[Any]) -> None:
        if conn.closed or conn.broken:
            return
        if conn.info.transaction_status != TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                await _through(_script(conn, "ROLLBACK"))

    async def _pg_undo(self, conn: AsyncConnection[Any], batch: _Batch) -> None:
        whole = batch.members == 0 or conn.broken or conn.closed
        if not whole:
            try:
                await _through(_script(conn, "ROLLBACK TO one_write"))
                await _through(_script(conn, "RELEASE one_write"))
            except (psycopg.Error, asyncio.CancelledError):
                whole = True
        if whole:
            with contextlib.suppress(asyncio.CancelledError):
                await self._rollback(conn)
            self._batch = None
            if batch.members:
                _settle(batch, _lost())

    async def _commit(self, batch: _Batch) -> None:
        conn = self._conn()
        try:
            if conn.info.transaction_status != TransactionStatus.INTRANS:
                raise _lost()  # a failed transaction's COMMIT would only roll it back
            async with conn.cursor() as cur:
                await _through(cur.execute(b"COMMIT"))
                if cur.statusmessage != "COMMIT":
                    raise _lost()
        except asyncio.CancelledError:
            error = None if conn.info.transaction_status == TransactionStatus.IDLE else _lost()
            _settle(batch, error)
            await self._rollback(conn)
            raise
        except Exception as exc:
            await self._rollback(conn)
            _settle(batch, exc)
        else:
            self.commits += 1
            _settle(batch, None)

    # ---- reads -------------------------------------------------------------------------

    def _readers(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        inside = _PG_WRITING.get()
        if inside is not None and inside.active:
            return list((await _through(_run(inside.conn, sql, params))).rows)
        return await PoolReader(self._readers()).fetchall(sql, params)

    @property
    def heavy(self) -> Reader:
        """Long reads: on a pooled connection of their own, so the bot goes on meanwhile."""
        return PoolReader(self._readers())


def _not_inside() -> None:
    _not_inside_a_write()
    inside = _PG_WRITING.get()
    if inside is not None and inside.active:
        raise RuntimeError("a write inside a write would wait for itself: use its Tx")


async def _mark_applied(conn: AsyncConnection[Any]) -> None:
    applying = APPLYING.get()
    if applying is None:
        return
    transport, update_id, when = applying
    await _run(
        conn,
        "INSERT INTO inbox (transport, update_id, received_at, applied_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (transport, update_id)"
        " DO UPDATE SET applied_at = excluded.applied_at WHERE inbox.applied_at IS NULL",
        (transport, update_id, to_db_time(when), to_db_time(when)),
    )


def _safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://…"
    host, port, name = info.get("host", ""), info.get("port", ""), info.get("dbname", "")
    return f"postgresql://{info.get('user', '')}@{host}{':' + str(port) if port else ''}/{name}"


async def migrate_postgres(conn: AsyncConnection[Any], up_to: int | None = None) -> list[int]:
    """Apply every migration newer than the database's recorded version, each in its own
    transaction; instances starting together take turns (an advisory lock)."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    for version, name, sql in db_dialect.postgres_migrations():
        if up_to is not None and version > up_to:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            cur = await conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version >= %s", (version,)
            )
            if await cur.fetchone() is not None:
                continue
            await _script(conn, sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                (version, name, to_db_time(datetime.now(UTC))),
            )
        log.info("applied migration %s", name)
        applied.append(version)
    return applied
