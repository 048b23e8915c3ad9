"""Personal notification rules (issue 21): chat at once, then SMS after a delay unless the
alert is taken first; the service's default in the preset, a role's set by a manager, one's
own by /notify; a method without a verified contact is skipped and said."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from pydantic import ValidationError

from config.presets import NotificationRules
from reminders.notification_rules import chain_words, decide, parse_chain
from storage import outbox_store
from tests.support.clock import local
from tests.support.notify_rig import NotifyRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
M = timedelta(minutes=1)


@pytest.fixture
async def rig(tmp_path):
    rig = await NotifyRig.open(tmp_path / "w.db", FRIDAY_NIGHT)
    yield rig
    await rig.close()


def test_the_default_is_sms_after_five_minutes_for_urgent_and_chat_only_for_routine():
    rules = NotificationRules()
    urgent = decide(True, rules, None, None, {"sms"})
    assert urgent.sends == (("sms", 5 * M),) and urgent.source == "the service's default"
    assert chain_words(urgent.chain) == "chat at once, SMS after 5 min"
    routine = decide(False, rules, None, None, {"sms", "email"})
    assert routine.sends == () and chain_words(routine.chain) == "chat only"
    assert decide(True, rules, None, None, set()).skipped == ("sms",)


def test_own_rules_win_over_the_roles_and_the_roles_over_the_services():
    rules = NotificationRules()
    role = parse_chain("chat 0, sms 2")
    own = parse_chain("chat 0, email 1h")
    assert decide(True, rules, role, None, {"sms"}).sends == (("sms", 2 * M),)
    mine = decide(True, rules, role, own, {"sms", "email"})
    assert mine.sends == (("email", 60 * M),) and mine.source == "yours"


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("chat 5", "chat always goes at once"),
        ("sms 5, sms 10", "each method once"),
        ("sms 10, email 5", "must not go down"),
        ("pigeon 5", "a method"),
        ("sms soon", "the delay"),
        ("sms 2000", "between 0 and 24 hours"),
    ],
)
def test_a_chain_that_cannot_work_is_refused_saying_why(typed, why):
    with pytest.raises(ValueError, match=why):
        parse_chain(typed)


def test_the_preset_block_is_checked_like_the_rest_of_the_preset():
    with pytest.raises(ValidationError, match="chat always goes at once"):
        NotificationRules.model_validate({"urgent": [{"method": "chat", "after": "5m"}]})
    with pytest.raises(ValidationError):
        NotificationRules.model_validate({"urgent": [{"method": "fax"}]})
    assert NotificationRules.model_validate(
        {"urgent": [{"method": "chat"}, {"method": "email", "after": "1h"}]}
    ).urgent[1].after == timedelta(hours=1)


async def test_an_urgent_alert_nobody_takes_goes_by_sms_after_five_minutes(rig):
    h = rig.harness
    await h.say("sam", "/absent Jay 21:05 left after a row")
    assert h.to("staff:ooh1"), "the chat alert went at once"
    await h.until(FRIDAY_NIGHT + 4 * M)
    assert rig.texts_to("ooh1") == []
    await h.until(FRIDAY_NIGHT + 5 * M)
    (text,) = rig.texts_to("ooh1")
    assert text.startswith(
        "Whereabouts: urgent alert for C-0042 (ABS-OOH) waiting for you since 21:10."
    )
    assert "Reply ACK " in text
    await h.wait(60)
    assert len(rig.texts_to("ooh1")) == 1, "one text per alert and person, not one per repeat"


async def test_the_sms_does_not_go_when_the_alert_was_taken_in_chat_first(rig):
    h = rig.harness
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.until(FRIDAY_NIGHT + 3 * M)
    await h.say("ooh1", "/ack Jay")
    await h.until(FRIDAY_NIGHT + 30 * M)
    assert rig.texts_to("ooh1") == []
    rows = await h.db.fetchall("SELECT state FROM alert_followups WHERE staff_id = 'ooh1'")
    assert [r["state"] for r in rows] == ["dropped"]


async def test_taken_by_a_colleague_or_found_the_sms_does_not_go_either(rig):
    h = rig.harness
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.until(FRIDAY_NIGHT + 2 * M)
    await h.say("sam", "/found Jay 21:11 self came back")
    await h.until(FRIDAY_NIGHT + 30 * M)
    assert not rig.notify.sent


async def test_ones_own_rule_and_a_roles_rule_set_by_a_manager(rig):
    h = rig.harness
    assert "Only managers" in await h.say("ooh1", "/notify role out_of_hours urgent chat 0, sms 1")
    reply = await h.say("oohm", "/notify role out-of-hours urgent chat 0, sms 2")
    assert "out_of_hours: urgent alerts now go chat at once, SMS after 2 min" in reply
    shown = await h.say("ooh1", "/notify")
    assert "Urgent alerts: chat at once, SMS after 2 min (your role's default)." in shown
    assert "Routine alerts: chat only (the service's default)." in shown
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.until(FRIDAY_NIGHT + 2 * M)
    assert len(rig.texts_to("ooh1")) == 1

    reply = await h.say("ooh2", "/notify urgent chat 0")
    assert "Urgent alerts: chat only (yours)." in reply
    reply = await h.say("ooh2", "/notify urgent default")
    assert "Urgent alerts: chat at once, SMS after 2 min (your role's default)." in reply
    assert "Not changed" in await h.say("ooh2", "/notify urgent chat 5")


async def test_a_method_without_a_verified_contact_is_skipped_and_said(rig):
    h = rig.harness
    shown = await h.say("priya", "/notify")
    assert (
        "SMS is skipped: you have no verified mobile number. Add one: /contact sms <mobile>"
        in shown
    )
    shown = await h.say("ooh1", "/notify")
    assert "SMS: +447700900105 (verified)." in shown


async def test_a_bad_number_for_notify_moves_the_climb_on_and_is_reported(rig):
    """Notify's 400 for the text: the supervisors hear of it and the next person is alerted
    now, not when the step's wait runs out."""
    h = rig.harness
    rig.notify.fail("sms", 400, "phone_number Not a UK mobile number")
    await h.say("sam", "/absent Jay 21:05 left after a row")
    told_before = len(h.to("staff:oohm"))
    await h.until(FRIDAY_NIGHT + 5 * M)
    failed = [m for m in await outbox_store.outbox_messages(h.db) if m.recipient == "sms:ooh1"]
    assert [m.state for m in failed] == ["failed"]
    notices = [s.text for s in h.to("staff:oohm")[told_before:]]
    assert any(
        "Could not reach Olu about C-0042" in t
        and "the text failed" in t
        and "Not a UK mobile number" in t
        for t in notices
    ), notices
    assert any("could not be reached; it comes to you now" in t for t in notices), notices


async def test_the_timeline_says_who_was_texted(rig):
    h = rig.harness
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.until(FRIDAY_NIGHT + 5 * M)
    timeline = await h.say("tom", "/timeline Jay")
    assert "bot: alerted Olu by SMS [ABS-OOH], delivered 21:15" in timeline


async def test_a_text_due_after_the_person_has_left_is_not_sent(rig):
    from storage import staff_store

    h = rig.harness
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.until(FRIDAY_NIGHT + 2 * M)
    async with h.db.write() as tx:
        await staff_store.mark_left(tx, "ooh1", h.clock.now(), None, "left")
    await h.until(FRIDAY_NIGHT + 10 * M)
    assert rig.texts_to("ooh1") == []
    rows = await h.db.fetchall("SELECT state FROM alert_followups WHERE staff_id = 'ooh1'")
    assert [r["state"] for r in rows] == ["dropped"]


@pytest.mark.rule("ABS-OOH")
async def test_the_text_goes_five_real_minutes_later_across_the_clocks_going_back(tmp_path):
    # 01:58 BST on Sun 25 Oct 2026; the clocks go back at 02:00 BST to 01:00 GMT, so five
    # minutes later is 01:03 GMT by the wall clock: the delay is elapsed time, not wall time.
    at = local("2026-10-25 01:58").astimezone(UTC)  # UTC: aware sums in a zone are wall time
    rig = await NotifyRig.open(tmp_path / "w.db", at)
    try:
        h = rig.harness
        await h.say("sam", "/absent Jay now left after a row")
        await h.until(at + 4 * M)
        assert rig.texts_to("ooh1") == []
        await h.until(at + 5 * M)
        texts = rig.texts_to("ooh1")
        assert texts and all("waiting for you since 01:58" in t for t in texts)
    finally:
        await rig.close()
