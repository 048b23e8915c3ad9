"""Guided /absent in a home's group chat offers only that home's children, as /status there
shows only them, even to a service-wide worker who may report any child
(handlers/guided_report.py)."""

from __future__ import annotations

import json

from tests.support.clock import local
from tests.support.slack_rig import OAK_CHANNEL, SlackRig
from tests.support.team import child
from tests.support.telegram_rig import IDS, OAK_GROUP, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
TWO_HOMES = [
    child(),  # C-0042 Jay, oak
    child(ref="C-0043", first_name="Mia", full_name="Mia Example", home="elm"),
]


def choices(call) -> set[str]:
    markup = json.loads(call.params["reply_markup"])
    return {b["callback_data"] for row in markup["inline_keyboard"] for b in row}


async def test_telegram_guided_report_in_a_homes_group_offers_only_its_children(tmp_path):
    """Item 6 (Telegram): ooh1 may report both children; in oak's group only oak's is offered
    (and in a direct message both are)."""
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=TWO_HOMES)
    try:
        rig.says("ooh1", "/absent", chat_id=OAK_GROUP)
        ask = await rig.reply_to("ooh1", "Who is it?", chat_id=OAK_GROUP)
        assert choices(ask) == {"g:child:C-0042", "g:cancel"}
        rig.says("ooh1", "/absent")
        ask = await rig.reply_to("ooh1", "Who is it?")
        assert choices(ask) == {"g:child:C-0042", "g:child:C-0043", "g:cancel"}
        assert IDS["ooh1"]
    finally:
        await rig.stop()


async def test_slack_report_form_in_a_homes_channel_offers_only_its_children(tmp_path):
    """Item 6 (Slack): the form opened in oak's channel lists only oak's children."""
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=TWO_HOMES)
    try:
        await rig.command("ooh1", "/absent", OAK_CHANNEL)
        view = await rig.fake.wait_for(lambda: next(iter(rig.fake.views.values()), None))
        text = json.dumps(view)
        assert "C-0042" in text and "C-0043" not in text
    finally:
        await rig.stop()
