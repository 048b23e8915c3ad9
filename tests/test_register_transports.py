"""/register on Telegram and Slack, through the real stacks: every refusal (unknown team, out
of scope, admin, not in a group) and the confirmation before a move or a replacement, pressed
and typed, with the old chat and the admins told."""

from __future__ import annotations

import json

from storage import chat_store
from tests.support.clock import local
from tests.support.slack_rig import ELM_CHANNEL, OAK_CHANNEL, SlackRig
from tests.support.team import child
from tests.support.telegram_rig import IDS, OAK_GROUP, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
ELM_GROUP = -5002  # a Telegram group nobody has registered
# Jay lives at oak, Mia at elm; Tom is both children's team manager.
CHILDREN = [child(), child(ref="C-0051", first_name="Mia", home="elm")]


# ---- Telegram ------------------------------------------------------------------------------


async def test_telegram_refuses_every_registration_it_should(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        rig.says("tom", "/register elmm", chat_id=ELM_GROUP)
        await rig.reply_to("tom", "No team 'elmm'. Did you mean elm?", chat_id=ELM_GROUP)
        rig.says("oohm", "/register elm", chat_id=ELM_GROUP)
        await rig.reply_to("oohm", "You can't register elm: it isn't in your scope", ELM_GROUP)
        rig.says("sam", "/register managers", chat_id=ELM_GROUP)
        await rig.reply_to("sam", "Only an admin or a manager can register", chat_id=ELM_GROUP)
        rig.says("admin", "/register elm", chat_id=ELM_GROUP)
        await rig.reply_to("admin", "Admins set up chats but can't make one", chat_id=ELM_GROUP)
        rig.says("tom", "/register elm")  # in a direct chat
        await rig.reply_to("tom", "Send /register <team> inside the team's group chat.")
        assert await chat_store.team_of_chat(rig.db, "telegram", str(ELM_GROUP)) is None
        assert await chat_store.team_of_chat(rig.db, "telegram", str(OAK_GROUP)) == "oak"
    finally:
        await rig.stop()


async def test_telegram_moves_a_chat_only_when_the_button_is_pressed(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        rig.says("tom", "/register elm", chat_id=OAK_GROUP)  # the oak group, moved to elm
        asked = await rig.reply_to("tom", "This chat is the oak team chat", chat_id=OAK_GROUP)
        [[button]] = json.loads(asked.params["reply_markup"])["inline_keyboard"]
        assert button["callback_data"] == "/register elm confirm"
        assert await chat_store.team_of_chat(rig.db, "telegram", str(OAK_GROUP)) == "oak"
        rig.fake.user_presses(IDS["tom"], asked, button["callback_data"])
        await rig.reply_to("tom", "This chat is now the elm team chat", chat_id=OAK_GROUP)
        assert await chat_store.team_of_chat(rig.db, "telegram", str(OAK_GROUP)) == "elm"
        told = await rig.reply_to("admin", "registered a telegram chat as the elm team chat")
        assert "oak has no telegram chat now" in told.params["text"]
    finally:
        await rig.stop()


async def test_telegram_replaces_a_teams_chat_when_typed_confirm_and_tells_the_old_one(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        rig.says("tom", "/register oak", chat_id=ELM_GROUP)
        await rig.reply_to("tom", "oak already has a chat on telegram", chat_id=ELM_GROUP)
        rig.says("tom", "/register oak confirm", chat_id=ELM_GROUP)
        await rig.reply_to("tom", "This chat is now the oak team chat", chat_id=ELM_GROUP)
        await rig.reply_to("tom", "This chat is no longer the oak team chat", chat_id=OAK_GROUP)
        await rig.reply_to("admin", "It replaces oak's previous chat")
        assert await chat_store.chats_of_team(rig.db, "oak") == {"telegram": [str(ELM_GROUP)]}
    finally:
        await rig.stop()


# ---- Slack ---------------------------------------------------------------------------------


async def test_slack_refuses_every_registration_it_should_to_the_sender_alone(tmp_path):
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        await rig.command("tom", "/register elmm", ELM_CHANNEL)
        await rig.told("tom", "No team 'elmm'. Did you mean elm?")
        await rig.command("oohm", "/register elm", ELM_CHANNEL)
        await rig.told("oohm", "You can't register elm: it isn't in your scope")
        await rig.command("sam", "/missing register managers", ELM_CHANNEL)
        await rig.told("sam", "Only an admin or a manager can register")
        await rig.command("admin", "/register elm", ELM_CHANNEL)
        await rig.told("admin", "Admins set up chats but can't make one")
        await rig.command("tom", "/register elm")  # in the direct chat with the app
        await rig.reply_to("tom", "Send /register <team> in the team's channel.")
        assert rig.fake.in_channel(ELM_CHANNEL) == [], "nothing said in the channel"
        assert await chat_store.team_of_chat(rig.db, "slack", ELM_CHANNEL) is None
    finally:
        await rig.stop()


async def test_slack_moves_a_channel_only_when_the_button_is_pressed(tmp_path):
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        await rig.command("tom", "/register elm", OAK_CHANNEL)
        asked = await rig.told("tom", "This chat is the oak team chat")
        assert await chat_store.team_of_chat(rig.db, "slack", OAK_CHANNEL) == "oak"
        await rig.press_told("tom", asked, "Yes, make this the elm chat")
        await rig.reply_to(OAK_CHANNEL, "This chat is now the elm team chat")
        assert await chat_store.team_of_chat(rig.db, "slack", OAK_CHANNEL) == "elm"
        told = await rig.reply_to("admin", "registered a slack chat as the elm team chat")
        assert "oak has no slack chat now" in told.shown
    finally:
        await rig.stop()


async def test_slack_replaces_a_teams_channel_when_typed_confirm_and_tells_the_old_one(tmp_path):
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        await rig.command("tom", "/register oak", ELM_CHANNEL)
        await rig.told("tom", "oak already has a chat on slack")
        await rig.command("tom", "/missing register oak confirm", ELM_CHANNEL)
        await rig.reply_to(ELM_CHANNEL, "This chat is now the oak team chat")
        await rig.reply_to(OAK_CHANNEL, "This chat is no longer the oak team chat")
        await rig.reply_to("admin", "It replaces oak's previous chat")
        assert await chat_store.chats_of_team(rig.db, "oak") == {"slack": [ELM_CHANNEL]}
    finally:
        await rig.stop()


async def test_telegram_unregister_and_chats(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        rig.says("admin", "/chats", chat_id=OAK_GROUP)  # asked in a group: answered privately
        listed = await rig.reply_to("admin", "Team chats (team, platform")
        assert f"• oak: telegram {OAK_GROUP}, by Tom, Fri 23 Oct 21:10" in listed.params["text"]
        rig.says("sam", "/unregister", chat_id=OAK_GROUP)
        await rig.reply_to("sam", "You can't remove the oak chat", chat_id=OAK_GROUP)
        rig.says("tom", "/unregister", chat_id=OAK_GROUP)
        await rig.reply_to("tom", "This chat is no longer the oak team chat", chat_id=OAK_GROUP)
        await rig.reply_to("admin", "Tom removed a telegram chat from the oak team")
        assert await chat_store.team_chats(rig.db) == []
    finally:
        await rig.stop()


async def test_slack_unregister_and_chats(tmp_path):
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=CHILDREN)
    try:
        await rig.command("tom", "/chats", OAK_CHANNEL)
        listed = await rig.reply_to("tom", "Team chats (team, platform")
        assert f"• oak: slack {OAK_CHANNEL}, by Tom, Fri 23 Oct 21:10" in listed.shown
        await rig.command("tom", "/missing unregister", OAK_CHANNEL)
        await rig.told("tom", "This chat is no longer the oak team chat")
        await rig.reply_to("admin", "Tom removed a slack chat from the oak team")
        assert await chat_store.team_chats(rig.db) == []
    finally:
        await rig.stop()
