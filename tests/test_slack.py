"""Slack through the real slack-bolt stack, against a local Slack stand-in.

Every request reaches Bolt's own aiohttp app signed as Slack signs it; every reply goes
through the real AsyncWebClient to tests/support/fake_slack.py. Times are a FakeClock's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import yaml

from bot import app as live
from bot.delivery import OutboxDelivery
from bot.router import Router
from bot.slack.app import SlackPlatform
from bot.slack.blocks import REPORT_CALLBACK
from bot.slack.interactions import command_words
from bot.slack.listeners import SLACK_HELP
from bot.slack.manifest import main as manifest_main
from bot.slack.manifest import manifests, slash_name
from bot.slack.sender import ChannelPacer
from bot.telegram.app import TelegramPlatform
from bot.telegram.sender import PerChatRateLimiter
from config.settings import Settings
from handlers import duty_commands, enrolment
from handlers.commands import COMMANDS, HELP
from handlers.context import Step
from handlers.messages import NOT_ENROLLED
from reminders.sweeper import Sweeper
from storage import chat_store, child_store, episode_store, outbox_store, report_store, staff_store
from tests.support.clock import local
from tests.support.fake_slack import FakeSlack, dm_of
from tests.support.fake_telegram import FakeTelegram
from tests.support.slack_rig import (
    ELM_CHANNEL,
    OAK_CHANNEL,
    SECRET,
    SLACK_IDS,
    SlackClient,
    SlackRig,
    enrol_on_slack,
    form_values,
    open_services,
    sign,
    start_slack,
    unreachable_handler,
)
from tests.support.team import child, weekend_rota
from tests.support.telegram_rig import IDS as TELEGRAM_IDS

FRIDAY_NIGHT = local("2026-10-23 21:10")
DOCS = Path(__file__).resolve().parent.parent / "docs"
PROFILE = {"description": "slim, short dark hair", "phone": "07700 900123"}


@pytest.fixture
async def rig(tmp_path):
    r = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


async def _episode_events(rig: SlackRig, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        (e.kind, e.actor_id or "")
        for e in await episode_store.events_for_episode(rig.db, 1)
        if e.kind in kinds
    ]


# ---- a whole episode -------------------------------------------------------------------------


async def test_full_episode_across_three_users(rig):
    status, body = await rig.command("sam", "/absent Jay 21:05 left after a row", OAK_CHANNEL)
    assert (status, body) == (200, ""), "acknowledged at once, answered after"
    root = await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    assert root.thread_ts is None and "Sam used /absent" in root.shown

    alert = await rig.reply_to("ooh1", "C-0042 Jay is absent")
    assert list(alert.buttons) == [
        "I've got it", "Still absent", "Reported to police", "Found", "Call me",
    ]  # fmt: skip
    rig.clock.advance(timedelta(minutes=2))
    assert (await rig.press("ooh1", alert, "I've got it"))[0] == 200
    await rig.told("ooh1", "You have C-0042 Jay")
    await rig.fake.wait_for(lambda: alert.edits)
    assert "✔ I've got it: Olu, 21:12" in alert.shown and not alert.buttons
    await rig.reply_to("sam", "Olu has C-0042 Jay")

    await rig.command("sam", "/police Jay ref WY-1 grade medium", OAK_CHANNEL)
    await rig.reply_to("pc1", "MIS-NOTIFY · ")
    await rig.command("pc1", "/update Jay officers checking the bus station")
    await rig.reply_to("pc1", "Added")

    rig.clock.advance(timedelta(hours=2))
    await rig.command("sam", "/found Jay now self walked back in", OAK_CHANNEL)
    await rig.reply_to(OAK_CHANNEL, "found")
    await rig.reply_to("ooh1", "RET-TELL · ")

    await rig.command("sam", "/timeline Jay", OAK_CHANNEL)
    await rig.told("sam", "Sent to you in a direct message")
    timeline = await rig.reply_to("sam", "Timeline of episode #1")
    assert "Olu: Olu has it" in timeline.shown

    thread = [m for m in rig.fake.in_channel(OAK_CHANNEL) if m is not root]
    assert thread and all(m.thread_ts == root.ts for m in thread), "one thread per episode"
    assert all("Timeline" not in m.shown for m in rig.fake.in_channel(OAK_CHANNEL))
    assert await _episode_events(rig, ("reported", "ack", "police_report", "update", "found")) == [
        ("reported", "sam"), ("ack", "ooh1"), ("police_report", "sam"),
        ("update", "pc1"), ("found", "sam"),
    ]  # fmt: skip


async def test_the_channel_shows_reference_and_first_name_only(tmp_path):
    rig = await SlackRig.start(
        tmp_path / "w.db", FRIDAY_NIGHT, children=[child(profile=PROFILE, full_name="Jay Smith")]
    )
    try:
        await rig.command("sam", "/absent Jay 21:05 out", OAK_CHANNEL)
        await rig.reply_to(OAK_CHANNEL, "Recorded")
        await _run_until(rig, local("2026-10-23 22:41"))  # the review reaches the home's channel
        await rig.reply_to(OAK_CHANNEL, "ABS-REVIEW · ")
        await rig.command("sam", "/police Jay ref WY-9 grade high", OAK_CHANNEL)
        profile = await rig.reply_to("pc1", "MIS-NOTIFY · ")
        assert "Phone: 07700 900123" in profile.shown, "the profile goes by direct message"
        assert rig.fake.sent("conversations.open"), "opened with conversations.open"
        await rig.command("sam", "/profile Jay", OAK_CHANNEL)
        await rig.told("sam", "Sent to you in a direct message")
        await rig.reply_to("sam", "Phone: 07700 900123")
        channel = rig.fake.in_channel(OAK_CHANNEL)
        assert len(channel) == 3
        for message in channel:
            assert "07700" not in message.shown and "Smith" not in message.shown
            assert "slim" not in message.shown
    finally:
        await rig.stop()


async def test_team_alert_buttons_update_the_message_and_found_offers_the_reasons(rig):
    await rig.command("sam", "/absent Jay 21:05 out", OAK_CHANNEL)
    root = await rig.reply_to(OAK_CHANNEL, "Recorded")
    await _run_until(rig, local("2026-10-23 22:41"))  # nobody answered the carer's review
    team = await rig.reply_to(OAK_CHANNEL, "ABS-REVIEW · ")
    assert team.thread_ts == root.ts and team.broadcast, "in the thread, shown in the channel"
    assert list(team.buttons) == ["Still absent", "Reported to police", "Found"]

    await rig.press("alex", team, "Still absent")
    await rig.fake.wait_for(lambda: team.edits)
    assert "✔ Still absent: Alex, 22:41" in team.shown
    events = await episode_store.events_for_episode(rig.db, 1)
    assert any(e.kind == "update" and e.actor_id == "alex" for e in events)

    alert = await rig.reply_to("ooh1", "C-0042")
    await rig.press("ooh1", alert, "Found")
    choices = await rig.told("ooh1", "How did C-0042 Jay come back?")
    assert alert.edits == 0, "nothing happened yet: the alert is unchanged"
    await rig.press_told("ooh1", choices, "Came back by self")
    await rig.told("ooh1", "Recorded: C-0042 Jay found")
    await rig.fake.wait_for(
        lambda: any(t.replace_original and "✔ Came back by self: Olu" in t.text
                    for t in rig.fake.told_to(SLACK_IDS["ooh1"]))
    )  # fmt: skip
    episode = await episode_store.get_episode(rig.db, 1)
    assert episode.found_at is not None


# ---- the report form ---------------------------------------------------------------------------


async def test_the_report_form_shows_errors_against_fields_then_saves_on_submit(tmp_path):
    children = [child(), child(ref="C-0099", first_name="Kim", home="elm", social_worker=None)]
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=children)
    try:
        assert await rig.command("sam", "/absent", OAK_CHANNEL) == (200, "")
        await rig.fake.wait_for(lambda: rig.fake.views)
        view = next(iter(rig.fake.views.values()))
        assert view["callback_id"] == REPORT_CALLBACK
        options = view["blocks"][0]["element"]["options"]
        assert [o["value"] for o in options] == ["C-0042"], "only the sender's children"

        status, answer = await rig.submit(
            "sam", view, form_values("C-0042", "25:99", "left after a row", "", "carer")
        )
        assert status == 200 and answer["response_action"] == "errors"
        assert set(answer["errors"]) == {"seen", "done"}
        status, answer = await rig.submit(
            "sam", view, form_values("C-0099", "21:00", "out", "rang", "carer")
        )
        assert set(answer["errors"]) == {"child"}, "a child who is not theirs is refused"
        assert await rig.db.fetchall("SELECT id FROM episodes") == [], "nothing saved yet"

        status, answer = await rig.submit(
            "sam", view,
            form_values("C-0042", "21:00", "left the house after a row", "searched the garden",
                        "carer"),
        )  # fmt: skip
        assert (status, answer) == (200, {}), "the form closes"
        await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
        episode = await episode_store.open_episode_for_child(
            rig.db, (await child_store.get_child_by_ref(rig.db, "C-0042")).id
        )
        assert episode.last_seen_at == local("2026-10-23 21:00")
        assert episode.last_seen_place == (
            "left the house after a row; done so far: searched the garden"
        )
        await rig.reply_to("ooh1", "ABS-OOH · ")
    finally:
        await rig.stop()


async def test_a_report_the_rules_refuse_is_shown_in_the_form_and_not_saved(rig):
    await rig.command("sam", "/absent Jay 20:00 out")
    await rig.reply_to("sam", "Recorded")
    await rig.command("sam", "/found Jay 21:00 self back")
    await rig.reply_to("sam", "found")
    await rig.command("sam", "/absent")
    view = await rig.fake.wait_for(lambda: next(iter(rig.fake.views.values()), None))
    status, answer = await rig.submit(
        "sam", view, form_values("C-0042", "20:30", "out again", "rang", "none")
    )
    assert answer["response_action"] == "errors"
    assert "previous episode ended" in answer["errors"]["seen"]
    assert len(await rig.db.fetchall("SELECT id FROM episodes")) == 1


# ---- two presses at once -----------------------------------------------------------------------


async def test_two_duty_workers_press_at_once_one_wins_the_other_is_told(tmp_path):
    rota = [
        *weekend_rota(),
        {"role": "out_of_hours", "staff": "ooh2", "from": "2026-10-23T17:00",
         "to": "2026-10-26T09:00"},
    ]  # fmt: skip
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, rota_rows=rota)
    try:
        await rig.command("sam", "/absent Jay 21:05 out")
        first = await rig.reply_to("ooh1", "ABS-OOH · ")
        second = await rig.reply_to("ooh2", "ABS-OOH · ")
        results = await asyncio.gather(
            rig.press("ooh1", first, "I've got it"), rig.press("ooh2", second, "I've got it")
        )
        assert [status for status, _ in results] == [200, 200]
        answers = await rig.fake.wait_for(
            lambda: (
                len(told := [t.text for t in rig.fake.told if t.user in ("UOOH1", "UOOH2")]) == 2
                and told
            )
        )
        assert sum(t.startswith("You have C-0042 Jay") for t in answers) == 1
        assert sum("already has C-0042 Jay" in t for t in answers) == 1
        await rig.fake.wait_for(lambda: first.edits or second.edits)
        assert sorted([first.edits, second.edits]) == [0, 1], "only the winner's alert changes"
        winner = first if first.edits else second
        assert "✔ I've got it:" in winner.shown
        await rig.reply_to("sam", "has C-0042 Jay")
        acks = [e for e in await episode_store.events_for_episode(rig.db, 1) if e.kind == "ack"]
        assert len(acks) == 1
    finally:
        await rig.stop()


# ---- who may talk to the bot -------------------------------------------------------------------


async def test_forged_and_stale_requests_are_refused(rig):
    body = rig.command_body("sam", "/absent Jay 21:05 out")
    now = int(time.time())
    assert (await rig.post(body, signature=sign("not-the-secret", body, now)))[0] == 401
    stale = now - 5 * 60 - 1
    assert (await rig.post(body, timestamp=stale, signature=sign(SECRET, body, stale)))[0] == 401
    tampered = body.replace("out", "elsewhere")
    assert (await rig.post(tampered, signature=sign(SECRET, body, now)))[0] == 401
    event = json.dumps({"type": "event_callback", "event": {"type": "app_home_opened"}})
    assert (await rig.post(event, "application/json", signature="v0=00"))[0] == 401
    assert await rig.db.fetchall("SELECT id FROM episodes") == []
    assert {c.method for c in rig.fake.calls} == {"auth.test"}, "nothing reached the handlers"
    almost_stale = now - 4 * 60
    status, _ = await rig.post(
        body, timestamp=almost_stale, signature=sign(SECRET, body, almost_stale)
    )
    assert status == 200
    await rig.reply_to("sam", "Recorded")


async def test_a_stranger_learns_nothing_about_any_child(rig):
    await rig.command("sam", "/absent Jay 21:05 left after a row", OAK_CHANNEL)
    alert = await rig.reply_to("ooh1", "ABS-OOH · ")
    stranger = "UNOBODY"
    for text in ("/status", "/timeline C-0042", "/missing status", "/absent", "/profile Jay",
                 "/duties"):  # fmt: skip
        await rig.command(stranger, text)
    await rig.command(stranger, "/status", OAK_CHANNEL)
    await rig.press(stranger, alert, "I've got it")
    await rig.dm(stranger, "where is Jay?")
    await rig.open_home(stranger)
    mine = dm_of(stranger)
    await rig.fake.wait_for(
        lambda: len(rig.fake.in_channel(mine)) == 8 and stranger in rig.fake.home
    )
    await rig.told(stranger, NOT_ENROLLED)
    said = [m.shown for m in rig.fake.in_channel(mine)] + [
        t.text for t in rig.fake.told_to(stranger)
    ]
    said.append(json.dumps(rig.fake.home[stranger]))
    assert all("C-0042" not in s and "Jay" not in s for s in said)
    assert {s for s in said[:-1]} == {NOT_ENROLLED}
    assert not rig.fake.views, "no form opened for a stranger"
    assert [e.kind for e in await episode_store.events_for_episode(rig.db, 1)].count("ack") == 0


async def test_enrolment_by_direct_message(tmp_path):
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, enrol=False)
    try:
        code, _ = await enrolment.create_invite(rig.svc, "alex")
        await rig.dm("UNEW1", code)  # just the code
        await rig.reply_to("UNEW1", "Welcome, Alex")
        assert (await staff_store.staff_by_identity(rig.db, "slack", "UNEW1")).id == "alex"
        await rig.command("UNEW2", f"/start {code}")  # already used
        await rig.reply_to("UNEW2", enrolment.REFUSED)
        old, _ = await enrolment.create_invite(rig.svc, "sam")
        rig.clock.advance(timedelta(hours=72, minutes=1))
        await rig.dm("UNEW3", f"start {old}")  # expired
        await rig.reply_to("UNEW3", enrolment.REFUSED)
        fresh, _ = await enrolment.create_invite(rig.svc, "priya")
        await rig.command("UNEW4", f"/missing start {fresh}")
        await rig.reply_to("UNEW4", "Welcome, Priya")
        for user in ("UNEW2", "UNEW3"):
            assert await staff_store.staff_by_identity(rig.db, "slack", user) is None
        await rig.dm("UNEW1", "hello")  # plain words with nothing to read: their own help
        await rig.reply_to("UNEW1", "found none of them here, so nothing is recorded")
        await rig.reply_to("UNEW1", "On Slack: /absent on its own opens a form")
    finally:
        await rig.stop()


async def test_an_unregistered_channel_is_told_it_is_not_set_up_until_a_manager_registers_it(
    tmp_path,
):
    # elm is a home (Mia lives there, Tom is her team manager): registration checks both
    mia = child(ref="C-0051", first_name="Mia", home="elm")
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=[child(), mia])
    try:
        await rig.command("sam", "/status", ELM_CHANNEL)
        await rig.told("sam", "isn't set up in this channel")
        await rig.command("sam", "/register elm", ELM_CHANNEL)
        await rig.told("sam", "Only an admin or a manager")
        assert rig.fake.in_channel(ELM_CHANNEL) == [], "nothing said in the channel"
        await rig.command("tom", "/missing register elm", ELM_CHANNEL)
        await rig.reply_to(ELM_CHANNEL, "now the elm team chat")
        assert await chat_store.team_of_chat(rig.db, "slack", ELM_CHANNEL) == "elm"
    finally:
        await rig.stop()


async def test_one_missing_command_carries_the_whole_vocabulary(rig):
    assert command_words("/missing", "absent Jay 21:05 out") == ("absent", "Jay 21:05 out")
    assert command_words("/wb-status", "") == ("status", "")
    assert command_words("/missing", "") == ("help", "")
    await rig.command("sam", "/missing absent Jay 21:05 out")
    await rig.reply_to("sam", "Recorded: C-0042 Jay absent")
    await rig.command("sam", "/wb-status")
    await rig.reply_to("sam", "Episodes in progress")
    await rig.command("sam", "/missing")
    await rig.reply_to("sam", SLACK_HELP.strip()[:40])


# ---- delivery --------------------------------------------------------------------------------


async def test_429_and_5xx_are_retried_until_each_message_is_delivered_once(rig):
    duty = dm_of(SLACK_IDS["ooh1"])
    rig.fake.fail("chat.postMessage", 429, retry_after=7, times=2, channel=duty)
    rig.fake.fail("chat.postMessage", 503, "service_unavailable", times=2, channel=duty)
    rig.fake.fail("conversations.open", 500, channel=SLACK_IDS["iro1"])
    await rig.command("sam", "/absent Jay 21:05 out")
    await rig.reply_to("sam", "Recorded")
    await rig.platform.settle()
    (first,) = [
        m for m in await outbox_store.outbox_messages(rig.db) if m.recipient == "staff:ooh1"
    ]
    assert (await _next_attempt(rig, first.id)) == rig.clock.now() + timedelta(seconds=7)
    rig.clock.advance(timedelta(seconds=6))
    await rig.delivery.deliver_due()
    assert len(rig.fake.sent(channel=duty)) == 1, "not before Retry-After"
    for _ in range(10):
        rig.clock.advance(timedelta(seconds=30))
        await rig.delivery.deliver_due()
    rows = await outbox_store.outbox_messages(rig.db)
    assert rows and all(m.state == "sent" for m in rows)
    alerts = [m for m in rig.fake.in_channel(duty) if "ABS-OOH · " in m.shown]
    assert len(alerts) == 1, "delivered once the faults cleared, and only once"
    assert [c.status for c in rig.fake.sent(channel=duty)] == [429, 429, 503, 503, 200]
    iro = [m for m in rig.fake.in_channel(dm_of(SLACK_IDS["iro1"])) if "ABS-IRO · " in m.shown]
    assert len(iro) == 1


async def test_an_answer_to_a_command_survives_a_5xx_and_a_short_429(rig):
    mine = dm_of(SLACK_IDS["sam"])
    rig.fake.fail("chat.postMessage", 502, "bad_gateway", channel=mine)
    rig.fake.fail("chat.postMessage", 429, retry_after=0, channel=mine)
    await rig.command("sam", "/wb-status")
    await rig.reply_to("sam", "No open episodes")
    assert [c.status for c in rig.fake.sent(channel=mine)] == [502, 429, 200]
    assert len(rig.fake.in_channel(mine)) == 1


async def _next_attempt(rig: SlackRig, outbox_id: int):
    from storage.db import from_db_time

    row = await rig.db.fetchone("SELECT next_attempt_at FROM outbox WHERE id = ?", (outbox_id,))
    return from_db_time(row["next_attempt_at"])


async def test_a_deactivated_user_is_recorded_and_the_alert_climbs(rig):
    rig.fake.disabled_users.add(SLACK_IDS["ooh1"])
    await rig.command("sam", "/absent Jay 21:05 out")
    await rig.reply_to("oohm", "Olu could not be reached; it comes to you now")
    await rig.reply_to("oohm", "Could not reach Olu")
    row = await rig.db.fetchone(
        "SELECT blocked_at FROM staff_identities WHERE external_id = ?", (SLACK_IDS["ooh1"],)
    )
    assert row["blocked_at"] is not None


def test_the_pacer_spaces_messages_into_one_channel():
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def run() -> None:
        pacer = ChannelPacer(1.0, monotonic=lambda: now[0], sleep=sleep)
        for channel in ("C1", "C1", "C2", "C1"):
            await pacer.wait(channel)
        now[0] += 5
        await pacer.wait("C1")

    asyncio.run(run())
    assert slept == [1.0, 1.0], "the second and third into C1 wait; C2 and a later one do not"


async def test_files_go_by_slack_s_three_step_upload(rig):
    now = rig.clock.now()
    async with rig.db.write() as tx:
        attachment = await report_store.add_attachment(
            tx, "episodes.png", "image/png", b"\x89PNG", now
        )
        await outbox_store.enqueue(
            tx, idem_key="chart:tom", recipient="staff:tom", text="Episodes per week [SUM-WEEKLY]",
            rule_id="SUM-WEEKLY", now=now, attachment_id=attachment,
        )  # fmt: skip
    assert await rig.delivery.deliver_due() == 1
    (shared,) = [m for m in rig.fake.in_channel(dm_of(SLACK_IDS["tom"])) if m.files]
    assert shared.text == "Episodes per week [SUM-WEEKLY]"
    assert rig.fake.files[shared.files[0]["id"]] == b"\x89PNG"


async def test_finalising_deletes_profiles_and_closes_channel_messages(tmp_path):
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=[child(profile=PROFILE)])
    try:
        await rig.command("sam", "/absent Jay 21:05 out", OAK_CHANNEL)
        await rig.reply_to(OAK_CHANNEL, "Recorded")
        await rig.command("sam", "/police Jay ref WY-9 grade medium")
        profile = await rig.reply_to("pc1", "Phone: 07700 900123")
        await rig.command("sam", "/found Jay now self back home", OAK_CHANNEL)
        await rig.reply_to(OAK_CHANNEL, "found")
        channel = list(rig.fake.in_channel(OAK_CHANNEL))
        await rig.command("priya", "/rhi Jay held by Ana")
        await rig.reply_to("priya", "held")
        await rig.command("tom", "/finalise Jay")
        await rig.reply_to("tom", "finalised")
        await rig.fake.wait_for(lambda: rig.fake.deleted)
        assert rig.fake.deleted == [(profile.channel, profile.ts)], "the profile is gone"
        await rig.fake.wait_for(lambda: all("episode closed" in m.shown for m in channel))
        assert channel[0].shown.startswith("C-0042 Jay: episode closed")
        assert await rig.db.fetchall("SELECT id FROM episodes WHERE state = 'finalised'")
    finally:
        await rig.stop()


# ---- App Home --------------------------------------------------------------------------------


async def test_app_home_shows_open_episodes_and_duties_overdue_first(tmp_path):
    kai = child(ref="C-0043", first_name="Kai")
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=[child(), kai])
    try:
        for name, found_after in (("Jay", 2), ("Kai", 20)):
            rig.clock.set(FRIDAY_NIGHT)
            await rig.command("sam", f"/absent {name} 21:05 out")
            await rig.reply_to("sam", f"{name} absent")
            await rig.command("sam", f"/police {name} ref WY-{name} grade medium")
            await rig.reply_to("sam", f"{name} reported missing to the police")
            rig.clock.advance(timedelta(hours=found_after))
            await rig.command("sam", f"/found {name} now self back")
            await rig.reply_to("sam", f"{name} found")
        rig.clock.set(local("2026-10-25 00:00"))  # Jay's RET-SWC is overdue, Kai's is not yet
        await rig.open_home("pc1")
        view = await rig.fake.wait_for(lambda: rig.fake.home.get(SLACK_IDS["pc1"]))
        texts = [b["text"]["text"] for b in view["blocks"] if b["type"] in ("section", "header")]
        assert texts[:3] == ["Whereabouts", "PC Rees, police liaison.", "Open episodes"]
        shown = "\n".join(texts)
        assert "C-0042 Jay: found Fri 23 Oct 23:10" in shown and "C-0043 Kai: found" in shown
        pc1 = await staff_store.get_staff(rig.db, "pc1")
        duties = await duty_commands.list_duties(Step(rig.svc, pc1, rig.clock.now()))
        assert duties in shown, "the same words as /duties"
        jay, kai_line = [line for line in duties.splitlines() if "[RET-SWC]" in line]
        assert "C-0042 Jay: OVERDUE" in jay and "C-0043 Kai: due" in kai_line
    finally:
        await rig.stop()


async def test_the_home_tab_opens_the_report_form(rig):
    await rig.open_home("sam")
    view = await rig.fake.wait_for(lambda: rig.fake.home.get(SLACK_IDS["sam"]))
    (button,) = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    payload = {
        "type": "block_actions", "user": {"id": SLACK_IDS["sam"]}, "api_app_id": "A0WHERE",
        "team": {"id": "T0WHERE"}, "container": {"type": "view", "view_id": "VHOME"},
        "trigger_id": "trigger-home", "view": {"id": "VHOME", "type": "home"},
        "actions": [{"action_id": button["action_id"], "block_id": "b", "type": "button",
                     "text": button["text"], "action_ts": "1"}],
    }  # fmt: skip
    assert (await rig.interact(payload))[0] == 200
    opened = await rig.fake.wait_for(lambda: next(iter(rig.fake.views.values()), None))
    assert opened["callback_id"] == REPORT_CALLBACK


# ---- running it ----------------------------------------------------------------------------


async def test_socket_mode_acknowledges_and_answers(tmp_path):
    svc = await open_services(tmp_path / "w.db", FRIDAY_NIGHT, None, None)
    fake = await FakeSlack().start()
    platform = SlackPlatform(svc, fake.token, base_url=fake.base_url, channel_period=0)
    try:
        await platform.start(app_token=fake.app_token)
        client = SlackClient(fake, "")
        body = dict(parse_qsl(client.command_body("UWHO", "/status")))
        envelope = await fake.socket_send("slash_commands", body)
        await fake.wait_for(lambda: envelope in fake.socket_acks)
        await fake.wait_for(lambda: fake.in_channel(dm_of("UWHO")))
        assert fake.in_channel(dm_of("UWHO"))[0].shown == NOT_ENROLLED
        await client.close()
    finally:
        await platform.stop()
        await fake.stop()
        await svc.db.close()


async def test_whereabouts_run_starts_slack_and_telegram_in_one_process(tmp_path):
    slack = await FakeSlack().start()
    telegram = await FakeTelegram().start()
    try:
        settings = Settings(
            db=tmp_path / "w.db",
            telegram_token=telegram.token,
            telegram_base_url=telegram.base_url,
            slack_bot_token=slack.token,
            slack_app_token=slack.app_token,
            slack_base_url=slack.base_url,
        )
        bot = await live.start(settings)
        try:
            assert [p.name for p in bot.platforms] == ["telegram", "slack"]
            await slack.socket_send("events_api", {
                "type": "event_callback", "team_id": "T0WHERE", "event_id": "Ev1",
                "event": {"type": "app_home_opened", "user": "UWHO", "tab": "home"},
            })  # fmt: skip
            await slack.wait_for(lambda: slack.home.get("UWHO"))
        finally:
            await live.stop(bot)
    finally:
        await slack.stop()
        await telegram.stop()


async def test_a_rejected_slack_token_or_missing_mode_is_a_clear_startup_error(tmp_path):
    slack = await FakeSlack().start()
    try:
        wrong = Settings(db=tmp_path / "a.db", slack_bot_token="xoxb-wrong",
                         slack_app_token=slack.app_token, slack_base_url=slack.base_url)  # fmt: skip
        with pytest.raises(live.StartupError, match="rejected the bot token"):
            await live.start(wrong)
        bad_app = Settings(db=tmp_path / "b.db", slack_bot_token=slack.token,
                           slack_app_token="xapp-wrong", slack_base_url=slack.base_url)  # fmt: skip
        with pytest.raises(live.StartupError, match="SLACK_APP_TOKEN"):
            await live.start(bad_app)
        no_mode = Settings(db=tmp_path / "c.db", slack_bot_token=slack.token,
                           slack_base_url=slack.base_url)  # fmt: skip
        with pytest.raises(live.StartupError, match="SLACK_SIGNING_SECRET"):
            await live.start(no_mode)
    finally:
        await slack.stop()


def test_slack_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    settings = Settings()
    assert settings.slack_bot_token.get_secret_value() == "xoxb-1"
    assert settings.slack_app_token.get_secret_value() == "xapp-1"
    assert settings.slack_signing_secret.get_secret_value() == "s3cret"


def test_the_manifests_name_only_commands_the_bot_understands():
    typed = set(re.findall(r"(?<![\w<])/([a-z]+)", HELP))
    known = typed | {"start", "register", "help", "callme"}
    for name in ("slack-manifest.yaml", "slack-manifest-single-command.yaml"):
        manifest = yaml.safe_load((DOCS / name).read_text())
        commands = [c["command"] for c in manifest["features"]["slash_commands"]]
        assert "/missing" in commands
        for command in commands:
            assert command_words(command, "x")[0] in known | {"x"}, command
        settings = manifest["settings"]
        assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"]
        events = set(settings["event_subscriptions"]["bot_events"])
        assert {"app_home_opened", "message.im"} <= events
        scopes = set(manifest["oauth_config"]["scopes"]["bot"])
        assert {"commands", "chat:write", "im:write", "im:history", "files:write"} <= scopes
        assert manifest["features"]["app_home"]["home_tab_enabled"]
    full = yaml.safe_load((DOCS / "slack-manifest.yaml").read_text())
    words = {command_words(c["command"], "")[0] for c in full["features"]["slash_commands"]}
    assert typed <= words, f"every typed command has its own slash command: {typed - words}"
    single = yaml.safe_load((DOCS / "slack-manifest-single-command.yaml").read_text())
    assert [c["command"] for c in single["features"]["slash_commands"]] == ["/missing"]


def test_the_committed_manifests_are_the_ones_the_command_registry_makes():
    for path, text in manifests().items():
        assert path.read_text(encoding="utf-8") == text, f"python -m bot.slack.manifest: {path}"
    assert manifest_main(["--check"]) == 0
    for command in COMMANDS:
        assert command_words(slash_name(command.name), "x") == (command.name, "x")
        assert command_words("/missing", f"{command.name} x") == (command.name, "x")


# ---- privacy in logs ---------------------------------------------------------------------------


async def test_nothing_personal_reaches_the_logs(rig, caplog):
    caplog.set_level(logging.DEBUG)
    secret_detail = "xyzzy-behind-the-chip-shop"
    await rig.command("sam", f"/absent Jay 21:05 {secret_detail}", OAK_CHANNEL)
    await rig.reply_to("ooh1", "ABS-OOH · ")
    body = rig.command_body("sam", f"/update Jay {secret_detail}")
    assert (await rig.post(body, signature="v0=forged"))[0] == 401
    rig.fake.fail("chat.update", 500)
    alert = await rig.reply_to("ooh1", "ABS-OOH · ")
    await rig.press("ooh1", alert, "I've got it")
    await rig.told("ooh1", "You have")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret_detail not in logged and "Jay" not in logged


# ---- Telegram and Slack together, as the console --------------------------------------------


STEPS = [  # (local time, who, platform, what)
    ("21:10", "sam", "slack-channel", "/absent Jay 21:05 left after a row"),
    ("21:12", "ooh1", "telegram-button", "/ack C-0042"),
    ("21:30", "sam", "telegram", "/police Jay ref WY-7 grade medium"),
    ("21:40", "pc1", "slack", "/update Jay officers checking the bus station"),
    ("23:10", "sam", "slack-channel", "/found Jay now self walked back in"),
    ("23:20", "priya", "telegram", "/rhi Jay offered by Ana"),
]


async def test_telegram_and_slack_in_one_router_keep_the_same_timeline_as_the_console(tmp_path):
    assert await _console_timeline(tmp_path / "console.db") == await _chat_timeline(
        tmp_path / "chat.db"
    )


async def _console_timeline(path: Path) -> list[tuple]:
    from bot.console import ConsoleTransport

    svc = await open_services(path, FRIDAY_NIGHT, None, None)
    try:
        console = ConsoleTransport(svc, out=lambda line: None)
        sweeper = Sweeper(svc.db, svc.clock, svc.presets)
        for at, who, _, text in STEPS:
            svc.clock.set(local(f"2026-10-23 {at}"))  # type: ignore[attr-defined]
            await console.say(who, text)
            await sweeper.sweep()
            await console.deliver()
        return await _timeline(svc)
    finally:
        await svc.db.close()  # an open connection's thread would keep pytest from exiting


async def _chat_timeline(path: Path) -> list[tuple]:
    svc = await open_services(path, FRIDAY_NIGHT, None, None)
    on_telegram = ["sam", "ooh1", "priya", "tom"]
    await enrol_on_slack(svc, ["sam", "pc1", "tom", "oohm", "iro1"], register=True)
    async with svc.db.write() as tx:
        for staff_id in on_telegram:
            await staff_store.bind_identity(tx, "telegram", str(TELEGRAM_IDS[staff_id]), staff_id)
    fake_tg = await FakeTelegram().start()
    telegram = TelegramPlatform(
        svc, fake_tg.token, base_url=fake_tg.base_url,
        rate_limiter=PerChatRateLimiter(chat_rate=1, chat_period=0.01, max_retries=0),
    )  # fmt: skip
    await telegram.start()
    fake_slack, slack = await start_slack(svc)
    router = Router(svc.db, [telegram, slack])
    delivery = OutboxDelivery(
        svc.db, svc.clock, router.send, on_undeliverable=unreachable_handler(svc)
    )
    sweeper = Sweeper(svc.db, svc.clock, svc.presets)
    client = SlackClient(fake_slack, f"http://127.0.0.1:{slack.http_port}/slack/events")
    try:
        for at, who, where, text in STEPS:
            svc.clock.set(local(f"2026-10-23 {at}"))  # type: ignore[attr-defined]
            if where.startswith("slack"):
                await client.command(who, text, OAK_CHANNEL if where == "slack-channel" else None)
                await slack.settle()
            elif where == "telegram":
                chat_id = TELEGRAM_IDS[who]
                before = len(fake_tg.sent(chat_id=chat_id))
                fake_tg.user_says(chat_id, text)
                await fake_tg.wait_for(lambda c=chat_id, n=before: len(fake_tg.sent(chat_id=c)) > n)
            else:
                chat_id = TELEGRAM_IDS[who]
                alert = next(
                    c for c in fake_tg.sent(chat_id=chat_id) if "ABS-OOH · " in c.params["text"]
                )
                fake_tg.user_presses(chat_id, alert, text)
                await fake_tg.wait_for(lambda: fake_tg.sent("editMessageText"))
            await sweeper.sweep()
            await delivery.deliver_due()
        ooh1 = fake_tg.sent(chat_id=TELEGRAM_IDS["ooh1"])
        assert any("ABS-OOH · " in c.params["text"] for c in ooh1), "alerted on Telegram"
        pc1 = fake_slack.in_channel(dm_of(SLACK_IDS["pc1"]))
        assert any("MIS-NOTIFY · " in m.shown for m in pc1), "alerted on Slack"
        return await _timeline(svc)
    finally:
        await client.close()
        await slack.stop()
        await telegram.stop()
        await fake_slack.stop()
        await fake_tg.stop()
        await svc.db.close()


async def _timeline(svc) -> list[tuple]:
    rows = await svc.db.fetchall(
        "SELECT episode_id, child_id, at, recorded_at, actor_id, kind, rule_id, text"
        " FROM events ORDER BY id"
    )
    return [tuple(row) for row in rows if row["kind"] != "enrolled"]


async def _run_until(rig: SlackRig, when) -> None:
    from reminders.sweeper import run_until

    await rig.platform.settle()
    await run_until(
        Sweeper(rig.db, rig.clock, rig.svc.presets), rig.clock, when, rig.delivery.deliver_due
    )
