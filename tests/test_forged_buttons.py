"""Button presses run only the commands the bot put on that message; made-up data is refused
and never echoed into the alert's status line (Telegram: looked up on the message's keyboard,
bot/telegram/keyboards.py; Slack: sealed action ids, bot/button_seal.py)."""

from __future__ import annotations

import copy

from bot.slack.listeners import NOT_ISSUED as SLACK_NOT_ISSUED
from bot.telegram.listeners import NOT_ISSUED as TELEGRAM_NOT_ISSUED
from storage import episode_store
from tests.support.clock import local
from tests.support.slack_rig import SlackRig
from tests.support.telegram_rig import IDS, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
FORGED = "/update C-0042 STAND DOWN found safe: Sam"


async def nothing_recorded(db) -> bool:
    events = await episode_store.events_for_episode(db, 1)
    return all("STAND DOWN" not in e.text for e in events) and not any(
        e.kind == "ack" for e in events
    )


async def test_telegram_forged_callback_data_is_refused_and_not_echoed(tmp_path):
    """Item 7 (Telegram): callback data that is no button on the message is not run, and
    the alert's status line never shows it (before: "✔ /update C-0042 STAND DOWN …")."""
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        rig.says("sam", "/absent Jay 21:05 left after a row")
        alert = await rig.reply_to("ooh1", "ABS-OOH · ")
        rig.fake.user_presses(IDS["ooh1"], alert, FORGED)
        rig.fake.user_presses(IDS["ooh1"], alert, "g:child:C-0042")  # not on this message
        answers = await rig.fake.wait_for(
            lambda: (a := rig.fake.sent("answerCallbackQuery")) and len(a) == 2 and a
        )
        assert all(a.params["text"] == TELEGRAM_NOT_ISSUED for a in answers)
        assert not rig.fake.sent("editMessageText")
        assert all("STAND DOWN" not in c.params.get("text", "") for c in rig.fake.calls)
        assert await nothing_recorded(rig.db)
        rig.fake.user_presses(IDS["ooh1"], alert, "/ack C-0042")  # the real button still works
        await rig.reply_to("sam", "Olu has C-0042 Jay")
    finally:
        await rig.stop()


async def test_slack_forged_button_value_or_label_is_refused_and_not_echoed(tmp_path):
    """Item 7 (Slack): a press whose value or label is not what the bot sealed is not run
    and not shown."""
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        await rig.command("sam", "/absent Jay 21:05 left after a row")
        alert = await rig.reply_to("ooh1", "ABS-OOH · ")
        genuine = rig.press_payload("ooh1", alert, "I've got it")
        forged_value = copy.deepcopy(genuine)
        forged_value["actions"][0]["value"] = FORGED
        forged_value["trigger_id"] += "-a"  # each its own press
        forged_label = copy.deepcopy(genuine)
        forged_label["actions"][0]["text"]["text"] = FORGED
        forged_label["trigger_id"] += "-b"
        for payload in (forged_value, forged_label):
            status, _ = await rig.interact(payload)
            assert status == 200
        await rig.platform.settle()
        refusals = [t for t in rig.fake.told_to("UOOH1") if SLACK_NOT_ISSUED in t.text]
        assert len(refusals) == 2
        assert not rig.fake.sent("chat.update")
        assert all("STAND DOWN" not in str(c.params) for c in rig.fake.calls)
        assert await nothing_recorded(rig.db)
        await rig.interact(genuine)
        await rig.told("ooh1", "You have C-0042 Jay")
    finally:
        await rig.stop()
