"""Escalation: routing in and out of office hours, the climb, acknowledgement, restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import episode_store, escalation_store, outbox_store
from tests.support.clock import local
from tests.support.footers import footer_rules
from tests.support.harness import Harness
from tests.support.team import child, rota, weekend_rota


@pytest.fixture
async def friday_night(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"), rota_rows=weekend_rota())
    yield h
    await h.close()


@pytest.mark.rule("ABS-SW")
async def test_office_hours_report_goes_to_the_allocated_social_worker(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-26 10:00"))  # a Monday
    await h.say("sam", "/absent Jay 09:50 did not come back from the shop")
    [msg] = h.to("staff:priya")
    assert msg.rule == "ABS-SW" and msg.text.startswith("C-0042 Jay is absent")
    assert msg.text.endswith("\nABS-SW · West Yorkshire §3, §8")
    assert h.to("staff:ooh1") == []
    await h.close()


@pytest.mark.rule("ABS-OOH")
@pytest.mark.rule("ABS-IRO")
async def test_out_of_hours_report_goes_to_the_duty_worker_on_the_rota(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    assert [s.rule for s in h.to("staff:ooh1")] == ["ABS-OOH"]
    assert h.to("staff:priya") == []
    assert [s.rule for s in h.to("staff:iro1")] == ["ABS-IRO"]


@pytest.mark.rule("ABS-OOH")
async def test_bank_holiday_daytime_is_out_of_hours(tmp_path):
    christmas = local("2026-12-25 11:00")  # a Friday, and a bank holiday in England
    h = await Harness.open(
        tmp_path / "w.db",
        christmas,
        rota_rows=[rota("out_of_hours", "ooh2", "2026-12-24T17:00", "2026-12-29T09:00")],
    )
    await h.say("sam", "/absent Jay 10:45 not back from a walk")
    assert [s.rule for s in h.to("staff:ooh2")] == ["ABS-OOH"]
    assert h.to("staff:priya") == []
    await h.close()


@pytest.mark.rule("ABS-OOH")
@pytest.mark.rule("ABS-SW")
async def test_jersey_liberation_day_is_out_of_hours_there_only(tmp_path):
    day = local("2028-05-09 11:00")  # Liberation Day, a Tuesday: a working day in England
    rows = [rota("out_of_hours", "ooh2", "2028-05-08T17:00", "2028-05-10T09:00")]
    jersey = await Harness.open(
        tmp_path / "j.db", day, area="jersey", children=[child(area="jersey")], rota_rows=rows
    )
    await jersey.say("sam", "/absent Jay 10:45 out")
    assert [s.rule for s in jersey.to("staff:ooh2")] == ["ABS-OOH"]
    await jersey.close()
    england = await Harness.open(tmp_path / "e.db", day, rota_rows=rows)
    await england.say("sam", "/absent Jay 10:45 out")
    assert [s.rule for s in england.to("staff:priya")] == ["ABS-SW"]
    await england.close()


@pytest.mark.rule("ABS-OOH")
@pytest.mark.rule("ABS-SW")
async def test_spring_clock_change_office_hours_boundary(tmp_path):
    rows = [rota("out_of_hours", "ooh1", "2026-03-27T17:00", "2026-03-30T09:00")]
    h = await Harness.open(tmp_path / "w.db", local("2026-03-30 08:59"), rota_rows=rows)
    await h.say("sam", "/absent Jay 08:30 out")  # Monday after the change, 08:59 BST
    assert [s.rule for s in h.to("staff:ooh1")] == ["ABS-OOH"]
    await h.close()
    h = await Harness.open(tmp_path / "w2.db", local("2026-03-30 09:00"), rota_rows=rows)
    await h.say("sam", "/absent Jay 08:30 out")
    assert [s.rule for s in h.to("staff:priya")] == ["ABS-SW"]
    await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_climb_across_the_autumn_clock_change_counts_elapsed_time(tmp_path):
    rows = weekend_rota()
    h = await Harness.open(tmp_path / "w.db", local("2026-10-25 00:50"), rota_rows=rows)
    await h.say("sam", "/absent Jay 00:40 climbed out of the window")
    await h.wait(3 * 60)
    stamps = [s.at for s in h.to("staff:ooh1", "ABS-OOH")]
    assert [t - stamps[0] for t in stamps] == [timedelta(0), timedelta(minutes=30)]
    # 00:50 BST, then 30 elapsed minutes later: 01:20 BST (00:20 UTC), not an hour late or early
    assert [t.strftime("%H:%M") for t in stamps] == ["23:50", "00:20"]
    manager = [s.at.strftime("%H:%M") for s in h.to("staff:oohm", "ABS-OOH")]
    assert manager[:2] == ["00:50", "01:20"]  # 01:50 BST, then 01:20 GMT: 30 minutes apart
    await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_nobody_acknowledges_the_ladder_climbs_to_the_end(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.wait(4 * 60)
    assert h.local_times("staff:ooh1", "ABS-OOH") == ["Fri 21:10", "Fri 21:40"]
    assert h.local_times("staff:oohm", "ABS-OOH")[:2] == ["Fri 22:10", "Fri 22:40"]
    assert h.local_times("staff:pc1", "ABS-OOH") == ["Fri 23:10", "Fri 23:40", "Sat 00:10"]
    dead_end = [
        s for s in h.to("staff:admin", "ABS-OOH") if "after the whole escalation ladder" in s.text
    ]
    assert len(dead_end) == 1 and dead_end[0].at == local("2026-10-24 00:40")


async def test_ack_stops_the_climb_and_tells_the_reporter(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.wait(5)
    reply = await h.say("ooh1", "/ack C-0042")
    assert "You have C-0042 Jay [ABS-OOH]" in reply
    [told] = [s for s in h.to("staff:sam") if "has C-0042 Jay" in s.text]
    assert told.text.startswith("Olu has C-0042 Jay")
    await h.wait(40)
    assert h.local_times("staff:ooh1", "ABS-OOH") == ["Fri 21:10"]
    assert h.to("staff:oohm") == []


async def test_ack_with_no_update_asks_to_confirm_then_climbs_again(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.say("ooh1", "/ack Jay")
    await h.wait(60)  # review interval (1 h in west-yorkshire), no update
    [ask] = [s for s in h.to("staff:ooh1") if "Still on it?" in s.text]
    assert ask.at == local("2026-10-23 22:10") and ask.rule == "ABS-OOH"
    await h.wait(15)  # confirm_wait passes without an answer: the climb resumes at the manager
    assert h.local_times("staff:oohm", "ABS-OOH") == ["Fri 22:25"]


async def test_an_update_after_ack_defers_the_check(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.say("ooh1", "/ack Jay")
    await h.wait(40)
    await h.say("sam", "/update Jay rang his friends, no news")
    await h.wait(30)
    assert not [s for s in h.to("staff:ooh1") if "Still on it?" in s.text]
    await h.wait(40)  # an hour after the update
    assert [s.at for s in h.to("staff:ooh1") if "Still on it?" in s.text] == [
        local("2026-10-23 22:50")
    ]


async def test_reconfirming_keeps_it_with_the_acknowledger(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.say("ooh1", "/ack Jay")
    await h.wait(62)
    await h.say("ooh1", "/ack Jay")
    await h.wait(20)
    assert h.to("staff:oohm") == []


async def test_handover_passes_it_on(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.say("ooh1", "/ack Jay")
    reply = await h.say("ooh1", "/handover Jay ooh2")
    assert "Ola has C-0042 Jay" in reply
    assert any("handed C-0042 Jay to Ola" in s.text for s in h.to("staff:ooh2"))
    assert any("handed C-0042 Jay to Ola" in s.text for s in h.to("staff:sam"))
    await h.wait(60)
    assert [s for s in h.to("staff:ooh2") if "Still on it?" in s.text]
    assert not [s for s in h.to("staff:ooh1") if "Still on it?" in s.text]


async def test_escalate_climbs_now(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.wait(5)
    assert "Escalated" in await h.say("sam", "/escalate Jay")
    assert h.local_times("staff:oohm", "ABS-OOH") == ["Fri 21:15"]


async def test_step_with_nobody_on_the_rota_is_skipped_and_reported(tmp_path):
    # Out of hours with no rota at all: the duty and manager steps resolve to nobody.
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"))
    await h.say("sam", "/absent Jay 21:05 left after a row")
    gaps = [s for s in h.to("staff:admin") if "Nobody to tell" in s.text]
    assert gaps and "no out-of-hours duty worker on the rota" in gaps[0].text
    # Skipped at once, not waited out: the police liaison step has nobody either, so the
    # ladder is exhausted immediately and the admins hear that too, in true words: nobody
    # was alerted at all (not "nobody has acknowledged").
    assert any("every step of the alert had nobody" in s.text for s in h.to("staff:admin"))
    assert not any("after the whole escalation ladder" in s.text for s in h.to("staff:admin"))
    await h.close()


@pytest.mark.rule("ABS-OVERNIGHT")
async def test_overnight_prompt(friday_night):
    h = friday_night
    h.clock.set(local("2026-10-23 20:00"))
    await h.say("sam", "/absent Jay 19:50 went out, not answering")
    await h.say("ooh1", "/ack Jay")
    for minutes in range(0, 200, 50):  # Sam keeps updating, so only the cut-off prompts
        await h.say("sam", f"/update Jay still looking ({minutes})")
        await h.wait(50)
    prompts = [s for s in h.sent if s.rule == "ABS-OVERNIGHT"]
    assert {s.to for s in prompts if s.at == local("2026-10-23 23:00")} == {
        "staff:sam", "team:oak", "staff:ooh1",
    }  # fmt: skip
    assert "must not stay out overnight" in prompts[0].text


@pytest.mark.rule("ABS-OVERNIGHT")
async def test_a_report_after_the_cut_off_names_the_cut_off_not_the_time_now(friday_night):
    # Reported at 03:19, last seen 21:00: the prompt goes at once and says "past 23:00"
    # (the area's cut-off), not "past 03:19".
    h = friday_night
    h.clock.set(local("2026-10-24 03:19"))
    await h.say("sam", "/absent Jay 23/10 21:00 not back from town")
    [prompt] = [s for s in h.to("staff:sam") if s.rule == "ABS-OVERNIGHT"]
    assert prompt.at == local("2026-10-24 03:19")
    assert prompt.text.startswith("It is past 23:00 and C-0042 Jay's whereabouts are still")


@pytest.mark.rule("ABS-OVERNIGHT")
async def test_police_report_stops_the_overnight_prompt(friday_night):
    h = friday_night
    h.clock.set(local("2026-10-23 20:00"))
    await h.say("sam", "/absent Jay 19:50 went out")
    await h.wait(60)
    await h.say("sam", "/police Jay ref P1 grade medium")
    await h.wait(5 * 60)
    assert not [s for s in h.sent if s.rule == "ABS-OVERNIGHT"]


@pytest.mark.rule("ABS-REVIEW")
async def test_carer_silent_past_review_interval_is_nagged(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.say("ooh1", "/ack Jay")
    await h.wait(61)
    nags = h.to("staff:sam", "ABS-REVIEW")
    assert (
        nags
        and nags[0].at == local("2026-10-23 22:10")
        and "No update on C-0042 Jay" in nags[0].text
    )


async def test_trigger_plan_shortens_waits_and_sets_report_by(tmp_path):
    plan = {"trigger_plan": {"ladder_wait": "10m", "report_to_police_after": "1h"}}
    h = await Harness.open(
        tmp_path / "w.db",
        local("2026-10-23 21:10"),
        children=[child(profile=plan)],
        rota_rows=weekend_rota(),
    )
    await h.say("sam", "/absent Jay 21:00 left after a row")
    await h.wait(15)
    assert h.local_times("staff:ooh1", "ABS-OOH") == ["Fri 21:10", "Fri 21:20"]
    await h.wait(60)
    report_by = [s for s in h.to("staff:sam") if "trigger plan says report" in s.text]
    assert report_by and report_by[0].at == local("2026-10-23 22:00")
    await h.close()


@pytest.mark.rule("MIS-NOTIFY")
@pytest.mark.rule("MIS-IRO")
async def test_police_report_notifies_and_police_liaison_gets_the_profile(tmp_path):
    profile = {
        "description": "slim, short dark hair",
        "medication": "inhaler",
        "phone": "07700 900123",
    }
    h = await Harness.open(
        tmp_path / "w.db",
        local("2026-10-23 21:10"),
        children=[child(profile=profile)],
        rota_rows=weekend_rota(),
    )
    await h.say("sam", "/absent Jay 21:05 out")
    await h.wait(100)  # long enough for the carer review to reach the home team chat
    await h.say("sam", "/police Jay ref WY-1 grade high")
    [liaison] = h.to("staff:pc1", "MIS-NOTIFY")
    for field in (
        "Description: slim, short dark hair",
        "Medication: inhaler",
        "Phone: 07700 900123",
    ):
        assert field in liaison.text
    assert h.to("team:oak"), "the home team chat was told something"
    assert all("07700" not in s.text and "inhaler" not in s.text for s in h.to("team:oak"))
    assert h.to("staff:iro1", "MIS-IRO")
    assert {s.rule for s in h.to("staff:ooh1")} >= {"MIS-NOTIFY"}
    await h.close()


@pytest.mark.rule("MIS-NEXTDAY")
async def test_hipsw_out_of_hours_police_report_reaches_the_team_next_working_day(tmp_path):
    h = await Harness.open(
        tmp_path / "w.db",
        local("2026-10-23 22:00"),
        area="hipsw",
        children=[child(area="hipsw")],
        rota_rows=weekend_rota(),
    )
    await h.say("sam", "/absent Jay 21:30 out")
    await h.say("sam", "/police Jay ref H-1 grade medium")
    await h.until(local("2026-10-26 09:30"))
    next_day = h.to("staff:priya", "MIS-NEXTDAY")
    assert next_day and next_day[0].at == local("2026-10-26 09:00")
    assert h.to("staff:tom", "MIS-NEXTDAY")[0].at == local("2026-10-26 09:00")
    await h.close()


@pytest.mark.rule("MIS-DISAGREE")
async def test_police_disagreement_calls_in_the_manager_on_duty(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    reply = await h.say("sam", "/disagree Jay police say wait until morning")
    assert "MIS-DISAGREE" in reply
    assert h.to("staff:oohm", "MIS-DISAGREE")


@pytest.mark.rule("RET-TELL")
async def test_found_tells_everyone_who_was_told(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.wait(70)
    await h.say("sam", "/found Jay now self came home")
    told = {s.to for s in h.sent if s.rule == "RET-TELL"}
    assert told == {"staff:ooh1", "staff:oohm", "staff:iro1"}
    count = len(h.sent)
    await h.wait(5 * 60)
    assert [s for s in h.sent[count:] if s.rule != "ABS-REVIEW"] == []
    assert not [s for s in h.sent[count:]], "every climb stops when the child is found"


async def test_running_climb_keeps_its_copied_steps_when_the_preset_changes(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    preset = h.svc.presets["west-yorkshire"]
    ladder = preset.ladders["absence_reported"]
    faster = ladder.model_copy(update={"steps": ladder.steps[:1]})
    h.svc.presets["west-yorkshire"] = preset.model_copy(
        update={"ladders": {**preset.ladders, "absence_reported": faster}}
    )
    await h.wait(75)
    assert h.local_times("staff:oohm", "ABS-OOH") == ["Fri 22:10"], "still the original ladder"


async def test_restart_in_the_middle_of_a_climb_sends_the_next_step_once(tmp_path):
    path = tmp_path / "w.db"
    h = await Harness.open(path, local("2026-10-23 21:10"), rota_rows=weekend_rota())
    await h.say("sam", "/absent Jay 21:05 out")
    await h.wait(35)
    await h.close()

    from bot.delivery import OutboxDelivery
    from handlers.context import Services
    from reminders.sweeper import Sweeper, run_until
    from storage.db import Database

    db = await Database(path).open()
    h.clock.set(local("2026-10-23 22:20"))  # the bot was down through the 22:10 step
    svc = Services(db=db, clock=h.clock)
    sent = []

    async def record(message):
        sent.append(message)

    delivery = OutboxDelivery(db, h.clock, record)
    await delivery.recover()
    await run_until(
        Sweeper(db, h.clock, svc.presets), h.clock, local("2026-10-23 22:21"), delivery.deliver_due
    )
    to_manager = [m for m in sent if m.recipient == "staff:oohm"]
    assert len(to_manager) == 1 and "late by 10 min" in to_manager[0].text
    rows = await db.fetchall("SELECT idem_key FROM outbox WHERE recipient = 'staff:oohm'")
    assert len(rows) == 1, "the missed step was queued once, not once per sweep"
    await db.close()


async def test_every_message_carries_its_rule_id(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("sam", "/concern Jay police")
    await h.say("sam", "/police Jay ref P1 grade high")
    await h.say("sam", "/disagree Jay no officer available")
    await h.wait(6 * 60)
    await h.say("sam", "/found Jay now self back")
    rows = await outbox_store.outbox_messages(h.db)
    # what happened first; the rule ids (and the area's sections) in the footer at the end
    assert rows and all(m.rule_id and m.rule_id in footer_rules(m.text) for m in rows)
    assert not any(m.text.startswith("[") for m in rows)


async def test_sweep_with_nothing_due_changes_nothing(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    before = await escalation_store.escalations_for_episode(h.db, 1)
    assert await h.sweeper.sweep() == 0
    assert await escalation_store.escalations_for_episode(h.db, 1) == before


async def test_second_person_to_ack_is_told_who_has_it(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("ooh1", "/ack Jay")
    reply = await h.say("ooh2", "/ack Jay")
    assert "Olu (since 21:10) already has C-0042 Jay" in reply and "/handover C-0042 ooh2" in reply


@pytest.mark.rule("ABS-REVIEW")
async def test_carer_review_nags_again_after_an_update_resets_it(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("ooh1", "/ack Jay")
    await h.wait(61)  # 22:11: first nag at 22:10
    await h.say("sam", "/update Jay rang round his friends")
    await h.wait(90)  # the review restarts from 22:11: nags at 23:11 and 23:26
    assert h.local_times("staff:sam", "ABS-REVIEW")[:3] == ["Fri 22:10", "Fri 23:11", "Fri 23:26"]


async def test_one_broken_climb_does_not_stop_the_others(tmp_path, monkeypatch):
    from reminders import escalation as esc_module

    h = await Harness.open(
        tmp_path / "w.db",
        local("2026-10-23 21:10"),
        children=[child(), child(ref="C-0043", first_name="Kai")],
        rota_rows=weekend_rota(),
    )
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("sam", "/absent Kai 21:05 out")
    real_fire = esc_module.fire

    async def fire(tx, preset, now, esc, episode, who):
        if who.ref == "C-0042":
            raise RuntimeError("bad template")
        return await real_fire(tx, preset, now, esc, episode, who)

    monkeypatch.setattr(esc_module, "fire", fire)
    await h.wait(31)
    kai = [s for s in h.to("staff:ooh1", "ABS-OOH") if "C-0043" in s.text]
    assert len(kai) == 2, "Kai's reminder went out although Jay's climb is broken"
    assert any("failed to fire" in s.text for s in h.to("staff:admin"))
    rows = await h.db.fetchall(
        "SELECT next_at FROM escalations WHERE child_id = 1 AND ladder = 'absence_reported'"
    )
    assert rows[0]["next_at"] == "2026-10-23T20:45:00Z", "deferred 5 minutes, not spinning"
    await h.close()


async def test_lowering_concern_stops_the_police_level_alert(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("sam", "/concern Jay police seen with older men")
    await h.say("ooh1", "/ack Jay")  # takes the absence alert only if it had fired; both here
    await h.say("sam", "/concern Jay carer he rang, he is at his aunt's")
    await h.wait(120)
    assert not [
        s for s in h.sent if "raised to POLICE" in s.text and s.at > local("2026-10-23 21:10")
    ]


async def test_escalate_leaves_timers_that_have_not_started(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("ooh1", "/ack Jay")
    await h.say("ooh1", "/escalate Jay")
    assert not [s for s in h.sent if s.rule == "ABS-OVERNIGHT"]
    assert not [s for s in h.sent if s.rule == "ABS-REVIEW"]


async def test_escalating_a_colleagues_climb_tells_them(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.say("ooh1", "/ack Jay")
    await h.say("oohm", "/escalate Jay")
    assert any("Morgan escalated C-0042 Jay" in s.text for s in h.to("staff:ooh1"))


async def test_carers_and_the_reporter_cannot_take_the_alert(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    assert "can't do that" in await h.say("alex", "/ack Jay")
    await h.say(
        "ooh1", "/absent C-0042 21:00 also reported by duty"
    )  # second report: not the reporter
    h2 = await h.say("sam", "/ack Jay")
    assert "can't do that" in h2
    await h.wait(31)
    assert h.local_times("staff:ooh1", "ABS-OOH") == ["Fri 21:10", "Fri 21:40"]


async def test_the_reporter_cannot_silence_their_own_alert(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-26 10:00"))
    await h.say("priya", "/absent Jay 09:50 did not arrive at contact")
    reply = await h.say("priya", "/ack Jay")
    assert "You reported C-0042 Jay" in reply
    await h.close()


async def test_a_late_ack_after_the_ladder_ran_out_still_takes_it(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.wait(4 * 60)
    reply = await h.say("ooh1", "/ack Jay")
    assert "You have C-0042 Jay" in reply and "ABS-OOH" in reply
    assert any("Olu has C-0042 Jay" in s.text for s in h.to("staff:sam"))


async def test_carers_get_report_buttons_and_duty_gets_take_it(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 out")
    await h.wait(61)
    rows = await h.db.fetchall("SELECT recipient, buttons_json FROM outbox")
    buttons = {r["recipient"]: r["buttons_json"] for r in rows}
    assert "/ack C-0042" in buttons["staff:ooh1"] and "/callme C-0042" in buttons["staff:ooh1"]
    assert (
        "/ack" not in buttons["staff:sam"] and "/update C-0042 still absent" in buttons["staff:sam"]
    )


async def test_long_details_are_cut_in_alerts_but_kept_on_the_timeline(friday_night):
    h = friday_night
    long = "x" * 3000
    await h.say("sam", f"/absent Jay 21:05 {long}")
    [alert] = h.to("staff:ooh1", "ABS-OOH")
    assert len(alert.text) < 1000 and "(more in /timeline)" in alert.text
    events = await episode_store.events_for_episode(h.db, 1)
    assert any(long in e.text for e in events)


async def test_undeliverable_after_all_retries_moves_the_climb_on(tmp_path, monkeypatch):
    from bot import delivery as delivery_module
    from bot.delivery import OutboxDelivery
    from reminders import escalation as esc_module

    monkeypatch.setattr(delivery_module, "MAX_ATTEMPTS", 2)
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"), rota_rows=weekend_rota())
    sent = []

    async def send(message):
        if message.recipient == "staff:ooh1":
            raise ConnectionError("phone off the network")
        sent.append(message)

    async def unreachable(tx, message, reason):
        await esc_module.recipient_unreachable(
            tx, h.svc.presets, h.clock.now(), message.idem_key, reason
        )

    h.delivery = OutboxDelivery(h.db, h.clock, send, on_undeliverable=unreachable)
    await h.say("sam", "/absent Jay 21:05 out")
    for _ in range(3):
        h.clock.advance(timedelta(seconds=5))
        await h.delivery.deliver_due()
    # true words: why it comes to the manager (was "Escalated to you, nobody has taken this")
    assert any(
        m.recipient == "staff:oohm" and "Olu could not be reached; it comes to you now" in m.text
        for m in sent
    )
    assert any("Could not reach Olu" in m.text for m in sent)
    await h.close()
