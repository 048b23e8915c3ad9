"""The PostgreSQL engine beside SQLite: one schema, one dialect, one storage API.

The storage, escalation and crash tests run on both engines (tests/conftest.py
ENGINE_MODULES); these pin what is particular to having two.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bot import cli
from bot.delivery import OutboxDelivery
from config.settings import Settings
from handlers.context import Services
from reminders.clock import FakeClock
from storage import claims, db_copy, db_dialect, escalation_store, outbox_store
from storage.db import Database, migration_scripts
from storage.db_postgres import PostgresDatabase
from storage.models import OutboxMessage, Recipient
from tests.conftest import pg_server
from tests.support.chat import Chat
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import weekend_rota


@pytest.fixture
def pg_url() -> str:
    return pg_server().new_database()


def _sqlite_schema(path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


def _sqlite_indexes(path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    finally:
        conn.close()


@pytest.mark.sqlite_only("compares the two itself")
async def test_both_engines_end_with_the_same_tables_columns_and_indexes(tmp_path, pg_url):
    async with Database(tmp_path / "w.db"):
        pass
    async with Database(pg_url) as pg:
        rows = await pg.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        )
        named = await pg.fetchall(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"
        )
    on_pg: dict[str, list[str]] = {}
    for row in rows:
        on_pg.setdefault(row["table_name"], []).append(row["column_name"])
    assert on_pg == _sqlite_schema(tmp_path / "w.db")
    assert {r["indexname"] for r in named} == _sqlite_indexes(tmp_path / "w.db")


@pytest.mark.sqlite_only("PostgreSQL only, on a database of its own")
async def test_postgres_records_every_migration_once_and_keeps_synchronous_commit(pg_url):
    async with Database(pg_url) as db:
        assert isinstance(db, PostgresDatabase)
        rows = await db.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in rows] == [
            (v, n) for v, n, _ in migration_scripts()
        ]
        on = await db.fetchone("SHOW synchronous_commit")
        assert on is not None and on[0] == "on"
        async with db.write() as tx:
            setting = await tx.fetchone("SHOW synchronous_commit")
            assert setting is not None and setting["synchronous_commit"] == "on"
    async with Database(pg_url) as again:  # reopened: nothing applied twice
        row = await again.fetchone("SELECT COUNT(*) AS n FROM schema_migrations")
        assert row is not None and row["n"] == len(migration_scripts())


@pytest.mark.sqlite_only("PostgreSQL only, on a database of its own")
async def test_rows_read_by_name_and_position_and_inserts_give_their_id(pg_url):
    async with Database(pg_url) as db:
        async with db.write() as tx:
            first = await tx.insert(
                "INSERT INTO attachments (filename, mime, data, created_at) VALUES (?, ?, ?, ?)",
                ("a.txt", "text/plain", b"\x00bytes", "2026-10-23T20:05:00Z"),
            )
            second = await tx.insert(
                "INSERT INTO attachments (filename, mime, data, created_at) VALUES (?, ?, ?, ?)",
                ("b.txt", "text/plain", b"", "2026-10-23T20:06:00Z"),
            )
            changed = await tx.execute("UPDATE attachments SET mime = 'x' WHERE id = ?", (first,))
            assert changed.rowcount == 1
        assert second == first + 1
        row = await db.fetchone(
            "SELECT id, filename AS Name, data, 100 * 2 % 7 AS odd FROM attachments"
            " WHERE filename LIKE '%.txt' AND id = ?",
            (first,),
        )
        assert row is not None
        assert row["id"] == row[0] == first and row["name"] == row["Name"] == "a.txt"
        assert bytes(row["data"]) == b"\x00bytes" and row["odd"] == 4
        assert row.keys() == ["id", "name", "data", "odd"]


@pytest.mark.sqlite_only("no database")
def test_the_dialect_leaves_quoted_text_alone():
    assert db_dialect.query("SELECT '?%' || ? FROM t WHERE a LIKE 'x%' AND b = ?") == (
        "SELECT '?%%' || %s FROM t WHERE a ILIKE 'x%%' AND b = %s"
    )
    assert (
        db_dialect.query("SELECT IFNULL(a, 'LIKE') FROM t") == "SELECT COALESCE(a, 'LIKE') FROM t"
    )
    assert db_dialect.query("SELECT 1 WHERE r NOT GLOB 'sms:*' AND r GLOB 'c[0-9]?.x'") == (
        "SELECT 1 WHERE r !~ '^sms:.*$' AND r ~ '^c[0-9].\\.x$'"
    )
    assert db_dialect.query("SELECT ? -- the recipient's own\n, '--?' FROM t") == (
        "SELECT %s \n, '--?' FROM t"
    )
    assert db_dialect.query("INSERT OR IGNORE INTO t (a) VALUES (?)") == (
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    translated = db_dialect.ddl(
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, b BLOB, s TEXT, r REAL);"
    )
    assert "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" in translated
    assert (
        "n BIGINT" in translated and "b BYTEA" in translated and 's TEXT COLLATE "C"' in translated
    )
    assert "AUTOINCREMENT" not in translated and "r DOUBLE PRECISION" in translated


@pytest.mark.sqlite_only("no database")
def test_a_postgresql_url_selects_the_postgresql_engine():
    assert type(Database.__new__(Database, "postgresql://wb@127.0.0.1/x")) is PostgresDatabase
    assert type(Database.__new__(Database, "w.db")) is Database


# ---- several instances on one PostgreSQL database ---------------------------------------


@pytest.mark.sqlite_only("two instances on one PostgreSQL database")
async def test_two_instances_deliver_the_outbox_disjoint_in_order_and_nothing_lost(pg_url):
    clock = FakeClock(local("2026-10-23 21:10"))
    now = clock.now()
    async with Database(pg_url) as one, Database(pg_url) as two:
        async with one.write() as tx:
            for n in range(60):
                to = Recipient.parse(f"staff:p{n % 4}")
                await outbox_store.enqueue(
                    tx, idem_key=f"k{n}", recipient=to, text=f"message {n}", now=now
                )
        sent: list[tuple[str, str, int]] = []

        def sender(name: str):
            async def send(message: OutboxMessage) -> None:
                sent.append((name, message.recipient, message.id))
                await asyncio.sleep(0)  # the other instance claims and sends meanwhile

            return send

        first = OutboxDelivery(one, clock, sender("one"), batch=5)
        second = OutboxDelivery(two, clock, sender("two"), batch=5)
        for _ in range(5):  # a pass ends when all it may take is held by the other's
            await asyncio.gather(first.deliver_due(), second.deliver_due())
        ids = [i for _, _, i in sent]
        assert len(ids) == len(set(ids)) == 60  # disjoint, and nothing lost
        for recipient in {r for _, r, _ in sent}:
            mine = [i for _, r, i in sent if r == recipient]
            assert mine == sorted(mine), f"{recipient} got its messages out of order"
        left = await one.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE state != 'sent'")
        assert left is not None and left["n"] == 0


@pytest.mark.sqlite_only("two instances on one PostgreSQL database")
async def test_a_due_step_locked_by_one_instance_is_passed_over_by_the_other(pg_url):
    h = await Harness.open(pg_url, local("2026-10-23 21:10"), rota_rows=weekend_rota())
    try:
        await h.say("sam", "/absent Jay 21:05 left after a row")
        esc = (await escalation_store.escalations_waiting(h.db))[0]
        assert esc.next_at is not None
        due = esc.next_at + timedelta(seconds=1)
        async with Database(pg_url) as two:
            async with h.db.write() as tx:
                assert await claims.claim_due_escalation(tx, esc.id, due) is not None

                async def other_instance() -> object:
                    async with two.write() as tx2:
                        return await claims.claim_due_escalation(tx2, esc.id, due)

                # Its own task and context: another process, as far as the writes can tell.
                task = asyncio.get_running_loop().create_task(
                    other_instance(), context=contextvars.Context()
                )
                assert await asyncio.wait_for(task, 10) is None  # skipped, not waited for
            async with two.write() as tx2:  # once the first has committed: due again
                assert await claims.claim_due_escalation(tx2, esc.id, due) is not None
                assert (
                    await claims.claim_due_escalation(
                        tx2, esc.id, esc.next_at - timedelta(seconds=1)
                    )
                    is None
                )
    finally:
        await h.close()


@pytest.mark.sqlite_only("two instances on one PostgreSQL database")
async def test_a_claim_waits_for_the_instances_shared_lock_holding_no_row_locks(pg_url):
    """The deadlock the two-instance crash loop found: a claim joined to a batch would wait
    for the claims' shared lock holding that batch's row locks, while the instance holding
    the lock waits for one of those rows. The claim commits the batch first (`alone`)."""
    clock = FakeClock(local("2026-10-23 21:10"))
    async with Database(pg_url) as one:
        async with one.write() as tx:
            for n in range(3):
                await outbox_store.enqueue(
                    tx, idem_key=f"k{n}", recipient=f"staff:p{n}", text="x", now=clock.now()
                )
        other = await psycopg.AsyncConnection.connect(pg_url)  # another instance, mid-claim
        try:
            await other.execute("SELECT pg_advisory_xact_lock(%s)", (claims.OUTBOX_CLAIMS_LOCK,))
            sent: list[str] = []

            async def send(message: OutboxMessage) -> None:
                sent.append(message.idem_key)

            async def write_then_deliver() -> int:
                # A write changes a row and joins a batch; the pass claims before that batch's
                # commit has had a turn (nothing between them gives the loop one).
                await one.write_one_soon("UPDATE outbox SET text = 'ours' WHERE idem_key = 'k1'")
                return await OutboxDelivery(one, clock, send).deliver_due()

            passing = asyncio.create_task(write_then_deliver())
            while not (await other.execute(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )).rowcount:  # fmt: skip
                await asyncio.sleep(0.01)  # until our claim waits for the lock
            # The other instance now changes that row: it must not wait for us.
            await asyncio.wait_for(
                other.execute("UPDATE outbox SET text = 'theirs' WHERE idem_key = 'k1'"), 10
            )
            await other.commit()
            assert await asyncio.wait_for(passing, 10) == 3
            assert sorted(sent) == ["k0", "k1", "k2"]
        finally:
            await other.close()


# ---- migrate-db ----------------------------------------------------------------------------


@pytest.mark.sqlite_only("copies a SQLite file into PostgreSQL")
async def test_migrate_db_copies_every_row_keeps_the_timeline_and_refuses_a_second_copy(
    tmp_path, capsys
):
    source = tmp_path / "w.db"
    h = await Harness.open(source, local("2026-10-23 21:10"), rota_rows=weekend_rota())
    try:
        await h.say("sam", "/absent Jay 21:05 left after a row")
        await h.say("sam", "/update Jay searched the garden")
        await h.wait(45)  # the climb moves on: more messages, more events
    finally:
        await h.close()
    target = pg_server().empty_database()
    migrate = cli.build_parser().parse_args(["migrate-db", "--from", str(source), "--to", target])
    assert await migrate.func(migrate) == 0
    assert "timeline identical" in capsys.readouterr().out
    conn = sqlite3.connect(source)
    try:
        want = {
            t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
            for t in db_copy.copy_order(conn)
        }
        events = conn.execute("SELECT id, kind, text FROM events ORDER BY id").fetchall()
    finally:
        conn.close()
    assert want["events"] >= 3 and want["outbox"] >= 2 and want["staff"] >= 5
    async with Database(target) as db:
        for table, count in want.items():
            row = await db.fetchone(f'SELECT COUNT(*) AS n FROM "{table}"')
            assert row is not None and row["n"] == count, table
        copied = await db.fetchall("SELECT id, kind, text FROM events ORDER BY id")
        assert [tuple(r) for r in copied] == events
        # New rows get new ids after the copied ones.
        svc = Services(db=db, clock=FakeClock(local("2026-10-23 22:30")))
        await Chat(svc).say("sam", "/update Jay phoned his aunt")
        newest = await db.fetchone("SELECT MAX(id) AS id FROM events")
        assert newest is not None and newest["id"] == events[-1][0] + 1
        before = await db.fetchone("SELECT COUNT(*) AS n FROM events")
    # A target that holds rows is refused, and nothing in it changes.
    assert await migrate.func(migrate) == 2
    assert "empty database only" in capsys.readouterr().err
    async with Database(target) as db:
        after = await db.fetchone("SELECT COUNT(*) AS n FROM events")
        assert before is not None and after is not None and after["n"] == before["n"]


@pytest.mark.sqlite_only("PostgreSQL only, on a database of its own")
async def test_a_lost_connection_fails_its_write_and_the_next_write_connects_again(pg_url):
    insert = "INSERT INTO scheduled_runs (job, run_key, ran_at) VALUES ('t', ?, ?)"
    async with Database(pg_url) as db:
        async with db.write() as tx:
            await tx.execute(insert, ("1", "2026-01-01T00:00:00Z"))
            row = await tx.fetchone("SELECT pg_backend_pid() AS pid")
        assert row is not None
        # The server drops it (and says so once it has: the 5 s are a bound, not a wait).
        await db.fetchone("SELECT pg_terminate_backend(?, 5000)", (row["pid"],))
        with pytest.raises((sqlite3.OperationalError, psycopg.OperationalError)):
            async with db.write() as tx:
                await tx.execute(insert, ("2", "2026-01-01T00:00:00Z"))
        async with db.write() as tx:
            await tx.execute(insert, ("3", "2026-01-01T00:00:00Z"))
        rows = await db.fetchall("SELECT run_key FROM scheduled_runs ORDER BY run_key")
        assert [r["run_key"] for r in rows] == ["1", "3"]


@pytest.mark.sqlite_only("no database")
def test_a_database_url_prints_without_its_password_but_opens_with_it():
    settings = Settings(db="postgresql://wb:s3cret@db.example:5432/whereabouts")
    assert "s3cret" not in f"{settings.db} {settings.db!r} {settings.db!s}"
    assert str(settings.db) == "postgresql://wb:***@db.example:5432/whereabouts"
    database = Database(settings.db)
    assert isinstance(database, PostgresDatabase) and "s3cret" in database.url
    assert "s3cret" not in repr(database)
    assert isinstance(Settings(db="w.db").db, Path)
