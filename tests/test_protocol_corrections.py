"""Corrections from a line-by-line reading of the five protocols, each on a date that matters.

Every expected time is worked out by hand from RULES.md "How to count" and the protocol
sentence quoted in the test.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from config.presets import AREAS, load_all_presets
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import STAFF, child, weekend_rota
from tests.test_rule_duties import (
    SENIORS,
    duties_of,
    found_alerts,
    missing_then_found,
    only,
    open_harness,
)

PROTOCOLS = Path(__file__).resolve().parent.parent / "config" / "protocols"


# ---- counting ---------------------------------------------------------------------------


def test_every_preset_says_its_office_hours_are_ours():
    # RULES.md: "None of the protocols defines office hours; 09:00-17:00 on working days is
    # ours, and each preset must say so where it sets them."
    for area in AREAS:
        raw = yaml.safe_load((PROTOCOLS / f"{area}.yaml").read_text())
        assert raw["office_hours"]["source"].startswith("ours"), area
    for preset in load_all_presets().values():
        assert preset.office_hours.source.startswith("ours")


@pytest.mark.rule("MIS-NEXTDAY")
async def test_a_report_at_3am_on_a_working_day_is_picked_up_that_day(tmp_path):
    # H §6.4.6: "the emergency duty team, if out of hours, and the Social Worker and
    # accountable team manager the next working day". RULES.md: for an event before opening
    # on a working day the next working day is that same date. Reported 03:10 on Tue 29 Dec
    # 2026, the first working day after Christmas (Boxing Day observed on Monday 28): due
    # Tuesday 17:00, picked up at 09:00 the same day, not on Wednesday.
    h = await open_harness(tmp_path, local("2026-12-29 03:05"), "hipsw")
    await h.say("sam", "/absent Jay 03:00 window open, bed empty")
    await h.say("sam", "/police Jay ref H-29 grade medium")
    nextday = await only(h, "MIS-NEXTDAY")
    assert nextday.due_at == local("2026-12-29 17:00")
    await h.until(local("2026-12-29 17:30"))
    assert [s.at for s in h.to("staff:priya", "MIS-NEXTDAY")] == [
        local("2026-12-29 09:00"),
        local("2026-12-29 17:00"),
    ]
    assert [s.at for s in h.to("staff:tom", "MIS-NEXTDAY")][:1] == [local("2026-12-29 09:00")]
    await h.close()


# ---- found: the allocated worker, the missing tray, the CP chair and the IRO ----------------

CP_CHAIR = {"id": "cpc", "name": "Chidi", "role": "iro"}


@pytest.mark.rule("RET-ALERT")
async def test_found_out_of_hours_alerts_the_allocated_worker_tray_and_cp_chair(tmp_path):
    # B LCS §1.9: the 'Found' alert "goes to the Allocated Case Worker and the Missing Tray,
    # plus the CP Chair and IRO if the child has one". Found at 22:00 on Christmas Eve: the
    # allocated worker (not the out-of-hours worker) and the CP chair of a child on a
    # protection plan hear of it at once.
    h = await open_harness(
        tmp_path,
        local("2026-12-24 19:00"),
        "buckinghamshire",
        legal_status="child_protection",
        iro=None,
        cp_chair="cpc",
        extra_staff=[CP_CHAIR],
    )
    await missing_then_found(h, "2026-12-24 19:30", "2026-12-24 22:00")
    alerts = found_alerts(h)
    assert {"staff:priya", "staff:mc", "staff:cpc"} <= set(alerts)
    assert "staff:ooh1" not in alerts, "the out-of-hours worker hears as one told (RET-TELL)"
    for who in ("staff:priya", "staff:mc", "staff:cpc"):
        assert alerts[who].at == local("2026-12-24 22:00")
    await h.close()


@pytest.mark.rule("RET-ALERT")
async def test_the_missing_tray_is_its_holders_when_nobody_is_on_the_rota(tmp_path):
    # The tray is read by whoever holds it: with no missing coordinator on shift on a Sunday
    # night, the one who holds the role still gets the found alert.
    h = await Harness.open(
        tmp_path / "w.db",
        local("2026-10-25 19:00"),
        area="buckinghamshire",
        children=[child(area="buckinghamshire")],
        staff=STAFF + SENIORS,
        rota_rows=weekend_rota("2026-10-23T17:00", "2026-10-26T09:00"),
    )
    await missing_then_found(h, "2026-10-25 19:30", "2026-10-25 23:00")
    assert {"staff:priya", "staff:mc", "staff:iro1"} <= set(found_alerts(h))
    await h.close()


# ---- a family missing 7 days ----------------------------------------------------------------


@pytest.mark.rule("MIS-FAMILY-7D")
async def test_a_lone_child_missing_7_days_makes_no_family_review(tmp_path):
    # H §10.10 (in §10 "Missing vulnerable families": "the loss of professional contact with
    # a ... family"): "In the event of a family being 'missing' for a period of 7 days". Jay
    # alone, missing from Sat 24 Oct over the clock change to Mon 2 Nov: no family review.
    h = await open_harness(tmp_path, local("2026-10-24 10:10"), "hipsw")
    await h.say("sam", "/absent Jay 10:00 left after a row")
    await h.say("sam", "/police Jay ref H-7 grade medium")
    await h.until(local("2026-11-02 18:00"))
    assert await duties_of(h, "MIS-FAMILY-7D") == []
    assert h.to("staff:hos", "MIS-FAMILY-7D") == []
    await h.close()


# ---- North Somerset -------------------------------------------------------------------------


@pytest.mark.rule("RHI-72H")
@pytest.mark.rule("RET-FINAL")
async def test_a_decline_to_the_out_of_hours_worker_is_followed_up_before_finalising(tmp_path):
    # NS §2.14: "The offer of a RHI cannot be considered as final in this circumstance until
    # the child or young person's allocated practitioner follows up with them on the next
    # working day to again offer the RHI and seek consent." Declined to Olu on Sat 24 Oct;
    # the clocks go back that night; the next working day is Mon 26 Oct, due at its close.
    h = await open_harness(tmp_path, local("2026-10-23 20:00"), "north-somerset")
    await missing_then_found(h, "2026-10-23 20:30", "2026-10-24 10:00")
    await h.until(local("2026-10-24 11:00"))
    assert "Recorded" in await h.say("ooh1", "/rhi Jay declined does not want to talk tonight")
    follow = [d for d in await duties_of(h, "RHI-72H") if d.state == "open"]
    assert len(follow) == 1
    [duty] = follow
    assert duty.owner_id == "priya" and duty.due_at == local("2026-10-26 17:00")
    assert "not final" in duty.action
    refused = await h.say("tom", "/finalise Jay")
    assert f"waits for {duty.label}" in refused and "finalised [" not in refused
    await h.until(local("2026-10-26 10:00"))
    assert [s.at for s in h.to("staff:priya", "RHI-72H")][-1:] == [local("2026-10-26 09:00")]
    await h.say("priya", f"/done {duty.label} offered again; still declines, parents agree")
    assert "finalised [RET-FINAL]" in await h.say("tom", "/finalise Jay")
    await h.close()


@pytest.mark.rule("RHI-72H")
async def test_a_decline_to_the_allocated_worker_in_office_hours_is_final(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "north-somerset")
    await missing_then_found(h, "2026-11-09 08:30", "2026-11-09 10:00")
    await h.say("priya", "/rhi Jay declined said no")
    assert [d for d in await duties_of(h, "RHI-72H") if d.state == "open"] == []
    assert "finalised [RET-FINAL]" in await h.say("tom", "/finalise Jay")
    await h.close()


@pytest.mark.rule("RHI-EDT")
@pytest.mark.rule("RHI-72H")
async def test_over_christmas_the_out_of_hours_worker_holds_the_interview_within_72_hours(
    tmp_path,
):
    # NS §1.6.2: "Where the next working day occurs in 48 hours or more, the out of hours
    # social worker will be responsible for offering and ... conducting the RHI"; §2.1 it
    # "must be offered and completed within 72 hours". Back on Christmas Eve at 18:00: the
    # next working day is Tue 29 Dec (87 h away), so the 72 hours end Sun 27 Dec 18:00 and
    # the interview is Olu's, not the allocated worker's.
    h = await open_harness(tmp_path, local("2026-12-24 15:00"), "north-somerset")
    await missing_then_found(h, "2026-12-24 15:30", "2026-12-24 18:00")
    edt = await only(h, "RHI-EDT")
    assert edt.owner_id == "ooh1" and edt.due_at == local("2026-12-27 18:00")
    assert "hold the return interview yourself" in edt.action
    assert await duties_of(h, "RHI-72H") == []
    await h.close()


@pytest.mark.rule("RHI-72H")
async def test_a_weekday_evening_return_stays_with_the_allocated_worker(tmp_path):
    # NS §1.6.1: 16-47 h to the next working day, the out-of-hours worker only asks; the
    # allocated worker holds the interview within 72 h. Back Tue 10 Nov 2026 at 17:00, the
    # close of office hours: Wednesday's opening is 16 h away.
    h = await open_harness(tmp_path, local("2026-11-10 15:00"), "north-somerset")
    await missing_then_found(h, "2026-11-10 15:30", "2026-11-10 17:00")
    rhi = await only(h, "RHI-72H")
    assert rhi.owner_id == "priya" and rhi.due_at == local("2026-11-13 17:00")
    edt = await only(h, "RHI-EDT")
    assert edt.owner_id == "ooh1" and edt.due_at == local("2026-11-11 17:00")
    await h.close()


@pytest.mark.rule("MIS-STRAT-NS")
async def test_harm_calls_a_strategy_meeting_within_72_hours_in_north_somerset(tmp_path):
    # NS §1.7: "Strategy meetings must also be conducted whenever information suggests a child
    # or young person is at risk of significant harm due to the circumstances in which they
    # went missing" (no later than 72 hours). On the August bank holiday, 72 elapsed hours.
    h = await open_harness(tmp_path, local("2026-08-31 10:00"), "north-somerset")
    await h.say("sam", "/absent Jay 09:30 picked up by an older man in a car")
    reply = await h.say("priya", "/harm Jay seen getting into a car with a known exploiter")
    assert "sets no duty" not in reply and "[MIS-STRAT-NS]" in reply
    meeting = await only(h, "MIS-STRAT-NS")
    assert meeting.owner_id == "priya" and meeting.due_at == local("2026-09-03 10:00")
    assert "significant harm" in meeting.action
    await h.close()


@pytest.mark.rule("RHI-CHASE")
async def test_the_team_manager_hears_three_working_days_after_the_planned_date(tmp_path):
    # NS §2.9: after 72 hours with no response, follow up; §2.10: "If the social worker has
    # not received any response after three working days following the date of which the RHI
    # was to take place, they must inform their team manager". The request goes Thu 24 Dec
    # 2026 10:00; the interview was to be done by Sun 27 Dec 10:00; three working days after
    # skip Mon 28 Dec (Boxing Day observed): Thu 31 Dec 17:00. Counted in calendar reminders
    # before, the manager heard on Tue 29 Dec.
    h = await open_harness(tmp_path, local("2026-12-24 08:00"), "north-somerset")
    await missing_then_found(h, "2026-12-24 08:30", "2026-12-24 09:00")
    await h.until(local("2026-12-24 09:30"))
    await h.say("priya", "/rhi Jay independent wants someone from outside")
    await h.until(local("2026-12-24 10:00"))
    [indep] = await duties_of(h, "RHI-INDEP")
    await h.say("priya", f"/done {indep.label} sent to the provider")
    chase = await only(h, "RHI-CHASE")
    assert chase.due_at == local("2026-12-27 10:00")
    await h.until(local("2027-01-01 12:00"))
    told = [s.at for s in h.to("staff:tom", "RHI-CHASE") if "is overdue" in s.text]
    assert told == [local("2026-12-31 17:00")]
    await h.close()


HOST = {"legal_status": "looked_after_elsewhere", "home_authority": "Bristol City Council"}


@pytest.mark.rule("HOST-TELL")
@pytest.mark.rule("RET-FINAL")
async def test_a_host_child_gets_no_interview_risk_or_strategy_duties(tmp_path):
    # NS §4.1: the host informs the home authority and completes the episode "without
    # conducting the RHI or risk assessment sections, as this is the responsibility of the
    # home authority"; §4.2 the home authority convenes any strategy meeting. Missing Fri 18
    # Dec from 18:00 over the weekend, back Sun 20 Dec.
    h = await open_harness(tmp_path, local("2026-12-18 17:50"), "north-somerset", **HOST)
    await missing_then_found(h, "2026-12-18 18:00", "2026-12-20 12:00")
    for rule in ("RHI-72H", "RHI-EDT", "MIS-SIN", "MIS-STRAT-NS"):
        assert await duties_of(h, rule) == [], rule
    assert len(await duties_of(h, "HOST-TELL")) == 1
    assert "finalised [RET-FINAL]" in await h.say("tom", "/finalise Jay home authority told")
    await h.close()


@pytest.mark.rule("RHI-72H")
@pytest.mark.rule("RHI-RECORD")
async def test_buckinghamshire_does_not_interview_another_authoritys_child(tmp_path):
    # B: "Barnardo's won't routinely complete Return Home Interviews for children from a
    # placing Authority outside of Buckinghamshire unless they have been commissioned".
    h = await open_harness(tmp_path, local("2026-12-28 09:00"), "buckinghamshire", **HOST)
    await missing_then_found(h, "2026-12-28 09:30", "2026-12-28 12:00")
    assert await duties_of(h, "RHI-72H") == [] and await duties_of(h, "RHI-RECORD") == []
    await h.close()


@pytest.mark.rule("DIR-LETTER")
async def test_a_risk_of_harm_letter_is_its_own_duty_due_the_same_working_day(tmp_path):
    # NS §4.3: "four or more missing notifications ..., or any notification which indicates
    # that the child ... is at risk of harm"; "signed ... on the same working day that the
    # decision to write is made". A harm notification on Sat 29 Aug (before the bank
    # holiday): due Tue 1 Sep 17:00. The 4th-notification letter is a separate duty, so the
    # urgency flag can chase only this one out of hours.
    h = await open_harness(tmp_path, local("2026-08-29 10:00"), "north-somerset", **HOST)
    await h.say("sam", "/absent Jay 09:30 left with two older boys")
    await h.say("priya", "/harm Jay older boys known for county lines")
    [letter] = await duties_of(h, "DIR-LETTER")
    assert letter.owner_id == "dcs" and letter.due_at == local("2026-09-01 17:00")
    assert "risk of harm" in letter.action
    assert letter.spec["trigger"] == "harm"
    await h.close()


# ---- Hampshire ------------------------------------------------------------------------------


@pytest.mark.rule("MIS-GRADE")
async def test_a_child_missing_from_home_is_never_graded_low_in_hampshire(tmp_path):
    # H §5.3.2 (a child missing from home): "A risk level grading of either high or medium
    # will be used". A 16-year-old living at home, reported on Boxing Day.
    h = await open_harness(
        tmp_path, local("2026-12-26 10:00"), "hipsw", legal_status="no_plan", dob="2010-01-01"
    )
    await h.say("sam", "/absent Jay 09:30 not home since last night")
    refused = await h.say("sam", "/police Jay ref H-16 grade low")
    assert "medium or high" in refused and "missing from home" in refused
    assert "Recorded" in await h.say("sam", "/police Jay ref H-16 grade medium")
    await h.close()
    # a looked-after 16-year-old may still be graded low (H §6.4.5 is about under-16s)
    cared = await open_harness(tmp_path / "lac", local("2026-12-26 10:00"), "hipsw",
                               dob="2010-01-01")  # fmt: skip
    await cared.say("sam", "/absent Jay 09:30 not back")
    assert "Recorded" in await cared.say("sam", "/police Jay ref H-17 grade low")
    await cared.close()


@pytest.mark.rule("MIS-24H-POLICE")
async def test_the_first_daily_police_update_is_due_at_24_hours_over_the_clock_change(tmp_path):
    # H §5.6.3: "When a child has been absent for a period of 24 hours, the police should then
    # daily update". Last seen Sat 24 Oct 10:00 BST: 24 elapsed hours is Sun 09:00 GMT.
    h = await open_harness(tmp_path, local("2026-10-24 10:10"), "hipsw")
    await h.say("sam", "/absent Jay 10:00 gone")
    await h.say("sam", "/police Jay ref H-24 grade medium")
    update = await only(h, "MIS-24H-POLICE")
    assert update.owner_id == "pc1" and update.due_at == local("2026-10-25 09:00")
    assert update.action.startswith("Police liaison (a police duty")
    await h.close()


# ---- Buckinghamshire ------------------------------------------------------------------------


@pytest.mark.rule("MIS-STRAT-B")
async def test_a_high_risk_childs_strategy_meeting_is_still_held_after_return(tmp_path):
    # B: "If the child returns prior to the meeting, the meeting can be cancelled, however
    # where there are repeat concerns or a high risk to the child, it is recommended that a
    # professionals meeting is still held." Graded high on Christmas Eve, back that evening.
    h = await open_harness(tmp_path, local("2026-12-24 10:00"), "buckinghamshire")
    await h.say("sam", "/absent Jay 09:30 gone")
    await h.say("sam", "/police Jay ref B-24 grade high")
    await h.until(local("2026-12-24 20:00"))
    await h.say("sam", "/found Jay 19:50 self came back")
    [meeting] = await duties_of(h, "MIS-STRAT-B")
    assert meeting.state == "open" and "professionals meeting" in meeting.action
    await h.until(local("2026-12-29 18:00"))
    assert (await only(h, "MIS-STRAT-B")).state == "open"
    await h.close()


@pytest.mark.rule("MIS-STRAT-B")
async def test_a_first_medium_risk_episodes_meeting_lapses_at_return(tmp_path):
    h = await open_harness(tmp_path, local("2026-12-24 10:00"), "buckinghamshire")
    await missing_then_found(h, "2026-12-24 10:00", "2026-12-24 20:00")
    [meeting] = await duties_of(h, "MIS-STRAT-B")
    assert meeting.state == "not_applicable"
    await h.close()


@pytest.mark.rule("MIS-STRAT-B")
async def test_repeat_concerns_keep_the_strategy_meeting_after_return(tmp_path):
    h = await open_harness(tmp_path, local("2026-12-21 10:00"), "buckinghamshire")
    await missing_then_found(h, "2026-12-21 10:00", "2026-12-21 12:00")
    await missing_then_found(h, "2026-12-24 10:00", "2026-12-24 20:00")
    states = [d.state for d in await duties_of(h, "MIS-STRAT-B")]
    assert states == ["not_applicable", "open"]
    await h.close()


@pytest.mark.rule("MIS-MEDIA")
async def test_a_media_alert_duty_says_the_parents_are_told_first(tmp_path):
    # B "Media alerts": "The child's parents must be informed prior to a press release being
    # made"; WY §10: the police "inform the child's social worker and the child's parents
    # /carers prior to any publicity". On Christmas Day.
    h = await open_harness(tmp_path, local("2026-12-25 10:30"), "buckinghamshire")
    await h.say("sam", "/absent Jay 10:00 gone from the house")
    await h.say("sam", "/police Jay ref B-25 grade high")
    await h.say("priya", "/media Jay police want to publish his photo")
    media = await only(h, "MIS-MEDIA")
    assert "parents are told before any press release" in media.action
    await h.close()


@pytest.mark.rule("REP-B")
async def test_two_absences_and_one_missing_episode_are_not_three_times_missing(tmp_path):
    # B: "All children who go missing 3 times or more within 90 days". Over Easter 2026.
    h = await open_harness(tmp_path, local("2026-04-01 09:00"), "buckinghamshire")
    for day in ("2026-04-01", "2026-04-03"):
        await h.until(local(f"{day} 10:00"))
        await h.say("sam", "/absent Jay 09:45 late back")
        await h.say("sam", "/found Jay 10:00 self back")
    await missing_then_found(h, "2026-04-06 10:00", "2026-04-06 12:00")
    assert await duties_of(h, "REP-B") == []
    await h.close()


# ---- West Yorkshire ------------------------------------------------------------------------


@pytest.mark.rule("RET-SWC")
async def test_no_prevention_check_for_a_child_found_by_the_carer(tmp_path):
    # WY §6: a Prevention Check is not expected where the child "was returned or was found by
    # the carer before initial Police attendance". Found by the carer on New Year's Day.
    h = await open_harness(tmp_path, local("2027-01-01 08:00"), "west-yorkshire")
    await missing_then_found(h, "2027-01-01 08:30", "2027-01-01 10:00", "family found him")
    assert await duties_of(h, "RET-SWC") == []
    await h.close()
    other = await open_harness(tmp_path / "o", local("2027-01-01 08:00"), "west-yorkshire")
    await missing_then_found(other, "2027-01-01 08:30", "2027-01-01 10:00", "self came home")
    assert len(await duties_of(other, "RET-SWC")) == 1
    await other.close()


# ---- Jersey ---------------------------------------------------------------------------------


@pytest.mark.rule("MIS-DISAGREE")
async def test_a_police_disagreement_goes_to_the_out_of_hours_manager_at_once_in_office_hours(
    tmp_path,
):
    # J §5 (f), §6.6: the carer or social worker "should immediately escalate the matter to
    # the out of Hours manager who will liaise with the Police Duty officer": at once, in
    # office hours too (the Monday after Liberation Day week), not 30 minutes after the team
    # manager.
    jersey = ZoneInfo("Europe/Jersey")
    h = await open_harness(tmp_path, local("2026-05-11 10:00", jersey), "jersey")
    await h.say("sam", "/absent Jay 09:30 gone from school")
    await h.say("sam", "/disagree Jay police say wait until tonight")
    first = [s for s in h.sent if s.rule == "MIS-DISAGREE"]
    assert {s.to for s in first} >= {"staff:oohm", "staff:tom"}
    assert all(s.at == local("2026-05-11 10:00", jersey) for s in first)
    await h.close()


def test_out_of_scope_lists_rule_ids_or_protocol_sections_with_the_sentence():
    listed = yaml.safe_load((PROTOCOLS.parent / "out_of_scope.yaml").read_text())
    sections = [key for key in listed if " §" in key]
    assert {"NS §1.4", "NS §2.13", "H §7.4"} <= set(sections)
    for key in sections:
        assert key.split(" §")[0] in {"J", "H", "B", "NS", "WY"}
        assert '"' in listed[key], f"{key}: quote the protocol sentence"


# ---- parents, placements and visits ---------------------------------------------------------


async def open_rules(h, rule: str) -> list:
    return [d for d in await duties_of(h, rule) if d.state == "open"]


@pytest.mark.rule("RHI-72H")
async def test_a_child_placed_with_parents_is_visited_within_72_hours_of_return(tmp_path):
    # WY §8 Placement with Parents: "On a child's return, the child's social worker (or an
    # agreed alternative professional) must arrange to visit the child within 72 hours." Back
    # Sat 24 Oct 10:00 BST: 72 elapsed hours end Tue 27 Oct 09:00 GMT. Recording the
    # interview does not close the visit.
    h = await open_harness(
        tmp_path, local("2026-10-24 08:00"), "west-yorkshire", placement_type="with_parents"
    )
    await missing_then_found(h, "2026-10-24 08:30", "2026-10-24 10:00")
    [visit] = [d for d in await duties_of(h, "RHI-72H") if "visit them" in d.action]
    assert visit.owner_id == "priya" and visit.due_at == local("2026-10-27 09:00")
    await h.say("priya", "/rhi Jay held by the independent worker")
    assert [d.label for d in await open_rules(h, "RHI-72H")] == [visit.label]
    await h.close()
    other = await open_harness(tmp_path / "o", local("2026-10-24 08:00"), "west-yorkshire")
    await missing_then_found(other, "2026-10-24 08:30", "2026-10-24 10:00")
    assert not [d for d in await duties_of(other, "RHI-72H") if "visit them" in d.action]
    await other.close()


@pytest.mark.rule("MIS-NOTIFY")
async def test_west_yorkshire_social_worker_tells_the_parents_unless_the_plan_says_not(tmp_path):
    # WY §3: the social worker responsible "will: Inform the child's parents / carers"; WY §8
    # (out of area) "within 24 hours"; RULES.md MIS-NOTIFY: when reported missing. Reported
    # on New Year's Eve 21:50: due 21:50 on New Year's Day.
    h = await open_harness(tmp_path, local("2026-12-31 21:50"), "west-yorkshire")
    await h.say("sam", "/absent Jay 21:40 not back from town")
    assert await duties_of(h, "MIS-NOTIFY") == [], "an absence alone: the carer handles it"
    await h.say("sam", "/police Jay ref WY-31 grade medium")
    tell = await only(h, "MIS-NOTIFY")
    assert tell.owner_id == "priya" and tell.due_at == local("2027-01-01 21:50")
    assert "parents" in tell.action
    await h.close()
    barred = await open_harness(
        tmp_path / "b", local("2026-12-31 21:50"), "west-yorkshire", no_parent_contact=True
    )
    await barred.say("sam", "/absent Jay 21:40 not back from town")
    await barred.say("sam", "/police Jay ref WY-31 grade medium")
    assert await duties_of(barred, "MIS-NOTIFY") == []
    await barred.close()


@pytest.mark.rule("MIS-OOA")
async def test_out_of_area_parent_notice_is_its_own_duty_and_respects_the_care_plan(tmp_path):
    # WY §8: "The child's social worker must inform the child's parent or any other person
    # with parental responsibility within 24 hours": not in place of the service manager and
    # IRO notice, and not where the care plan says the parents are not told.
    h = await open_harness(
        tmp_path, local("2026-10-24 09:40"), "west-yorkshire", profile={"placed_out_of_area": True}
    )
    await h.until(local("2026-10-24 10:00"))
    await h.say("sam", "/absent Jay 09:30 left the placement")
    notices = await duties_of(h, "MIS-OOA")
    assert len(notices) == 2 and all(d.due_at == local("2026-10-25 09:00") for d in notices)
    assert any("parental responsibility" in d.action for d in notices)
    assert await duties_of(h, "MIS-NOTIFY") == [], "the out-of-area notice covers the parent"
    await h.close()
    barred = await open_harness(
        tmp_path / "b",
        local("2026-10-24 09:40"),
        "west-yorkshire",
        profile={"placed_out_of_area": True},
        no_parent_contact=True,
    )
    await barred.until(local("2026-10-24 10:00"))
    await barred.say("sam", "/absent Jay 09:30 left the placement")
    [notice] = await duties_of(barred, "MIS-OOA")
    assert "service manager and IRO" in notice.action
    await barred.close()


@pytest.mark.rule("MIS-NOTIFY")
async def test_hampshire_carer_tells_the_parents_without_delay(tmp_path):
    # H §6.4.6: "Carers must also inform without delay: The parents/those who have parental
    # responsibility (unless indicated otherwise on the care plan)". Reported on Boxing Day.
    h = await open_harness(tmp_path, local("2026-12-26 19:00"), "hipsw")
    await h.say("sam", "/absent Jay 18:30 gone")
    await h.say("sam", "/police Jay ref H-26 grade medium")
    tell = await only(h, "MIS-NOTIFY")
    assert tell.owner_id == "sam" and tell.due_at == local("2026-12-26 20:00")
    assert "unless the care plan says otherwise" in tell.action
    await h.close()
    barred = await open_harness(
        tmp_path / "b", local("2026-12-26 19:00"), "hipsw", no_parent_contact=True
    )
    await barred.say("sam", "/absent Jay 18:30 gone")
    await barred.say("sam", "/police Jay ref H-26 grade medium")
    assert await duties_of(barred, "MIS-NOTIFY") == []
    await barred.close()


JE = ZoneInfo("Europe/Jersey")


@pytest.mark.rule("RET-TELL")
async def test_jersey_agrees_who_tells_the_family_of_the_return(tmp_path):
    # J §8.5: "an agreement as to who will notify professionals and the child's family (where
    # appropriate) of the child's return". Back on Liberation Day (Sat 9 May 2026): the same
    # working day is Monday 11 May.
    h = await open_harness(tmp_path, local("2026-05-09 08:00", JE), "jersey")
    await missing_then_found(h, "2026-05-09 08:30", "2026-05-09 12:00")
    agree = await only(h, "RET-TELL")
    assert agree.owner_id == "priya" and agree.due_at == local("2026-05-11 17:00", JE)
    assert "family" in agree.action
    await h.close()


@pytest.mark.rule("RHI-72H")
async def test_an_off_island_childs_interview_is_arranged_with_the_local_authority(tmp_path):
    # J §11: "Arrangements will be made with the Local Authority for a return home interview to
    # be offered & carried out within 72hrs". Back on Liberation Day 2026, 12:00.
    h = await open_harness(
        tmp_path, local("2026-05-09 08:00", JE), "jersey", profile={"placed_out_of_area": True}
    )
    await missing_then_found(h, "2026-05-09 08:30", "2026-05-09 12:00")
    [rhi] = await duties_of(h, "RHI-72H")
    assert "off island" in rhi.action and "local authority there" in rhi.action
    assert rhi.due_at == local("2026-05-12 12:00", JE)
    await h.close()


@pytest.mark.rule("RHI-72H")
async def test_north_somerset_interview_follow_ons_consent_phone_and_fostering(tmp_path):
    # NS §2.4: consent "by a child or young person's parents or carers where they are under
    # 16 ... This does not include children in care"; §2.7: for a child in care "the
    # supervising social worker in the Fostering team is informed". Back on Christmas Day.
    home = await open_harness(
        tmp_path / "home", local("2026-12-25 08:00"), "north-somerset", legal_status="no_plan"
    )
    await missing_then_found(home, "2026-12-25 08:30", "2026-12-25 10:00")
    assert any("consent" in d.action for d in await duties_of(home, "RHI-72H"))
    await home.close()
    fostered = await open_harness(
        tmp_path / "foster", local("2026-12-25 08:00"), "north-somerset", placement_type="foster"
    )
    await missing_then_found(fostered, "2026-12-25 08:30", "2026-12-25 10:00")
    assert not any("consent" in d.action for d in await duties_of(fostered, "RHI-72H"))
    [told] = await duties_of(fostered, "RET-TELL")
    assert "supervising social worker" in told.action
    assert told.due_at == local("2026-12-29 17:00")  # the same working day after Christmas
    await fostered.close()


@pytest.mark.rule("RHI-EDT")
async def test_after_an_out_of_hours_phone_interview_an_in_person_one_is_offered(tmp_path):
    # NS §1.6.2: "Following any phone interview, the child ... must be informed that a
    # practitioner ... will be in contact on the next working day to offer an in-person
    # interview." A child placed far away, interviewed by Olu on Sat 24 Oct: Monday 26 Oct.
    h = await open_harness(
        tmp_path, local("2026-10-23 20:00"), "north-somerset", profile={"placed_out_of_area": True}
    )
    await missing_then_found(h, "2026-10-23 20:30", "2026-10-24 10:00")
    await h.until(local("2026-10-24 12:00"))
    await h.say("ooh1", "/rhi Jay held by Olu by phone")
    [follow] = await open_rules(h, "RHI-72H")
    assert "in-person interview" in follow.action
    assert follow.owner_id == "priya" and follow.due_at == local("2026-10-26 17:00")
    await h.close()


@pytest.mark.rule("REP-H")
@pytest.mark.rule("RHI-SIGNOFF")
def test_hampshire_copies_go_to_the_iro_the_lead_manager_and_the_police():
    # H §9.4: "copies should be sent to the child's allocated Independent review officer";
    # §7.12: "A copy of the return interview should be sent to the lead manager ... and the
    # police".
    duties = load_all_presets()["hipsw"].duties
    assert "to the child's IRO" in duties["REP-H"].action
    assert "lead manager in children's services and to the police" in (duties["RHI-SIGNOFF"].action)


def test_the_area_scenarios_show_the_corrections(capsys):
    from tests.test_scenarios import simulate

    def duties(area: str) -> list[dict]:
        return [r for r in simulate(area, capsys) if r["type"] == "duty"]

    west = duties("west-yorkshire")
    assert any(d["rule"] == "MIS-NOTIFY" and d["owner"] == "priya" for d in west)  # WY §3
    assert any(d["rule"] == "MIS-28D" and d["owner"] == "pc1" for d in west)  # WY §2
    hipsw = duties("hipsw")
    assert any(d["rule"] == "MIS-NOTIFY" and d["owner"] == "dee" for d in hipsw)  # H §6.4.6
    daily = next(d for d in hipsw if d["rule"] == "MIS-24H-POLICE")
    assert daily["due"] == "2026-10-24T20:30"  # 24 h after last seen (H §5.6.3)
    jersey = duties("jersey")
    assert any(d["rule"] == "RET-TELL" and d["owner"] == "jo" for d in jersey)  # J §8.5
    bucks = simulate("buckinghamshire", capsys)
    tray = [r for r in bucks if r["type"] == "message" and r["to"] == "mpc"]
    assert tray and all("RET-ALERT" in r["text"] for r in tray)  # B LCS §1.9
    oversight = next(r for r in bucks if r["type"] == "duty" and r["rule"] == "MIS-OVERSIGHT")
    assert (oversight["at"], oversight["due"]) == ("2026-11-16T16:41", "2026-11-16T17:41")


# ---- the child fields the corrections need -------------------------------------------------


def test_the_team_file_checks_the_new_child_fields(tmp_path):
    from config.team import load_team_file
    from config.yamlfile import DataFileError

    bad_chair = tmp_path / "chair.yaml"
    bad_chair.write_text(
        "staff: [{id: priya, role: social_worker}]\n"
        "children:\n  - {ref: C-0042, first_name: Jay, social_worker: priya, cp_chair: nobody}\n"
    )
    with pytest.raises(DataFileError, match="'nobody' is not in staff"):
        load_team_file(bad_chair)
    bad_type = tmp_path / "type.yaml"
    bad_type.write_text(
        "children:\n  - {ref: C-0042, first_name: Jay, placement_type: with_grandma}\n"
    )
    with pytest.raises(DataFileError, match="placement_type"):
        load_team_file(bad_type)


async def test_the_new_child_fields_are_stored_and_read_back(tmp_path):
    from storage import child_store

    h = await open_harness(
        tmp_path,
        local("2026-12-24 10:00"),
        "buckinghamshire",
        legal_status="child_protection",
        cp_chair="cpc",
        placement_type="with_parents",
        no_parent_contact=True,
        family="F-12",
        extra_staff=[CP_CHAIR],
    )
    jay = await child_store.get_child_by_ref(h.db, "C-0042")
    assert jay is not None
    assert (jay.cp_chair_id, jay.placement_type, jay.no_parent_contact, jay.family) == (
        "cpc",
        "with_parents",
        True,
        "F-12",
    )
    await h.close()
