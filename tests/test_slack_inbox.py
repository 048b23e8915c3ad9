"""Slack slash commands survive a crash: stored before the ack, replayed at the next start,
never carried out twice (bot/slack/inbox.py, storage/inbox_store.py), as Telegram's updates do
(tests/test_telegram_inbox.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from urllib.parse import parse_qsl

import pytest

from bot.router import Router
from bot.slack.app import HttpListen, SlackPlatform
from bot.slack.inbox import NOT_STORED, event_key, message_key
from storage import episode_store, inbox_store
from tests.support.clock import local
from tests.support.harness import events_saying
from tests.support.slack_rig import OAK_CHANNEL, SECRET, SlackRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
REPORT = "/absent Jay 21:05 left after a row"


@pytest.fixture
async def rig(tmp_path):
    r = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


async def restart(rig: SlackRig) -> None:
    """The process is gone and starts again on the same database and Slack workspace."""
    await rig.platform.stop()
    platform = SlackPlatform(
        rig.svc, rig.fake.token, signing_secret=SECRET, base_url=rig.fake.base_url,
        channel_period=0.0,
    )  # fmt: skip
    platform.sender.patience = (0.0, 0.0)
    await platform.start(http=HttpListen("127.0.0.1", 0))
    platform.after_command = rig.delivery.deliver_due
    rig.delivery.send = Router(rig.db, [platform]).send
    rig.platform = platform
    rig.url = f"http://127.0.0.1:{platform.http_port}/slack/events"


async def handled(rig: SlackRig, key: int) -> bool:
    row = await rig.db.fetchone(
        "SELECT handled_at FROM inbox WHERE transport = 'slack' AND update_id = ?", (key,)
    )
    return row is not None and row["handled_at"] is not None


async def all_handled(rig: SlackRig) -> None:
    for _ in range(200):
        if not await inbox_store.unhandled(rig.db, "slack"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a stored Slack request was never marked handled")


async def test_a_command_acknowledged_but_not_handled_before_a_crash_is_handled_after(rig):
    await rig.platform.stop()  # the process is gone ...
    body = dict(parse_qsl(rig.command_body("sam", REPORT, OAK_CHANNEL)))
    # ... after it stored the command and acknowledged it (Slack never sends it again).
    key = event_key(body)
    await inbox_store.store(rig.db, "slack", key, json.dumps({"command": body}), rig.clock.now())

    await restart(rig)
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    assert await handled(rig, key)


async def test_a_command_carried_out_before_a_crash_is_not_carried_out_again(rig, monkeypatch):
    crashed = asyncio.Event()

    async def crash_before_the_mark(*args, **kwargs):
        crashed.set()

    monkeypatch.setattr(inbox_store, "mark_handled", crash_before_the_mark)
    await rig.command("sam", REPORT, OAK_CHANNEL)
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    await asyncio.wait_for(crashed.wait(), 5)
    monkeypatch.undo()

    await restart(rig)
    await rig.reply_to("sam", "Recorded before a restart, at 21:10: your /absent Jay")
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    rows = await rig.db.fetchall("SELECT handled_at FROM inbox WHERE transport = 'slack'")
    assert rows and all(r["handled_at"] is not None for r in rows)


async def test_a_command_that_cannot_be_stored_is_refused_at_once_and_nothing_is_done(
    rig, monkeypatch
):
    async def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(inbox_store, "store", disk_full)
    status, answer = await rig.command("sam", REPORT, OAK_CHANNEL)
    assert status == 200 and NOT_STORED in answer
    monkeypatch.undo()
    await asyncio.sleep(0.1)
    assert await events_saying(rig.db, "C-0042", "left after a row") == []


async def test_the_same_command_twice_is_carried_out_once(rig):
    body = rig.command_body("sam", REPORT, OAK_CHANNEL)
    await rig.post(body)
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    await rig.post(body)  # the same trigger_id: a retry, not a new command
    await asyncio.sleep(0.2)
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1


async def test_a_button_press_carried_out_before_a_crash_is_not_carried_out_again(rig, monkeypatch):
    await rig.command("sam", REPORT, OAK_CHANNEL)
    alert = await rig.reply_to("ooh1", "C-0042 Jay is absent")
    await all_handled(rig)  # the report's own mark is not the one that "crashes"
    crashed = asyncio.Event()

    async def crash_before_the_mark(*args, **kwargs):
        crashed.set()

    monkeypatch.setattr(inbox_store, "mark_handled", crash_before_the_mark)
    await rig.press("ooh1", alert, "I've got it")
    await rig.told("ooh1", "You have C-0042 Jay")
    await asyncio.wait_for(crashed.wait(), 5)
    monkeypatch.undo()

    await restart(rig)
    await rig.reply_to("ooh1", "Recorded before a restart, at 21:10: your press of I've got it")
    acks = [e for e in await episode_store.events_for_episode(rig.db, 1) if e.kind == "ack"]
    assert len(acks) == 1


async def test_a_button_press_not_handled_before_a_crash_is_handled_after(rig):
    await rig.command("sam", REPORT, OAK_CHANNEL)
    alert = await rig.reply_to("ooh1", "C-0042 Jay is absent")
    await rig.platform.stop()  # the press is stored and acknowledged, then the crash
    payload = rig.press_payload("ooh1", alert, "I've got it")
    action = payload["actions"][0]
    stored = {"press": payload, "action": action}
    await inbox_store.store(
        rig.db, "slack", event_key(payload), json.dumps(stored), rig.clock.now()
    )

    await restart(rig)
    await rig.fake.wait_for(lambda: alert.edits)
    assert "✔ I've got it: Olu" in alert.shown
    acks = [e for e in await episode_store.events_for_episode(rig.db, 1) if e.kind == "ack"]
    assert len(acks) == 1


# ---- direct messages (issue 19, item 1) ------------------------------------------------

DM_REPORT = "/absent Jay 21:05 left after a row in a DM"


async def test_a_direct_message_is_in_the_inbox_before_slack_hears_we_have_it(rig, monkeypatch):
    """Item 1: a Slack DM `message` event is stored by event_id before the acknowledgement."""
    from bot.slack.listeners import Listeners

    hold = asyncio.Event()

    async def stuck(self, user_id, text):  # the process dies while handling it
        await hold.wait()

    monkeypatch.setattr(Listeners, "_direct_text", stuck)
    body = rig.event_body(rig.dm_event("sam", DM_REPORT))
    status, _ = await rig.post(body, "application/json")
    assert status == 200
    key = message_key(json.loads(body)["event_id"])
    pending = {p.update_id: p for p in await inbox_store.unhandled(rig.db, "slack")}
    assert key in pending and "in a DM" in (pending[key].payload or "")
    hold.set()


async def test_a_direct_message_acknowledged_but_not_handled_before_a_crash_is_handled_after(rig):
    """Item 1: a stored DM left unhandled by a crash is carried out at the next start."""
    await rig.platform.stop()
    event = rig.dm_event("sam", DM_REPORT)
    await inbox_store.store(
        rig.db, "slack", message_key("Ev-crashed"), json.dumps({"message": event}),
        rig.clock.now(),
    )  # fmt: skip
    await restart(rig)
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    assert len(await events_saying(rig.db, "C-0042", "in a DM")) == 1
    assert await handled(rig, message_key("Ev-crashed"))


async def test_a_replayed_signed_direct_message_after_a_restart_runs_once(rig):
    """Item 1: the same signed event replayed after a restart (inside Slack's five minutes)
    is acknowledged and not carried out again."""
    body = rig.event_body(rig.dm_event("sam", DM_REPORT))
    assert (await rig.post(body, "application/json"))[0] == 200
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    await all_handled(rig)
    await restart(rig)
    status, _ = await rig.post(body, "application/json")
    assert status == 200
    await rig.platform.settle(2)
    assert len(await events_saying(rig.db, "C-0042", "in a DM")) == 1
