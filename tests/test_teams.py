"""Microsoft Teams through the adapter's real endpoint, against a local Teams stand-in.

Every activity reaches the bot's aiohttp endpoint signed as the Bot Connector signs it and is
checked against the stand-in's OpenID metadata and keys (no switch turns that off); every send
goes through the Teams SDK's ApiClient to tests/support/fake_teams.py. Times are a FakeClock's.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import episode_store
from tests.support.clock import local
from tests.support.fake_teams import personal_id
from tests.support.teams_rig import OAK, OAK_CHANNEL, TEAMS_IDS, TeamsRig

FRIDAY_NIGHT = local("2026-10-23 21:10")


@pytest.fixture
async def rig(tmp_path):
    r = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


async def _events(rig: TeamsRig, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        (e.kind, e.actor_id or "")
        for e in await episode_store.events_for_episode(rig.db, 1)
        if e.kind in kinds
    ]


async def test_full_episode_in_a_channel_and_one_to_one_chats(rig):
    assert await rig.say("sam", "/absent Jay 21:05 left after a row", OAK) == 200
    root = await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    assert root.thread is None and "Sam used /absent" in root.shown

    alert = await rig.dm("ooh1", "C-0042 Jay is absent")
    assert "ABS-OOH" in alert.shown
    assert list(alert.buttons)[:2] == ["I've got it", "Still absent"]
    rig.clock.advance(timedelta(minutes=2))
    status, answer = await rig.press("ooh1", alert, "I've got it")
    assert status == 200 and answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "✔ I've got it: Olu, 21:12" in alert.shown and not alert.buttons
    await rig.dm("ooh1", "You have C-0042 Jay")
    await rig.platform.settle()
    await rig.dm("sam", "Olu has C-0042 Jay")

    await rig.say("sam", "/police Jay ref WY-1 grade medium", OAK)
    await rig.dm("pc1", "MIS-NOTIFY")
    await rig.say("pc1", "update Jay officers checking the bus station")
    await rig.dm("pc1", "Added")

    rig.clock.advance(timedelta(hours=2))
    await rig.say("sam", "/found Jay now self walked back in", OAK)
    await rig.reply_to(OAK_CHANNEL, "found")
    await rig.dm("ooh1", "RET-TELL")

    thread = [p for p in rig.fake.in_conversation(OAK_CHANNEL) if p is not root]
    assert thread and all(p.thread == root.id for p in thread), "one thread per episode"
    assert await _events(rig, ("reported", "ack", "police_report", "update", "found")) == [
        ("reported", "sam"), ("ack", "ooh1"), ("police_report", "sam"),
        ("update", "pc1"), ("found", "sam"),
    ]  # fmt: skip
    assert personal_id(TEAMS_IDS["ooh1"]) in {p.conversation for p in rig.fake.posted.values()}
