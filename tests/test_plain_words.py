"""Plain words read for a report: a draft with the command behind it, recorded only when
confirmed; on the console and through the real Telegram stack (direct chat, and a team chat
only when the bot is mentioned or replied to)."""

from __future__ import annotations

import json

import pytest

from bot.console import ConsoleTransport
from handlers.plain_words import what_happened
from storage import child_store, episode_store
from tests.support.clock import local
from tests.support.telegram_rig import OAK_GROUP, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
DRAFT = "Report C-0042 Jay (Oak House, 15) absent, last seen 21:00, 'not back from town'?"
COMMAND = "/absent C-0042 21:00 not back from town"


async def latest_episode(db, ref: str):
    child = await child_store.get_child_by_ref(db, ref)
    return await episode_store.latest_episode_for_child(db, child.id)


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def console(svc, lines) -> ConsoleTransport:
    return ConsoleTransport(svc, out=lines.append)


@pytest.mark.parametrize(
    ("words", "happened"),
    [
        ("Jay's not back from town", "absent"),
        ("Jay hasn't come back", "absent"),
        ("Kai has run off", "absent"),
        ("Jay has gone missing", "absent"),
        ("Jay is back", "found"),
        ("Jay came back at 10", "found"),
        ("police found Jay", "found"),
        ("Jay returned", "found"),
        ("how is Jay doing", None),
    ],
)
def test_what_happened_from_the_words(words, happened):
    assert what_happened(words) == happened


# ---- the console ---------------------------------------------------------------------------


async def test_console_draft_is_recorded_only_when_its_command_is_typed(console, svc, lines):
    said = await console.say("sam", "Jay's not back from town, last seen 9pm")
    assert not said.refused
    shown = "\n".join(lines)
    assert DRAFT in shown
    assert f"Yes: {COMMAND}" in shown
    assert "/absent for the guided report" in shown
    assert await latest_episode(svc.db, "C-0042") is None  # a draft records nothing
    confirmed = await console.say("sam", COMMAND)
    assert not confirmed.refused
    episode = await latest_episode(svc.db, "C-0042")
    assert episode.last_seen_at == local("2026-10-23 21:00")
    events = await episode_store.events_for_episode(svc.db, episode.id)
    assert "not back from town" in " ".join(e.text for e in events)


async def test_without_a_time_it_says_what_it_understood_and_offers_the_guided_report(
    console, svc, lines
):
    said = await console.say("sam", "Jay has gone missing")
    assert "I understood C-0042 Jay (Oak House, 15) absent." in said.text
    assert "When were they last seen?" in said.text
    assert "Type /absent on its own" in said.text
    assert [b.command for b in said.replies[0].buttons] == ["/absent"]
    assert await latest_episode(svc.db, "C-0042") is None
    # /absent alone is the guided report, one question at a time
    guided = await console.say("sam", "/absent")
    assert "?" in guided.text


async def test_a_child_not_among_the_senders_is_not_guessed(console, svc):
    said = await console.say("sam", "Mia missing since 21:00")  # Mia lives at Elm Lodge
    assert "not which child among yours" in said.text
    assert "Mia" not in said.text
    assert await latest_episode(svc.db, "C-0051") is None


async def test_words_with_nothing_to_read_get_the_senders_own_help(console):
    said = await console.say("sam", "hello there")
    assert "nothing is recorded" in said.text
    assert "Your Whereabouts commands, as a carer" in said.text


async def test_back_offers_how_they_came_back_each_a_whole_command(console, svc):
    await console.say("sam", "/absent Jay 20:00 left after a row")
    said = await console.say("sam", "Jay is back, came in at 21:05")
    assert "Record C-0042 Jay (Oak House, 15) back at 21:05? How did they come back?" in said.text
    commands = [b.command for b in said.replies[0].buttons]
    assert commands[0].startswith("/found C-0042 21:05 self")
    assert (await latest_episode(svc.db, "C-0042")).found_at is None
    done = await console.say("sam", commands[0])
    assert not done.refused
    assert (await latest_episode(svc.db, "C-0042")).found_at == local("2026-10-23 21:05")


async def test_an_ambiguous_time_gives_one_draft_per_reading(console, svc, clock):
    clock.set(local("2026-10-23 15:00"))
    said = await console.say("sam", "Jay not back, last seen at 9")
    assert "could be 09:00 today or 21:00 yesterday" in said.text
    commands = [b.command for b in said.replies[0].buttons]
    assert commands == [
        "/absent C-0042 today 09:00 not back",
        "/absent C-0042 yesterday 21:00 not back",
    ]
    assert await latest_episode(svc.db, "C-0042") is None
    await console.say("sam", commands[1])
    assert (await latest_episode(svc.db, "C-0042")).last_seen_at == local("2026-10-22 21:00")


async def test_a_role_that_does_not_report_gets_no_draft(console, svc):
    said = await console.say("iro1", "Jay has gone missing, last seen 21:00")
    assert "/absent C-0042" not in said.text
    assert await latest_episode(svc.db, "C-0042") is None


# ---- Telegram ------------------------------------------------------------------------------


@pytest.fixture
async def rig(tmp_path):
    r = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


def buttons(call) -> list[dict]:
    markup = json.loads(call.params["reply_markup"])
    return [b for row in markup["inline_keyboard"] for b in row]


async def test_telegram_direct_message_draft_is_confirmed_by_its_button(rig):
    rig.says("sam", "Jay's not back from town, last seen 9pm")
    draft = await rig.reply_to("sam", "Report C-0042 Jay")
    assert "absent, last seen 21:00, 'not back from town'?" in draft.params["text"]
    yes = buttons(draft)[0]
    assert yes["callback_data"] == "/absent C-0042 21:00 not back from town"
    assert await latest_episode(rig.db, "C-0042") is None  # nothing until confirmed
    rig.fake.user_presses(101, draft, yes["callback_data"])
    await rig.fake.wait_for(lambda: rig.fake.sent("answerCallbackQuery"))
    episode = await latest_episode(rig.db, "C-0042")
    assert episode.last_seen_at == local("2026-10-23 21:00")


async def test_telegram_team_chatter_is_ignored_and_a_mention_or_reply_is_read(rig):
    rig.says("sam", "Jay ran off at 20:30, I'll ring the home", chat_id=OAK_GROUP)
    rig.says("sam", "@WhereaboutsBot Jay not back, last seen 21:00", chat_id=OAK_GROUP)
    draft = await rig.reply_to("sam", "Report C-0042 Jay absent", chat_id=OAK_GROUP)
    # each person's updates run in order: the chatter was handled (ignored) before this
    group = rig.fake.sent(chat_id=OAK_GROUP)
    assert [c.params["text"] for c in group] == [draft.params["text"]]
    assert buttons(draft)[0]["callback_data"] == "/absent C-0042 21:00 not back"
    # a group chat shows reference and first name only, never home or age
    assert "(Oak" not in draft.params["text"] and "15" not in draft.params["text"]
    # a reply to one of the bot's messages is for the bot
    bot_message = rig.fake.message_for(draft)
    rig.says(
        "sam", "no, he ran off at 20:30 actually, Jay", chat_id=OAK_GROUP, reply_to=bot_message
    )
    again = await rig.reply_to("sam", "last seen 20:30", chat_id=OAK_GROUP)
    assert buttons(again)[0]["callback_data"].startswith("/absent C-0042 20:30")
    assert await latest_episode(rig.db, "C-0042") is None


async def test_telegram_a_mention_in_an_unregistered_group_is_told_it_is_not_set_up(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, register_group=False)
    try:
        rig.says("sam", "@WhereaboutsBot Jay not back, last seen 21:00", chat_id=OAK_GROUP)
        await rig.reply_to("sam", "isn't set up in this chat", chat_id=OAK_GROUP)
        texts = [c.params["text"] for c in rig.fake.sent(chat_id=OAK_GROUP)]
        assert not any("Jay" in text for text in texts)
    finally:
        await rig.stop()


# ---- Slack ---------------------------------------------------------------------------------


async def test_slack_direct_message_draft_is_confirmed_by_its_button(tmp_path):
    from tests.support.slack_rig import SlackRig

    rig = await SlackRig.start(tmp_path / "s.db", FRIDAY_NIGHT)
    try:
        await rig.dm("sam", "Jay's not back from town, last seen 9pm")
        draft = await rig.reply_to("sam", "Report C-0042 Jay (Oak, 15) absent")
        assert list(draft.buttons) == ["Yes, report it", "Change it"]
        assert await latest_episode(rig.db, "C-0042") is None
        assert (await rig.press("sam", draft, "Yes, report it"))[0] == 200
        await rig.told("sam", "Recorded: C-0042 Jay absent")
        episode = await latest_episode(rig.db, "C-0042")
        assert episode.last_seen_at == local("2026-10-23 21:00")
    finally:
        await rig.stop()


async def test_back_without_a_time_offers_back_now_which_asks_how(console, svc):
    await console.say("sam", "/absent Jay 20:00 left after a row")
    said = await console.say("sam", "Jay is back")
    assert "I understood C-0042 Jay (Oak House, 15) back. When?" in said.text
    assert [b.command for b in said.replies[0].buttons] == ["/found C-0042 now"]
    assert (await latest_episode(svc.db, "C-0042")).found_at is None
    how = await console.say("sam", "/found C-0042 now")
    assert "How did C-0042 Jay come back?" in how.text
    assert (await latest_episode(svc.db, "C-0042")).found_at is None


async def test_siblings_named_together_are_one_draft_for_both(console, svc):
    said = await console.say("sam", "Jay and Kai ran off at half eight")
    assert "C-0042 Jay (Oak House, 15) and C-0043 Kai (Oak House, 13) absent together" in said.text
    command = said.replies[0].buttons[0].command
    assert command == "/absent C-0042,C-0043 20:30 ran off"
    assert await latest_episode(svc.db, "C-0043") is None
    assert not (await console.say("sam", command)).refused
    for ref in ("C-0042", "C-0043"):
        assert (await latest_episode(svc.db, ref)).last_seen_at == local("2026-10-23 20:30")


async def test_a_first_name_two_children_share_offers_one_draft_each(tmp_path):
    from handlers.context import Services
    from handlers.dispatch import Dispatcher
    from reminders.clock import FakeClock
    from storage import staff_store
    from storage.db import Database
    from tests.support.team import child, seed_team, team_file

    twin = child(ref="C-0061", dob="2013-06-01")
    async with Database(tmp_path / "w.db") as db:
        await seed_team(db, team_file(children=[child(), twin]))
        svc = Services(db=db, clock=FakeClock(FRIDAY_NIGHT))
        sam = await staff_store.get_staff(db, "sam")
        said = await Dispatcher(svc).handle(sam, "Jay not back, last seen 21:00")
        assert "More than one child called Jay" in said.text
        buttons = said.replies[0].buttons
        assert [(b.label, b.command) for b in buttons] == [
            ("C-0042 Jay (Oak, 15)", "/absent C-0042 21:00 not back"),
            ("C-0061 Jay (Oak, 13)", "/absent C-0061 21:00 not back"),
        ]
        assert await latest_episode(db, "C-0042") is None
        assert await latest_episode(db, "C-0061") is None
