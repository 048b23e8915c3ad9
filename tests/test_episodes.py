"""The episode state machine through the typed commands: allowed and refused transitions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import child_store, episode_store, staff_store
from storage.models import Category, Concern, EndReason, EpisodeState, RhiStatus
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import STAFF, child, seed_team, team_file


async def episode_of(svc, ref: str):
    child = await child_store.get_child_by_ref(svc.db, ref)
    return await episode_store.latest_episode_for_child(svc.db, child.id)


@pytest.mark.rule("ABS-LOG")
async def test_full_episode_absent_to_finalised(chat, svc, clock):
    reply = await chat.say("sam", "/absent Jay 21:05 left after a row, phone off")
    assert "Recorded: C-0042 Jay absent, last seen Fri 23 Oct 21:05" in reply
    ep = await episode_of(svc, "C-0042")
    assert ep.state is EpisodeState.OPEN and ep.category is Category.ABSENT
    assert ep.last_seen_at == local("2026-10-23 21:05")

    clock.advance(timedelta(minutes=20))
    assert "Added" in await chat.say("sam", "/update Jay 21:20 searched the garden")
    assert "now police" in await chat.say("sam", "/concern Jay police seen getting into a car")
    reply = await chat.say("sam", "/police C-0042 ref WY-123 grade medium")
    assert "reported missing to the police, ref WY-123, grade medium" in reply
    ep = await episode_of(svc, "C-0042")
    assert ep.category is Category.MISSING and ep.ever_missing and ep.concern is Concern.POLICE

    clock.set(local("2026-10-24 09:40"))
    reply = await chat.say("sam", "/found Jay 09:30 self came back to the house alone")
    assert "found Sat 24 Oct 09:30" in reply and "RET-POLICE" in reply and "RHI-72H" in reply
    ep = await episode_of(svc, "C-0042")
    assert ep.state is EpisodeState.FOUND and ep.end_reason is EndReason.SELF

    clock.set(local("2026-10-26 10:00"))
    assert "held" in await chat.say("priya", "/rhi Jay held by Ana (independent service)")
    assert "finalised" in await chat.say("tom", "/finalise Jay all done")
    ep = await episode_of(svc, "C-0042")
    assert ep.state is EpisodeState.FINALISED and ep.rhi_status is RhiStatus.HELD

    events = await episode_store.events_for_episode(svc.db, ep.id)
    kinds = [e.kind for e in events if not e.kind.startswith("duty")]
    assert {e.rule_id for e in events if e.kind == "duty"} >= {"RHI-72H", "RET-POLICE"}
    assert kinds == [
        "last_seen", "reported", "update", "concern", "police_report", "found", "rhi", "finalised",
    ]  # fmt: skip


async def test_found_before_reported_is_refused_and_writes_nothing(chat, svc):
    reply = await chat.say("sam", "/found Jay now self home")
    assert "no open episode" in reply and "/absent C-0042" in reply
    assert await episode_of(svc, "C-0042") is None


@pytest.mark.rule("RET-FINAL")
async def test_finalise_needs_interview_when_reported_missing(chat, svc, clock):
    await chat.say("sam", "/absent Jay 21:00 out")
    await chat.say("sam", "/police Jay ref R1 grade high")
    assert "not been recorded found yet" in await chat.say("tom", "/finalise Jay")
    clock.advance(timedelta(hours=2))
    await chat.say("sam", "/found Jay now police brought home")
    reply = await chat.say("tom", "/finalise Jay")
    assert "must be held or declined" in reply and "RET-FINAL" in reply
    await chat.say("priya", "/rhi Jay offered booked for Monday")
    assert "must be held or declined" in await chat.say("tom", "/finalise Jay")
    assert "declined by the child" in await chat.say("priya", "/rhi Jay declined said no thanks")
    assert "finalised" in await chat.say("tom", "/finalise Jay")


@pytest.mark.rule("RET-FINAL")
async def test_absence_never_reported_to_police_finalises_without_interview(chat, clock):
    await chat.say("sam", "/absent Jay 21:00 late back from town")
    clock.advance(timedelta(minutes=40))
    await chat.say("sam", "/found Jay now self walked in")
    assert "finalised" in await chat.say("tom", "/finalise Jay")


@pytest.mark.rule("RET-FINAL")
async def test_only_a_manager_finalises(chat, clock):
    await chat.say("sam", "/absent Jay 21:00 late")
    clock.advance(timedelta(minutes=30))
    await chat.say("sam", "/found Jay now self back")
    reply = await chat.say("sam", "/finalise Jay")
    assert "can't do that" in reply and "team manager" in reply


@pytest.mark.rule("RET-ONEOPEN")
async def test_second_report_adds_to_open_episode(chat, svc, clock):
    await chat.say("sam", "/absent Jay 21:05 left after a row")
    clock.advance(timedelta(minutes=10))
    reply = await chat.say("alex", "/absent C-0042 21:00 not in his room")
    assert "already reported absent" in reply and "RET-ONEOPEN" in reply
    child = await child_store.get_child_by_ref(svc.db, "C-0042")
    rows = await svc.db.fetchall("SELECT id FROM episodes WHERE child_id = ?", (child.id,))
    assert len(rows) == 1
    events = await episode_store.events_for_episode(svc.db, rows[0]["id"])
    assert events[-1].kind == "reported_again" and events[-1].actor_id == "alex"


@pytest.mark.rule("RET-SIBLINGS")
async def test_siblings_reported_together_get_linked_episodes(chat, svc):
    reply = await chat.say("sam", "/absent Jay,Kai 20:50 both left together on bikes")
    assert reply.count("Recorded:") == 2 and "RET-SIBLINGS" in reply
    jay, kai = await episode_of(svc, "C-0042"), await episode_of(svc, "C-0043")
    assert jay.id != kai.id and jay.link_group is not None and jay.link_group == kai.link_group


async def test_time_in_future_is_refused(chat, svc):
    reply = await chat.say("sam", "/absent Jay 2026-10-23T23:00 out")
    assert "future" in reply and "Nothing was saved" in reply
    assert await episode_of(svc, "C-0042") is None


async def test_last_seen_before_previous_episode_ended_is_refused(chat, clock):
    await chat.say("sam", "/absent Jay 20:00 out")
    clock.advance(timedelta(minutes=30))
    await chat.say("sam", "/found Jay 21:30 self back")
    clock.advance(timedelta(minutes=30))
    reply = await chat.say("sam", "/absent Jay 21:15 out again")
    assert "previous episode ended" in reply


async def test_found_time_before_last_seen_is_refused(chat, svc):
    await chat.say("sam", "/absent Jay 21:00 out")
    reply = await chat.say("sam", "/found Jay 20:30 self back")
    assert "before C-0042 Jay was last seen" in reply
    assert (await episode_of(svc, "C-0042")).state is EpisodeState.OPEN


async def test_unknown_child_and_other_homes_child(chat):
    assert "can't find 'Zed'" in await chat.say("sam", "/absent Zed 21:00 out")
    # Mia lives at Elm Lodge: Sam works at Oak House and must not learn anything about her.
    reply = await chat.say("sam", "/status C-0051")
    assert "can't find 'C-0051'" in reply and "Mia" not in reply


async def test_stranger_sees_nothing(chat):
    await chat.say("sam", "/absent Jay 21:00 out")
    reply = await chat.say(None, "/status")
    assert "not enrolled" in reply and "C-0042" not in reply and "Jay" not in reply


async def test_ambiguous_first_name_asks_for_reference(chat, svc):
    twin = {"ref": "C-0099", "first_name": "Jay", "home": "oak-house", "social_worker": "priya"}
    team = team_file(staff=[{"id": "priya", "role": "social_worker"}], children=[twin])
    await seed_team(svc.db, team)
    reply = await chat.say("sam", "/absent Jay 21:00 out")
    assert "More than one child called Jay" in reply and "C-0042" in reply and "C-0099" in reply


async def test_away_only_for_looked_after(chat, svc):
    await chat.say("priya", "/absent Mia 20:00 not at school pick-up")
    assert "only for looked-after" in await chat.say("priya", "/away Mia at her aunt's")
    await chat.say("sam", "/absent Jay 20:00 out")
    assert "away from placement" in await chat.say("sam", "/away Jay at his mum's, won't come back")
    assert (await episode_of(svc, "C-0042")).category is Category.AWAY


@pytest.mark.rule("MIS-REF")
@pytest.mark.rule("MIS-GRADE")
async def test_police_report_needs_ref_and_grade(chat):
    await chat.say("sam", "/absent Jay 21:00 out")
    assert "MIS-REF" in await chat.say("sam", "/police Jay grade high")
    assert "low, medium or high" in await chat.say("sam", "/police Jay ref X1 grade severe")


@pytest.mark.rule("MIS-GRADE")
async def test_regrading_is_recorded(chat, svc):
    await chat.say("sam", "/absent Jay 21:00 out")
    await chat.say("sam", "/police Jay ref X1 grade medium")
    assert "grade medium -> high" in await chat.say("pc1", "/police Jay ref X1 grade high")
    events = await episode_store.events_for_episode(svc.db, (await episode_of(svc, "C-0042")).id)
    assert events[-1].kind == "police_update" and events[-1].actor_id == "pc1"


async def test_rhi_before_found_is_refused(chat):
    await chat.say("sam", "/absent Jay 21:00 out")
    assert "not been recorded found" in await chat.say("priya", "/rhi Jay held by Ana")


async def test_held_interview_needs_who(chat, clock):
    await chat.say("sam", "/absent Jay 21:00 out")
    clock.advance(timedelta(hours=1))
    await chat.say("sam", "/found Jay now self back")
    assert "Say who held" in await chat.say("priya", "/rhi Jay held")


@pytest.mark.rule("ABS-LOG")
async def test_timeline_lists_events_in_order_with_rule_ids(chat, clock):
    await chat.say("sam", "/absent Jay 21:05 left after a row")
    clock.advance(timedelta(minutes=15))
    await chat.say("sam", "/update Jay rang Leo's mum")
    text = await chat.say("sam", "/timeline Jay")
    lines = text.splitlines()
    assert lines[0].startswith("Timeline of episode #1, C-0042 Jay")
    assert "Fri 23 Oct 21:05" in lines[1] and "[ABS-LOG]" in lines[1]
    assert "rang Leo's mum" in lines[-1]


async def test_status_lists_only_visible_open_episodes(chat, clock):
    await chat.say("sam", "/absent Jay 21:00 out")
    await chat.say("priya", "/absent Mia 21:00 out")
    sam_view = await chat.say("sam", "/status")
    assert "C-0042 Jay" in sam_view and "Mia" not in sam_view
    duty_view = await chat.say("ooh1", "/status")
    assert "C-0042 Jay" in duty_view and "C-0051 Mia" in duty_view


async def test_unknown_command_and_help(chat):
    assert "/help" in await chat.say("sam", "/fly Jay")
    assert "/absent <child>" in await chat.say("sam", "/help")


async def test_return_interview_and_finalise_reach_the_last_episode_after_a_new_absence(
    chat, svc, clock
):
    await chat.say("sam", "/absent Jay 20:00 out")
    await chat.say("sam", "/police Jay ref R1 grade medium")
    clock.advance(timedelta(hours=1))
    await chat.say("sam", "/found Jay now self back")
    clock.advance(timedelta(hours=5))
    await chat.say("sam", "/absent Jay now gone again")  # a new episode opens
    assert "held" in await chat.say("priya", "/rhi Jay held by Ana")
    assert "Episode #1" in await chat.say("tom", "/finalise Jay")
    child = await child_store.get_child_by_ref(svc.db, "C-0042")
    assert (await episode_store.open_episode_for_child(svc.db, child.id)).id == 2


async def test_a_recorded_interview_is_not_overwritten(chat, clock):
    await chat.say("sam", "/absent Jay 20:00 out")
    clock.advance(timedelta(hours=1))
    await chat.say("sam", "/found Jay now self back")
    await chat.say("priya", "/rhi Jay held by Ana")
    reply = await chat.say("priya", "/rhi Jay declined")
    assert "already recorded as held (by Ana)" in reply


async def test_empty_child_list_is_refused_with_usage(chat):
    assert "Which child?" in await chat.say("sam", "/absent , 21:10 park")


async def test_update_with_a_relative_time_is_timed_then(chat, svc, clock):
    await chat.say("sam", "/absent Jay 20:00 out")
    clock.advance(timedelta(minutes=40))
    await chat.say("sam", "/update Jay 20 min ago rang Leo")
    events = await episode_store.events_for_episode(svc.db, 1)
    update = next(e for e in events if e.kind == "update")
    assert update.text == "rang Leo"
    assert update.at == clock.now() - timedelta(minutes=20)


async def test_update_starting_with_a_number_is_not_a_time(chat, svc, clock):
    await chat.say("sam", "/absent Jay 20:00 out")
    await chat.say("sam", "/update Jay 2 friends called back, no news")
    events = await episode_store.events_for_episode(svc.db, 1)
    update = next(e for e in events if e.kind == "update")
    assert update.text == "2 friends called back, no news" and update.at == clock.now()


async def test_timeline_asked_in_a_group_goes_to_the_asker_privately(svc):
    from handlers.dispatch import Dispatcher
    from handlers.messages import Chat

    sam = await staff_store.get_staff(svc.db, "sam")
    group = Chat("telegram", "-1", is_group=True, team="oak-house")
    await Dispatcher(svc).handle(sam, "/absent Jay 20:00 out", group)
    outcome = await Dispatcher(svc).handle(sam, "/timeline Jay", group)
    assert outcome.replies[0].private and "Timeline of episode" in outcome.replies[0].text
    assert not outcome.replies[1].private and "direct message" in outcome.replies[1].text


async def test_status_shows_the_40_longest_and_counts_the_rest_in_each_persons_scope(tmp_path):
    staff = [*STAFF, {"id": "kim", "name": "Kim", "role": "carer", "home": "elm"}]
    kids = [child(ref=f"C-{n:04d}", first_name=f"Kid{n}", home="oak" if n < 45 else "elm")
            for n in range(48)]  # fmt: skip
    h = await Harness.open(tmp_path / "w.db", local("2026-11-09 10:00"), children=kids, staff=staff)
    for n in range(48):
        await h.say("sam" if n < 45 else "kim", f"/absent C-{n:04d} 09:{n % 60:02d} not back")
    duty = await h.say("ooh1", "/status")
    assert duty.startswith("Episodes in progress (48):")
    assert duty.count("\n• ") == 40 and "… and 8 more." in duty
    assert duty.index("C-0000") < duty.index("C-0001"), "longest missing first"
    kim = await h.say("kim", "/status")
    assert kim.startswith("Episodes in progress (3):") and "C-0000" not in kim
    assert "more." not in kim
    await h.close()
