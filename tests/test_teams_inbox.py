"""Teams activities survive a crash: stored in the inbox before the Bot Connector hears our
200, replayed at the next start, never carried out twice (bot/teams/inbox.py), as Slack's
requests and Telegram's updates are (tests/test_slack_inbox.py, tests/test_telegram_inbox.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from bot.router import Router
from bot.teams.inbox import NOT_STORED, activity_key
from bot.teams.listeners import Listeners
from storage import episode_store, inbox_store
from tests.support.clock import local
from tests.support.harness import events_saying
from tests.support.teams_rig import OAK, OAK_CHANNEL, TEAMS_IDS, TeamsRig, start_teams

FRIDAY_NIGHT = local("2026-10-23 21:10")
REPORT = "/absent Jay 21:05 left after a row"


@pytest.fixture
async def rig(tmp_path):
    r = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


async def restart(rig: TeamsRig) -> None:
    """The process is gone and starts again on the same database and Teams tenant."""
    await rig.platform.stop()
    _, platform = await start_teams(rig.svc, rig.fake)
    platform.after_command = rig.delivery.deliver_due
    rig.delivery.send = Router(rig.db, [platform]).send
    rig.platform = platform
    rig.url = f"http://127.0.0.1:{platform.http_port}/api/messages"


async def store(rig: TeamsRig, activity: dict) -> int:
    key = activity_key(activity)
    payload = json.dumps({"activity": activity})
    await inbox_store.store(rig.db, "teams", key, payload, rig.clock.now())
    return key


async def acks(rig: TeamsRig) -> int:
    return sum(e.kind == "ack" for e in await episode_store.events_for_episode(rig.db, 1))


async def test_a_command_is_in_the_inbox_before_teams_hears_our_200(rig, monkeypatch):
    hold = asyncio.Event()

    async def stuck(self, activity):  # the process dies while handling it
        await hold.wait()

    monkeypatch.setattr(Listeners, "_typed", stuck)
    activity = rig.message(TEAMS_IDS["sam"], REPORT, OAK)
    assert (await rig.send(activity))[0] == 200
    pending = {p.update_id: p for p in await inbox_store.unhandled(rig.db, "teams")}
    assert "left after a row" in (pending[activity_key(activity)].payload or "")
    hold.set()


async def test_a_command_stored_but_not_handled_before_a_crash_is_handled_after(rig):
    await rig.platform.stop()  # stored and answered 200, then the crash
    key = await store(rig, rig.message(TEAMS_IDS["sam"], REPORT, OAK))
    await restart(rig)
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    assert key not in {p.update_id for p in await inbox_store.unhandled(rig.db, "teams")}


async def test_a_command_carried_out_before_a_crash_is_not_carried_out_again(rig, monkeypatch):
    crashed = asyncio.Event()

    async def crash_before_the_mark(*args, **kwargs):
        crashed.set()

    monkeypatch.setattr(inbox_store, "mark_handled", crash_before_the_mark)
    activity = rig.message(TEAMS_IDS["sam"], REPORT, OAK)
    await rig.send(activity)
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    await asyncio.wait_for(crashed.wait(), 5)
    monkeypatch.undo()

    await restart(rig)
    await rig.dm("sam", "Recorded before a restart, at 21:10: your /absent Jay")
    assert (await rig.send(activity)) == (200, None), "the connector's retry: acknowledged"
    await rig.platform.settle()
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    assert await inbox_store.unhandled(rig.db, "teams") == []


async def test_a_press_carried_out_before_a_crash_is_not_carried_out_again(rig, monkeypatch):
    await rig.say("sam", REPORT, OAK)
    alert = await rig.dm("ooh1", "ABS-OOH")
    crashed = asyncio.Event()

    async def crash_before_the_mark(*args, **kwargs):
        crashed.set()

    monkeypatch.setattr(inbox_store, "mark_handled", crash_before_the_mark)
    await rig.press("ooh1", alert, "I've got it")
    await asyncio.wait_for(crashed.wait(), 5)
    monkeypatch.undo()

    await restart(rig)
    await rig.dm("ooh1", "Recorded before a restart, at 21:10: your press of I've got it")
    assert await acks(rig) == 1


async def test_a_press_not_handled_before_a_crash_is_handled_after(rig):
    await rig.say("sam", REPORT, OAK)
    alert = await rig.dm("ooh1", "ABS-OOH")
    await rig.platform.stop()
    await store(rig, rig.press_activity(TEAMS_IDS["ooh1"], alert, "I've got it"))
    await restart(rig)
    await rig.dm("ooh1", "You have C-0042 Jay")
    assert await acks(rig) == 1


async def test_a_command_that_cannot_be_stored_is_refused_and_nothing_is_done(rig, monkeypatch):
    async def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(inbox_store, "store", disk_full)
    assert (await rig.send(rig.message(TEAMS_IDS["sam"], REPORT, OAK)))[0] == 200
    await rig.reply_to(OAK_CHANNEL, NOT_STORED)
    monkeypatch.undo()
    await rig.platform.settle()
    assert await events_saying(rig.db, "C-0042", "left after a row") == []


async def test_the_same_activity_twice_is_carried_out_once(rig):
    activity = rig.message(TEAMS_IDS["sam"], REPORT, OAK)
    await rig.send(activity)
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    await rig.send(activity)  # the same id in the same conversation: a retry
    await rig.platform.settle()
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
