"""Telegram through the real python-telegram-bot stack, against a local Bot API stand-in."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from handlers import enrolment
from handlers.messages import NOT_ENROLLED
from reminders.formatting import PROFILE_HEADING
from storage import chat_store, child_store, episode_store, outbox_store, staff_store
from tests.support.clock import local
from tests.support.team import child
from tests.support.telegram_rig import IDS, OAK_GROUP, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")


@pytest.fixture
async def rig(tmp_path):
    r = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


async def test_a_typed_report_is_recorded_and_the_duty_worker_alerted(rig):
    rig.says("sam", "/absent Jay 21:05 left after a row")
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    alert = await rig.reply_to("ooh1", "C-0042 Jay is absent")
    markup = json.loads(alert.params["reply_markup"])
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    assert labels[0] == "I've got it"


async def test_stranger_gets_one_line_and_nothing_about_any_child(rig):
    rig.says("sam", "/absent Jay 21:05 out")
    await rig.reply_to("sam", "Recorded")
    rig.says(777, "/status")
    rig.says(777, "/timeline C-0042")
    await rig.fake.wait_for(lambda: len(rig.fake.sent(chat_id=777)) == 2)
    texts = [c.params["text"] for c in rig.fake.sent(chat_id=777)]
    assert texts == [NOT_ENROLLED, NOT_ENROLLED]


async def test_enrolment_good_used_expired_and_unknown_codes(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, enrol=False)
    try:
        code, _ = await enrolment.create_invite(rig.svc, "alex")
        rig.says(555, f"/start {code}")
        await rig.reply_to(555, "Welcome, Alex")
        assert (await staff_store.staff_by_identity(rig.db, "telegram", "555")).id == "alex"
        rig.says(556, f"/start {code}")  # used
        await rig.reply_to(556, enrolment.REFUSED)
        old, _ = await enrolment.create_invite(rig.svc, "sam")
        rig.clock.advance(timedelta(hours=72, minutes=1))
        rig.says(557, f"/start {old}")  # expired
        await rig.reply_to(557, enrolment.REFUSED)
        rig.says(558, "/start not-a-code")
        await rig.reply_to(558, enrolment.REFUSED)
        for user in (556, 557, 558):
            assert await staff_store.staff_by_identity(rig.db, "telegram", str(user)) is None
    finally:
        await rig.stop()


async def test_unregistered_group_is_told_it_is_not_set_up_until_a_manager_registers_it(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, register_group=False)
    try:
        rig.says("sam", "/status", chat_id=OAK_GROUP)
        await rig.reply_to("sam", "isn't set up in this chat", chat_id=OAK_GROUP)
        rig.says("sam", "/register oak", chat_id=OAK_GROUP)
        await rig.reply_to("sam", "Only an admin or a manager", chat_id=OAK_GROUP)
        rig.says("tom", "/register oak", chat_id=OAK_GROUP)
        await rig.reply_to("tom", "now the oak team chat", chat_id=OAK_GROUP)
        assert await chat_store.team_of_chat(rig.db, "telegram", str(OAK_GROUP)) == "oak"
    finally:
        await rig.stop()


async def test_guided_report_end_to_end(rig):
    rig.says("sam", "/absent")
    ask = await rig.reply_to("sam", "Who is it?")
    rig.fake.user_presses(IDS["sam"], ask, "g:child:C-0042")
    await rig.fake.wait_for(lambda: "when were they last seen" in rig.fake.text_now(ask))
    rig.fake.user_presses(IDS["sam"], ask, "g:seen:typed")
    await rig.fake.wait_for(lambda: "Type the time" in rig.fake.text_now(ask))
    rig.says("sam", "25:99")
    await rig.reply_to("sam", "Try again")
    rig.says("sam", "21:00")
    await rig.reply_to("sam", "Where were they last seen")
    rig.says("sam", "left the house after a row")
    await rig.reply_to("sam", "What have you done")
    rig.says("sam", "searched the garden, rang Leo")
    concern = await rig.reply_to("sam", "level of concern")
    rig.fake.user_presses(IDS["sam"], concern, "g:concern:carer")
    await rig.fake.wait_for(lambda: "Recorded: C-0042 Jay absent" in rig.fake.text_now(concern))
    child = await child_store.get_child_by_ref(rig.db, "C-0042")
    episode = await episode_store.open_episode_for_child(rig.db, child.id)
    assert episode.last_seen_at == local("2026-10-23 21:00")
    assert "left the house after a row; done so far: searched the garden" in episode.last_seen_place
    await rig.reply_to("ooh1", "ABS-OOH · ")


async def test_guided_report_cancel_saves_nothing(rig):
    rig.says("sam", "/absent")
    ask = await rig.reply_to("sam", "Who is it?")
    rig.fake.user_presses(IDS["sam"], ask, "g:cancel")
    await rig.fake.wait_for(lambda: "Nothing was saved" in rig.fake.text_now(ask))
    assert await rig.db.fetchall("SELECT id FROM episodes") == []


async def test_guided_report_times_out_and_says_nothing_was_saved(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, guided_timeout=0.3)
    try:
        rig.says("sam", "/absent")
        await rig.reply_to("sam", "Who is it?")
        await rig.reply_to("sam", "timed out and nothing was saved")
        assert await rig.db.fetchall("SELECT id FROM episodes") == []
    finally:
        await rig.stop()


async def test_two_duty_workers_press_at_once_one_wins_the_other_is_told(tmp_path):
    rota = [
        {
            "role": "out_of_hours",
            "staff": "ooh1",
            "from": "2026-10-23T17:00",
            "to": "2026-10-26T09:00",
        },
        {
            "role": "out_of_hours",
            "staff": "ooh2",
            "from": "2026-10-23T17:00",
            "to": "2026-10-26T09:00",
        },
    ]
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, rota_rows=rota)
    try:
        rig.says("sam", "/absent Jay 21:05 out")
        first = await rig.reply_to("ooh1", "ABS-OOH · ")
        second = await rig.reply_to("ooh2", "ABS-OOH · ")
        rig.fake.user_presses(IDS["ooh1"], first, "/ack C-0042")
        rig.fake.user_presses(IDS["ooh2"], second, "/ack C-0042")
        answers = await rig.fake.wait_for(
            lambda: (
                len(rig.fake.sent("answerCallbackQuery")) == 2
                and rig.fake.sent("answerCallbackQuery")
            )
        )
        texts = sorted(a.params.get("text", "") for a in answers)
        assert any(t.startswith("You have C-0042 Jay") for t in texts)
        assert any("already has C-0042 Jay" in t for t in texts)
        await rig.fake.wait_for(lambda: rig.fake.sent("editMessageText"))
        await rig.reply_to("sam", "has C-0042 Jay")
        # only the winner's alert shows it taken: the other press stored nothing
        edits = rig.fake.sent("editMessageText")
        assert len(edits) == 1 and "✔ I've got it:" in edits[0].params["text"]
        refusal = next(t for t in texts if "already has" in t)
        holder = refusal.split(" (since", 1)[0]
        assert edits[0].params["text"].endswith(f"✔ I've got it: {holder}, 21:10")
    finally:
        await rig.stop()


async def test_full_episode_across_three_users(rig):
    rig.says("sam", "/absent Jay 21:05 left after a row", chat_id=OAK_GROUP)
    await rig.reply_to("sam", "Recorded", chat_id=OAK_GROUP)
    alert = await rig.reply_to("ooh1", "ABS-OOH · ")
    rig.fake.user_presses(IDS["ooh1"], alert, "/ack C-0042")
    await rig.reply_to("sam", "Olu has C-0042 Jay")
    rig.says("sam", "/police Jay ref WY-1 grade medium", chat_id=OAK_GROUP)
    profile = await rig.reply_to("pc1", "MIS-NOTIFY · ")
    assert PROFILE_HEADING in profile.params["text"] or "No profile" in profile.params["text"]
    rig.says("pc1", "/update Jay officers checking the bus station")
    await rig.reply_to("pc1", "Added")
    rig.clock.advance(timedelta(hours=2))
    rig.says("sam", "/found Jay now self walked back in", chat_id=OAK_GROUP)
    await rig.reply_to("ooh1", "RET-TELL · ")
    await rig.reply_to("pc1", "RET-TELL · ")
    text = await episode_store.events_for_episode(rig.db, 1)
    assert [e.actor_id for e in text if e.kind in ("reported", "ack", "police_report", "update", "found")] == [
        "sam", "ooh1", "sam", "pc1", "sam",
    ]  # fmt: skip


async def test_group_messages_for_an_episode_form_one_thread(rig):
    rig.says("sam", "/absent Jay 21:05 out")
    await rig.reply_to("sam", "Recorded")
    await _run_until(rig, local("2026-10-23 22:41"))  # the carer review reaches the home team
    await rig.fake.wait_for(lambda: rig.fake.sent(chat_id=OAK_GROUP))
    rig.says("sam", "/found Jay now self back")
    group = await rig.fake.wait_for(
        lambda: len(rig.fake.sent(chat_id=OAK_GROUP)) >= 2 and rig.fake.sent(chat_id=OAK_GROUP)
    )
    root_id = rig.fake.message_for(group[0])["message_id"]
    assert json.loads(group[1].params["reply_parameters"])["message_id"] == root_id


async def test_an_edited_command_does_not_rewrite_the_timeline(rig):
    sent = rig.says("sam", "/absent Jay 21:05 left after a row")
    await rig.reply_to("sam", "Recorded")
    rig.fake.user_edits(IDS["sam"], sent, "/absent Jay 20:00 something else")
    await rig.reply_to("sam", "Edits don't change the record")
    events = await episode_store.events_for_episode(rig.db, 1)
    assert all("something else" not in e.text for e in events)


async def test_429_and_5xx_are_retried_until_every_message_is_delivered(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, limiter_retries=0)
    try:
        rig.fake.fail("sendMessage", 429, retry_after=1, times=2)
        rig.fake.fail("sendMessage", 502, times=2)
        rig.says("sam", "/absent Jay 21:05 out")
        await rig.fake.wait_for(lambda: rig.fake.sent(chat_id=IDS["sam"]))
        for _ in range(10):
            rig.clock.advance(timedelta(seconds=30))
            await rig.delivery.deliver_due()
        rows = await outbox_store.outbox_messages(rig.db)
        assert rows and all(m.state == "sent" for m in rows)
        alerts = [m for m in rig.fake.delivered(IDS["ooh1"]) if "ABS-OOH · " in m["text"]]
        assert len(alerts) == 1, "delivered once the faults cleared, and only once"
        iro = [m for m in rig.fake.delivered(IDS["iro1"]) if "ABS-IRO · " in m["text"]]
        assert len(iro) == 1
    finally:
        await rig.stop()


async def test_per_chat_rate_is_respected(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, chat_period=0.2)
    try:
        now = rig.clock.now()
        async with rig.db.write() as tx:
            for i in range(4):
                await outbox_store.enqueue(
                    tx,
                    idem_key=f"k{i}",
                    recipient="staff:ooh1",
                    text=f"m{i}",
                    rule_id="ABS-OOH",
                    now=now,
                )
        await rig.delivery.deliver_due()
        stamps = [c.at for c in rig.fake.sent(chat_id=IDS["ooh1"])]
        assert len(stamps) == 4
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        assert min(gaps) >= 0.18, gaps
    finally:
        await rig.stop()


async def test_a_user_who_blocked_the_bot_is_recorded_and_the_alert_climbs(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        rig.fake.blocked_users.add(IDS["ooh1"])
        rig.says("sam", "/absent Jay 21:05 out")
        await rig.reply_to("oohm", "Olu could not be reached; it comes to you now")
        await rig.reply_to("oohm", "Could not reach Olu")
        row = await rig.db.fetchone(
            "SELECT blocked_at FROM staff_identities WHERE external_id = ?", (str(IDS["ooh1"]),)
        )
        assert row["blocked_at"] is not None
    finally:
        await rig.stop()


async def test_finalising_deletes_profiles_and_closes_group_messages(tmp_path):
    profile = {"description": "slim, short dark hair", "phone": "07700 900123"}
    rig = await TelegramRig.start(
        tmp_path / "w.db", FRIDAY_NIGHT, children=[child(profile=profile)]
    )
    try:
        await _finalise_flow(rig)
    finally:
        await rig.stop()


async def _finalise_flow(rig: TelegramRig) -> None:
    rig.says("sam", "/absent Jay 21:05 out", chat_id=OAK_GROUP)
    await rig.reply_to("sam", "Recorded", chat_id=OAK_GROUP)
    rig.says("sam", "/police Jay ref WY-9 grade medium")
    profile = await rig.reply_to("pc1", "MIS-NOTIFY · ")
    assert "Phone: 07700 900123" in profile.params["text"]
    assert all("07700" not in c.params.get("text", "") for c in rig.fake.sent(chat_id=OAK_GROUP))
    rig.says("sam", "/found Jay now self back home", chat_id=OAK_GROUP)
    await rig.reply_to("sam", "found", chat_id=OAK_GROUP)
    group = [c for c in rig.fake.sent(chat_id=OAK_GROUP) if c.message_id]
    rig.says("priya", "/rhi Jay held by Ana")
    await rig.reply_to("priya", "held")
    rig.says("tom", "/finalise Jay")
    await rig.reply_to("tom", "finalised")
    await rig.fake.wait_for(lambda: rig.fake.sent("deleteMessage"))
    deleted = rig.fake.sent("deleteMessage")[0].params
    assert int(deleted["chat_id"]) == IDS["pc1"]
    assert int(deleted["message_id"]) == profile.message_id
    assert rig.fake.message(IDS["pc1"], profile.message_id) is None, "the profile is gone"
    await rig.fake.wait_for(
        lambda: any("episode closed" in c.params["text"] for c in rig.fake.sent("editMessageText"))
    )
    first = rig.fake.message(OAK_GROUP, group[0].message_id)
    assert first["text"].startswith("C-0042 Jay: episode closed")
    assert await rig.db.fetchall("SELECT id FROM episodes WHERE state = 'finalised'"), "record kept"


async def _run_until(rig: TelegramRig, when) -> None:
    from reminders.sweeper import Sweeper, run_until

    await run_until(
        Sweeper(rig.db, rig.clock, rig.svc.presets), rig.clock, when, rig.delivery.deliver_due
    )


async def test_profile_asked_in_a_group_goes_by_direct_message(tmp_path):
    profile = {"description": "slim, short dark hair", "phone": "07700 900123"}
    rig = await TelegramRig.start(
        tmp_path / "w.db", FRIDAY_NIGHT, children=[child(profile=profile)]
    )
    try:
        rig.says("sam", "/profile Jay", chat_id=OAK_GROUP)
        await rig.reply_to("sam", "Sent to you in a direct message", chat_id=OAK_GROUP)
        private = await rig.reply_to("sam", "Phone: 07700 900123")
        assert int(private.params["chat_id"]) == IDS["sam"]
        assert all(
            "07700" not in c.params.get("text", "") for c in rig.fake.sent(chat_id=OAK_GROUP)
        )
        rig.says("admin", "/profile Jay")
        await rig.reply_to("admin", "can't")
    finally:
        await rig.stop()


async def test_webhook_mode_checks_the_secret_token(tmp_path):
    import socket

    import aiohttp

    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    await rig.platform.stop()  # restart the same bot in webhook mode
    from bot.telegram.app import TelegramPlatform

    platform = TelegramPlatform(rig.svc, rig.fake.token, base_url=rig.fake.base_url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await platform.start(
        {
            "listen": "127.0.0.1",
            "port": port,
            "url_path": "telegram",
            "webhook_url": "https://bot.example.invalid/telegram",
            "secret_token": "s3cret-token",
        }
    )
    rig.platform = platform
    try:
        assert rig.fake.sent("setWebhook")[0].params["secret_token"] == "s3cret-token"
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1, "date": 0, "text": "/status",
                "chat": {"id": 4242, "type": "private", "first_name": "X"},
                "from": {"id": 4242, "is_bot": False, "first_name": "X"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
            },
        }  # fmt: skip
        url = f"http://127.0.0.1:{port}/telegram"
        async with aiohttp.ClientSession() as session:
            async with session.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            ) as r:
                assert r.status == 403
            async with session.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            ) as r:
                assert r.status == 200
                # the 200 tells Telegram to forget the update: it is on disk by then
                disk = sqlite3.connect(rig.db.path)
                try:
                    kept = disk.execute("SELECT update_id FROM inbox WHERE update_id = 1")
                    assert kept.fetchall() == [(1,)]
                finally:
                    disk.close()
        await rig.reply_to(4242, "not enrolled")
        assert len(rig.fake.sent(chat_id=4242)) == 1, "the forged request did nothing"
    finally:
        await rig.stop()


def test_proxies_come_from_the_environment_once_per_host(monkeypatch):
    """aiohttp's trust_env is off (it read ~/.netrc on a thread before every call); the
    proxy settings it would have honoured still are."""
    from bot.telegram.http import AiohttpRequest

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    request = AiohttpRequest()
    assert request._proxy("https://api.telegram.org/botT/sendMessage") == (
        "http://proxy.example:3128"
    )
    assert request._proxy("http://127.0.0.1:8081/botT/getUpdates") is None
    monkeypatch.delenv("HTTPS_PROXY")
    assert request._proxy("https://api.telegram.org/botT/getMe") == "http://proxy.example:3128"


async def test_a_button_answer_too_long_for_the_pop_up_comes_whole_as_a_message(tmp_path):
    """Telegram cuts a press's pop-up answer at 200 characters: a longer one is sent."""
    from handlers.help_text import help_for
    from storage.models import Button

    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        # only a button the bot sent is run: a message carrying a /help button
        async with rig.db.write() as tx:
            await outbox_store.enqueue(
                tx, idem_key="help-button", recipient="staff:sam", text="Need the commands?",
                rule_id=None, now=rig.clock.now(), buttons=(Button("Help", "/help"),),
            )  # fmt: skip
        await rig.delivery.deliver_due()
        status = await rig.reply_to("sam", "Need the commands?")
        rig.fake.user_presses(IDS["sam"], status, "/help")
        answer = await rig.fake.wait_for(lambda: rig.fake.sent("answerCallbackQuery"))
        assert answer[0].params["text"] == "See my message."
        # A carer's own /help (the full list is /help all).
        sam = await staff_store.get_staff(rig.svc.db, "sam")
        own = help_for(sam)
        whole = await rig.reply_to("sam", own.splitlines()[0])
        assert len(own) > 200 and own.strip() in whole.params["text"]
    finally:
        await rig.stop()
