"""Microsoft Teams through the adapter's real endpoint, against a local Teams stand-in.

Every activity reaches the bot's aiohttp endpoint signed as the Bot Connector signs it and is
checked against the stand-in's OpenID metadata and keys (no switch turns that off); every send
goes through the Teams SDK's ApiClient to tests/support/fake_teams.py. Times are a FakeClock's.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from storage import episode_store, teams_store
from storage.db import from_db_time
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


# ---- who may talk to the bot ----------------------------------------------------------------


async def test_forged_expired_wrong_audience_and_wrong_tenant_tokens_are_refused(rig):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.support.fake_teams import OTHER_TENANT

    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    activity = rig.message(TEAMS_IDS["sam"], "/absent Jay 21:05 out")
    other_tenant = {**activity, "channelData": {"tenant": {"id": OTHER_TENANT}},
                    "conversation": {**activity["conversation"], "tenantId": OTHER_TENANT}}  # fmt: skip
    refused = {
        "forged": (activity, rig.fake.token(key=forger)),
        "unknown key": (activity, rig.fake.token(key=forger, kid="not-published")),
        "expired": (activity, rig.fake.token(expires_in=-3600)),
        "wrong audience": (activity, rig.fake.token(audience="another-bot")),
        "wrong issuer": (activity, rig.fake.token(issuer="https://sts.example.org")),
        "wrong tenant": (other_tenant, rig.fake.token()),
        "tenant claim": (activity, rig.fake.token(tid=OTHER_TENANT)),
        "other service": (activity, rig.fake.token(service_url="https://evil.example.org")),
        "no token": (activity, ""),
    }
    for why, (body, token) in refused.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with rig.session.post(rig.url, json=body, headers=headers) as response:
            assert response.status == 401, why
    assert await rig.db.fetchall("SELECT id FROM episodes") == []
    stored = await rig.db.fetchall("SELECT update_id FROM inbox WHERE transport = 'teams'")
    assert stored == [], "nothing of a refused request is kept"
    assert await rig.say("sam", "/absent Jay 21:05 out") == 200
    await rig.dm("sam", "Recorded")


async def test_enrolment_by_invite_code_in_a_one_to_one_chat(tmp_path):
    from handlers import enrolment

    rig = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT, enrol=False, install=["sam"])
    try:
        await rig.dm("sam", "Whereabouts is installed")
        code, _ = await enrolment.create_invite(rig.svc, "sam")
        await rig.say("sam", "/status")
        await rig.dm("sam", "You're not enrolled")
        await rig.say("sam", code)
        await rig.dm("sam", "Welcome, Sam")
        await rig.say("sam", "/status")
        assert len(rig.fake.in_conversation(personal_id(TEAMS_IDS["sam"]))) == 4
    finally:
        await rig.stop()


async def test_an_unregistered_channel_is_not_set_up_until_a_manager_registers_it(tmp_path):
    from tests.support.team import child
    from tests.support.teams_rig import ELM, ELM_CHANNEL

    # elm is a home (Mia lives there, Tom is her team manager): registration checks both
    mia = child(ref="C-0051", first_name="Mia", home="elm")
    rig = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=[child(), mia])
    try:
        await rig.say("sam", "/status", ELM)
        await rig.reply_to(ELM_CHANNEL, "isn't set up in this channel")
        await rig.say("sam", "/register elm", ELM)
        await rig.dm("sam", "Only an admin or a manager")
        assert len(rig.fake.in_conversation(ELM_CHANNEL)) == 1, "nothing more said in the channel"
        await rig.say("tom", "register elm", ELM)
        await rig.reply_to(ELM_CHANNEL, "now the elm team chat")
        assert await rig.db.fetchone(
            "SELECT team FROM team_chats WHERE transport = 'teams' AND chat_id = ?", (ELM_CHANNEL,)
        )
    finally:
        await rig.stop()


async def test_the_report_form_shows_errors_against_fields_then_saves(rig):
    await rig.say("sam", "/absent", OAK)
    await rig.reply_to(OAK_CHANNEL, "sent you the report form")
    form = await rig.dm("sam", "Report a child absent")
    status, answer = await rig.press("sam", form, "Report", child="C-0042")
    assert status == 200 and "When were they last seen" in json_text(answer)
    assert await rig.db.fetchall("SELECT id FROM episodes") == [], "nothing saved"
    status, answer = await rig.press(
        "sam", form, "Report", child="C-0042", seen="21:05", where="left after a row",
        done="searched the garden", concern="carer",
    )  # fmt: skip
    assert "Report sent" in json_text(answer)
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    assert await _events(rig, ("reported",)) == [("reported", "sam")]


def json_text(answer) -> str:
    return json.dumps(answer)


async def test_a_command_kept_before_a_crash_is_carried_out_once_at_the_next_start(tmp_path):
    """Stored before the 200; the bot dies before handling it; the next start carries it out,
    and the connector's retry of the same activity is not carried out again."""
    from bot.teams.inbox import activity_key
    from storage import inbox_store
    from tests.support.harness import events_saying
    from tests.support.teams_rig import start_teams

    rig = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        activity = rig.message(TEAMS_IDS["sam"], "/absent Jay 21:05 left after a row")
        await inbox_store.store(  # as keep() does, then the process died
            rig.db, "teams", activity_key(activity),
            json.dumps({"activity": activity}), rig.clock.now(),
        )  # fmt: skip
        await rig.platform.stop()
        _, rig.platform = await start_teams(rig.svc, rig.fake)
        rig.url = f"http://127.0.0.1:{rig.platform.http_port}/api/messages"
        await rig.dm("sam", "Recorded")
        assert await rig.send(activity) == (200, None), "the retry is acknowledged"
        await rig.platform.settle()
        assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
        # carried out, but the crash came before it was marked handled: told, not redone
        again = rig.message(TEAMS_IDS["sam"], "/update Jay still out")
        key = activity_key(again)
        await inbox_store.store(
            rig.db, "teams", key, json.dumps({"activity": again}), rig.clock.now()
        )
        with inbox_store.applying("teams", key, rig.clock.now()):
            await rig.platform.dispatcher.handle(
                await rig.platform.listeners.who(TEAMS_IDS["sam"]), "/update Jay still out"
            )
        await rig.platform.stop()
        _, rig.platform = await start_teams(rig.svc, rig.fake)
        await rig.dm("sam", "Recorded before a restart")
        assert len(await events_saying(rig.db, "C-0042", "still out")) == 1
    finally:
        await rig.stop()


# ---- cards ------------------------------------------------------------------------------------


async def test_two_duty_workers_press_at_once_one_wins_the_other_is_told(tmp_path):
    import asyncio

    from tests.support.team import weekend_rota

    rota = [
        *weekend_rota(),
        {"role": "out_of_hours", "staff": "ooh2", "from": "2026-10-23T17:00",
         "to": "2026-10-26T09:00"},
    ]  # fmt: skip
    rig = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT, rota_rows=rota)
    try:
        await rig.say("sam", "/absent Jay 21:05 out")
        first = await rig.dm("ooh1", "ABS-OOH")
        second = await rig.dm("ooh2", "ABS-OOH")
        (s1, a1), (s2, a2) = await asyncio.gather(
            rig.press("ooh1", first, "I've got it"), rig.press("ooh2", second, "I've got it")
        )
        assert (s1, s2) == (200, 200)
        kinds = sorted([a1["type"], a2["type"]])
        assert kinds == ["application/vnd.microsoft.activity.message",
                         "application/vnd.microsoft.card.adaptive"]  # fmt: skip
        loser = a1 if a1["type"].endswith("message") else a2
        assert "already has C-0042 Jay" in loser["value"]
        assert sorted([first.edits, second.edits]) == [0, 1], "only the winner's card changes"
        winner = first if first.edits else second
        assert "✔ I've got it:" in winner.shown and not winner.buttons
        acks = [e for e in await episode_store.events_for_episode(rig.db, 1) if e.kind == "ack"]
        assert len(acks) == 1
    finally:
        await rig.stop()


async def test_a_made_up_press_is_refused_and_nothing_is_run(rig):
    await rig.say("sam", "/absent Jay 21:05 out")
    alert = await rig.dm("ooh1", "ABS-OOH")
    alert.buttons["I've got it"]["data"]["command"] = "/found C-0042 now self back"
    status, answer = await rig.press("ooh1", alert, "I've got it")
    assert status == 200 and "isn't one I sent" in answer["value"]
    assert await _events(rig, ("found", "ack")) == []


# ---- delivery --------------------------------------------------------------------------------


async def test_429_with_retry_after_and_412_are_retried_until_delivered_once(rig):
    ooh1 = personal_id(TEAMS_IDS["ooh1"])
    rig.fake.fail(429, retry_after=7, conversation=ooh1)
    rig.fake.fail(412, conversation=ooh1)
    await rig.say("sam", "/absent Jay 21:05 out")
    row = await rig.db.fetchone(
        "SELECT state, next_attempt_at, attempts FROM outbox WHERE recipient = 'staff:ooh1'"
    )
    assert row["state"] == "pending" and row["attempts"] == 1
    assert from_db_time(row["next_attempt_at"]) == rig.clock.now() + timedelta(seconds=7), (
        "Retry-After"
    )
    rig.clock.advance(timedelta(seconds=6))
    await rig.delivery.deliver_due()
    assert [c.status for c in rig.fake.calls if c.conversation == ooh1] == [429], "not before"
    rig.clock.advance(timedelta(seconds=1))
    await rig.delivery.deliver_due()
    rig.clock.advance(timedelta(minutes=1))
    await rig.delivery.deliver_due()
    alerts = [p for p in rig.fake.in_conversation(ooh1) if "ABS-OOH" in p.shown]
    assert len(alerts) == 1
    statuses = [c.status for c in rig.fake.calls if c.conversation == ooh1]
    assert statuses == [429, 412, 201]


async def test_a_person_without_the_app_installed_is_reported_and_their_alert_moves_on(tmp_path):
    everyone_but_olu = [s for s in TEAMS_IDS if s != "ooh1"]
    rig = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT, install=everyone_but_olu)
    try:
        await rig.say("sam", "/absent Jay 21:05 out")
        await rig.dm("oohm", "Olu could not be reached; it comes to you now")
        await rig.dm("oohm", "Could not reach Olu")
        row = await rig.db.fetchone(
            "SELECT state, last_error FROM outbox WHERE recipient = 'staff:ooh1'"
        )
        assert row["state"] == "failed" and "not installed the Whereabouts app" in row["last_error"]
    finally:
        await rig.stop()


async def test_an_uninstalled_app_is_recorded_as_blocked_and_the_alert_climbs(rig):
    rig.fake.installed.discard(personal_id(TEAMS_IDS["ooh1"]))  # removed, but we were not told
    await rig.say("sam", "/absent Jay 21:05 out")
    await rig.dm("oohm", "Olu could not be reached; it comes to you now")
    row = await rig.db.fetchone(
        "SELECT blocked_at FROM staff_identities WHERE external_id = ?", (TEAMS_IDS["ooh1"],)
    )
    assert row["blocked_at"] is not None


async def test_finalising_deletes_profiles_and_closes_channel_messages(tmp_path):
    from tests.support.team import child

    profile = {"description": "slim, short dark hair", "phone": "07700 900123"}
    rig = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=[child(profile=profile)])
    try:
        await rig.say("sam", "/absent Jay 21:05 out", OAK)
        await rig.reply_to(OAK_CHANNEL, "Recorded")
        await rig.say("sam", "/police Jay ref WY-9 grade medium")
        sent = await rig.dm("pc1", "Phone: 07700 900123")
        assert all("07700" not in p.shown for p in rig.fake.in_conversation(OAK_CHANNEL))
        await rig.say("sam", "/found Jay now self back home", OAK)
        await rig.reply_to(OAK_CHANNEL, "found")
        await rig.say("priya", "/rhi Jay held by Ana")
        await rig.say("tom", "/finalise Jay")
        await rig.dm("tom", "finalised")
        await rig.fake.wait_for(lambda: sent.deleted)
        channel = rig.fake.in_conversation(OAK_CHANNEL)
        await rig.fake.wait_for(lambda: all("episode closed" in p.shown for p in channel))
        assert all(p.edits == 1 for p in channel)
    finally:
        await rig.stop()


# ---- the same timeline as the console, and with Telegram and Slack at once --------------------


async def test_one_episode_through_teams_gives_the_console_s_timeline(tmp_path):
    from tests.test_slack import STEPS, _console_timeline

    expected = await _console_timeline(tmp_path / "console.db")
    assert await _teams_timeline(tmp_path / "teams.db", STEPS) == expected


async def _teams_timeline(path, steps) -> list[tuple]:
    from reminders.sweeper import Sweeper
    from tests.test_slack import _timeline

    rig = await TeamsRig.start(path, FRIDAY_NIGHT)
    sweeper = Sweeper(rig.db, rig.clock, rig.svc.presets)
    try:
        for at, who, where, text in steps:
            rig.clock.set(local(f"2026-10-23 {at}"))
            if where == "telegram-button":
                alert = await rig.dm(who, "ABS-OOH")
                assert (await rig.press(who, alert, "I've got it"))[0] == 200
            else:
                await rig.say(who, text, OAK if where.endswith("channel") else None)
            await sweeper.sweep()
            await rig.delivery.deliver_due()
        return await _timeline(rig.svc)
    finally:
        await rig.stop()


async def test_one_scenario_on_telegram_slack_and_teams_at_once_gives_one_timeline(tmp_path):
    from tests.test_slack import STEPS, _console_timeline

    assert await _three_platforms(tmp_path / "chat.db", STEPS) == await _console_timeline(
        tmp_path / "console.db"
    )


async def _three_platforms(path, steps) -> list[tuple]:
    from bot.delivery import OutboxDelivery
    from bot.router import Router
    from bot.telegram.app import TelegramPlatform
    from bot.telegram.sender import PerChatRateLimiter
    from reminders.sweeper import Sweeper
    from storage import staff_store
    from tests.support.fake_slack import dm_of
    from tests.support.fake_teams import TeamsUser
    from tests.support.fake_telegram import FakeTelegram
    from tests.support.slack_rig import (
        OAK_CHANNEL as SLACK_OAK,
    )
    from tests.support.slack_rig import (
        SLACK_IDS,
        SlackClient,
        enrol_on_slack,
        open_services,
        start_slack,
        unreachable_handler,
    )
    from tests.support.teams_rig import enrol_on_teams, install_all, start_teams
    from tests.support.telegram_rig import IDS as TELEGRAM_IDS
    from tests.test_slack import _timeline

    svc = await open_services(path, FRIDAY_NIGHT, None, None)
    # sam reports on Slack and Telegram; Olu and Priya are on Telegram; the police and Tom
    # on Teams; the out-of-hours manager and the IRO on Slack
    await enrol_on_slack(svc, ["sam", "oohm", "iro1"], register=True)
    await enrol_on_teams(svc, ["pc1", "tom"], register=True)
    async with svc.db.write() as tx:
        for staff_id in ["sam", "ooh1", "priya"]:
            await staff_store.bind_identity(tx, "telegram", str(TELEGRAM_IDS[staff_id]), staff_id)
    fake_tg = await FakeTelegram().start()
    telegram = TelegramPlatform(
        svc, fake_tg.token, base_url=fake_tg.base_url,
        rate_limiter=PerChatRateLimiter(chat_rate=1, chat_period=0.01, max_retries=0),
    )  # fmt: skip
    await telegram.start()
    fake_slack, slack = await start_slack(svc)
    fake_teams, teams = await start_teams(svc)
    router = Router(svc.db, [telegram, slack, teams])
    delivery = OutboxDelivery(
        svc.db, svc.clock, router.send, on_undeliverable=unreachable_handler(svc)
    )
    sweeper = Sweeper(svc.db, svc.clock, svc.presets)
    client = SlackClient(fake_slack, f"http://127.0.0.1:{slack.http_port}/slack/events")
    user = TeamsUser(fake_teams, f"http://127.0.0.1:{teams.http_port}/api/messages")
    on_teams = {"pc1", "priya"}
    try:
        await install_all(user, [], channel=True)
        for who in ("pc1", "tom"):
            await user.install(TEAMS_IDS[who])
        async with svc.db.write() as tx:
            await staff_store.bind_identity(tx, "teams", TEAMS_IDS["priya"], "priya")
        await user.install(TEAMS_IDS["priya"])
        for at, who, where, text in steps:
            svc.clock.set(local(f"2026-10-23 {at}"))  # type: ignore[attr-defined]
            if who in on_teams:
                await user.says(TEAMS_IDS[who], text)
                await teams.settle()
            elif where.startswith("slack"):
                await client.command(who, text, SLACK_OAK if where == "slack-channel" else None)
                await slack.settle()
            elif where == "telegram":
                chat_id = TELEGRAM_IDS[who]
                before = len(fake_tg.sent(chat_id=chat_id))
                fake_tg.user_says(chat_id, text)
                await fake_tg.wait_for(lambda c=chat_id, n=before: len(fake_tg.sent(chat_id=c)) > n)
            else:
                chat_id = TELEGRAM_IDS[who]
                alert = next(
                    c for c in fake_tg.sent(chat_id=chat_id) if "ABS-OOH" in c.params["text"]
                )
                fake_tg.user_presses(chat_id, alert, text)
                await fake_tg.wait_for(lambda: fake_tg.sent("editMessageText"))
            await sweeper.sweep()
            await delivery.deliver_due()
        assert any(
            "ABS-OOH" in c.params["text"] for c in fake_tg.sent(chat_id=TELEGRAM_IDS["ooh1"])
        )
        assert any(
            "MIS-NOTIFY" in p.shown
            for p in fake_teams.in_conversation(personal_id(TEAMS_IDS["pc1"]))
        )
        assert fake_slack.in_channel(dm_of(SLACK_IDS["iro1"])), "the IRO told on Slack"
        return await _timeline(svc)
    finally:
        await user.close()
        await client.close()
        await teams.stop()
        await slack.stop()
        await telegram.stop()
        await fake_teams.stop()
        await fake_slack.stop()
        await fake_tg.stop()
        await svc.db.close()


# ---- the app package -------------------------------------------------------------------------


def test_the_committed_app_package_is_the_one_the_command_registry_makes():
    from bot.teams.manifest import main

    assert main(["--check"]) == 0, "run python -m bot.teams.manifest"


def test_the_manifest_has_what_teams_requires_and_names_only_known_commands():
    import io
    import re
    import zipfile

    from PIL import Image

    from bot.teams.manifest import DOCS, manifest, package
    from handlers.commands import BY_NAME

    doc = manifest()
    for key in ("manifestVersion", "version", "id", "developer", "name", "description",
                "icons", "accentColor"):  # fmt: skip
        assert doc[key], key
    guid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    assert guid.match(doc["id"]) and doc["bots"][0]["botId"] == doc["id"]
    assert re.match(r"^\d+\.\d+\.\d+$", doc["version"])
    assert len(doc["name"]["short"]) <= 30 and len(doc["description"]["short"]) <= 80
    assert len(doc["description"]["full"]) <= 4000
    for developer_url in doc["developer"].values():
        assert developer_url == "Whereabouts" or developer_url.startswith("https://")
    (commands,) = doc["bots"][0]["commandLists"]
    assert 0 < len(commands["commands"]) <= 10
    for command in commands["commands"]:
        assert command["title"] in BY_NAME and len(command["title"]) <= 32
        assert 0 < len(command["description"]) <= 128
    with Image.open(DOCS / "color.png") as color, Image.open(DOCS / "outline.png") as outline:
        assert color.size == (192, 192) and outline.size == (32, 32)
        alpha = outline.getchannel("A")
        pixels = outline.convert("RGBA").tobytes()
        opaque = {pixels[i : i + 4] for i in range(0, len(pixels), 4) if pixels[i + 3]}
        assert opaque <= {bytes([255, 255, 255, 255])}, "white only"
        assert alpha.getextrema()[0] == 0, "a transparent background"
    app_id = "12345678-1234-4234-8234-123456789abc"
    with zipfile.ZipFile(io.BytesIO(package(app_id))) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert json_loads(zf.read("manifest.json"))["bots"][0]["botId"] == app_id


def json_loads(data: bytes):
    return json.loads(data)


async def test_whereabouts_run_starts_teams_when_its_settings_are_present(
    tmp_path, monkeypatch, caplog
):
    from bot import app as live
    from bot.teams.credentials import ClientCredentials, CredentialsError
    from config.settings import Settings
    from tests.support.fake_teams import APP_ID, TENANT, FakeTeams

    async def from_entra(self) -> str:  # Entra ID is not reachable from a test
        if self._credential != "a-secret-never-logged":
            raise CredentialsError("Entra ID refused the Teams app's credentials (invalid_client).")
        return "bot-token"

    monkeypatch.setattr(ClientCredentials, "__call__", from_entra)
    fake = await FakeTeams().start()
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("TEAMS_TENANT_ID", TENANT)
    monkeypatch.setenv("TEAMS_APP_PASSWORD", "a-secret-never-logged")
    settings = Settings(db=tmp_path / "w.db", teams_port=0, teams_openid_metadata=fake.metadata_url)
    bot = await live.start(settings)
    try:
        assert [p.name for p in bot.platforms] == ["teams"]
        teams = bot.platforms[0]
        user = TeamsUser_for(fake, teams.http_port)  # type: ignore[attr-defined]
        forged = await user.send(user.message("29:x", "/status"), token="not.a.token")
        assert forged[0] == 401
        assert (await user.send(user.message("29:x", "/status")))[0] == 200
        await user.close()
    finally:
        await live.stop(bot)
        await fake.stop()
    assert "a-secret-never-logged" not in "\n".join(r.getMessage() for r in caplog.records)
    monkeypatch.setenv("TEAMS_APP_PASSWORD", "a-wrong-secret")
    with pytest.raises(live.StartupError, match="refused the Teams app's credentials"):
        await live.start(Settings(db=tmp_path / "y.db"))
    monkeypatch.delenv("TEAMS_TENANT_ID")
    with pytest.raises(live.StartupError, match="TEAMS_TENANT_ID"):
        await live.start(Settings(db=tmp_path / "x.db"))


def TeamsUser_for(fake, port):  # noqa: N802 - a factory
    from tests.support.fake_teams import TeamsUser

    return TeamsUser(fake, f"http://127.0.0.1:{port}/api/messages")


async def test_nothing_typed_about_a_child_reaches_the_logs(rig, caplog):
    detail = "seen near the canal lock with an older man"
    await rig.say("sam", "/absent Jay 21:05 out")
    forged = rig.message(TEAMS_IDS["sam"], f"/update Jay {detail}")
    assert (await rig.send(forged, token=rig.fake.token(audience="x")))[0] == 401
    rig.fake.fail(500, times=5)
    await rig.say("sam", f"/update Jay {detail}")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert detail not in logged and "Jay" not in logged


def test_the_pacer_keeps_microsoft_s_per_conversation_limit_apart_from_others():
    import asyncio

    from bot.teams.sender import Pacer

    async def two_conversations() -> tuple[bool, bool]:
        pacer = Pacer(per_second=1, per_30s=1, app_per_second=50)
        await pacer.wait("19:a@thread.tacv2;messageid=1")
        limits_a = pacer._conversations.get("19:a@thread.tacv2")
        await pacer.wait("19:b@thread.tacv2")
        assert limits_a is not None
        return limits_a[1].has_capacity(), pacer._app.has_capacity()

    a_has_room, app_has_room = asyncio.run(two_conversations())
    assert not a_has_room, "one thread of a channel is paced as the channel"
    assert app_has_room


async def test_removing_the_app_forgets_the_chat_and_a_refusal_is_given_up_at_once(rig):
    ooh1 = TEAMS_IDS["ooh1"]
    conversation, data = rig.personal(ooh1)
    removed = rig.activity("installationUpdate", ooh1, conversation, data, action="remove")
    assert (await rig.send(removed))[0] == 200
    rig.fake.fail(400, conversation=personal_id(TEAMS_IDS["iro1"]))
    await rig.say("sam", "/absent Jay 21:05 out")
    await rig.dm("oohm", "Olu could not be reached; it comes to you now")
    rows = {
        r["recipient"]: (r["state"], r["attempts"], r["last_error"])
        for r in await rig.db.fetchall("SELECT recipient, state, attempts, last_error FROM outbox")
    }
    assert rows["staff:ooh1"][0] == "failed" and "not installed" in rows["staff:ooh1"][2]
    assert rows["staff:iro1"][:2] == ("failed", 1), "a 400 is not retried"
    assert "HTTP 400" in rows["staff:iro1"][2]


def test_a_certificate_needs_its_thumbprint_and_some_credential_is_needed(tmp_path):
    from bot.teams.credentials import ClientCredentials, CredentialsError

    pem = tmp_path / "bot.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CredentialsError, match="thumbprint"):
        ClientCredentials(APP, TENANT_ID, certificate=pem)
    with pytest.raises(CredentialsError, match="TEAMS_APP_PASSWORD"):
        ClientCredentials(APP, TENANT_ID)
    ClientCredentials(APP, TENANT_ID, certificate=pem, thumbprint="AB12")  # nothing fetched yet


APP = "00000000-0000-4000-8000-00000000a44b"
TENANT_ID = "11111111-2222-4333-8444-555555555555"


async def test_help_says_how_teams_differs_and_a_long_answer_is_split(rig):
    from bot.teams.sender import TEXT_LIMIT

    await rig.say("sam", "/help")
    await rig.dm("sam", "On Teams: in a channel, mention @Whereabouts")
    ref = await teams_store.personal(rig.db, TEAMS_IDS["sam"])
    long = "\n".join(f"line {n} " + "x" * 80 for n in range(400))
    assert len(long) > TEXT_LIMIT
    ids = await rig.platform.sender.post(ref, ref.conversation_id, long)
    assert len(ids) == 2 and all(len(rig.fake.posted[i].text) <= TEXT_LIMIT for i in ids)


async def test_keys_are_read_from_the_metadata_and_a_rotated_key_is_fetched_again(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from bot.teams.auth import BotFrameworkAuth, Refused
    from tests.support.fake_teams import APP_ID, TENANT, FakeTeams

    fake = await FakeTeams().start()
    now = [1000.0]
    auth = BotFrameworkAuth(
        APP_ID, frozenset([TENANT]), fake.metadata_url, monotonic=lambda: now[0]
    )
    try:
        caller = await auth.check_token(f"Bearer {fake.token()}")
        assert caller.endorsements == {"msteams"} and caller.claims["aud"] == APP_ID
        fake._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fake.kid = "rotated"
        with pytest.raises(Refused, match="unknown key"):  # not fetched again at once
            await auth.check_token(f"Bearer {fake.token()}")
        now[0] += 61
        assert (await auth.check_token(f"Bearer {fake.token()}")).claims["iss"]
        await fake.stop()  # the metadata service is gone: known keys still serve, others refused
        assert await auth.check_token(f"Bearer {fake.token()}")
        now[0] += 61
        with pytest.raises(Refused):
            await auth.check_token(f"Bearer {fake.token(kid='another')}")
    finally:
        await auth.close()
        await fake.stop()


async def test_no_keys_to_be_had_refuses_everything(tmp_path, caplog):
    from bot.teams.auth import BotFrameworkAuth, Refused
    from tests.support.fake_teams import APP_ID, TENANT, FakeTeams

    fake = await FakeTeams().start()
    token = fake.token()
    await fake.stop()
    auth = BotFrameworkAuth(APP_ID, frozenset([TENANT]), fake.metadata_url)
    try:
        assert not await auth.warm()
        assert "can't read the Bot Framework's signing keys" in caplog.text
        with pytest.raises(Refused, match="can't read the signing keys"):
            await auth.check_token(f"Bearer {token}")
    finally:
        await auth.close()


SCHEMA = (
    Path(__file__).resolve().parent.parent
    / ".venv/share/teams-manifest/v1.17/MicrosoftTeams.schema.json"
)


def test_the_manifest_validates_against_microsoft_s_published_schema():
    """Microsoft's JSON schema for manifest v1.17, from the npm package @microsoft/app-manifest
    (.ci/run unpacks it); a manifest missing a required field or with a bad id fails it."""
    import jsonschema

    from bot.teams.manifest import SCHEMA_VERSION, manifest

    if not SCHEMA.exists():
        pytest.skip("the Teams manifest schema is not unpacked here (.ci/run does it)")
    schema = json.loads(SCHEMA.read_text())
    assert SCHEMA_VERSION == "1.17"
    validator = jsonschema.Draft4Validator(schema)
    assert [e.message for e in validator.iter_errors(manifest())] == []
    broken = manifest()
    del broken["developer"]
    broken["id"] = "not-a-guid"
    assert len(list(validator.iter_errors(broken))) >= 2


async def test_the_channel_shows_reference_and_first_name_only(tmp_path):
    from reminders.sweeper import Sweeper, run_until
    from tests.support.team import child

    profile = {"description": "slim, short dark hair", "phone": "07700 900123"}
    rig = await TeamsRig.start(
        tmp_path / "w.db", FRIDAY_NIGHT, children=[child(profile=profile, full_name="Jay Smith")]
    )
    try:
        await rig.say("sam", "/absent Jay 21:05 out", OAK)
        root = await rig.reply_to(OAK_CHANNEL, "Recorded")
        sweeper = Sweeper(rig.db, rig.clock, rig.svc.presets)
        await run_until(sweeper, rig.clock, local("2026-10-23 22:41"), rig.delivery.deliver_due)
        review = await rig.reply_to(OAK_CHANNEL, "ABS-REVIEW")  # the outbox, into the thread
        assert review.thread == root.id
        await rig.say("sam", "/police Jay ref WY-9 grade high", OAK)
        await rig.dm("pc1", "Phone: 07700 900123")
        await rig.say("sam", "/profile Jay", OAK)
        await rig.dm("sam", "Phone: 07700 900123")
        channel = rig.fake.in_conversation(OAK_CHANNEL)
        assert len(channel) >= 3
        for message in channel:
            assert "07700" not in message.shown and "Smith" not in message.shown
            assert "slim" not in message.shown
    finally:
        await rig.stop()


async def test_a_chart_goes_inline_and_another_file_is_named_not_lost(rig):
    import base64

    from storage import outbox_store, report_store

    now = rig.clock.now()
    async with rig.db.write() as tx:
        chart = await report_store.add_attachment(tx, "episodes.png", "image/png", b"\x89PNG", now)
        sheet = await report_store.add_attachment(tx, "episodes.csv", "text/csv", b"a,b", now)
        for key, attachment in (("chart:tom", chart), ("sheet:tom", sheet)):
            await outbox_store.enqueue(
                tx, idem_key=key, recipient="staff:tom", text="Episodes per week",
                rule_id="SUM-WEEKLY", now=now, attachment_id=attachment,
            )  # fmt: skip
    assert await rig.delivery.deliver_due() == 2
    posted = rig.fake.in_conversation(personal_id(TEAMS_IDS["tom"]))
    (image,) = [p.attachments[0] for p in posted if p.attachments]
    assert image["contentUrl"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    assert any("episodes.csv" in p.text and "can't attach files" in p.text for p in posted)


async def test_a_group_chat_registered_as_the_home_s_chat_gets_its_messages(tmp_path):
    from tests.support.fake_teams import BOT_ID

    rig = await TeamsRig.start(tmp_path / "w.db", FRIDAY_NIGHT, register_channel=False)
    try:
        group = "19:meeting-oak-staff@thread.v2"
        rig.fake.installed.add(group)
        conversation = {"id": group, "conversationType": "groupChat", "isGroup": True,
                        "tenantId": rig.fake.tenant}  # fmt: skip
        added = rig.activity("conversationUpdate", TEAMS_IDS["tom"], conversation, {},
                             membersAdded=[{"id": BOT_ID}])  # fmt: skip
        assert (await rig.send(added))[0] == 200

        async def said(who: str, text: str) -> None:
            message = rig.activity("message", TEAMS_IDS[who], conversation, {},
                                   text=f"<at>Whereabouts</at> {text}")  # fmt: skip
            assert (await rig.send(message))[0] == 200
            await rig.platform.settle()

        await said("tom", "/register oak")
        await rig.reply_to(group, "now the oak team chat")
        await said("sam", "/absent Jay 21:05 out")
        await rig.reply_to(group, "Recorded: C-0042 Jay absent")
    finally:
        await rig.stop()
