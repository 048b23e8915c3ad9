"""The reporter always knows who was reached; escalation texts say what happened.

Real SQLite file, fake clock, the standard cast (tests/support/team.py): Friday 23 October
2026 21:10 is out of office hours; the weekend rota has Olu (ooh1) on duty, Morgan (oohm)
as out-of-hours manager and PC Rees (pc1) as police liaison.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.delivery import OutboxDelivery, PermanentDeliveryError
from config import presets as presets_module
from config.contacts import ENV
from config.presets import PresetError, load_all_presets
from reminders import escalation as esc_module
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import STAFF, weekend_rota

FRIDAY_NIGHT = local("2026-10-23 21:10")


@pytest.fixture
def fresh_presets() -> Iterator[None]:
    """Presets read the deployment's numbers when loaded: load them again around the test."""
    presets_module.load_preset.cache_clear()
    yield
    presets_module.load_preset.cache_clear()


@pytest.fixture
async def friday_night(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT, rota_rows=weekend_rota())
    yield h
    await h.close()


def _texts(h: Harness, to: str) -> list[str]:
    return [s.text for s in h.to(to)]


# ---- 1. the reporter always knows who was reached ------------------------------------


@pytest.mark.rule("ABS-OOH")
async def test_the_report_reply_names_who_is_being_alerted(friday_night):
    h = friday_night
    reply = await h.say("sam", "/absent Jay 21:05 left after a row")
    assert "Alerting Olu (out-of-hours duty worker) now (21:10)" in reply
    assert "Irene (IRO) told for information" in reply
    # true words: queued, not claimed delivered
    assert "Told Olu" not in reply


@pytest.mark.rule("ABS-OOH")
async def test_nobody_on_the_rota_the_reporter_is_told_to_phone_the_areas_number(
    tmp_path, monkeypatch, fresh_presets
):
    monkeypatch.setenv(ENV, '{"west-yorkshire": {"emergency_duty_team": "0113 535 0600"}}')
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)  # no rota at all
    try:
        reply = await h.say("sam", "/absent Jay 21:05 left after a row")
        assert "Nobody could be alerted: no one is on the out-of-hours rota" in reply
        assert "Phone the emergency duty team now on 0113 535 0600." in reply
        assert "Recorded: C-0042 Jay absent" in reply
        # the admin is told (and the gap notices name each missing role once)
        admin = " ".join(_texts(h, "staff:admin"))
        assert "every step of the alert had nobody" in admin
        assert "no out-of-hours manager on the rota, out" not in admin
    finally:
        await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_without_a_number_the_reply_says_it_is_not_set(tmp_path, fresh_presets):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        reply = await h.say("sam", "/absent Jay 21:05 left after a row")
        assert "Phone the emergency duty team now" in reply
        assert "no number for them in west-yorkshire" in reply
    finally:
        await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_no_rota_and_no_admin_the_managers_hear_and_it_is_logged(tmp_path, caplog):
    staff = [s for s in STAFF if s["role"] != "admin"]
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT, staff=staff)
    try:
        with caplog.at_level(logging.ERROR):
            reply = await h.say("sam", "/absent Jay 21:05 left after a row")
        assert "Nobody could be alerted" in reply
        assert "Nobody else could be told either" in reply
        # the child's team manager hears it, with what to do
        tom = " ".join(_texts(h, "staff:tom"))
        assert "C-0042 Jay" in tom and "Phone the emergency duty team" in tom
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors, "a dead end nobody hears is logged at ERROR"
        for record in errors:  # and names nobody
            text = record.getMessage()
            assert "Jay" not in text and "C-0042" not in text and "Sam" not in text
    finally:
        await h.close()


def test_a_deployment_number_that_is_not_one_is_refused_naming_the_area(monkeypatch, fresh_presets):
    monkeypatch.setenv(ENV, '{"jersey": {"emergency_duty_team": "call Bob"}}')
    with pytest.raises(PresetError, match=r"jersey\.emergency_duty_team"):
        load_all_presets()
    monkeypatch.setenv(ENV, '{"narnia": {"emergency_duty_team": "01534 000000"}}')
    presets_module.load_preset.cache_clear()
    with pytest.raises(PresetError, match="unknown area 'narnia'"):
        load_all_presets()


def test_each_preset_carries_its_numbers_or_a_marked_placeholder(fresh_presets):
    for name, preset in load_all_presets().items():
        assert preset.contacts.source, name
        if name == "jersey":  # 101 is not a Jersey number
            assert preset.contacts.police_non_emergency is None
        else:
            assert preset.contacts.police_non_emergency == "101"


@pytest.mark.rule("MIS-NOTIFY")
async def test_police_report_reply_names_who_hears(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    reply = await h.say("sam", "/police Jay ref WY-1 grade medium")
    assert "Alerting" in reply and "Olu (out-of-hours duty worker)" in reply
    assert "PC Rees (police liaison)" in reply


@pytest.mark.rule("RET-TELL")
async def test_found_reply_says_who_is_told(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    reply = await h.say("sam", "/found Jay now self came home")
    assert "Telling" in reply and "Olu (out-of-hours duty worker)" in reply


async def test_status_shows_who_holds_it_and_whether_anyone_was_reached(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    status = await h.say("sam", "/status")
    assert "nobody has taken it yet; alerts reached Olu (out-of-hours duty worker)" in status
    h.clock.advance(timedelta(minutes=4))
    await h.say("ooh1", "/ack Jay")
    assert "held by Olu since 21:14" in await h.say("sam", "/status")
    assert "held by Olu since 21:14" in await h.say("tom", "/status Jay")


async def test_status_says_nobody_was_reached(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        await h.say("sam", "/absent Jay 21:05 out")
        assert "NOBODY REACHED" in await h.say("sam", "/status")
    finally:
        await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_a_send_that_fails_for_good_is_told_to_the_reporter(friday_night):
    h = friday_night

    async def send(message):
        if message.recipient == "staff:ooh1":
            raise PermanentDeliveryError("bot blocked by the user")
        await h._record(message)

    async def unreachable(tx, message, reason):
        await esc_module.recipient_unreachable(
            tx, h.svc.presets, h.clock.now(), message.idem_key, reason
        )

    h.delivery = OutboxDelivery(h.db, h.clock, send, on_undeliverable=unreachable)
    reply = await h.say("sam", "/absent Jay 21:05 out")
    assert "Alerting Olu" in reply
    await h.delivery.deliver_due()
    assert any("Could not reach Olu" in t for t in _texts(h, "staff:sam"))
    assert any("Olu" not in t or "Could not" in t for t in _texts(h, "staff:oohm"))
    # the alert moved on to the manager, saying why
    [moved] = [s for s in h.to("staff:oohm", "ABS-OOH") if "comes to you now" in s.text]
    assert "Olu could not be reached; it comes to you now (first alert" in moved.text


# ---- 2. true words --------------------------------------------------------------------


@pytest.mark.rule("MIS-NOTIFY")
async def test_after_an_ack_the_climb_says_who_took_it_not_that_nobody_did(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("sam", "/police Jay ref WY-1 grade medium")
    h.clock.advance(timedelta(minutes=6))
    await h.say("ooh1", "/ack Jay")  # 21:16
    await h.until(local("2026-10-24 03:00"))  # review 3 h, confirm 15 min: it climbs on
    to_morgan = [t for t in _texts(h, "staff:oohm") if "comes to you now" in t]
    assert to_morgan, _texts(h, "staff:oohm")
    assert "Olu took this at 21:16 and has not confirmed since 21:16" in to_morgan[0]
    assert "nobody" not in to_morgan[0].lower()
    for s in h.sent:
        assert "nobody has taken" not in s.text.lower(), s.text


@pytest.mark.rule("ABS-OOH")
async def test_the_holder_is_never_escalated_to_about_what_they_hold(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    h.clock.advance(timedelta(minutes=2))
    await h.say("ooh1", "/ack Jay")
    h.clock.advance(timedelta(minutes=2))
    reply = await h.say("ooh1", "/escalate Jay")  # the holder escalates: to the manager
    assert "alerting Morgan (out-of-hours manager) now" in reply
    morgan = [t for t in _texts(h, "staff:oohm") if "comes to you now" in t]
    assert "Olu took this at 21:12 and escalated it at 21:14; it comes to you now" in morgan[0]
    h.clock.advance(timedelta(minutes=2))
    await h.say("oohm", "/ack Jay")
    held = len(h.to("staff:oohm"))
    h.clock.advance(timedelta(minutes=2))
    await h.say("oohm", "/escalate Jay")  # the next step is [manager, police liaison]: Morgan
    await h.wait(120)
    assert not [s for s in h.to("staff:oohm")[held:] if "Take it" in s.text]
    assert any("comes to you now" in s.text for s in h.to("staff:pc1"))
    for s in h.to("staff:ooh1"):  # Olu, who handed it up, is not asked to take it again
        assert "comes to you now" not in s.text


@pytest.mark.rule("MIS-DISAGREE")
async def test_the_out_of_hours_manager_disagreeing_is_not_told_to_call_himself_in(
    friday_night,
):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    h.clock.advance(timedelta(minutes=1))
    before = len(h.to("staff:oohm", "MIS-DISAGREE"))
    reply = await h.say("oohm", "/disagree Jay police say wait until morning")
    assert "You are the manager on duty" in reply
    assert "calls in the manager on duty" not in reply
    assert len(h.to("staff:oohm", "MIS-DISAGREE")) == before


@pytest.mark.rule("MIS-DISAGREE")
async def test_a_carers_disagreement_names_the_manager_called_in(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    h.clock.advance(timedelta(minutes=1))
    reply = await h.say("sam", "/disagree Jay police say wait until morning")
    assert "Calling in Morgan (out-of-hours manager) now" in reply


@pytest.mark.rule("ABS-OOH")
@pytest.mark.rule("MIS-NOTIFY")
async def test_a_change_of_concern_and_a_police_report_update_the_holder(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("ooh1", "/ack Jay")
    count = len(h.sent)
    reply = await h.say("sam", "/concern Jay police seen getting into a car")
    assert "Olu (out-of-hours duty worker), who has this, has been updated" in reply
    new = h.sent[count:]
    assert [s.to for s in new] == ["staff:ooh1"]
    assert "Update on C-0042 Jay, which you hold: level of concern raised to police" in (
        new[0].text
    )
    count = len(h.sent)
    await h.say("sam", "/police Jay ref WY-1 grade high")
    to_olu = [s for s in h.sent[count:] if s.to == "staff:ooh1"]
    assert len(to_olu) == 1 and "which you hold: reported missing to the police" in to_olu[0].text
    # no fresh alert to the manager: Olu holds it
    assert not [s for s in h.sent[count:] if s.to == "staff:oohm"]
    # and no fresh "take it" to the holder within the hour
    await h.wait(60)
    assert not [s for s in h.sent[count:] if s.to == "staff:ooh1" and "Take it" in s.text]
    assert "held by Olu" in await h.say("sam", "/status")


@pytest.mark.rule("RHI-72H")
async def test_a_carer_is_never_offered_rhi_but_told_who_arranges_it(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("sam", "/police Jay ref WY-1 grade medium")
    reply = await h.say("sam", "/found Jay now self came home")
    assert "/rhi" not in reply
    assert "Priya (social worker) holds the duty to arrange the return home interview" in reply


@pytest.mark.rule("RHI-72H")
async def test_a_duty_worker_recording_the_return_is_offered_rhi(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("sam", "/police Jay ref WY-1 grade medium")
    reply = await h.say("ooh1", "/found Jay now self came home")
    assert "/rhi C-0042" in reply


@pytest.mark.rule("MIS-NOTIFY")
async def test_skip_notices_name_each_missing_role_once(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        await h.say("sam", "/absent Jay 21:05 out")
        await h.say("sam", "/police Jay ref WY-1 grade medium")
        notices = [part for text in _texts(h, "staff:admin") for part in text.split("\n\n")]
        assert any("no out-of-hours manager on the rota" in n for n in notices)
        for notice in notices:  # one notice each (a merged message holds several)
            assert notice.count("out-of-hours manager on the rota") <= 1, notice
            assert "out of hours manager" not in notice, notice
    finally:
        await h.close()


@pytest.mark.rule("ABS-LOG")
async def test_any_change_of_concern_is_told_to_the_holder_in_a_line(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("ooh1", "/ack Jay")
    h.clock.advance(timedelta(minutes=1))
    reply = await h.say("sam", "/concern Jay none answered a text, says he is safe")
    assert "Olu (out-of-hours duty worker), who has this, has been updated" in reply
    update = h.to("staff:ooh1")[-1].text
    assert "Update on C-0042 Jay, which you hold: level of concern carer -> none (Sam)" in update
    # the person who holds it changing the concern is not told of it
    count = len(h.to("staff:ooh1"))
    h.clock.advance(timedelta(minutes=1))
    await h.say("ooh1", "/concern Jay carer no reply since")
    assert len(h.to("staff:ooh1")) == count


@pytest.mark.rule("ABS-OOH")
async def test_a_live_clock_with_microseconds_still_tells_the_reporter_nobody_was_alerted(
    tmp_path,
):
    # The stored times are to the second; the live clock is not.
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT + timedelta(microseconds=654321))
    try:
        reply = await h.say("sam", "/absent Jay 21:05 left after a row")
        assert "Nobody could be alerted" in reply
        assert not [s for s in h.to("staff:sam") if "Nobody" in s.text], "said once, in the reply"
    finally:
        await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_a_ladder_that_runs_out_after_an_ack_does_not_say_nobody_acknowledged(
    friday_night,
):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    h.clock.advance(timedelta(minutes=1))
    await h.say("pc1", "/ack Jay")  # the police liaison takes it, then goes quiet
    await h.until(local("2026-10-24 01:00"))
    absence = [s for s in h.sent if s.rule == "ABS-OOH"]  # the alert PC Rees took
    ran_out = [s for s in absence if "nobody is left on the escalation ladder" in s.text]
    assert ran_out, [s.text for s in absence]
    assert "PC Rees took this at 21:11 and has not confirmed since" in ran_out[0].text
    for s in absence:
        assert "Nobody has acknowledged" not in s.text, s.text
        assert "nobody has taken" not in s.text.lower(), s.text


@pytest.mark.rule("ABS-OVERNIGHT")
async def test_a_late_report_with_no_rota_still_says_nobody_could_be_alerted(tmp_path):
    # After the overnight cut-off the home's own chat and the carer are prompted at once;
    # that is not anyone being alerted to take it.
    h = await Harness.open(tmp_path / "w.db", local("2026-10-24 00:30"))
    try:
        reply = await h.say("sam", "/absent Jay 21:05 left after a row")
        assert "Nobody could be alerted: no one is on the out-of-hours rota" in reply
        assert "Posted in the oak team chat." in reply
        status = await h.say("tom", "/status")
        assert "NOBODY REACHED" in status and "Sam" not in status.split("concern")[1]
    finally:
        await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_an_alert_a_leaver_had_taken_says_so_to_the_next_person(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.say("ooh1", "/ack Jay")
    h.clock.advance(timedelta(minutes=5))
    await h.say("admin", "/leaver ooh1 left the service")
    [moved] = [s for s in h.to("staff:oohm", "ABS-OOH") if "comes to you now" in s.text]
    assert "Olu took this at 21:10 and has left; it comes to you now" in moved.text
    assert "nobody has taken" not in moved.text.lower()


async def test_refusals_suggest_only_commands_the_person_may_run(friday_night):
    h = friday_night
    # the police liaison may record a police report but not report an absence
    reply = await h.say("pc1", "/police Jay ref WY-1 grade medium")
    assert "no open episode" in reply and "/absent" not in reply
    assert "carers or the duty team report an absence" in reply
    assert "/absent C-0042" in await h.say("sam", "/police Jay ref WY-1 grade medium")
