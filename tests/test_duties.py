"""Statutory duties through the whole bot: made by episode events, chased, handed up, closed."""

from __future__ import annotations

from datetime import datetime

import pytest

from storage import duty_store, episode_store
from storage.models import Duty
from tests.support.clock import local
from tests.support.footers import footer_rules
from tests.support.harness import Harness
from tests.support.team import STAFF, child, weekend_rota

SENIORS = [
    {"id": "hos", "name": "Hana", "role": "head_of_service"},
    {"id": "ad", "name": "Adel", "role": "assistant_director"},
    {"id": "dcs", "name": "Dee", "role": "director"},
    {"id": "mc", "name": "Mo", "role": "missing_coordinator"},
]


async def open_harness(
    tmp_path, start: datetime, area: str, rota_rows: list[dict] | None = None, **child_fields
) -> Harness:
    return await Harness.open(
        tmp_path / "w.db",
        start,
        area=area,
        children=[child(area=area, **child_fields)],
        staff=STAFF + SENIORS,
        rota_rows=rota_rows or weekend_rota(),
    )


async def duty(h: Harness, rule: str) -> Duty:
    found = [d for d in await duty_store.open_duties(h.db) if d.rule_id == rule]
    assert len(found) == 1, f"expected one open {rule}, got {found}"
    return found[0]


async def all_duties(h: Harness, rule: str) -> list[Duty]:
    rows = await h.db.fetchall("SELECT id FROM duties WHERE rule_id = ? ORDER BY id", (rule,))
    return [d for row in rows if (d := await duty_store.get_duty(h.db, row["id"])) is not None]


async def missing_then_found(h: Harness, seen: str, found: str) -> None:
    """One missing episode for Jay, reported and found at these local times (same day)."""
    await h.until(local(seen))
    assert "Recorded" in await h.say("sam", f"/absent Jay {seen[11:]} left after tea")
    assert "Recorded" in await h.say("sam", "/police Jay ref P-1 grade medium")
    await h.until(local(found))
    assert "Recorded" in await h.say("sam", f"/found Jay {found[11:]} self came home")


# ---- chasing and the hand-up ----------------------------------------------------------------


@pytest.mark.rule("RHI-72H")
async def test_return_interview_is_chased_then_the_manager_is_told(tmp_path):
    # Mid-November, no clock change: found Mon 10:00 -> due Thu 10:00 (RHI-72H, 72 h).
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "west-yorkshire")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    rhi = await duty(h, "RHI-72H")
    assert rhi.owner_id == "priya" and rhi.due_at == local("2026-11-12 10:00")
    await h.until(local("2026-11-14 12:00"))
    chased = h.to("staff:priya", "RHI-72H")
    # The return interview can wait for office hours: a reminder due out of hours is held to
    # the next opening (the deadline stays Thu 10:00).
    assert [s.at for s in chased] == [
        local("2026-11-11 10:00"),  # the lead time: a day before
        local("2026-11-12 10:00"),  # at the deadline
        local("2026-11-13 09:00"),  # 12 hours overdue (22:00), held to 09:00: manager told too
    ]  # then daily: Sat 09:00 is held to Monday's opening
    assert "in 1 d 0 h" in chased[0].text and "Due now" in chased[1].text
    assert "OVERDUE by 23 h" in chased[2].text and "/done D" in chased[2].text
    assert all(footer_rules(s.text) == ["RHI-72H"] for s in chased)
    told = h.to("staff:tom", "RHI-72H")
    assert [(s.at, s.rule) for s in told if "overdue" in s.text] == [
        (local("2026-11-13 09:00"), "RHI-72H")
    ], "the manager hears once, after the first overdue reminder"
    await h.until(local("2026-11-16 12:00"))
    assert [s.at for s in h.to("staff:priya", "RHI-72H")][3:] == [local("2026-11-16 09:00")]
    await h.close()


@pytest.mark.rule("RHI-LATE")
async def test_hipsw_late_interview_goes_to_the_head_of_service_as_rhi_late(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "hipsw")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    await h.until(local("2026-11-12 10:30"))
    late = h.to("staff:hos", "RHI-LATE")
    assert len(late) == 1 and late[0].at == local("2026-11-12 10:00")
    assert "RHI-72H" not in {s.rule for s in h.to("staff:tom")}
    await h.close()


@pytest.mark.rule("RHI-72H")
async def test_done_stops_the_chase_and_goes_on_the_timeline(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "west-yorkshire")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    rhi = await duty(h, "RHI-72H")
    reply = await h.say("priya", f"/done {rhi.label} booked with Ana for Wednesday")
    assert f"{rhi.label} [RHI-72H]" in reply and "done" in reply
    await h.until(local("2026-11-16 10:00"))
    assert h.to("staff:priya", "RHI-72H") == []
    events = await episode_store.events_for_episode(h.db, rhi.episode_id)
    closed = [e for e in events if e.kind == "duty_done"]
    assert closed and closed[0].actor_id == "priya" and "booked with Ana" in closed[0].text
    again = await h.say("priya", f"/done {rhi.label} twice")
    assert "already done by Priya" in again
    await h.close()


@pytest.mark.rule("RET-SWC")
async def test_not_applicable_needs_a_reason(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "west-yorkshire")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    swc = await duty(h, "RET-SWC")
    refused = await h.say("pc1", f"/na {swc.label}")
    assert "reason is required" in refused
    assert (await duty_store.get_duty(h.db, swc.id)).state == "open"
    reply = await h.say("pc1", f"/na {swc.label} child returned to another force area")
    assert "not applicable" in reply
    assert (await duty_store.get_duty(h.db, swc.id)).state == "not_applicable"
    await h.close()


async def test_only_the_owner_their_manager_or_oversight_can_close(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "west-yorkshire")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    rhi = await duty(h, "RHI-72H")
    assert "belongs to someone else" in await h.say("sam", f"/done {rhi.label} done")
    assert "no duty D" in await h.say("iro1", "/done D999 x")
    assert "is not a duty" in await h.say("priya", "/done tomorrow")
    assert "closed as done" in await h.say("tom", f"/done {rhi.label} covered by Tom")
    await h.close()


async def test_duties_lists_overdue_first_with_deadlines(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "west-yorkshire")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    await h.until(local("2026-11-12 11:00"))
    listing = await h.say("priya", "/duties")
    lines = listing.splitlines()
    assert lines[0].startswith("Your open duties")
    # the most overdue first: the parents' notice (WY §3, 24 h from the absence), then RHI-72H
    assert "[MIS-NOTIFY] C-0042 Jay: OVERDUE by 2 d 2 h" in lines[1]
    assert "[RHI-72H] C-0042 Jay: OVERDUE by 1 h" in lines[2]
    manager_view = await h.say("tom", "/duties")
    assert "Overdue in your team" in manager_view and "RHI-72H" in manager_view
    assert await h.say("sam", "/duties") != listing
    await h.close()


@pytest.mark.rule("RHI-72H")
@pytest.mark.rule("RHI-SIGNOFF")
async def test_interview_held_closes_the_interview_duties_and_asks_for_sign_off(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "hipsw")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    await h.until(local("2026-11-10 15:00"))
    await h.say("priya", "/rhi Jay held by Ana (independent)")
    assert [d.state for d in await all_duties(h, "RHI-72H")] == ["done"]
    signoff = await duty(h, "RHI-SIGNOFF")
    assert signoff.owner_id == "tom"
    # 2 working days (ours; H §7.11): the end of office hours on the 2nd working day after
    assert signoff.due_at == local("2026-11-12 17:00")
    await h.close()


async def test_a_duty_with_nobody_to_own_it_is_reported_to_the_admins(tmp_path):
    h = await open_harness(
        tmp_path, local("2026-11-09 08:00"), "west-yorkshire", social_worker=None, team_manager=None
    )
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    rhi = await duty(h, "RHI-72H")
    assert rhi.owner_id is None
    told = h.to("staff:admin", "RHI-72H")
    assert told and "Nobody to own" in told[0].text and "social worker" in told[0].text
    await h.close()


# ---- meetings that recur while the child is missing -------------------------------------------


@pytest.mark.rule("MIS-STRAT-B")
@pytest.mark.rule("MIS-MAMM-B")
async def test_strategy_meeting_recurs_weekly_and_lapses_when_found(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "buckinghamshire")
    await h.until(local("2026-11-09 11:00"))
    await h.say("sam", "/absent Jay 10:30 left for school, never arrived")
    await h.say("sam", "/police Jay ref B-1 grade medium")
    strat = await duty(h, "MIS-STRAT-B")
    assert strat.due_at == local("2026-11-09 17:00")  # the same working day
    mamm = await duty(h, "MIS-MAMM-B")
    assert mamm.due_at == local("2026-11-16 17:00")  # 5 working days, to the end of office hours
    reply = await h.say("priya", f"/done {strat.label} held with police and school")
    assert "Next:" in reply and "MIS-STRAT-B" in reply
    again = await duty(h, "MIS-STRAT-B")
    assert again.due_at == local("2026-11-16 11:00")  # a week on, while still missing
    await h.until(local("2026-11-10 12:00"))
    await h.say("sam", "/found Jay 11:45 police at the station")
    states = {
        d.rule_id: d.state for d in await duty_store.duties_for_episode(h.db, strat.episode_id)
    }
    assert states["MIS-MAMM-B"] == "not_applicable"
    assert [d.state for d in await all_duties(h, "MIS-STRAT-B")] == ["done", "not_applicable"]
    await h.close()


# ---- patterns across episodes ------------------------------------------------------------------


@pytest.mark.rule("REP-J")
async def test_jersey_third_missing_episode_in_30_days_calls_a_meeting_once(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-02 08:00"), "jersey")
    for day in ("02", "09"):
        await missing_then_found(h, f"2026-11-{day} 10:00", f"2026-11-{day} 12:00")
    assert await all_duties(h, "REP-J") == []
    await missing_then_found(h, "2026-11-16 10:00", "2026-11-16 12:00")
    rep = await all_duties(h, "REP-J")
    assert len(rep) == 1 and "3 times in 30 days" in rep[0].action
    await missing_then_found(h, "2026-11-20 10:00", "2026-11-20 12:00")
    assert len(await all_duties(h, "REP-J")) == 1, "once per 30-day window"
    await h.close()


@pytest.mark.rule("REP-B")
async def test_buckinghamshire_counts_missing_episodes_not_absences_for_the_hub(tmp_path):
    # B: "All children who go missing 3 times or more within 90 days": two absences and one
    # missing episode are not three times missing (this test pinned the opposite before).
    h = await open_harness(tmp_path, local("2026-11-02 08:00"), "buckinghamshire")
    for day in ("02", "04"):
        await h.until(local(f"2026-11-{day} 10:00"))
        await h.say("sam", "/absent Jay 09:45 not back from the shop")
        await h.say("sam", "/found Jay 10:00 self back")
    await h.until(local("2026-11-06 10:00"))
    await h.say("sam", "/absent Jay 09:45 gone again")
    await h.say("sam", "/police Jay ref B-9 grade medium")
    assert await all_duties(h, "REP-B") == []
    await h.until(local("2026-11-06 12:00"))
    await h.say("sam", "/found Jay 11:50 self back")
    for day in ("2026-11-20", "2026-12-28"):  # the third on the Boxing Day bank holiday
        await missing_then_found(h, f"{day} 10:00", f"{day} 12:00")
    rep = await all_duties(h, "REP-B")
    assert len(rep) == 1 and "Missing & Exploitation Hub" in rep[0].action
    await h.close()


# ---- the Director letter (DIR-LETTER, NS §4.3) ---------------------------------------------------


@pytest.mark.rule("DIR-LETTER")
async def test_fourth_notification_for_a_child_looked_after_elsewhere_needs_a_signed_letter(
    tmp_path,
):
    h = await open_harness(
        tmp_path,
        local("2026-11-02 08:00"),
        "north-somerset",
        legal_status="looked_after_elsewhere",
        home_authority="Bristol City Council",
    )
    for day in ("02", "03", "04"):
        await missing_then_found(h, f"2026-11-{day} 09:00", f"2026-11-{day} 09:30")
    assert await all_duties(h, "DIR-LETTER") == []
    await h.until(local("2026-11-05 09:00"))
    await h.say("sam", "/absent Jay 08:50 gone from school")
    await h.say("sam", "/police Jay ref N-4 grade medium")
    letter = await duty(h, "DIR-LETTER")
    assert letter.owner_id == "dcs" and letter.due_at == local("2026-11-05 17:00")
    await h.until(local("2026-11-05 18:30"))
    chased = [s.at for s in h.to("staff:dcs", "DIR-LETTER")]
    assert chased[:4] == [
        local("2026-11-05 09:00"),
        local("2026-11-05 11:00"),
        local("2026-11-05 13:00"),
        local("2026-11-05 15:00"),
    ]
    assert local("2026-11-05 17:00") in chased
    # Overdue, it goes up the line only: nobody ranks above the Director, so not the
    # Assistant Director (below); the admins are told there is nobody to hand it up to.
    assert h.to("staff:ad", "DIR-LETTER") == []
    (up,) = [s for s in h.to("staff:admin", "DIR-LETTER") if "overdue" in s.text]
    assert "nobody above them" in up.text
    draft = await h.say("dcs", "/letter Jay")
    assert "Bristol City Council" in draft and "4 missing notifications" in draft
    assert "police reference N-4" in draft and "Signed:" in draft
    assert "Only the child's social worker" in await h.say("sam", "/letter Jay")
    await h.close()


@pytest.mark.rule("DIR-LETTER")
async def test_a_notification_showing_risk_of_harm_needs_a_letter_at_once(tmp_path):
    h = await open_harness(
        tmp_path,
        local("2026-11-02 08:00"),
        "north-somerset",
        legal_status="looked_after_elsewhere",
        home_authority="Bristol City Council",
    )
    await h.until(local("2026-11-02 10:00"))
    await h.say("sam", "/absent Jay 09:30 seen getting into a car")
    await h.say("sam", "/police Jay ref N-1 grade high")
    reply = await h.say("priya", "/harm Jay seen with adults known for exploitation")
    assert "[DIR-LETTER]" in reply
    assert (await duty(h, "DIR-LETTER")).owner_id == "dcs"
    await h.close()


# ---- flags, independent interviews, host authority --------------------------------------------------


@pytest.mark.rule("MIS-ABDUCT")
async def test_suspected_abduction_calls_a_strategy_meeting_now(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "jersey")
    await h.until(local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 taken in a car")
    reply = await h.say("sam", "/abduction Jay witness saw him pushed into a car")
    assert "[MIS-ABDUCT]" in reply
    abduct = await duty(h, "MIS-ABDUCT")
    assert abduct.due_at == local("2026-11-09 11:00")
    await h.until(local("2026-11-09 11:40"))
    assert h.to("staff:priya", "MIS-ABDUCT")
    assert any("overdue" in s.text for s in h.to("staff:tom", "MIS-ABDUCT"))
    assert "sets no duty" in await h.say("sam", "/media Jay local paper wants a photo")
    await h.close()


@pytest.mark.rule("RHI-INDEP")
@pytest.mark.rule("RHI-CHASE")
async def test_independent_interviewer_request_is_followed_up(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "north-somerset")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    reply = await h.say("priya", "/rhi Jay independent wants someone from outside")
    assert "independent interviewer" in reply
    indep = await duty(h, "RHI-INDEP")
    assert indep.due_at == local("2026-11-10 10:00")
    reply = await h.say("priya", f"/done {indep.label} sent to the provider")
    assert "Next:" in reply and "RHI-CHASE" in reply
    chase = await duty(h, "RHI-CHASE")
    assert chase.due_at == local("2026-11-12 10:00")
    await h.close()


@pytest.mark.rule("HOST-TELL")
@pytest.mark.rule("MIS-SIN")
async def test_host_authority_told_and_sin_raised_for_a_child_from_elsewhere(tmp_path):
    h = await open_harness(
        tmp_path,
        local("2026-11-09 08:00"),
        "north-somerset",
        legal_status="looked_after_elsewhere",
        home_authority="Bristol City Council",
    )
    await h.until(local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 left school")
    await h.say("sam", "/police Jay ref N-1 grade medium")
    host = await duty(h, "HOST-TELL")
    assert host.owner_id == "mc" and "Bristol City Council" in host.action
    # NS §4.1: the host closes the episode "without conducting the RHI or risk assessment
    # sections, as this is the responsibility of the home authority": no MIS-SIN (this test
    # pinned one before).
    assert await all_duties(h, "MIS-SIN") == []
    await h.close()


# ---- restart ----------------------------------------------------------------------------------------


async def test_duty_reminders_survive_a_restart(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "west-yorkshire")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    await h.close()
    again = await Harness.open(
        tmp_path / "w.db", local("2026-11-11 09:00"), area="west-yorkshire",
        children=[child()], staff=STAFF + SENIORS,
    )  # fmt: skip
    await again.until(local("2026-11-12 10:30"))
    assert [s.at for s in again.to("staff:priya", "RHI-72H")] == [
        local("2026-11-11 10:00"),
        local("2026-11-12 10:00"),
    ]
    await again.close()


@pytest.mark.rule("RET-HOURS")
async def test_hipsw_says_who_brings_a_child_back_by_the_clock(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 20:00"), "hipsw")
    await h.say("sam", "/absent Jay 19:30 not back from town")
    day = await h.say("sam", "/away Jay at his aunt's on Elm Road")
    assert "[RET-HOURS] Between 09:00–21:00 the local authority" in day
    await h.say("sam", "/found Jay 20:30 family aunt brought him")
    await h.until(local("2026-11-09 22:00"))
    await h.say("sam", "/absent Jay 21:45 left again")
    night = await h.say("sam", "/away Jay at a friend's flat")
    assert "[RET-HOURS] Outside 09:00–21:00 the local authority or the police" in night
    await h.close()


@pytest.mark.rule("RET-HOURS")
async def test_areas_without_the_rule_give_no_advice(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 20:00"), "west-yorkshire")
    await h.say("sam", "/absent Jay 19:30 not back from town")
    assert "RET-HOURS" not in await h.say("sam", "/away Jay at his aunt's")
    await h.close()


@pytest.mark.rule("MIS-SIN")
async def test_serious_incident_notification_for_a_child_without_a_plan_after_24_hours(tmp_path):
    # NS §3.4: looked after, CIN or CP at once; anyone else once missing 24 hours.
    h = await open_harness(
        tmp_path, local("2026-11-09 08:00"), "north-somerset", legal_status="no_plan"
    )
    await h.until(local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 did not come home")
    await h.say("sam", "/police Jay ref N-7 grade medium")
    sin = await duty(h, "MIS-SIN")
    assert sin.applies_from == local("2026-11-10 09:30")
    assert sin.due_at == local("2026-11-10 17:00")  # the same working day as the 24 h mark
    await h.until(local("2026-11-10 09:00"))
    assert h.to("staff:priya", "MIS-SIN") == [], "nothing before 24 hours missing"
    await h.until(local("2026-11-10 10:00"))
    assert [s.at for s in h.to("staff:priya", "MIS-SIN")] == [local("2026-11-10 09:30")]
    await h.close()


@pytest.mark.rule("MIS-SIN")
async def test_serious_incident_notification_lapses_if_found_within_24_hours(tmp_path):
    h = await open_harness(
        tmp_path, local("2026-11-09 08:00"), "north-somerset", legal_status="no_plan"
    )
    await missing_then_found(h, "2026-11-09 09:30", "2026-11-09 15:00")
    (sin,) = await all_duties(h, "MIS-SIN")
    assert sin.state == "not_applicable" and "found before 24 h" in (sin.note or "")
    await h.close()


@pytest.mark.rule("RHI-EDT")
async def test_out_of_hours_return_interview_depends_on_the_gap_to_the_next_working_day(tmp_path):
    # NS §1.6: found Friday 22:00, next working day Monday 09:00 is 59 h away -> hold it.
    h = await open_harness(
        tmp_path,
        local("2026-11-06 18:00"),
        "north-somerset",
        rota_rows=weekend_rota("2026-11-06T17:00", "2026-11-09T09:00"),
    )
    await missing_then_found(h, "2026-11-06 19:00", "2026-11-06 22:00")
    edt = await duty(h, "RHI-EDT")
    assert edt.owner_id == "ooh1" and edt.due_at == local("2026-11-09 17:00")
    assert "59 h away" in edt.action and "hold the return interview yourself" in edt.action
    assert [s.at for s in h.to("staff:ooh1", "RHI-EDT")] == [local("2026-11-06 22:00")]
    await h.close()


@pytest.mark.rule("RHI-EDT")
async def test_no_out_of_hours_interview_duty_when_the_office_opens_soon(tmp_path):
    # Found Tuesday 06:00: the office opens in 3 hours, under NS §1.6's 16.
    h = await open_harness(tmp_path, local("2026-11-10 04:00"), "north-somerset")
    await missing_then_found(h, "2026-11-10 04:30", "2026-11-10 06:00")
    assert await all_duties(h, "RHI-EDT") == []
    await h.close()


@pytest.mark.rule("MIS-STRAT-NS")
async def test_a_late_police_report_does_not_move_the_24_hour_strategy_clock(tmp_path):
    # NS §1.7: 72 hours after the child has been missing 24 hours, however late the report.
    h = await open_harness(tmp_path, local("2026-11-10 16:00"), "north-somerset")
    await h.say("sam", "/absent Jay yesterday 10:00 did not come back from college")
    await h.say("sam", "/police Jay ref N-30 grade medium")  # 30 h after last seen
    strat = await duty(h, "MIS-STRAT-NS")
    assert strat.applies_from == local("2026-11-10 10:00")
    assert strat.due_at == local("2026-11-13 10:00")  # 96 h after last seen, not 102 h
    await h.close()


@pytest.mark.rule("MIS-24H-POLICE")
async def test_a_daily_police_update_recurs_from_when_the_last_was_recorded(tmp_path):
    # H §5.6.3: missing 24 h, then the police update the local authority daily.
    h = await open_harness(tmp_path, local("2026-11-09 10:00"), "hipsw")
    await h.say("sam", "/absent Jay 09:30 gone")
    await h.say("sam", "/police Jay ref H-2 grade medium")
    first = await duty(h, "MIS-24H-POLICE")
    # "When a child has been absent for a period of 24 hours, the police should then daily
    # update": the first is due at the 24-hour mark (it was 24 h later before).
    assert first.due_at == local("2026-11-10 09:30")
    await h.until(local("2026-11-10 12:00"))
    reply = await h.say("pc1", f"/done {first.label} police: still searching, sightings in town")
    assert "Next:" in reply
    second = await duty(h, "MIS-24H-POLICE")
    assert second.due_at == local("2026-11-11 12:00")
    await h.close()
