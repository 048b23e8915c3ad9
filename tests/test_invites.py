"""Invites: one-time codes from the command line and chat, replacing or adding an account,
refusing a rebind and leavers, and /whoami; on Telegram and Slack where the transport matters."""

from __future__ import annotations

import pytest

from bot.cli import main
from handlers import enrolment
from handlers.messages import NOT_ENROLLED
from storage import staff_store
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.slack_rig import SlackRig
from tests.support.telegram_rig import IDS, OAK_GROUP, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")


async def test_a_new_invite_replaces_the_old_account_when_redeemed(svc):
    code, _ = await enrolment.create_invite(svc, "sam")
    assert (await enrolment.start(svc, "test", "old-phone", None, code)).text.startswith("Welcome")
    again, _ = await enrolment.create_invite(svc, "sam")  # the phone is lost
    done = await enrolment.start(svc, "test", "new-phone", None, again)
    assert "previous account on test is signed out" in done.text
    assert await staff_store.staff_by_identity(svc.db, "test", "old-phone") is None
    assert (await staff_store.staff_by_identity(svc.db, "test", "new-phone")).id == "sam"  # type: ignore[union-attr]


async def test_add_device_keeps_the_other_accounts(svc):
    code, _ = await enrolment.create_invite(svc, "sam")
    await enrolment.start(svc, "test", "phone", None, code)
    second, _ = await enrolment.create_invite(svc, "sam", add_device=True)
    done = await enrolment.start(svc, "other", "laptop", None, second)
    assert done.text.startswith("Welcome") and "signed out" not in done.text
    assert await staff_store.identities_of(svc.db, "sam") == [
        ("other", "laptop"),
        ("test", "phone"),
    ]


async def test_a_code_from_an_account_bound_to_someone_else_is_refused(svc):
    mine, _ = await enrolment.create_invite(svc, "sam")
    await enrolment.start(svc, "test", "sams-phone", None, mine)
    sam = await staff_store.staff_by_identity(svc.db, "test", "sams-phone")
    theirs, _ = await enrolment.create_invite(svc, "alex")
    refused = await enrolment.start(svc, "test", "sams-phone", sam, theirs)
    assert refused.refused and refused.text == enrolment.REBIND_REFUSED
    assert (await staff_store.staff_by_identity(svc.db, "test", "sams-phone")).id == "sam"  # type: ignore[union-attr]
    # The code was not used up: its owner can still enrol with it.
    assert (await enrolment.start(svc, "test", "alexs-phone", None, theirs)).text.startswith(
        "Welcome"
    )


async def test_invites_for_leavers_are_refused(svc):
    early, _ = await enrolment.create_invite(svc, "alex")
    async with svc.db.write() as tx:
        await staff_store.mark_left(tx, "alex", svc.clock.now(), None, "moved")
    with pytest.raises(ValueError, match="has left"):
        await enrolment.create_invite(svc, "alex")
    refused = await enrolment.start(svc, "test", "u1", None, early)  # issued before they left
    assert refused.refused and refused.text == enrolment.REFUSED
    with pytest.raises(ValueError, match="did you mean sam"):
        await enrolment.create_invite(svc, "sma")


async def test_invite_and_whoami_in_chat(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        reply = await h.say("tom", "/invite priya")
        assert reply.startswith("Invite code for Priya (priya): ") and "replaces" in reply
        code = reply.split(": ", 1)[1].split()[0]
        assert (await enrolment.start(h.svc, "test", "p1", None, code)).text.startswith("Welcome")
        assert "adds a device" in await h.say("admin", "/invite priya add-device")
        assert "Only an admin, or Sam's manager" in await h.say("tom", "/invite sam")
        assert "Only an admin" in await h.say("sam", "/invite alex")
        assert "Only add-device" in await h.say("admin", "/invite alex now")
        async with h.db.write() as tx:
            await staff_store.mark_left(tx, "alex", h.clock.now(), None, None)
        assert "has left: no invite for a leaver" in await h.say("admin", "/invite alex")
        who = await h.say("priya", "/whoami")
        assert (
            who.startswith("You are Priya (priya), social worker") and "Enrolled on: test." in who
        )
        assert "Your manager: Tom." in who
    finally:
        await h.close()


def test_bulk_invites_for_a_team_one_line_each(tmp_path, capsys):
    path = tmp_path / "w.db"
    team = tmp_path / "team.yaml"
    team.write_text(
        "staff:\n"
        "  - {id: sam, name: Sam, role: carer, home: oak}\n"
        "  - {id: alex, name: Alex, role: carer, home: oak}\n"
        "  - {id: kim, name: Kim, role: carer, home: elm}\n"
    )
    assert main(["import", str(team), "--db", str(path)]) == 0
    capsys.readouterr()
    assert main(["invite", "--team", "oak", "--db", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["alex", "Alex"], ["sam", "Sam"]]
    assert main(["invite", "--team", "pine", "--db", str(path)]) == 2
    assert "the homes and teams are elm, oak" in capsys.readouterr().err
    assert main(["invite", "--db", str(path)]) == 2
    assert main(["invite", "--staff", "kim", "--add-device", "--db", str(path)]) == 0
    assert "adds a device" in capsys.readouterr().out


async def test_telegram_revoke_and_reinvite_and_a_refused_rebind(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        rig.says("tom", "/invite priya", chat_id=OAK_GROUP)  # asked in the group
        await rig.reply_to("tom", "Sent to you in a direct message", chat_id=OAK_GROUP)
        dm = await rig.reply_to("tom", "Invite code for Priya")
        code = dm.params["text"].split(": ", 1)[1].split()[0]
        assert all(code not in c.params["text"] for c in rig.fake.sent(chat_id=OAK_GROUP))
        rig.says("sam", f"/start {code}")  # Sam's account is Sam's
        await rig.reply_to("sam", "already enrolled as someone else")
        rig.says(900, f"/start {code}")  # Priya's new phone
        await rig.reply_to(900, "previous account on telegram is signed out")
        rig.says("priya", "/status")  # the lost phone
        await rig.reply_to("priya", NOT_ENROLLED)
        rig.says(900, "/whoami")
        await rig.reply_to(900, "You are Priya (priya)")
        assert await staff_store.identities_of(rig.db, "priya") == [("telegram", "900")]
        assert IDS["priya"] != 900
    finally:
        await rig.stop()


async def test_slack_rebind_refused_and_whoami_by_direct_message(tmp_path):
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        code, _ = await enrolment.create_invite(rig.svc, "alex")
        await rig.command("sam", f"/start {code}")
        await rig.reply_to("sam", "already enrolled as someone else")
        await rig.command("sam", "/whoami")
        await rig.reply_to("sam", "You are Sam (sam), carer (oak). Enrolled on: slack.")
        await rig.dm("UNEW1", code)
        await rig.reply_to("UNEW1", "Welcome, Alex")
        assert await staff_store.identities_of(rig.db, "alex") == [("slack", "UNEW1")]
    finally:
        await rig.stop()


@pytest.mark.rule("ABS-OOH")
async def test_telegram_leaver_mid_climb_is_cut_off_and_the_climb_moves_on(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        rig.says("sam", "/absent Jay 21:05 left after a row")
        await rig.reply_to("ooh1", "C-0042 Jay is absent")
        assert not [c for c in rig.fake.sent(chat_id=IDS["oohm"]) if "Jay" in c.params["text"]]
        rig.says("admin", "/leaver ooh1 left the service")
        await rig.reply_to("admin", "Olu (ooh1) has left")
        await rig.reply_to("oohm", "it comes to you now")
        rig.says("ooh1", "/ack Jay")
        await rig.reply_to("ooh1", NOT_ENROLLED)
        assert await staff_store.identities_of(rig.db, "ooh1") == []
    finally:
        await rig.stop()
