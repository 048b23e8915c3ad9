"""Carer-first replies: times as people type them, the nearest command, help by role,
reference lists with spaces, through the dispatcher on a real database and a fake clock."""

from __future__ import annotations

from storage import child_store, episode_store, staff_store
from tests.support.clock import local


async def latest_episode(svc, ref: str):
    child = await child_store.get_child_by_ref(svc.db, ref)
    return await episode_store.latest_episode_for_child(svc.db, child.id)


async def outcome(svc, staff_id: str, text: str):
    from handlers.dispatch import Dispatcher

    staff = await staff_store.get_staff(svc.db, staff_id)
    return await Dispatcher(svc).handle(staff, text)


# ---- human times -----------------------------------------------------------------------


async def test_absent_with_a_british_time(chat, svc, clock):
    # Friday 21:10: "quarter to nine" is 20:45 tonight.
    reply = await chat.say("sam", "/absent Jay quarter to nine left after a row")
    assert "last seen Fri 23 Oct 20:45" in reply
    episode = await latest_episode(svc, "C-0042")
    assert episode.last_seen_at == local("2026-10-23 20:45")


async def test_time_then_yesterday_is_yesterdays_and_leaves_the_description_alone(chat, svc):
    await chat.say("sam", "/absent Jay 21:00 yesterday did not come back from town")
    episode = await latest_episode(svc, "C-0042")
    assert episode.last_seen_at == local("2026-10-22 21:00")
    events = await episode_store.events_for_episode(svc.db, episode.id)
    texts = " ".join(e.text for e in events)
    assert "did not come back from town" in texts
    assert "yesterday did not" not in texts


async def test_ambiguous_time_is_asked_with_each_reading_as_a_command(svc, clock):
    clock.set(local("2026-10-23 15:00"))
    said = await outcome(svc, "sam", "/absent Jay at 9 left after a row")
    assert said.refused
    text = said.text
    assert "'at 9' could be 09:00 today or 21:00 yesterday" in text
    assert "Nothing was saved yet." in text
    assert "/absent Jay today 09:00 left after a row" in text
    assert "/absent Jay yesterday 21:00 left after a row" in text
    assert [b.command for b in said.replies[0].buttons] == [
        "/absent Jay today 09:00 left after a row",
        "/absent Jay yesterday 21:00 left after a row",
    ]
    assert await latest_episode(svc, "C-0042") is None  # nothing saved until they choose
    # The command offered works as it stands.
    chosen = await outcome(svc, "sam", said.replies[0].buttons[1].command)
    assert not chosen.refused
    assert (await latest_episode(svc, "C-0042")).last_seen_at == local("2026-10-22 21:00")


async def test_ambiguous_update_time_is_asked_not_taken_as_now(chat, svc, clock):
    await chat.say("sam", "/absent Jay 21:05 left after a row")
    clock.set(local("2026-10-24 15:00"))
    reply = await chat.say("sam", "/update Jay at 9 rang his mum")
    assert "could be 09:00 today or 21:00 yesterday" in reply
    # A number is not a time when the time is optional.
    reply = await chat.say("sam", "/update Jay 1000 leaflets handed out")
    assert "Added" in reply
    episode = await latest_episode(svc, "C-0042")
    events = await episode_store.events_for_episode(svc.db, episode.id)
    assert any("1000 leaflets handed out" in e.text for e in events)


async def test_unreadable_time_still_says_what_and_that_nothing_was_saved(chat, svc):
    reply = await chat.say("sam", "/absent Jay soonish left")
    assert reply.startswith("I couldn't read 'soonish' as a time.")
    assert reply.endswith("Nothing was saved.")
    assert await latest_episode(svc, "C-0042") is None


# ---- the nearest command ---------------------------------------------------------------


async def test_unknown_command_suggests_the_nearest(chat):
    reply = await chat.say("sam", "/absnet Jay 21:05 out")
    assert reply == "I don't know /absnet. Did you mean /absent? Send /help for your commands."


async def test_suggestions_are_only_commands_the_sender_may_run(chat):
    # /finalise is a team manager's: a carer is not pointed at it.
    carer = await chat.say("sam", "/finalse Jay")
    assert "/finalise" not in carer and "Send /help for your commands." in carer
    manager = await chat.say("tom", "/finalse Jay")
    assert "Did you mean /finalise?" in manager


async def test_nothing_near_gets_the_help_pointer_only(chat):
    assert await chat.say("sam", "/fly Jay") == "I don't know /fly. Send /help for your commands."


async def test_an_alias_is_suggested_as_its_command(chat):
    assert "Did you mean /finalise?" in await chat.say("tom", "/finalize2 Jay")


# ---- /help by role ------------------------------------------------------------------------


async def test_a_carers_help_is_their_own_commands(chat):
    from handlers.commands import HELP

    reply = await chat.say("sam", "/help")
    assert reply.startswith("Your Whereabouts commands, as a carer")
    for theirs in ("/absent <child>", "/found <child>", "/status", "/help all"):
        assert theirs in reply
    for others in ("/finalise", "/summary", "/leaver", "/ack", "/rhi", "/cover", "/duties"):
        assert others not in reply, others
    assert len(reply.splitlines()) <= 16 < len(HELP.splitlines())
    assert reply.splitlines()[-1] == "/help all lists every command, other roles' too."


async def test_help_all_is_every_command(chat):
    from handlers.commands import HELP

    assert await chat.say("sam", "/help all") == HELP
    assert "/finalise" in HELP and "/leaver" in HELP


async def test_each_roles_help_lists_only_what_the_role_may_run(svc):
    from handlers.commands import COMMANDS
    from handlers.help_text import help_for
    from storage.models import Role, Staff

    for role in Role:
        text = help_for(Staff(id="x", name="X", role=role))
        for command in COMMANDS:
            if command.in_help and role not in command.roles:
                assert f"/{command.name} " not in f"{text} ", (role, command.name)


async def test_a_managers_help_has_the_managers_commands(chat):
    reply = await chat.say("tom", "/help")
    assert reply.startswith("Your Whereabouts commands, as a team manager")
    for theirs in ("/finalise", "/summary", "/leaver", "/ack", "/rota"):
        assert theirs in reply


# ---- lists of references ------------------------------------------------------------------


async def test_siblings_with_spaces_after_the_commas(chat, svc):
    reply = await chat.say("sam", "/absent C-0042, C-0043 now left together")
    assert "C-0042 Jay" in reply and "C-0043 Kai" in reply
    for ref in ("C-0042", "C-0043"):
        episode = await latest_episode(svc, ref)
        assert episode is not None and episode.last_seen_at == local("2026-10-23 21:10")


async def test_siblings_with_a_lone_comma_or_plus(chat, svc):
    reply = await chat.say("sam", "/absent Jay , Kai 21:05 left together")
    assert "C-0042 Jay" in reply and "C-0043 Kai" in reply
    events = await episode_store.events_for_episode(
        svc.db, (await latest_episode(svc, "C-0043")).id
    )
    assert any("left together" in e.text for e in events), [e.text for e in events]


async def test_siblings_without_spaces_still_work_and_a_bad_name_saves_nobody(chat, svc):
    reply = await chat.say("sam", "/absent C-0042, Nobody 21:05 out")
    assert "I can't find 'Nobody'" in reply
    assert await latest_episode(svc, "C-0042") is None
    assert "C-0043 Kai" in await chat.say("sam", "/absent C-0042,C-0043 21:05 out")


async def test_plain_text_gets_the_senders_own_help_not_every_command(chat):
    # Words about a child now get a draft (tests/test_plain_words.py); words with nothing
    # to read still get the sender's own commands.
    reply = await chat.say("sam", "what do I type here")
    assert "Your Whereabouts commands, as a carer" in reply
    assert "/finalise" not in reply
