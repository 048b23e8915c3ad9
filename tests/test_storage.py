"""Storage: migrations, restart, atomic writes, the append-only timeline, the outbox."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta

import aiosqlite
import pytest

from handlers import episodes
from handlers.context import Services, Step
from storage import (
    child_store,
    episode_store,
    inbox_store,
    message_keys,
    outbox_store,
    staff_store,
)
from storage.db import Database, migrate, migration_scripts
from storage.message_keys import ClimbSend
from storage.models import Concern, Recipient
from tests.support.chat import Chat
from tests.support.clock import local


async def test_migrations_from_empty_file(db_path):
    async with Database(db_path) as db:
        rows = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [v for v, _, _ in migration_scripts()]
        mode = await db.fetchone("PRAGMA journal_mode")
        assert mode[0] == "wal"
        fk = await db.fetchone("PRAGMA foreign_keys")
        assert fk[0] == 1


async def test_reopening_applies_nothing_twice(db_path):
    async with Database(db_path):
        pass
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn) == []


async def test_upgrade_from_each_previous_version_in_place(tmp_path):
    versions = [v for v, _, _ in migration_scripts()]
    for previous in versions[:-1] or versions:
        path = tmp_path / f"v{previous}.db"
        async with aiosqlite.connect(path, isolation_level=None) as conn:
            await migrate(conn, up_to=previous)
            await conn.execute(
                "INSERT INTO staff (id, name, role) VALUES ('keep', 'Kept', 'carer')"
            )
        async with Database(path) as db:
            assert (await staff_store.get_staff(db, "keep")).name == "Kept"
            row = await db.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
            assert row["v"] == versions[-1]


async def test_upgrade_reads_the_climb_columns_from_the_keys_already_queued(tmp_path):
    path = tmp_path / "v10.db"
    keys = {
        "esc12:c1:s2:r0:staff:ooh1": (12, 2, 0),
        "esc12:c0:gap:s1:staff:oohm": (12, 1, None),
        "esc3:c0:unreachable:s0:r1:staff:ooh1:staff:admin": (3, 0, None),
        "esc3:confirm:v4": (3, None, None),
        "esc3:exhausted:5:staff:admin": (3, None, None),
        "esc3:taken:v2:team:oak": (3, None, None),
        "ep1:taken:1761250000:sam:staff:ooh1": (None, None, None),
        "duty7:n0:staff:sam": (None, None, None),
        "daily:south-glos:2026-10-24:team:managers": (None, None, None),
    }
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, up_to=10)
        for key in keys:
            await conn.execute(
                "INSERT INTO outbox (idem_key, recipient, text, created_at, due_at,"
                " next_attempt_at) VALUES (?, 'staff:x', '', 't', 't', 't')",
                (key,),
            )
        await migrate(conn)
        async with conn.execute(
            "SELECT idem_key, escalation_id, escalation_step, escalation_repeat FROM outbox"
        ) as cursor:
            found = {row[0]: tuple(row[1:]) for row in await cursor.fetchall()}
    assert found == keys


async def test_everything_is_there_after_restart(db_path, svc, chat, clock):
    await chat.say("sam", "/absent Jay 21:05 left after a row")
    await chat.say("sam", "/update Jay searched the garden")
    await svc.db.close()
    async with Database(db_path) as reopened:
        svc2 = Services(db=reopened, clock=clock)
        text = await Chat(svc2).say("sam", "/timeline Jay")
        assert "left after a row" in text and "searched the garden" in text
        outbox = await outbox_store.outbox_messages(reopened)
        assert outbox, "the notices queued before the restart are still queued"


async def test_timeline_is_append_only(svc, chat):
    await chat.say("sam", "/absent Jay 21:05 out")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        async with svc.db.write() as tx:
            await tx.execute("UPDATE events SET text = 'rewritten'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        async with svc.db.write() as tx:
            await tx.execute("DELETE FROM events")
    rows = await svc.db.fetchall("SELECT text FROM events")
    assert all(r["text"] != "rewritten" for r in rows) and rows


async def test_crash_between_episode_write_and_outbox_write_leaves_neither(svc, monkeypatch):
    """Simulate a crash inside the transaction: after it, neither the episode nor its messages."""

    async def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(outbox_store, "enqueue", crash)
    child = await child_store.get_child_by_ref(svc.db, "C-0042")
    sam = await staff_store.get_staff(svc.db, "sam")
    step = Step(svc, sam, svc.clock.now())
    with pytest.raises(RuntimeError, match="power cut"):
        await episodes.report_absent(
            step, [child], local("2026-10-23 21:05"), "left after a row", Concern.CARER
        )
    assert await episode_store.latest_episode_for_child(svc.db, child.id) is None
    assert await svc.db.fetchall("SELECT * FROM events") == []
    assert await outbox_store.outbox_messages(svc.db) == []


async def test_crash_is_reported_to_the_person_and_nothing_is_saved(svc, chat, monkeypatch):
    async def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outbox_store, "enqueue", crash)
    reply = await chat.say("sam", "/absent Jay 21:05 out")
    assert "nothing was saved" in reply
    assert await svc.db.fetchall("SELECT * FROM episodes") == []


async def test_database_refuses_two_open_episodes_for_one_child(svc):
    child = await child_store.get_child_by_ref(svc.db, "C-0042")
    when = local("2026-10-23 21:00")
    async with svc.db.write() as tx:
        from storage.models import Category

        await episode_store.insert_episode(
            tx, child=child, category=Category.ABSENT, concern=Concern.CARER,
            last_seen_at=when, last_seen_place="x", reported_by="sam", reported_at=when,
        )  # fmt: skip
    with pytest.raises(sqlite3.IntegrityError):
        async with svc.db.write() as tx:
            await episode_store.insert_episode(
                tx, child=child, category=Category.ABSENT, concern=Concern.CARER,
                last_seen_at=when, last_seen_place="y", reported_by="sam", reported_at=when,
            )  # fmt: skip


async def test_outbox_key_is_queued_once(svc):
    now = svc.clock.now()
    async with svc.db.write() as tx:
        assert await outbox_store.enqueue(
            tx, idem_key="k1", recipient="staff:sam", text="a", rule_id=None, now=now
        )
        assert not await outbox_store.enqueue(
            tx, idem_key="k1", recipient="staff:sam", text="b", rule_id=None, now=now
        )
    assert [m.text for m in await outbox_store.outbox_messages(svc.db)] == ["a"]


def test_recipients_keep_their_stored_form():
    for stored in ("staff:sam", "team:oak", "redact"):
        assert Recipient.parse(stored).stored == stored
    assert Recipient.staff("sam").stored == "staff:sam"
    assert Recipient.team("oak").stored == "team:oak"
    assert str(Recipient.redact()) == "redact"
    with pytest.raises(ValueError, match="unknown recipient kind"):
        Recipient.parse("fax:0117")


async def test_the_queue_heads_a_message_with_its_rules_and_stores_its_climb(svc, chat):
    await chat.say("sam", "/absent Jay 21:05 out")  # starts climb 1
    now = svc.clock.now()
    send = ClimbSend(escalation_id=1, step=1, repeat=2, to=Recipient.staff("sam"))
    async with svc.db.write() as tx:
        await outbox_store.enqueue(
            tx, idem_key=message_keys.climb_send(send, cycle=3), recipient=send.to,
            text="Jay is missing", rules=("ABS-OOH", "ABS-SW"), now=now,
        )  # fmt: skip
        assert await outbox_store.climb_send(tx, "esc1:c3:s1:r2:staff:sam") == send
    [message] = [
        m for m in await outbox_store.outbox_messages(svc.db) if m.text.startswith("Jay is missing")
    ]
    assert (message.idem_key, message.text) == (
        "esc1:c3:s1:r2:staff:sam",
        "Jay is missing\nABS-OOH; ABS-SW",  # about no child: no area to cite
    )
    assert message.rule_id == "ABS-OOH"


async def test_times_are_stored_in_utc(svc, chat):
    await chat.say("sam", "/absent Jay 21:05 out")  # 21:05 BST on 23 Oct 2026
    row = await svc.db.fetchone("SELECT last_seen_at FROM episodes")
    assert row["last_seen_at"] == "2026-10-23T20:05:00Z"
    assert svc.clock.now() - timedelta(minutes=5) == local("2026-10-23 21:05")


async def test_a_write_cancelled_at_any_moment_leaves_the_database_usable(tmp_path):
    """A command cancelled mid-write (shutdown, a timeout) must not leave the connection
    inside a transaction, or every later write would fail."""
    import asyncio
    import time

    async with Database(tmp_path / "w.db") as db:
        on_thread = db._on_write_thread

        async def slow_thread(fn, *args):  # a BEGIN or COMMIT that takes 5 ms (a slow disk)
            def slow():
                time.sleep(0.005)
                return fn(*args)

            return await on_thread(slow)

        db._on_write_thread = slow_thread  # type: ignore[method-assign]

        async def write(n: int) -> None:
            async with db.write() as tx:
                await tx.execute(
                    "INSERT INTO scheduled_runs (job, run_key, ran_at) VALUES (?, ?, ?)",
                    ("t", str(n), "2026-01-01T00:00:00Z"),
                )

        finished = 0
        for n, wait in enumerate([0.001, 0.002, 0.006, 0.008, 0.011, 0.003] * 5):
            task = asyncio.ensure_future(write(n))
            await asyncio.sleep(wait)  # during BEGIN, between, or during COMMIT
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            finished += not task.cancelled()
        await write(1000)  # still usable
        rows = await db.fetchall("SELECT run_key FROM scheduled_runs WHERE job = 't'")
        assert finished + 1 <= len(rows) <= 31  # a cancel after the COMMIT keeps its row


def _run_row(n: int) -> tuple[str, str, str]:
    return ("t", str(n), "2026-01-01T00:00:00Z")


INSERT_RUN = "INSERT INTO scheduled_runs (job, run_key, ran_at) VALUES (?, ?, ?)"


async def _runs(db: Database) -> list[str]:
    rows = await db.fetchall("SELECT run_key FROM scheduled_runs WHERE job = 't'")
    return sorted(r["run_key"] for r in rows)


async def test_writes_that_arrive_together_share_one_commit(tmp_path):
    """Group commit: fewer fsyncs than writes, each write still whole and on disk on return."""
    import asyncio

    async with Database(tmp_path / "g.db") as db:

        async def write(n: int) -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(n))
                await tx.execute(INSERT_RUN, _run_row(n + 1000))

        await asyncio.gather(*(write(n) for n in range(40)))
        assert len(await _runs(db)) == 80
        assert 1 <= db.commits < 40


async def test_a_failed_write_in_a_batch_leaves_the_others_stored(tmp_path):
    import asyncio

    async with Database(tmp_path / "g.db") as db:

        async def write(n: int) -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(n))
                if n == 2:
                    await tx.execute(INSERT_RUN, _run_row(1))  # duplicate key: this write fails

        results = await asyncio.gather(*(write(n) for n in range(5)), return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["NoneType"] * 2 + ["IntegrityError"] + [
            "NoneType"
        ] * 2
        assert await _runs(db) == ["0", "1", "3", "4"]  # none of the failed write's rows


async def test_a_read_inside_a_write_sees_the_writes_batched_before_it(tmp_path):
    """The reader connection sees only what is committed; inside a write, reads must also see
    writes that joined the batch first, or two presses of one button could both win."""
    import asyncio

    async with Database(tmp_path / "g.db") as db:
        seen: list[str] = []

        async def first() -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(1))

        async def second() -> None:
            async with db.write() as tx:
                seen.extend(await _runs(db))
                await tx.execute(INSERT_RUN, _run_row(2))

        await asyncio.gather(first(), second())
        assert db.commits == 1  # both in one batch: the case under test
        assert seen == ["1"]


async def test_a_failed_commit_fails_every_write_in_its_batch_and_stores_none(tmp_path):
    import asyncio

    async with Database(tmp_path / "g.db") as db:
        on_thread = db._on_write_thread
        failing = True

        async def disk_error_on_commit(fn, *args):
            if failing and args == ("COMMIT",):
                raise sqlite3.OperationalError("disk I/O error")
            return await on_thread(fn, *args)

        db._on_write_thread = disk_error_on_commit  # type: ignore[method-assign]

        async def write(n: int) -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(n))

        results = await asyncio.gather(*(write(n) for n in range(3)), return_exceptions=True)
        assert all(isinstance(r, sqlite3.OperationalError) for r in results)
        assert await _runs(db) == []
        failing = False
        await write(9)  # the connection is usable again
        assert await _runs(db) == ["9"]


async def test_a_write_waits_for_another_process_holding_the_write_lock(tmp_path):
    import asyncio

    async with Database(tmp_path / "g.db") as db:
        other = sqlite3.connect(tmp_path / "g.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # e.g. `whereabouts enrol` run while the bot runs

        async def write() -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(1))

        task = asyncio.ensure_future(write())
        await asyncio.sleep(0.2)
        assert not task.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(task, 5)
        assert await _runs(db) == ["1"]


async def test_a_checkpoint_waits_for_the_open_batch_and_empties_the_log(tmp_path):
    import asyncio

    from storage.maintenance import checkpoint

    async with Database(tmp_path / "g.db") as db:

        async def write(n: int) -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(n))

        await asyncio.gather(*(write(n) for n in range(20)), checkpoint(db))
        await checkpoint(db)
        assert (tmp_path / "g.db-wal").stat().st_size == 0
        await write(20)  # the checkpoint's result row was read to the end: writes go on
        assert len(await _runs(db)) == 21


async def test_closing_stores_a_write_that_joined_a_batch_first(tmp_path):
    """close() queued behind a write still running its body: the write is stored, and its
    caller is told so, before the connection closes."""
    import asyncio

    db = await Database(tmp_path / "g.db").open()

    async def slow_write() -> str:
        async with db.write() as tx:
            await tx.execute(INSERT_RUN, _run_row(1))
            await asyncio.sleep(0.05)  # the lock is held across an await
        return "stored"

    task = asyncio.ensure_future(slow_write())
    await asyncio.sleep(0.01)
    await db.close()
    assert await asyncio.wait_for(task, 2) == "stored"
    async with Database(tmp_path / "g.db") as again:
        assert await _runs(again) == ["1"]


async def test_a_refusal_read_from_a_batch_whose_commit_fails_reports_the_failure(tmp_path):
    """A write that refused because of what a write batched before it did must not stand if
    that write never reached the disk: the caller hears the commit failed instead."""
    import asyncio

    class AlreadyThere(Exception):
        pass

    async with Database(tmp_path / "g.db") as db:
        on_thread = db._on_write_thread

        async def disk_error_on_commit(fn, *args):
            if args == ("COMMIT",):
                raise sqlite3.OperationalError("disk I/O error")
            return await on_thread(fn, *args)

        db._on_write_thread = disk_error_on_commit  # type: ignore[method-assign]

        async def first() -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(1))

        async def second() -> None:
            async with db.write() as tx:
                if await tx.fetchone("SELECT 1 FROM scheduled_runs WHERE run_key = '1'"):
                    raise AlreadyThere

        results = await asyncio.gather(first(), second(), return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["OperationalError", "OperationalError"]
        assert isinstance(results[1].__cause__, AlreadyThere)


async def test_rows_a_write_leaves_unread_never_block_the_next_write(tmp_path):
    """A statement with rows unread stays in progress, and then no SAVEPOINT or COMMIT can
    run on the connection: every statement a write runs is run to its end."""
    import asyncio

    async with Database(tmp_path / "g.db") as db:

        async def careless() -> None:
            async with db.write() as tx:
                cursor = await tx.execute(INSERT_RUN + " RETURNING run_key", _run_row(1))
                await tx.execute(INSERT_RUN, _run_row(2))
                assert cursor.rowcount == 1  # held, rows never read, to the end of the body

        async def fine(n: int) -> None:
            async with db.write() as tx:
                await tx.execute(INSERT_RUN, _run_row(n))

        await asyncio.gather(fine(0), careless(), fine(3))
        await fine(4)
        assert await _runs(db) == ["0", "1", "2", "3", "4"]


async def test_a_write_inside_a_write_is_refused_instead_of_waiting_for_itself(tmp_path):
    async with Database(tmp_path / "g.db") as db:
        with pytest.raises(RuntimeError, match="inside a write"):
            async with db.write():
                await db.write_one(*([INSERT_RUN, _run_row(1)]))
        await db.write_one(INSERT_RUN, _run_row(2))  # outside: fine
        assert await _runs(db) == ["2"]


async def test_a_handled_mark_keeps_an_update_whose_own_row_was_lost(tmp_path):
    """The inbox row's commit failed after the update was handled: the mark stores the row
    as handled, so storing it again later does not make it look new (no replay)."""
    from datetime import UTC, datetime

    now = datetime(2026, 10, 23, 21, 10, tzinfo=UTC)
    async with Database(tmp_path / "g.db") as db:
        await inbox_store.mark_handled(db, "telegram", [41, 42], now)
        assert not await inbox_store.store(db, "telegram", 41, "{}", now)
        assert await inbox_store.unhandled(db, "telegram") == []
