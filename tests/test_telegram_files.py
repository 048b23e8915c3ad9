"""Telegram: long text is split at line ends, never cut; charts go as photos."""

from __future__ import annotations

import pytest

from tests.support.clock import local
from tests.support.telegram_rig import IDS, TelegramRig


@pytest.fixture
async def rig(tmp_path):
    r = await TelegramRig.start(tmp_path / "w.db", local("2026-11-09 10:00"))
    yield r
    await r.stop()


def added(rig: TelegramRig) -> int:
    return sum("Added to" in c.params["text"] for c in rig.fake.sent(chat_id=IDS["sam"]))


async def test_a_reply_over_telegrams_limit_arrives_whole_in_parts(rig):
    rig.says("sam", "/absent Jay 09:30 left school")
    await rig.reply_to("sam", "Recorded")
    lines = [f"searched street number {i} and asked the neighbours" for i in range(150)]
    for chunk in range(3):
        rig.says("sam", "/update Jay " + "; ".join(lines[chunk * 50 : chunk * 50 + 50]))
        await rig.fake.wait_for(lambda n=chunk: added(rig) >= n + 1)
    before = len(rig.fake.sent(chat_id=IDS["priya"]))
    rig.says("priya", "/timeline Jay")
    await rig.fake.wait_for(lambda: len(rig.fake.sent(chat_id=IDS["priya"])) >= before + 3)
    parts = [c.params["text"] for c in rig.fake.sent(chat_id=IDS["priya"])][before:]
    assert all(len(p) <= 4096 for p in parts) and len(parts) >= 2
    whole = "\n".join(parts)
    assert "searched street number 0 " in whole and "searched street number 149 " in whole


async def test_a_chart_asked_for_arrives_as_a_photo(rig):
    rig.says("tom", "/chart")
    await rig.reply_to("tom", "on its way")
    photo = await rig.fake.wait_for(
        lambda: next(iter(rig.fake.sent("sendPhoto", chat_id=IDS["tom"])), None)
    )
    assert "Episodes per week" in photo.params["caption"]
