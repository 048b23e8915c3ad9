"""Duties follow the clock, ownership always lands, hand-ups only go up, and the owners hear
of a return in their morning digest: in every area, on a fake clock, on dates that matter."""

from __future__ import annotations

from datetime import datetime

import pytest

from config.presets import AREAS, Preset, default_duties
from storage import duty_store
from storage.models import Duty
from tests.support.clock import local
from tests.support.harness import Harness, Sent
from tests.support.team import STAFF, child, rota

SENIORS = [
    {"id": "hos", "name": "Hana", "role": "head_of_service"},
    {"id": "ad", "name": "Adel", "role": "assistant_director"},
    {"id": "dcs", "name": "Dee", "role": "director"},
]
URGENT = "MIS-ABDUCT"  # J §7 "immediately": urgent, owned by the allocated social worker


def night_rota(start: str, end: str) -> list[dict[str, str]]:
    return [
        rota("out_of_hours", "ooh1", start, end),
        rota("out_of_hours_manager", "oohm", start, end),
        rota("police_liaison", "pc1", start, end),
    ]


async def open_area(
    tmp_path, start: datetime, area: str, rota_rows=None, staff=None, **child_fields
) -> Harness:
    return await Harness.open(
        tmp_path / "w.db",
        start,
        area=area,
        children=[child(area=area, **child_fields)],
        staff=staff or STAFF + SENIORS,
        rota_rows=rota_rows or night_rota("2026-11-13T17:00", "2026-11-16T09:00"),
    )


def with_duty(h: Harness, area: str, rule_id: str) -> Preset:
    """The area's preset with one more default duty: the routing is the same in every area,
    so each runs the same urgent duty (only Jersey's protocol names an abduction meeting)."""
    preset = h.svc.presets[area]
    if rule_id not in preset.duties:
        preset = preset.model_copy(
            update={
                "rules": (*preset.rules, rule_id),
                "duties": {**preset.duties, rule_id: default_duties()[rule_id]},
            }
        )
        h.svc.presets[area] = preset
    return preset


async def one(h: Harness, rule: str) -> Duty:
    found = [d for d in await duty_store.open_duties(h.db) if d.rule_id == rule]
    assert len(found) == 1, f"expected one open {rule}, got {found}"
    return found[0]


def digests(h: Harness, staff_id: str) -> list[Sent]:
    return [s for s in h.to(f"staff:{staff_id}") if s.key.startswith("digest:")]


def office_hours(h: Harness, area: str, at: datetime) -> bool:
    return h.svc.presets[area].calendar.at_work(at)


# ---- an urgent duty out of hours ------------------------------------------------------------


@pytest.mark.rule("MIS-ABDUCT")
@pytest.mark.parametrize("area", AREAS)
async def test_an_urgent_duty_at_20_15_on_friday_goes_to_the_duty_worker_and_the_owner_monday(
    tmp_path, area
):
    h = await open_area(tmp_path, local("2026-11-13 20:00"), area)
    with_duty(h, area, URGENT)
    await h.say("sam", "/absent Jay 19:50 pulled into a car outside the home")
    await h.until(local("2026-11-13 20:15"))
    await h.say("sam", "/abduction Jay a neighbour saw him pushed into a grey van")
    abduct = await one(h, URGENT)
    assert abduct.owner_id == "priya", "the duty stays the allocated worker's"
    at_once = h.to("staff:ooh1", URGENT)
    assert [s.at for s in at_once] == [local("2026-11-13 20:15")]
    assert "Out of hours this comes to you" in at_once[0].text and "for Priya" in at_once[0].text
    assert "act on it now, or hand it on" in at_once[0].text
    # the duty worker on the rota may act on it: /done from them is accepted
    await h.until(local("2026-11-13 21:00"))
    assert "closed as done" in await h.say(
        "ooh1", f"/done {abduct.label} strategy discussion held with police and Tom's deputy"
    )
    await h.until(local("2026-11-16 10:00"))
    assert [s for s in h.to("staff:priya", URGENT) if not s.key.startswith("digest:")] == [], (
        "nothing to the owner at home over the weekend"
    )
    (morning,) = digests(h, "priya")
    assert morning.at == local("2026-11-16 09:00")
    assert f"{abduct.label} [{URGENT}]" in morning.text and "went to Olu" in morning.text
    assert "Now done by Olu" in morning.text and "strategy discussion held" in morning.text
    await h.close()


@pytest.mark.rule("MIS-OVERSIGHT")
async def test_a_managers_urgent_duty_goes_to_the_out_of_hours_manager(tmp_path):
    # B: oversight "at the point of a child being identified as missing", on a Friday night
    h = await open_area(tmp_path, local("2026-11-13 20:00"), "buckinghamshire")
    await h.say("sam", "/absent Jay 19:50 not back")
    await h.until(local("2026-11-13 20:15"))
    await h.say("sam", "/police Jay ref B-1 grade high")
    assert [s.at for s in h.to("staff:oohm", "MIS-OVERSIGHT")] == [local("2026-11-13 20:15")]
    await h.until(local("2026-11-16 09:30"))
    assert [s.at for s in digests(h, "tom")] == [local("2026-11-16 09:00")]
    assert "Still open (yours)" in digests(h, "tom")[0].text
    await h.close()


@pytest.mark.rule("DIR-LETTER")
async def test_a_director_letter_on_a_risk_of_harm_is_urgent_out_of_hours(tmp_path):
    # NS §4.3: "urgent contact" where a notification shows a risk of harm: Friday night
    h = await open_area(
        tmp_path,
        local("2026-11-13 20:00"),
        "north-somerset",
        legal_status="looked_after_elsewhere",
        home_authority="Bristol City Council",
    )
    await h.say("sam", "/absent Jay 19:50 got into a car")
    await h.say("sam", "/police Jay ref N-1 grade high")
    await h.until(local("2026-11-13 20:15"))
    await h.say("ooh1", "/harm Jay seen with adults known for exploitation")
    letter = await one(h, "DIR-LETTER")
    assert letter.owner_id == "dcs"
    assert [s.at for s in h.to("staff:oohm", "DIR-LETTER")][:1] == [local("2026-11-13 20:15")]
    assert h.to("staff:dcs", "DIR-LETTER") == []
    await h.close()


# ---- a duty that can wait -------------------------------------------------------------------


@pytest.mark.rule("RHI-72H")
@pytest.mark.parametrize("area", AREAS)
async def test_a_duty_that_can_wait_never_reaches_office_staff_out_of_hours(tmp_path, area):
    # Found Thursday 27 Aug 10:00; due Sunday 10:00; the Monday is the summer bank holiday
    # (England and Jersey). The deadline does not move; only when the reminders go out does.
    h = await open_area(
        tmp_path,
        local("2026-08-27 09:00"),
        area,
        rota_rows=night_rota("2026-08-27T17:00", "2026-09-01T09:00"),
    )
    await h.say("sam", "/absent Jay 08:50 gone from breakfast")
    await h.say("sam", "/police Jay ref P-1 grade medium")
    await h.until(local("2026-08-27 10:00"))
    await h.say("sam", "/found Jay 10:00 self came home")
    rhi = await one(h, "RHI-72H")
    assert rhi.due_at == local("2026-08-30 10:00")
    await h.until(local("2026-09-02 12:00"))
    office = [s for s in h.sent if s.to in ("staff:priya", "staff:tom", "staff:hos")]
    assert office, "the owner is reminded"
    late = [(s.to, s.rule, s.at) for s in office if not office_hours(h, area, s.at)]
    assert late == [], "nothing to office staff outside their office hours"
    chased = h.to("staff:priya", "RHI-72H")
    # the lead (Sat 10:00) and the deadline (Sun 10:00) reminders are one, held to Tuesday
    assert chased[0].at == local("2026-09-01 09:00") and "OVERDUE by 1 d 23 h" in chased[0].text
    assert (await one(h, "RHI-72H")).due_at == local("2026-08-30 10:00")
    await h.close()


# ---- ownership that always lands ------------------------------------------------------------


@pytest.mark.rule("RHI-72H")
@pytest.mark.parametrize("area", AREAS)
async def test_an_unowned_duty_is_reported_at_once_and_chased_until_taken(tmp_path, area):
    # Nobody allocated: found on a Sunday evening (under NS §1.6's 16 hours to Monday, so the
    # allocated worker's interview), the return interview has nobody to own it.
    h = await open_area(
        tmp_path, local("2026-11-13 20:00"), area, social_worker=None, team_manager=None
    )
    await h.say("sam", "/absent Jay 19:50 not back")
    await h.say("sam", "/police Jay ref P-2 grade medium")
    await h.until(local("2026-11-15 20:00"))
    await h.say("sam", "/found Jay 20:00 self came home")
    rhi = await one(h, "RHI-72H")
    assert rhi.owner_id is None
    for who in ("staff:oohm", "staff:admin"):
        told = [s for s in h.to(who, "RHI-72H") if "Nobody to own" in s.text]
        assert [s.at for s in told] == [local("2026-11-15 20:00")], f"{who} at once"
        assert f"/take {rhi.label}" in told[0].text
    # shown in the /duties of every manager in scope, and in the daily summary
    assert "Nobody owns these" in await h.say("oohm", "/duties")
    assert rhi.label in await h.say("hos", "/duties")
    assert "Nobody owns" not in await h.say("priya", "/duties")
    summary = await h.say("hos", "/summary")
    assert "DUTIES NOBODY OWNS" in summary and rhi.label in summary
    # chased as the manager's in office hours (held over the weekend: it can wait)
    # the day-before reminder (Tue 20:00) waits for Wednesday's opening
    await h.until(local("2026-11-18 09:30"))
    chased = [s for s in h.to("staff:hos", "RHI-72H") if s.at == local("2026-11-18 09:00")]
    assert chased and f"Nobody owns {rhi.label}" in chased[0].text
    # a carer may not take it; a worker whose role could own it may (here the duty worker)
    refused = await h.say("sam", f"/take {rhi.label}")
    assert "only an out-of-hours duty worker, a social worker or a manager can take it" in refused
    assert "is yours now" in await h.say("ooh1", f"/take {rhi.label}")
    assert (await duty_store.get_duty(h.db, rhi.id)).owner_id == "ooh1"
    assert f"{rhi.label} [RHI-72H]" not in await h.say("hos", "/duties")
    await h.close()


async def test_a_host_authority_notice_with_no_coordinator_is_heard_of_within_a_minute(tmp_path):
    # The case the issue found: NS HOST-TELL with no missing coordinator anywhere.
    h = await open_area(
        tmp_path,
        local("2026-11-13 20:00"),
        "north-somerset",
        legal_status="looked_after_elsewhere",
        home_authority="Bristol City Council",
    )
    await h.say("sam", "/absent Jay 19:50 not back")
    await h.until(local("2026-11-13 21:00"))
    await h.say("sam", "/police Jay ref N-9 grade medium")
    host = await one(h, "HOST-TELL")
    assert host.owner_id is None
    told = [s for s in h.sent if s.rule == "HOST-TELL"]
    assert {s.to for s in told} >= {"staff:oohm", "staff:admin"}
    assert all(s.at == local("2026-11-13 21:00") for s in told)
    assert "is yours now" in await h.say("oohm", f"/take {host.label}")
    await h.close()


# ---- hand-ups go up the line only ----------------------------------------------------------


@pytest.mark.rule("MIS-MEDIA")
@pytest.mark.parametrize("area", ["buckinghamshire", "west-yorkshire"])
async def test_a_head_of_services_overdue_duty_goes_up_not_down(tmp_path, area):
    # Owned by the head of service: overdue, it goes to the assistant director, never to a
    # team manager. In office hours (Tuesday 10 Nov 10:00), due at noon.
    h = await open_area(tmp_path, local("2026-11-10 09:30"), area)
    await h.say("sam", "/absent Jay 09:20 gone")
    await h.say("sam", "/police Jay ref M-1 grade high")
    await h.until(local("2026-11-10 10:00"))
    await h.say("priya", "/media Jay police want to publish his photo")
    await h.until(local("2026-11-10 16:00"))
    overdue = [s for s in h.sent if s.rule == "MIS-MEDIA" and "is overdue" in s.text]
    assert [s.to for s in overdue] == ["staff:ad"]
    assert not [s for s in h.to("staff:tom", "MIS-MEDIA")]
    await h.close()


@pytest.mark.rule("RHI-72H")
@pytest.mark.parametrize("area", AREAS)
async def test_hand_ups_climb_the_line_and_skip_anyone_not_above(tmp_path, area):
    # Priya's manager on file is a fellow social worker (a senior practitioner): not above her,
    # so the overdue interview goes to the child's team manager instead.
    staff = [dict(s) for s in STAFF] + SENIORS
    staff.append({"id": "sp", "name": "Sia", "role": "social_worker", "manager": "tom"})
    for person in staff:
        if person["id"] == "priya":
            person["manager"] = "sp"
    h = await open_area(tmp_path, local("2026-11-09 08:00"), area, staff=staff)
    await h.until(local("2026-11-09 08:30"))
    await h.say("sam", "/absent Jay 08:20 gone")
    await h.say("sam", "/police Jay ref P-1 grade medium")
    await h.until(local("2026-11-09 10:00"))
    await h.say("sam", "/found Jay 10:00 self came home")
    await h.until(local("2026-11-13 17:00"))
    overdue = [
        s
        for s in h.sent
        if "is overdue" in s.text and s.to != "staff:admin" and s.rule in ("RHI-72H", "RHI-LATE")
    ]
    assert overdue, "the overdue interview is handed up"
    assert "staff:sp" not in {s.to for s in overdue}, "never sideways"
    expected = "staff:hos" if area == "hipsw" else "staff:tom"  # H §7.15: the senior manager
    assert {s.to for s in overdue} == {expected}
    await h.close()


# ---- the owners hear of a return ------------------------------------------------------------


@pytest.mark.rule("RET-TELL")
@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize(
    ("found", "monday"),
    [
        ("2026-11-14 10:00", "2026-11-16 09:00"),  # a Saturday: Monday's opening
        ("2026-08-29 10:00", "2026-09-01 09:00"),  # before the summer bank holiday: Tuesday
    ],
)
async def test_the_owners_hear_of_a_weekend_return_on_monday_morning(tmp_path, area, found, monday):
    day = found[:10]
    friday = {"2026-11-14": "2026-11-13", "2026-08-29": "2026-08-28"}[day]
    h = await open_area(
        tmp_path,
        local(f"{friday} 20:00"),
        area,
        rota_rows=night_rota(f"{friday}T17:00", f"{monday[:10]}T09:00"),
    )
    await h.say("sam", "/absent Jay 19:50 left after a row")
    await h.until(local(f"{friday} 21:00"))
    await h.say("sam", "/police Jay ref P-3 grade medium")
    await h.until(local(found))
    await h.say("sam", f"/found Jay {found[11:]} self came home, cold but unhurt")
    await h.until(local(monday) - (local(monday) - local(found)) / 2)
    assert digests(h, "priya") == [] and digests(h, "tom") == [], "nothing while they are off"
    await h.until(local(monday).replace(minute=30))
    for owner in ("priya", "tom"):
        (morning,) = digests(h, owner)
        assert morning.at == local(monday)
        assert "C-0042 Jay is back" in morning.text and "returned by self" in morning.text
        assert "police report" in morning.text and "P-3" in morning.text  # the night's events
        assert morning.text.count("\n•") == 0 or morning.text.count("•") >= 1
    await h.close()


@pytest.mark.rule("RET-TELL")
async def test_a_return_in_office_hours_is_told_to_the_owners_at_once(tmp_path):
    h = await open_area(tmp_path, local("2026-11-10 09:30"), "west-yorkshire")
    await h.say("sam", "/absent Jay 09:20 gone")
    await h.say("sam", "/police Jay ref P-4 grade medium")
    await h.until(local("2026-11-10 11:00"))
    await h.say("sam", "/found Jay 11:00 self came home")
    for owner in ("priya", "tom"):
        found = [s for s in h.to(f"staff:{owner}") if "is found" in s.text or "is back" in s.text]
        assert [s.at for s in found] == [local("2026-11-10 11:00")], f"{owner}: once, at once"
    assert digests(h, "priya") == []
    await h.close()


async def test_the_digest_survives_a_restart_and_goes_once(tmp_path):
    h = await open_area(tmp_path, local("2026-11-13 20:00"), "west-yorkshire")
    await h.say("sam", "/absent Jay 19:50 out")
    await h.say("sam", "/police Jay ref P-5 grade medium")
    await h.until(local("2026-11-14 10:00"))
    await h.say("sam", "/found Jay 10:00 self")
    await h.close()
    again = await Harness.open(
        tmp_path / "w.db",
        local("2026-11-15 12:00"),
        area="west-yorkshire",
        children=[child(area="west-yorkshire")],
        staff=STAFF + SENIORS,
    )
    await again.until(local("2026-11-16 09:30"))
    await again.sweeper.sweep()
    await again.delivery.deliver_due()
    assert [s.at for s in digests(again, "priya")] == [local("2026-11-16 09:00")]
    await again.close()
