"""Telegram updates survive a crash: stored before Telegram is told we have them, replayed
after a restart, never carried out twice (bot/telegram/inbox.py, storage/inbox_store.py).

The crash loop (tests/test_crash_loop.py) shows the same with real SIGKILLs; these pin each
path in one process.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta

import pytest

from storage import inbox_store
from tests.support.clock import local
from tests.support.harness import events_saying
from tests.support.telegram_rig import IDS, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")


@pytest.fixture
async def rig(tmp_path):
    r = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


async def inbox_row(rig: TelegramRig, update_id: int):
    return await rig.db.fetchone(
        "SELECT * FROM inbox WHERE transport = 'telegram' AND update_id = ?", (update_id,)
    )


async def report_then_crash_before_handled(rig: TelegramRig, monkeypatch) -> dict:
    """sam reports Jay; the crash falls after the report was written and answered, before
    "handled" was noted (the mark is dropped once)."""
    crashed = asyncio.Event()

    async def crash_first(*args, **kwargs):
        crashed.set()

    monkeypatch.setattr(inbox_store, "mark_handled", crash_first)
    said = rig.says("sam", "/absent Jay 21:05 left after a row")
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    await asyncio.wait_for(crashed.wait(), 5)
    monkeypatch.undo()
    return said


async def handled_row(rig: TelegramRig, update_id: int):
    """The inbox row once its handlers have finished (they may still run after the reply)."""
    for _ in range(200):
        row = await inbox_row(rig, update_id)
        if row is not None and row["handled_at"] is not None:
            return row
        await asyncio.sleep(0.01)
    raise AssertionError(f"update {update_id} was never marked handled")


async def test_an_update_kept_but_not_handled_before_a_crash_is_handled_after_restart(rig):
    await rig.platform.stop()  # the process is gone ...
    said = rig.says("sam", "/absent Jay 21:05 left after a row")
    # ... after its poll stored the update and told Telegram (which then forgets it).
    await inbox_store.store(
        rig.db, "telegram", said["update_id"], json.dumps(said), rig.clock.now()
    )
    rig.fake._updates.clear()

    await rig.restart()
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    await rig.reply_to("ooh1", "C-0042 Jay is absent")
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    row = await handled_row(rig, said["update_id"])
    assert row["applied_at"] is not None
    assert row["payload"] is None  # what the carer typed is not kept once handled


async def test_a_command_stored_before_a_crash_is_not_carried_out_again(rig, monkeypatch):
    said = await report_then_crash_before_handled(rig, monkeypatch)
    assert (await inbox_row(rig, said["update_id"]))["handled_at"] is None

    await rig.restart()
    note = await rig.reply_to("sam", "Recorded before a restart")
    assert note.params["text"].startswith("Recorded before a restart, at 21:10: your /absent")
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    assert not [c for c in rig.fake.sent(chat_id=IDS["sam"]) if "already" in c.params["text"]]
    row = await handled_row(rig, said["update_id"])
    assert row["payload"] is None


async def test_telegram_offering_a_handled_update_again_does_not_repeat_it(rig):
    said = rig.says("sam", "/absent Jay 21:05 left after a row")
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    await rig.platform.stop()
    rig.fake.resend(said)  # as if the confirming getUpdates never reached Telegram

    await rig.restart()
    rig.says("sam", "/status")
    await rig.reply_to("sam", "C-0042")
    await asyncio.sleep(0.2)
    recorded = [c for c in rig.fake.sent(chat_id=IDS["sam"]) if "Recorded" in c.params["text"]]
    assert len(recorded) == 1
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1


async def test_one_persons_slow_chat_holds_up_nobody_else_and_keeps_their_order(tmp_path):
    # One message a second per chat, as Telegram asks: sam's three replies take 2 s or more.
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, chat_period=1.0)
    try:
        for text in ("/help", "/status", "/duties"):
            rig.says("sam", text)
        await rig.fake.wait_for(lambda: rig.fake.sent(chat_id=IDS["sam"]))
        rig.says("priya", "/help")
        await rig.fake.wait_for(lambda: rig.fake.sent(chat_id=IDS["priya"]), timeout=0.9)
        assert len(rig.fake.sent(chat_id=IDS["sam"])) < 3
        replies = await rig.fake.wait_for(
            lambda: (s := rig.fake.sent(chat_id=IDS["sam"])) and len(s) >= 3 and s, timeout=5
        )
        texts = [c.params["text"] for c in replies[:3]]
        assert texts[0].startswith("Your Whereabouts commands")  # in the order sam sent them
        assert texts[1].startswith("No open episodes")
        assert texts[2].startswith("You have no open duties")
    finally:
        await rig.stop()


async def test_handled_updates_are_forgotten_after_a_day(rig):
    said = rig.says("sam", "/status")
    await handled_row(rig, said["update_id"])
    assert await inbox_store.prune(rig.db, rig.clock.now() + timedelta(hours=23)) == 0
    assert await inbox_store.prune(rig.db, rig.clock.now() + timedelta(hours=25)) == 1
    assert await inbox_row(rig, said["update_id"]) is None


async def test_a_database_error_while_storing_an_update_is_retried_not_lost(rig, monkeypatch):
    real_store = inbox_store.store_soon
    failures = []

    async def locked_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise sqlite3.OperationalError("database is locked")
        return await real_store(*args, **kwargs)

    monkeypatch.setattr(inbox_store, "store_soon", locked_once)
    rig.says("sam", "/absent Jay 21:05 left after a row")
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")  # fetched again after a back-off
    assert failures and len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    rig.says("sam", "/status")
    await rig.reply_to("sam", "Episodes in progress")  # and polling goes on


async def test_a_replay_whose_note_cannot_be_sent_is_still_not_carried_out_again(rig, monkeypatch):
    said = await report_then_crash_before_handled(rig, monkeypatch)
    rig.fake.fail("sendMessage", 403)  # sam has blocked the bot meanwhile

    await rig.restart()
    row = await handled_row(rig, said["update_id"])
    assert row["payload"] is None
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    refused = [c for c in rig.fake.sent(chat_id=IDS["sam"]) if c.message_id is None]
    assert [c.params["text"][:25] for c in refused] == ["Recorded before a restart"]
    texts = [c.params["text"] for c in rig.fake.sent(chat_id=IDS["sam"]) if c.message_id]
    assert not [t for t in texts if "already" in t or t.startswith("Recorded before")]


async def test_an_unreadable_stored_update_is_skipped_and_the_bot_starts(rig):
    await rig.platform.stop()
    await inbox_store.store(rig.db, "telegram", 999, "{not json", rig.clock.now())
    await rig.restart()
    rig.says("sam", "/status")
    await rig.reply_to("sam", "No open episodes")
    assert (await inbox_row(rig, 999))["handled_at"] is not None


async def test_telegram_is_told_to_forget_an_update_only_once_it_is_on_disk(rig, monkeypatch):
    """The update is handled while its row is still on the way to disk (so the reply waits
    for no extra fsync), but the getUpdates whose offset confirms it waits for the row."""
    on_thread = rig.db._on_write_thread

    async def slow_commit(fn, *args):  # a disk that takes 0.1 s over every COMMIT
        if args == ("COMMIT",):
            await asyncio.sleep(0.1)
        return await on_thread(fn, *args)

    monkeypatch.setattr(rig.db, "_on_write_thread", slow_commit)
    confirmed_before_stored = []
    real_get_updates = rig.fake._m_getUpdates

    async def get_updates(params):
        offset = int(params.get("offset") or 0)
        disk = sqlite3.connect(rig.db.path)
        try:
            stored = {r[0] for r in disk.execute("SELECT update_id FROM inbox")}
        finally:
            disk.close()
        confirmed_before_stored.extend(i for i in said_ids if i < offset and i not in stored)
        return await real_get_updates(params)

    said_ids: list[int] = []
    monkeypatch.setattr(rig.fake, "_m_getUpdates", get_updates)
    said_ids.append(rig.says("sam", "/absent Jay 21:05 left after a row")["update_id"])
    said_ids.append(rig.says("priya", "/status")["update_id"])
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    await rig.fake.wait_for(lambda: rig.fake.sent(chat_id=IDS["priya"]))
    said_ids.append(rig.says("sam", "/status")["update_id"])
    await rig.reply_to("sam", "C-0042 Jay")
    await handled_row(rig, said_ids[-1])
    assert confirmed_before_stored == []


async def test_an_update_whose_commit_failed_is_stored_again_before_it_is_confirmed(
    rig, monkeypatch
):
    on_thread = rig.db._on_write_thread
    failed = []

    async def commit_fails_once(fn, *args):
        if args == ("COMMIT",) and not failed:
            failed.append(1)
            raise sqlite3.OperationalError("disk I/O error")
        return await on_thread(fn, *args)

    monkeypatch.setattr(rig.db, "_on_write_thread", commit_fails_once)
    said = rig.says("priya", "/status")
    await rig.fake.wait_for(lambda: rig.fake.sent(chat_id=IDS["priya"]))
    row = await handled_row(rig, said["update_id"])
    assert failed and row is not None
